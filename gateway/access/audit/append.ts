/**
 * Appends a batch of records to the audit chain in one SQLite transaction: read the head, chain the
 * records after it, write them and the new signed head. `BEGIN IMMEDIATE` takes the database's
 * write lock before the head is read, so gateway workers and CLI commands appending to the same
 * file at once are serialized (each waits up to the catalog's busy_timeout). A head that does not
 * verify is never extended: re-signing it would launder a truncated trail into a valid one.
 */
import { sql, type Kysely } from 'kysely';
import type { CatalogDatabase } from '../../catalog/schema.js';
import { GatewayError } from '../../errors.js';
import type { Keyring } from '../../keys/keyring.js';
import { GENESIS_MAC, headSignature, recordMac } from './chain.js';

/** One record to append: its time and the canonical JSON of its event. */
export interface NewAuditRecord {
  at: string;
  event: string;
}

/** Rows per INSERT statement (6 parameters each, well below SQLite's variable limit). */
const ROWS_PER_INSERT = 100;

/**
 * Appends `records` in order under the keyring's active key; resolves to the seq of the last one.
 * Throws `KEY_NOT_FOUND` when there is no active key or the head's key is not in the keyring, and
 * `AUDIT_TRAIL_BROKEN` when the head is missing (but records exist) or its signature is wrong.
 */
export async function appendAuditRecords(db: Kysely<CatalogDatabase>, keyring: Keyring, records: readonly NewAuditRecord[]): Promise<number> {
  const key = keyring.active;
  if (key === undefined) throw new GatewayError('KEY_NOT_FOUND', 'no master key to sign the audit trail with (set AEGIS_MASTER_KEY or run aegis keys generate)');
  return db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const head = await conn.selectFrom('audit_head').selectAll().where('id', '=', 1).executeTakeFirst();
      let seq = 0;
      let prevMac = GENESIS_MAC;
      if (head === undefined) {
        const any = await conn.selectFrom('audit_events').select('seq').limit(1).executeTakeFirst();
        if (any !== undefined) throw new GatewayError('AUDIT_TRAIL_BROKEN', 'the audit trail has records but no head: not extending it (run aegis audit verify)');
      } else {
        const headKey = keyring.find(head.key_id);
        if (headKey === undefined) throw new GatewayError('KEY_NOT_FOUND', `the audit head is signed with master key '${head.key_id}', which is not in the keyring`);
        if (headSignature(headKey, Number(head.seq), head.mac) !== head.signature) {
          throw new GatewayError('AUDIT_TRAIL_BROKEN', `the audit head (seq ${head.seq}) has an invalid signature: not extending the trail (run aegis audit verify)`);
        }
        seq = Number(head.seq);
        prevMac = head.mac;
      }
      const rows = records.map((record) => {
        seq += 1;
        const mac = recordMac(key, { prevMac, seq, at: record.at, event: record.event });
        const row = { seq, at: record.at, event: record.event, key_id: key.id, prev_mac: prevMac, mac };
        prevMac = mac;
        return row;
      });
      for (let i = 0; i < rows.length; i += ROWS_PER_INSERT)
        await conn
          .insertInto('audit_events')
          .values(rows.slice(i, i + ROWS_PER_INSERT))
          .execute();
      const newHead = { seq, mac: prevMac, key_id: key.id, signature: headSignature(key, seq, prevMac) };
      await conn
        .insertInto('audit_head')
        .values({ id: 1, ...newHead })
        .onConflict((oc) => oc.column('id').doUpdateSet(newHead))
        .execute();
      await sql`commit`.execute(conn);
      return seq;
    } catch (error) {
      // Nothing to roll back when BEGIN itself failed (busy): ignore the second error.
      await sql`rollback`.execute(conn).catch(() => {});
      throw error;
    }
  });
}
