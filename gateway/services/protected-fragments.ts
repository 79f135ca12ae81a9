/**
 * Where the protection pipeline meets the backends: on write, the fragments of
 * `protection/protect.ts` go to the backends and under the opaque keys `protection/placement.ts`
 * names, the manifest is signed, and a copy of it (`protection/manifest-copy.ts`) goes next to the
 * skeleton so that `aegis reindex` can rebuild the catalog from the backends alone. The fragments a
 * backend holds whole go to it as one object, a bundle (`fragment-bundles.ts`; a PACS keeps each
 * fragment as a DICOM instance of its own), so that a backend holds one object per instance beside
 * the manifest copy; a fragment placed on a redundancy group is stored as shards
 * (`fragment-shards.ts`). On read, every object is fetched once, in parallel (k shards of each
 * sharded fragment; what was missing or corrupt is reported as a degraded read) and
 * `protection/reassemble.ts` restores and verifies the instance before anything is returned.
 * Removal deletes every object (every shard) and the copy.
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import type { FragmentStore } from '../../adapters/fragment-store.js';
import type { PacsInstance } from '../catalog/catalog.js';
import type { ParsedInstance } from '../dicom/types.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Keyring } from '../keys/keyring.js';
import { signManifest, storedPieces, verifyManifest, type FragmentRecord, type Manifest, type ManifestBody, type ProtectionMode, type ShardedFragmentRecord, type WholeFragmentRecord } from '../protection/manifest.js';
import { sealManifestCopy } from '../protection/manifest-copy.js';
import { fragmentTarget, manifestCopyBackend, manifestCopyKey, newStorageId, type Placement } from '../protection/placement.js';
import { pacsPresentation } from '../protection/presentation.js';
import { protectInstance } from '../protection/protect.js';
import { fragmentKey, reassembleInstance } from '../protection/reassemble.js';
import { discardWrite } from './removals.js';
import { readWholeFragments, writeBundle, type BundleMember } from './fragment-bundles.js';
import { putAll, readSharded, writeFragment, type ShardFault, type ShardIo, type WrittenPiece } from './fragment-shards.js';
import { Limiter } from './limiter.js';

/** Backend calls in flight at once for one instance, unless the placement says otherwise. */
export const DEFAULT_SHARD_CONCURRENCY = 8;

/** A read that succeeded although some shards were missing, corrupt or unreachable. */
export interface DegradedRead {
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  faults: ShardFault[];
  /** In words: "read from k of n shards of ...; shard j on backend b missing". */
  summary: string;
}

/** What reading a protected instance needs. */
export interface ReadDeps {
  stores: Map<string, FragmentStore>;
  keyring: Keyring;
  /** Told of every read that needed redundancy to succeed (the audit trail records it); must not throw. */
  onDegradedRead?: (read: DegradedRead) => void;
  /** Shard reads in flight at once for one instance. */
  shardConcurrency?: number;
  /** Milliseconds before the shards beyond the first k of a fragment are read as well. */
  hedgeMs?: number;
}

/** What writing and reading protected instances needs. */
export interface ProtectionDeps {
  stores: Map<string, FragmentStore>;
  placement: Placement & { concurrency?: number };
  protection: { mode: ProtectionMode | 'none'; regions: number; gatewayId: string };
  keyring: Keyring;
  logger: Logger;
}

