/**
 * Deletions in progress: a DELETE records the instances it is about to remove before it destroys
 * their shred keys, and the catalog forgets the record with the instance rows, in one transaction
 * (`Catalog.removeInstances`). A record whose instance is still catalogued therefore marks a
 * delete that stopped between the two (the process was killed): its instances may no longer open,
 * and `services/interrupted-deletes.ts` finishes the delete at the next start.
 */
import type { Kysely } from 'kysely';
import type { InstanceRow } from './catalog.js';
import type { CatalogDatabase } from './schema.js';

/** The `pending_deletions` rows of the catalog. */
export class PendingDeletions {
  constructor(private readonly db: Kysely<CatalogDatabase>) {}

  /** Records that the instances `rows` are being deleted (durable when it resolves). */
  async begin(rows: ReadonlyArray<Pick<InstanceRow, 'sop_instance_uid' | 'study_uid' | 'series_uid'>>): Promise<void> {
    const requested_at = new Date().toISOString();
    // SQLite bounds the variables of one statement: a study of many thousands of instances goes in slices.
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += 200) {
        await trx
          .insertInto('pending_deletions')
          .values(rows.slice(i, i + 200).map((r) => ({ sop_instance_uid: r.sop_instance_uid, study_uid: r.study_uid, series_uid: r.series_uid, requested_at })))
          .onConflict((oc) => oc.column('sop_instance_uid').doNothing())
          .execute();
      }
    });
  }

  /** Forgets the records of `sopInstanceUids` (a delete that was refused before anything was destroyed). */
  async cancel(sopInstanceUids: readonly string[]): Promise<void> {
    for (let i = 0; i < sopInstanceUids.length; i += 500) {
      await this.db
        .deleteFrom('pending_deletions')
        .where('sop_instance_uid', 'in', sopInstanceUids.slice(i, i + 500))
        .execute();
    }
  }

  /** Whether the instance `sopInstanceUid` is recorded as being deleted. */
  async includes(sopInstanceUid: string): Promise<boolean> {
    return (await this.db.selectFrom('pending_deletions').select('sop_instance_uid').where('sop_instance_uid', '=', sopInstanceUid).executeTakeFirst()) !== undefined;
  }

  /** The catalogued instances of deletes that did not finish; records whose instance is gone are forgotten. */
  async interrupted(): Promise<InstanceRow[]> {
    await this.db
      .deleteFrom('pending_deletions')
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('instances').select('sop_instance_uid').whereRef('instances.sop_instance_uid', '=', 'pending_deletions.sop_instance_uid'))))
      .execute();
    return this.db.selectFrom('instances').innerJoin('pending_deletions', 'pending_deletions.sop_instance_uid', 'instances.sop_instance_uid').selectAll('instances').execute();
  }
}
