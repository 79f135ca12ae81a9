/**
 * Where the protection pipeline meets the backends: on write, the fragments of
 * `protection/protect.ts` go to the backends and under the opaque keys `protection/placement.ts`
 * names, the manifest is signed, and a copy of it (`protection/manifest-copy.ts`) goes next to the
 * skeleton so that `aegis reindex` can rebuild the catalog from the backends alone. On read, every
 * fragment is fetched in parallel and `protection/reassemble.ts` restores and verifies the instance
 * before anything is returned. Removal deletes every fragment and the copy.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import type { FragmentStore } from '../../adapters/fragment-store.js';
import type { PacsInstance } from '../catalog/catalog.js';
import type { ParsedInstance } from '../dicom/types.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Keyring } from '../keys/keyring.js';
import { signManifest, verifyManifest, type FragmentRecord, type Manifest, type ManifestBody, type ProtectionMode } from '../protection/manifest.js';
import { sealManifestCopy } from '../protection/manifest-copy.js';
import { fragmentBackend, fragmentStoreKey, manifestCopyKey, newStorageId, type Placement } from '../protection/placement.js';
import { pacsPresentation } from '../protection/presentation.js';
import { protectInstance } from '../protection/protect.js';
import { fragmentKey, reassembleInstance } from '../protection/reassemble.js';

/** What writing and reading protected instances needs. */
export interface ProtectionDeps {
  stores: Map<string, FragmentStore>;
  placement: Placement;
  protection: { mode: ProtectionMode | 'none'; regions: number; gatewayId: string };
  keyring: Keyring;
  logger: Logger;
}

/** The placement and protection settings of a configuration, with their defaults resolved. */
export function protectionSettings(config: GatewayConfig): Pick<ProtectionDeps, 'placement' | 'protection'> {
  const regions = config.placement.regions ?? [config.placement.instances];
  return {
    placement: { instances: config.placement.instances, regions },
    protection: {
      mode: config.protection.mode,
      regions: config.protection.regions ?? Math.max(2, regions.length),
      gatewayId: config.protection.gatewayId ?? `aegis@${hostname()}`,
    },
  };
}

/** A stored protected instance: its signed manifest and where the manifest copy is (its key, and the locator the backend returned). */
export interface WrittenInstance {
  manifest: Manifest;
  backend: string;
  key: string;
  locator: string;
  /** The instances PACS (dicomweb) backends filed fragments in: locator `<study>/<series>/<instance>`. */
  pacs?: PacsInstance[];
}

/** Protects and stores an instance; on any failure removes what it wrote and rethrows. */
export async function writeProtected(deps: ProtectionDeps, bytes: Uint8Array, parsed: ParsedInstance, sha256: string): Promise<WrittenInstance> {
  const { mode } = deps.protection;
  if (mode === 'none') throw new GatewayError('INTERNAL', 'writeProtected with protection mode none');
  // A PACS holding the background region shows a presentation of the instance (protection/presentation.ts).
  const pacs = (fragment: { role: string; index: number }) => fragment.role === 'region' && fragment.index === 0 && storeFor(deps, fragmentBackend(deps.placement, fragment)).kind === 'dicomweb';
  const background = pacs({ role: 'region', index: 0 });
  const { body, fragments, background: view } = protectInstance(bytes, parsed, sha256, { ...deps.protection, mode, keyring: deps.keyring, background });
  const presentation = background ? pacsPresentation(bytes, parsed, view) : undefined;
  const id = newStorageId();
  const written: Array<{ store: FragmentStore; locator: string }> = [];
  try {
    const records = await Promise.all(
      fragments.map(async (fragment, n): Promise<FragmentRecord> => {
        const store = storeFor(deps, fragmentBackend(deps.placement, fragment));
        const key = fragmentStoreKey(id, n);
        const { locator } = await store.put(key, fragment.bytes, pacs(fragment) ? { presentation } : undefined);
        written.push({ store, locator });
        return { role: fragment.role, index: fragment.index, backend: store.name, key, locator, length: fragment.bytes.length, sha256: createHash('sha256').update(fragment.bytes).digest('hex') };
      }),
    );
    const manifest = signManifest({ ...body, fragments: records }, deps.keyring);
    const home = storeFor(deps, deps.placement.instances);
    const key = manifestCopyKey(id);
    const { locator } = await home.put(key, sealManifestCopy(manifest, deps.keyring, id));
    written.push({ store: home, locator });
    return { manifest, backend: home.name, key, locator, pacs: pacsInstancesOf(manifest, deps.stores) };
  } catch (error) {
    await Promise.all(written.map(({ store, locator }) => store.delete(locator).catch(() => undefined)));
    throw error;
  }
}