/** The placement and protection settings of a configuration, with their defaults resolved. */
export function protectionSettings(config: GatewayConfig): Pick<ProtectionDeps, 'placement' | 'protection'> {
  const regions = config.placement.regions ?? [config.placement.instances];
  return {
    placement: { instances: config.placement.instances, regions, groups: config.placement.groups, concurrency: config.placement.concurrency },
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
  // (Only a fragment stored whole there: a shard of a redundancy group is no picture.)
  const pacs = (fragment: { role: string; index: number }) => {
    if (fragment.role !== 'region' || fragment.index !== 0) return false;
    const target = fragmentTarget(deps.placement, fragment);
    return target.redundancy === undefined && storeFor(deps, target.backend).kind === 'dicomweb';
  };
  const background = pacs({ role: 'region', index: 0 });
  const { body, fragments, background: view } = protectInstance(bytes, parsed, sha256, { ...deps.protection, mode, keyring: deps.keyring, background });
  const presentation = background ? pacsPresentation(bytes, parsed, view) : undefined;
  const id = newStorageId();
  const written: WrittenPiece[] = [];
  const io = shardIo(deps, deps.placement.concurrency);
  try {
    // The shred key becomes durable while the fragments are written (one flush for every concurrent instance).
    const persisted =
      body.dataKey?.shredKeyId === undefined
        ? undefined
        : deps.keyring.shredKeys.persist().then(
            () => undefined,
            (error: unknown) => ({ error }),
          );
    const records: FragmentRecord[] = new Array(fragments.length);
    const settled = await Promise.allSettled(
      writeUnits(deps, fragments).map(async (unit) => {
        if (unit.bundle !== undefined) {
          const stored = await writeBundle(io, unit.bundle, id, unit.members, written);
          unit.members.forEach((m, i) => (records[m.n] = stored[i]));
        } else {
          const fragment = fragments[unit.n];
          records[unit.n] = await writeFragment(io, fragmentTarget(deps.placement, fragment), id, unit.n, fragment, written, pacs(fragment) ? { presentation } : undefined);
        }
      }),
    );
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const unpersisted = await persisted;
    if (unpersisted) throw unpersisted.error;
    const manifest = signManifest({ ...body, fragments: records }, deps.keyring);
    const key = manifestCopyKey(id);
    const [copy] = await putAll(io, [{ backend: manifestCopyBackend(deps.placement), key, bytes: sealManifestCopy(manifest, deps.keyring, id) }], written);
    return { manifest, backend: copy.backend, key, locator: copy.locator, pacs: pacsInstancesOf(manifest, deps.stores) };
  } catch (error) {
    await discardWrite(deps, body.dataKey, written);
    throw error;
  }
}

/**
 * How the fragments are written: those placed whole on a backend other than a PACS as one bundle
 * per backend (members in manifest order), each other fragment (a PACS's, or one placed on a
 * redundancy group) on its own.
 */
function writeUnits(deps: ProtectionDeps, fragments: ReadonlyArray<{ role: string; index: number; bytes: Uint8Array }>): Array<{ bundle: string; members: BundleMember[] } | { bundle?: undefined; n: number }> {
  const bundles = new Map<string, BundleMember[]>();
  const single: Array<{ n: number }> = [];
  fragments.forEach((fragment, n) => {
    const target = fragmentTarget(deps.placement, fragment);
    if (target.redundancy !== undefined || storeFor(deps, target.backend).kind === 'dicomweb') single.push({ n });
    else if (bundles.has(target.backend)) bundles.get(target.backend)!.push({ n, ...fragment });
    else bundles.set(target.backend, [{ n, ...fragment }]);
  });
  return [...[...bundles].map(([bundle, members]) => ({ bundle, members })), ...single];
}

/**
 * Fetches, verifies and reassembles a protected instance: the exact received bytes, or
 * INTEGRITY_FAILURE (a manifest naming a master key the keyring lacks cannot be verified either).
 */
export async function readProtected(deps: ReadDeps, manifestText: string, sopInstanceUid: string): Promise<Uint8Array> {
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

async function readVerified(deps: ReadDeps, manifestText: string, sopInstanceUid: string): Promise<Uint8Array> {
  let signed: Manifest;
  try {
    signed = JSON.parse(manifestText) as Manifest;
  } catch (error) {
    throw new GatewayError('INTEGRITY_FAILURE', 'the recorded manifest is not JSON', { cause: error });
  }
  if (signed === null || typeof signed !== 'object' || !Array.isArray(signed.fragments)) throw new GatewayError('INTEGRITY_FAILURE', 'the recorded manifest is malformed');
  const manifest = verifyManifest(signed, deps.keyring, sopInstanceUid);
  const io = shardIo(deps, deps.shardConcurrency, deps.hedgeMs);
  const fetched = new Map<string, Uint8Array>();
  const faults: ShardFault[] = [];
  // Fragments stored whole: each object read once (a bundle holds several); sharded ones: k shards each.
  await Promise.all([
    readWholeFragments(
      io,
      manifest.fragments.filter((f): f is WholeFragmentRecord => f.shards === undefined),
    ).then((whole) => whole.forEach((bytes, key) => fetched.set(key, bytes))),
    ...manifest.fragments
      .filter((f): f is ShardedFragmentRecord => f.shards !== undefined)
      .map(async (f) => {
        const read = await readSharded(io, f);
        fetched.set(fragmentKey(f), read.bytes);
        faults.push(...read.faults);
      }),
  ]);
  const bytes = reassembleInstance(manifest, fetched, deps.keyring);
  if (faults.length > 0) reportDegraded(deps, manifest, faults);
  return bytes;
}

function reportDegraded(deps: ReadDeps, manifest: ManifestBody, faults: ShardFault[]): void {
  const shards = manifest.fragments.filter((f) => f.shards !== undefined).map((f) => `${f.redundancy!.k} of ${f.redundancy!.n}`);
  const summary = `read from ${[...new Set(shards)].join(', ')} shards per fragment; ${faults.map((f) => `shard ${f.shard} of fragment ${f.role}:${f.index} on backend ${f.backend} ${f.problem}`).join('; ')}`;
  try {
    deps.onDegradedRead?.({ sopInstanceUid: manifest.sopInstanceUid, studyInstanceUid: manifest.studyInstanceUid, seriesInstanceUid: manifest.seriesInstanceUid, faults, summary });
  } catch {
    // Reporting must never fail a read that succeeded.
  }
}

/** Shard I/O over the configured stores under a fresh per-instance bound. */
function shardIo(deps: Pick<ProtectionDeps, 'stores'>, concurrency = DEFAULT_SHARD_CONCURRENCY, hedgeMs?: number): ShardIo {
  return { store: (name) => storeFor(deps, name), limiter: new Limiter(concurrency), hedgeMs };
}

/** The instances PACS (dicomweb) backends filed the fragments of `manifest` in: their locators are `<study>/<series>/<instance>`. */
export function pacsInstancesOf(manifest: Pick<ManifestBody, 'fragments'>, stores: Map<string, FragmentStore>): PacsInstance[] {
  return manifest.fragments
    .flatMap(storedPieces)
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
