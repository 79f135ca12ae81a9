/**
 * Reads the audit trail in seq order, one page at a time (keyset paging on `seq`), so that verify
 * and export work on a table of millions of records without holding it in memory, and without a
 * long transaction that would stall the gateway sharing the connection.
 */
import type { Kysely, Selectable } from 'kysely';
import type { AuditEventsTable, CatalogDatabase } from '../../catalog/schema.js';

/** A stored audit record. */
export type AuditRecordRow = Selectable<AuditEventsTable>;

/** Which records to read. */
export interface AuditRecordRange {
  /** Only records with `at` at or after this ISO 8601 time. */
  from?: string;
  /** Only records with `at` before this ISO 8601 time. */
  to?: string;
  /** Records per query; default 1000. */
  pageSize?: number;
}

/** The records of the trail in seq order, read page by page. */
export async function* auditRecords(db: Kysely<CatalogDatabase>, range: AuditRecordRange = {}): AsyncGenerator<AuditRecordRow> {
  const pageSize = range.pageSize ?? 1000;
  let after: number | undefined;
  for (;;) {
    let query = db.selectFrom('audit_events').selectAll();
    if (after !== undefined) query = query.where('seq', '>', after);
    if (range.from !== undefined) query = query.where('at', '>=', range.from);
    if (range.to !== undefined) query = query.where('at', '<', range.to);
    const page = await query.orderBy('seq').limit(pageSize).execute();
    yield* page;
    if (page.length < pageSize) return;
    after = page[page.length - 1].seq;
  }
}
