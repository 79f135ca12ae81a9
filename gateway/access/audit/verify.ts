/**
 * Verifies the audit trail (`aegis audit verify`): walks the records in seq order and checks that
 * seqs run 1, 2, 3, ... without gaps, that each record's `prev_mac` is the MAC of the one before
 * (64 zeros for the first), that each MAC recomputes under the key its `key_id` names, and that the
 * signed head names the last record. Finds altered records (event, time, MAC), removed ones (first,
 * middle, last), reordered and inserted ones, unknown keys and a forged head, and names the first
 * broken seq. Reads the head first, then the records page by page: records appended meanwhile by a
 * running gateway lie beyond the head and are checked like the others.
 */
import type { Kysely } from 'kysely';
import type { CatalogDatabase } from '../../catalog/schema.js';
import type { Keyring } from '../../keys/keyring.js';
import { GENESIS_MAC, headSignature, recordMac } from './chain.js';
import { auditRecords } from './records.js';

/** Where the trail first fails and why. */
export interface AuditBreak {
  /**
   * The first record that is altered, missing or out of place. A head problem (missing head, bad
   * signature, records removed from the end) is reported at the seq after the last intact record:
   * the first one whose presence cannot be ruled out.
   */
  seq: number;
  problem: string;
}

/** The outcome of {@link verifyAuditTrail}; `records` counts the records verified intact. */
export type AuditVerification = { ok: true; records: number; head?: { seq: number; mac: string } } | { ok: false; records: number; firstBroken: AuditBreak };

/** Verifies the whole trail against the master keys of `keyring`. Never throws for a broken trail. */
export async function verifyAuditTrail(db: Kysely<CatalogDatabase>, keyring: Keyring, options: { pageSize?: number } = {}): Promise<AuditVerification> {
  const head = await db.selectFrom('audit_head').selectAll().where('id', '=', 1).executeTakeFirst();
  let expected = 1;
  let prevMac = GENESIS_MAC;
  const broken = (seq: number, problem: string): AuditVerification => ({ ok: false, records: expected - 1, firstBroken: { seq, problem } });

  for await (const row of auditRecords(db, { pageSize: options.pageSize })) {
    const seq = row.seq;
    if (seq !== expected) {
      if (Number.isInteger(seq) && seq > expected) return broken(expected, `record ${expected} is missing (the next record is ${seq})`);
      return broken(seq, `record ${String(seq)} is out of place (expected seq ${expected}): inserted?`);
    }
    if (row.prev_mac !== prevMac) {
      return broken(seq, seq === 1 ? 'the first record does not start the chain: records before it were removed?' : `its prev_mac is not the MAC of record ${seq - 1}: records reordered or replaced?`);
    }
    const key = keyring.find(row.key_id);
    if (key === undefined) return broken(seq, `its MAC key '${row.key_id}' is not in the keyring`);
    if (recordMac(key, { prevMac, seq, at: row.at, event: row.event }) !== row.mac) return broken(seq, 'its MAC does not match: the record was altered (event, time or MAC)');
    if (head !== undefined && Number(head.seq) === seq && head.mac !== row.mac) return broken(seq, 'the audit head names a different MAC for this record');
    prevMac = row.mac;
    expected += 1;
  }

  const count = expected - 1;
  if (head === undefined) return count === 0 ? { ok: true, records: 0 } : broken(count + 1, `the audit head is missing: records after ${count} may have been removed`);
  const headKey = keyring.find(head.key_id);
  if (headKey === undefined) return broken(count + 1, `the audit head's key '${head.key_id}' is not in the keyring`);
  const headSeq = Number(head.seq);
  if (headSignature(headKey, headSeq, head.mac) !== head.signature) return broken(count + 1, 'the audit head has an invalid signature (altered or forged head)');
  if (headSeq > count) return broken(count + 1, `record ${count + 1} is missing: the head names record ${headSeq} but the trail ends at ${count}`);
  return { ok: true, records: count, head: { seq: headSeq, mac: head.mac } };
}