/**
 * Fetches, verifies and reassembles a protected instance: the exact received bytes, or
 * INTEGRITY_FAILURE (a manifest naming a master key the keyring lacks cannot be verified either).
 */
export async function readProtected(deps: Pick<ProtectionDeps, 'stores' | 'keyring'>, manifestText: string, sopInstanceUid: string): Promise<Uint8Array> {
  try {
    return await readVerified(deps, manifestText, sopInstanceUid);
  } catch (error) {
    if (!isGatewayError(error, 'KEY_NOT_FOUND')) throw error;
    // A key added since this process loaded its keyring (aegis keys generate, then rotate).
    await deps.keyring.refresh();
    try {
      return await readVerified(deps, manifestText, sopInstanceUid);
    } catch (again) {
      if (isGatewayError(again, 'KEY_NOT_FOUND')) throw new GatewayError('INTEGRITY_FAILURE', `cannot verify the instance: ${again.message}`, { cause: again });
      throw again;
    }
  }
}

async function readVerified(deps: Pick<ProtectionDeps, 'stores' | 'keyring'>, manifestText: string, sopInstanceUid: string): Promise<Uint8Array> {
  let signed: Manifest;
  try {
    signed = JSON.parse(manifestText) as Manifest;
  } catch (error) {
    throw new GatewayError('INTEGRITY_FAILURE', 'the recorded manifest is not JSON', { cause: error });
  }
  if (signed === null || typeof signed !== 'object' || !Array.isArray(signed.fragments)) throw new GatewayError('INTEGRITY_FAILURE', 'the recorded manifest is malformed');
  const manifest = verifyManifest(signed, deps.keyring, sopInstanceUid);
  const fetched = new Map<string, Uint8Array>();
  await Promise.all(
    manifest.fragments.map(async (f) => {
      try {
        fetched.set(fragmentKey(f), await storeFor(deps, f.backend).get(f.locator));
      } catch (error) {
        // A fragment that is gone is data lost or tampered with, not a client error.
        if ((error as { code?: string }).code === 'NOT_FOUND') throw new GatewayError('INTEGRITY_FAILURE', `fragment ${fragmentKey(f)} is missing from backend ${f.backend}`, { cause: error });
        throw error;
      }
    }),
  );
  return reassembleInstance(manifest, fetched, deps.keyring);
}

/** Deletes every fragment of a protected instance and its manifest copy; failures are logged (orphans). */
export async function removeProtected(deps: Pick<ProtectionDeps, 'stores' | 'logger'>, manifestText: string, copy: { backend: string; locator: string }): Promise<void> {
  const manifest = JSON.parse(manifestText) as ManifestBody;
  await Promise.all(
    [...manifest.fragments, copy].map(async (f) => {
      try {
        await deps.stores.get(f.backend)?.delete(f.locator);
      } catch (error) {
        deps.logger.warn({ err: error, backend: f.backend, locator: f.locator }, 'orphaned fragment: deleting it failed');
      }
    }),
  );
}

/** The instances PACS (dicomweb) backends filed the fragments of `manifest` in: their locators are `<study>/<series>/<instance>`. */
export function pacsInstancesOf(manifest: Pick<ManifestBody, 'fragments'>, stores: Map<string, FragmentStore>): PacsInstance[] {
  return manifest.fragments
    .filter((f) => stores.get(f.backend)?.kind === 'dicomweb')
    .map((f) => {
      const [study, series, instance] = f.locator.split('/');
      return { backend: f.backend, study, series, instance };
    });
}

function storeFor(deps: Pick<ProtectionDeps, 'stores'>, name: string): FragmentStore {
  const store = deps.stores.get(name);
  if (!store) throw new GatewayError('BACKEND_UNAVAILABLE', `backend ${name} is not configured`, { headers: { 'Retry-After': '60' } });
  return store;
}
