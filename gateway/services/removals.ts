/**
 * Letting go of stored instances (DELETE, a replaced instance, a failed STOW write): first the
 * instance's shred key is destroyed (crypto-shredding, `keys/instance-keys.ts`), so whatever of it
 * stays on a backend is unreadable from then on; then every stored object (a bundle of fragments,
 * a fragment, a shard: each once) and the manifest copy are deleted. What a backend could not
 * delete for certain goes into the removal ledger (`catalog/removal-ledger.ts`): failed deletes,
 * retried by {@link retryRemovals}, and deletes on a best-effort store (IPFS), whose copies
 * elsewhere only the shredded key protects.
 */
import type { Logger } from 'pino';
import type { FragmentStore } from '../../adapters/fragment-store.js';
import type { Catalog } from '../catalog/catalog.js';
import { RemovalLedger, type PendingRemoval } from '../catalog/removal-ledger.js';
import { destroyInstanceKeys, type RecordedDataKey } from '../keys/instance-keys.js';
import type { Keyring } from '../keys/keyring.js';
import { storedObjects, type ManifestBody } from '../protection/manifest.js';

/** What removing stored bytes needs; without a catalog, what could not be removed is only logged. */
export interface RemovalDeps {
  stores: Map<string, FragmentStore>;
  logger: Logger;
  keyring: Keyring;
  catalog?: Pick<Catalog, 'db'>;
}

/** Where something is stored. */
interface Stored {
  backend: string;
  locator: string;
}

/** What shredding a set of instances did. */
export interface ShredReport {
  /** Shred keys destroyed: those instances are unreadable wherever their fragments remain. */
  destroyed: number;
  /** Hardened instances stored before shred keys: their manifest copies still open with the master key. */
  withoutShredKey: number;
  /** Instances whose fragments were never encrypted (paper mode, or stored whole). */
  unencrypted: number;
}

/** Destroys the shred keys of the instances whose manifests (catalog text, null when stored whole) are given. */
export function shredInstances(keyring: Keyring, manifests: ReadonlyArray<string | null>): ShredReport {
  const report: ShredReport = { destroyed: 0, withoutShredKey: 0, unencrypted: 0 };
  const keys: RecordedDataKey[] = [];
  for (const text of manifests) {
    const dataKey = text === null ? undefined : (JSON.parse(text) as ManifestBody).dataKey;
    if (dataKey === undefined) report.unencrypted++;
    else if (dataKey.shredKeyId === undefined) report.withoutShredKey++;
    else keys.push(dataKey);
  }
  report.destroyed = destroyInstanceKeys(keyring, keys);
  return report;
}

/** Shreds and removes the stored bytes of a catalog row (replaced or rolled back instances); never throws. */
export async function removeStoredInstance(deps: RemovalDeps, row: Stored & { manifest: string | null }): Promise<void> {
  try {
    shredInstances(deps.keyring, [row.manifest]);
  } catch (error) {
    deps.logger.error({ err: error, backend: row.backend, locator: row.locator }, 'destroying the shred key of a removed instance failed');
  }
  await removeFragments(deps, row.manifest, row);
}

/** Deletes every object of an instance (each bundle and shard once) and its manifest copy (or the whole instance); never throws. */
export async function removeFragments(deps: RemovalDeps, manifest: string | null, copy: Stored): Promise<void> {
  const objects = manifest === null ? [] : storedObjects((JSON.parse(manifest) as ManifestBody).fragments);
  await deleteAll(deps, [...objects, copy]);
}

/** The cleanup of a failed write: its shred key destroyed, what it wrote deleted (or recorded); never throws. */
export async function discardWrite(deps: RemovalDeps, dataKey: RecordedDataKey | undefined, written: ReadonlyArray<{ store: FragmentStore; locator: string }>): Promise<void> {
  try {
    destroyInstanceKeys(deps.keyring, [dataKey]);
  } catch (error) {
    deps.logger.error({ err: error }, 'destroying the shred key of a failed write failed');
  }
  await deleteAll(
    deps,
    written.map(({ store, locator }) => ({ backend: store.name, locator })),
  );
}

/** What a retry of the ledger did. */
export interface RetryReport {
  retried: number;
  /** Now deleted for certain: gone from the ledger. */
  removed: number;
  /** Deleted on a best-effort store: kept in the ledger as such. */
  bestEffort: number;
  failed: number;
}

/** Retries the failed removals of the ledger (at most `limit`, the least recently tried first). */
export async function retryRemovals(deps: { catalog: Pick<Catalog, 'db'>; stores: Map<string, FragmentStore>; logger: Logger }, limit = 500): Promise<RetryReport> {
  const ledger = new RemovalLedger(deps.catalog.db);
  const report: RetryReport = { retried: 0, removed: 0, bestEffort: 0, failed: 0 };
  for (const entry of await ledger.failed(limit)) {
    report.retried++;
    const outcome = await deleteOne(deps, entry);
    if (outcome === undefined) {
      await ledger.settle(entry.backend, entry.locator);
      report.removed++;
    } else {
      await ledger.record([outcome]);
      report[outcome.status === 'failed' ? 'failed' : 'bestEffort']++;
    }
  }
  return report;
}

/** Deletes each of `targets`, recording in the ledger what was not deleted for certain. */
async function deleteAll(deps: RemovalDeps, targets: readonly Stored[]): Promise<void> {
  const pending = (await Promise.all(targets.map((target) => deleteOne(deps, target)))).filter((p) => p !== undefined);
  if (pending.length === 0) return;
  if (deps.catalog === undefined) {
    for (const p of pending) deps.logger.warn({ backend: p.backend, locator: p.locator, detail: p.detail }, 'orphaned fragment: not removed for certain');
    return;
  }
  try {
    await new RemovalLedger(deps.catalog.db).record(pending);
  } catch (error) {
    deps.logger.error({ err: error, fragments: pending }, 'orphaned fragments: recording them in the removal ledger failed');
  }
}

/** Deletes one stored thing; undefined when it is gone for certain, else its ledger entry. */
async function deleteOne(deps: Pick<RemovalDeps, 'stores' | 'logger'>, target: Stored): Promise<Omit<PendingRemoval, 'attempts'> | undefined> {
  const { backend, locator } = target;
  const store = deps.stores.get(backend);
  if (store === undefined) return { backend, locator, status: 'failed', detail: `backend ${backend} is not configured` };
  try {
    await store.delete(locator);
  } catch (error) {
    deps.logger.warn({ err: error, backend, locator }, 'deleting a fragment failed: recorded for a later retry');
    return { backend, locator, status: 'failed', detail: error instanceof Error ? error.message : String(error) };
  }
  if (store.capabilities.delete === 'certain') return undefined;
  return { backend, locator, status: 'best-effort', detail: `a ${store.kind} store deletes best-effort: copies may remain elsewhere` };
}
