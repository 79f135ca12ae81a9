/**
 * The removal ledger: fragments the gateway let go of whose physical removal a backend could not
 * confirm. `failed` rows are deletes that failed (a backend down, a timeout) and are retried;
 * `best-effort` rows were deleted on a store that cannot delete for certain (IPFS: unpinned, but
 * other nodes may keep the blocks), so they may linger, unreadable once their shred key is gone.
 * Both are "fragments awaiting physical removal" in `aegis stats`.
 */
import type { Kysely } from 'kysely';
import type { CatalogDatabase, RemovalLedgerTable } from './schema.js';

/** One fragment awaiting physical removal. */
export interface PendingRemoval {
  backend: string;
  locator: string;
  status: RemovalLedgerTable['status'];
  /** Why (the delete's error, or the store's best-effort delete). */
  detail: string;
  attempts: number;
}

/** Counts of the ledger, in total and per backend. */
export interface RemovalTotals {
  total: number;
  failed: number;
  bestEffort: number;
  backends: Record<string, { failed: number; bestEffort: number }>;
}

/** The ledger's rows in the catalog. */
export class RemovalLedger {
  constructor(private readonly db: Kysely<CatalogDatabase>) {}

  /** Records fragments awaiting removal; a fragment already recorded is updated (one more attempt). */
  async record(entries: readonly Omit<PendingRemoval, 'attempts'>[]): Promise<void> {
    const now = new Date().toISOString();
    for (const entry of entries) {
      await this.db
        .insertInto('removal_ledger')
        .values({ ...entry, attempts: 1, recorded_at: now, attempted_at: now })
        .onConflict((oc) => oc.columns(['backend', 'locator']).doUpdateSet((eb) => ({ status: entry.status, detail: entry.detail, attempts: eb('removal_ledger.attempts', '+', 1), attempted_at: now })))
        .execute();
    }
  }

  /** Failed removals to retry, the least recently attempted first. */
  async failed(limit = 500): Promise<PendingRemoval[]> {
    return this.db.selectFrom('removal_ledger').select(['backend', 'locator', 'status', 'detail', 'attempts']).where('status', '=', 'failed').orderBy('attempted_at').limit(limit).execute();
  }

  /** Forgets a fragment whose removal is now certain. */
  async settle(backend: string, locator: string): Promise<void> {
    await this.db.deleteFrom('removal_ledger').where('backend', '=', backend).where('locator', '=', locator).execute();
  }

  /** How many fragments await physical removal, per status and backend. */
  async totals(): Promise<RemovalTotals> {
    const rows = await this.db
      .selectFrom('removal_ledger')
      .select(({ fn }) => ['backend', 'status', fn.countAll<number>().as('n')])
      .groupBy(['backend', 'status'])
      .orderBy('backend')
      .execute();
    const totals: RemovalTotals = { total: 0, failed: 0, bestEffort: 0, backends: {} };
    for (const row of rows) {
      const n = Number(row.n);
      const backend = (totals.backends[row.backend] ??= { failed: 0, bestEffort: 0 });
      if (row.status === 'failed') {
        backend.failed += n;
        totals.failed += n;
      } else {
        backend.bestEffort += n;
        totals.bestEffort += n;
      }
      totals.total += n;
    }
    return totals;
  }
}
