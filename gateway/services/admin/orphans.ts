/**
 * The orphan sweep: finds the objects (bundles of fragments, fragments, shards) and manifest copies
 * on a backend that no catalog record references, and removes them. A STOW writes its pieces before it commits the catalog row
 * (the row makes the instance visible), so a process killed in between leaves pieces nobody
 * references; they are unreadable garbage (no signed manifest names them) that only costs space.
 *
 * An in-flight STOW's pieces are unreferenced too until its commit, so the sweep never removes a
 * piece on sight: it lists every backend that can list (`capabilities.list`: fs and s3), waits
 * `graceMs`, reads the catalog again, and removes only what was unreferenced at the first look and
 * still is. A STOW that takes longer than the grace between its first put and its commit could
 * lose a piece: keep the grace well above the backends' timeouts. The sweep assumes that a
 * backend's folder or bucket prefix holds only this gateway's pieces.
 */
import type { FragmentStore } from '../../../adapters/fragment-store.js';
import type { Catalog } from '../../catalog/catalog.js';
import { storedPieces, type ManifestBody } from '../../protection/manifest.js';

/** What the sweep found and did on one backend. */
export interface BackendOrphans {
  /** Pieces listed at the first look. */
  listed: number;
  /** Listed pieces that no catalog record referenced at the first look. */
  unreferenced: number;
  /** Unreferenced pieces that a commit referenced during the grace (an in-flight STOW's). */
  adopted: number;
  /** Orphans removed. */
  removed: number;
  /** Orphans that could not be removed, with why. */
  failed: Array<{ locator: string; reason: string }>;
}

/** The sweep's report: per backend that can list, and the backends it could not look into. */
export interface OrphanReport {
  backends: Record<string, BackendOrphans>;
  /** Backends that cannot list their pieces (ipfs, dicomweb): not swept. */
  unlistable: string[];
}

/** Options of {@link sweepOrphans}. */
export interface OrphanSweepOptions {
  /** How long a piece must stay unreferenced before it is removed. */
  graceMs: number;
  /** Only report: remove nothing. */
  dryRun?: boolean;
  /** Waits `ms` (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
}

/** Every piece the catalog references, as `backend \0 locator`. */
export async function referencedPieces(catalog: Pick<Catalog, 'storedInstances'>): Promise<Set<string>> {
  const referenced = new Set<string>();
  for await (const row of catalog.storedInstances()) {
    referenced.add(pieceId(row.backend, row.locator));
    if (row.manifest === null) continue;
    for (const fragment of (JSON.parse(row.manifest) as ManifestBody).fragments) {
      for (const piece of storedPieces(fragment)) referenced.add(pieceId(piece.backend, piece.locator));
    }
  }
  return referenced;
}

/** Finds the pieces no catalog record references and, after the grace, removes those that still are not. */
export async function sweepOrphans(deps: { catalog: Pick<Catalog, 'storedInstances'>; stores: Map<string, FragmentStore> }, options: OrphanSweepOptions): Promise<OrphanReport> {
  const report: OrphanReport = { backends: {}, unlistable: [] };
  const before = await referencedPieces(deps.catalog);
  const candidates = new Map<FragmentStore, string[]>();
  for (const store of deps.stores.values()) {
    if (!store.capabilities.list) {
      report.unlistable.push(store.name);
      continue;
    }
    const found: BackendOrphans = { listed: 0, unreferenced: 0, adopted: 0, removed: 0, failed: [] };
    const unreferenced: string[] = [];
    for await (const locator of store.list()) {
      found.listed++;
      if (!before.has(pieceId(store.name, locator))) unreferenced.push(locator);
    }
    found.unreferenced = unreferenced.length;
    report.backends[store.name] = found;
    candidates.set(store, unreferenced);
  }
  const total = [...candidates.values()].reduce((n, c) => n + c.length, 0);
  if (total === 0) return report;
  if (options.graceMs > 0) await (options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))))(options.graceMs);
  const after = await referencedPieces(deps.catalog);
  for (const [store, locators] of candidates) {
    const found = report.backends[store.name];
    for (const locator of locators) {
      if (after.has(pieceId(store.name, locator))) {
        found.adopted++;
        continue;
      }
      if (options.dryRun) continue;
      try {
        if (await store.delete(locator)) found.removed++;
      } catch (error) {
        found.failed.push({ locator, reason: error instanceof Error ? error.message : String(error) });
      }
    }
  }
  return report;
}

function pieceId(backend: string, locator: string): string {
  return `${backend}\0${locator}`;
}
