/**
 * Where the protection pipeline meets the backends (DESIGN.md "Data flow"): on write, the fragments
 * of `protection/protect.ts` go to their backends under opaque keys (`f/<ab>/<id>.<n>`, `<ab>` the
 * first two hex digits of the random id, so that no directory is made per instance: no UID, role or
 * name a backend operator could read), the manifest is signed, and a copy of it (sealed in hardened
 * mode) goes next to the skeleton as `m/<ab>/<id>` so that `aegis reindex` can rebuild the catalog from
 * the backends alone. On read, every fragment is fetched in parallel and the instance is reassembled
 * and verified before anything is returned. Removal deletes every fragment and the copy.
 */
import { createHash, randomUUID } from 'node:crypto';
import { deriveKey } from '../keys/derive.js';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import type { FragmentStore } from '../../adapters/fragment-store.js';
import type { ParsedInstance } from '../dicom/types.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { decryptFragment, encryptFragment, SEALED_OVERHEAD } from '../keys/envelope.js';
import type { Keyring } from '../keys/keyring.js';
import { signManifest, verifyManifest, type FragmentRecord, type Manifest, type ManifestBody, type ProtectionMode } from '../protection/manifest.js';
import { protectInstance } from '../protection/protect.js';
import { fragmentKey, reassembleInstance } from '../protection/reassemble.js';

/** What writing and reading protected instances needs. */
export interface ProtectionDeps {
  stores: Map<string, FragmentStore>;
  /** Backend of skeleton, identity and manifest copy; backends of the regions (region i on regions[i mod n]). */
  placement: { instances: string; regions: readonly string[] };
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

/** A stored protected instance: its signed manifest and where the manifest copy is. */
export interface WrittenInstance {
  manifest: Manifest;
  backend: string;
  locator: string;
}

/** Protects and stores an instance; on any failure removes what it wrote and rethrows. */
export async function writeProtected(deps: ProtectionDeps, bytes: Uint8Array, parsed: ParsedInstance, sha256: string): Promise<WrittenInstance> {
  const { mode } = deps.protection;
  if (mode === 'none') throw new GatewayError('INTERNAL', 'writeProtected with protection mode none');
  const { body, fragments } = protectInstance(bytes, parsed, sha256, { ...deps.protection, mode, keyring: deps.keyring });
  const id = randomUUID().replaceAll('-', '');
  const written: Array<{ store: FragmentStore; locator: string }> = [];
  try {
    const records = await Promise.all(
      fragments.map(async (fragment, n): Promise<FragmentRecord> => {
        const store = storeFor(deps, fragment.role === 'region' ? deps.placement.regions[fragment.index % deps.placement.regions.length] : deps.placement.instances);
        const { locator } = await store.put(`f/${id.slice(0, 2)}/${id}.${n}`, fragment.bytes);
        written.push({ store, locator });
        return { role: fragment.role, index: fragment.index, backend: store.name, locator, length: fragment.bytes.length, sha256: createHash('sha256').update(fragment.bytes).digest('hex') };
      }),
    );
    const manifest = signManifest({ ...body, fragments: records }, deps.keyring);
    const home = storeFor(deps, deps.placement.instances);
    const { locator } = await home.put(`m/${id.slice(0, 2)}/${id}`, sealManifestCopy(manifest, deps.keyring, id));
    written.push({ store: home, locator });
    return { manifest, backend: home.name, locator };
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

/** The id of a manifest copy from its key `m/<ab>/<id>` (the associated data of its seal). */
export function manifestCopyId(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/**
 * The manifest copy kept in a backend: the signed manifest, sealed under a key derived from the
 * active master key (hardened) or plain (paper mode), in a small JSON envelope.
 */
export function sealManifestCopy(manifest: Manifest, keyring: Keyring, id: string): Buffer {
  const text = Buffer.from(JSON.stringify(manifest), 'utf8');
  if (manifest.mode === 'paper') return Buffer.from(JSON.stringify({ format: 'aegis-manifest', id, manifest }), 'utf8');
  const keyId = manifest.signature.keyId;
  const sealed = encryptFragment(copyKey(keyring, keyId), text, copyAad(id));
  return Buffer.from(JSON.stringify({ format: 'aegis-manifest', id, keyId, sealed: sealed.toString('base64') }), 'utf8');
}

/**
 * Bytes of the manifest copy {@link sealManifestCopy} writes for a manifest whose catalog text is
 * `text` (`JSON.stringify` of the signed manifest, as recorded), computed without reading the
 * backend (stats): the same envelope, with the length of the sealed text in base64.
 */
export function manifestCopyLength(text: string, manifest: Pick<Manifest, 'mode' | 'signature'>, id: string): number {
  const length = Buffer.byteLength(text, 'utf8');
  if (manifest.mode === 'paper') return Buffer.byteLength(JSON.stringify({ format: 'aegis-manifest', id, manifest: 0 }), 'utf8') - 1 + length;
  const envelope = Buffer.byteLength(JSON.stringify({ format: 'aegis-manifest', id, keyId: manifest.signature.keyId, sealed: '' }), 'utf8');
  return envelope + 4 * Math.ceil((SEALED_OVERHEAD + length) / 3);
}

/** Opens a manifest copy (reindex); INTEGRITY_FAILURE when it was altered. Verify its signature next. */
export function openManifestCopy(bytes: Uint8Array, keyring: Keyring): Manifest {
  let envelope: { format?: string; id?: string; keyId?: string; sealed?: string; manifest?: Manifest };
  try {
    envelope = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new GatewayError('INTEGRITY_FAILURE', 'a manifest copy is not JSON', { cause: error });
  }
  if (envelope.format !== 'aegis-manifest' || typeof envelope.id !== 'string') throw new GatewayError('INTEGRITY_FAILURE', 'not a manifest copy');
  if (envelope.manifest) return envelope.manifest;
  if (typeof envelope.keyId !== 'string' || typeof envelope.sealed !== 'string') throw new GatewayError('INTEGRITY_FAILURE', 'a manifest copy without its sealed manifest');
  const text = decryptFragment(copyKey(keyring, envelope.keyId), Buffer.from(envelope.sealed, 'base64'), copyAad(envelope.id));
  return JSON.parse(text.toString('utf8')) as Manifest;
}

function copyKey(keyring: Keyring, keyId: string): Buffer {
  const master = keyring.find(keyId);
  if (master === undefined) throw new GatewayError('KEY_NOT_FOUND', `master key '${keyId}' of a manifest copy is not in the keyring`);
  return deriveKey(master.secret, 'aegis manifest copy v1');
}

function copyAad(id: string): Buffer {
  return Buffer.from(`aegis/manifest-copy\0${id}`, 'utf8');
}

function storeFor(deps: Pick<ProtectionDeps, 'stores'>, name: string): FragmentStore {
  const store = deps.stores.get(name);
  if (!store) throw new GatewayError('BACKEND_UNAVAILABLE', `backend ${name} is not configured`, { headers: { 'Retry-After': '60' } });
  return store;
}
