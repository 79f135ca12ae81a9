/**
 * The audit chain and its verification on a real SQLite catalog: an intact trail verifies; every
 * single tampering an attacker with write access to the database but no master key can do (alter a
 * record's event, time, MAC or prev_mac; remove the first, a middle or the last record; swap two
 * records; insert a forged one; forge, drop or re-point the head) is found, and the first broken seq
 * is named exactly. The writer refuses to extend a trail whose head does not verify.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Selectable } from 'kysely';
import type { Catalog } from '../../../../gateway/catalog/catalog.js';
import type { AuditEventsTable, AuditHeadTable } from '../../../../gateway/catalog/schema.js';
import { appendAuditRecords } from '../../../../gateway/access/audit/append.js';
import { GENESIS_MAC, headSignature, recordMac } from '../../../../gateway/access/audit/chain.js';
import { normalizeAuditEvent } from '../../../../gateway/access/audit/event.js';
import { verifyAuditTrail, type AuditVerification } from '../../../../gateway/access/audit/verify.js';
import { isGatewayError } from '../../../../gateway/errors.js';
import { Keyring } from '../../../../gateway/keys/keyring.js';
import { memoryKey, sampleEvent, temporaryCatalog } from '../../../support/audit.js';

const RECORDS = 5;
const POSITIONS = [1, 3, RECORDS]; // first, middle, last

type Row = Selectable<AuditEventsTable>;

function expectBroken(result: AuditVerification, seq: number, problem: RegExp, what: string): void {
  assert.equal(result.ok, false, `${what}: verify should fail, got ${JSON.stringify(result)}`);
  if (result.ok) return;
  assert.equal(result.firstBroken.seq, seq, `${what}: first broken seq (${result.firstBroken.problem})`);
  assert.match(result.firstBroken.problem, problem, what);
  assert.equal(result.records, Math.ceil(seq) - 1, `${what}: records verified before the break`);
}

describe('audit chain verification', () => {
  const k1 = memoryKey('k1');
  const keyring = new Keyring([k1], k1);
  let remove: () => Promise<void>;
  let catalog: Catalog;
  let original: Row[];
  let originalHead: Selectable<AuditHeadTable>;

  const rows = () => catalog.db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
  const row = (seq: number) => original.find((r) => r.seq === seq)!;
  const setRow = (seq: number, values: Partial<Row>) => catalog.db.updateTable('audit_events').set(values).where('seq', '=', seq).execute();
  const setHead = (values: Partial<Selectable<AuditHeadTable>>) => catalog.db.updateTable('audit_head').set(values).where('id', '=', 1).execute();
  const verify = (ring: Keyring = keyring, pageSize?: number) => verifyAuditTrail(catalog.db, ring, { pageSize });

  beforeEach(async () => {
    ({ catalog, remove } = await temporaryCatalog('aegis-audit-verify-'));
    // Two transactions, so the chain crosses a batch boundary.
    const records = Array.from({ length: RECORDS }, (_, i) => normalizeAuditEvent(sampleEvent(i + 1))).map(({ at, json }) => ({ at, event: json }));
    await appendAuditRecords(catalog.db, keyring, records.slice(0, 2));
    await appendAuditRecords(catalog.db, keyring, records.slice(2));
    original = await rows();
    originalHead = await catalog.db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
  });
  afterEach(() => remove());

  it('verifies an intact trail, page by page or at once, and chains from the genesis value', async () => {
    assert.deepEqual(await verify(), { ok: true, records: RECORDS, head: { seq: RECORDS, mac: row(RECORDS).mac } });
    assert.deepEqual(await verify(keyring, 2), { ok: true, records: RECORDS, head: { seq: RECORDS, mac: row(RECORDS).mac } });
    assert.deepEqual(
      original.map((r) => r.seq),
      [1, 2, 3, 4, 5],
    );
    assert.equal(row(1).prev_mac, GENESIS_MAC);
    for (const r of original.slice(1)) assert.equal(r.prev_mac, row(r.seq - 1).mac, `record ${r.seq} chains to ${r.seq - 1}`);
    assert.equal(originalHead.seq, RECORDS);
    assert.equal(originalHead.key_id, 'k1');
    assert.equal(originalHead.signature, headSignature(k1, RECORDS, row(RECORDS).mac));
  });

  it('verifies an empty trail', async () => {
    await catalog.db.deleteFrom('audit_events').execute();
    await catalog.db.deleteFrom('audit_head').execute();
    assert.deepEqual(await verify(), { ok: true, records: 0 });
  });

  for (const field of ['event', 'at', 'mac', 'prev_mac'] as const) {
    it(`names the record whose ${field} was altered, at every position`, async () => {
      for (const seq of [1, 2, 3, 4, 5]) {
        const value = row(seq)[field];
        const altered = field === 'event' ? value.replace('alice', 'mallory') : field === 'at' ? '2024-12-31T23:59:59.999Z' : `${value.slice(0, -1)}${value.endsWith('0') ? '1' : '0'}`;
        assert.notEqual(altered, value, 'the alteration changes something');
        await setRow(seq, { [field]: altered });
        expectBroken(await verify(keyring, 2), seq, field === 'prev_mac' ? /prev_mac|start the chain/ : /MAC does not match/, `${field} of record ${seq}`);
        await setRow(seq, { [field]: value });
      }
      assert.equal((await verify()).ok, true, 'restored');
    });
  }

  it('names the removed record: the first, a middle one, the last (through the head)', async () => {
    for (const seq of POSITIONS) {
      await catalog.db.deleteFrom('audit_events').where('seq', '=', seq).execute();
      expectBroken(await verify(), seq, new RegExp(`record ${seq} is missing`), `record ${seq} removed`);
      await catalog.db.insertInto('audit_events').values(row(seq)).execute();
    }
    assert.equal((await verify()).ok, true, 'restored');
  });

  it('finds the removal of the last record even when the head is moved back to the one before', async () => {
    await catalog.db.deleteFrom('audit_events').where('seq', '=', RECORDS).execute();
    await setHead({ seq: RECORDS - 1, mac: row(RECORDS - 1).mac });
    expectBroken(await verify(), RECORDS, /invalid signature/, 'head moved back without the key');
  });

  it('names the first of two records whose contents were swapped', async () => {
    for (const [a, b] of [
      [1, 2],
      [2, 4],
      [4, 5],
    ]) {
      const { seq: _a, ...contentA } = row(a);
      const { seq: _b, ...contentB } = row(b);
      await setRow(a, contentB);
      await setRow(b, contentA);
      expectBroken(await verify(), a, /prev_mac|start the chain|MAC/, `records ${a} and ${b} swapped`);
      await setRow(a, contentA);
      await setRow(b, contentB);
    }
    assert.equal((await verify()).ok, true, 'restored');
  });

  it('names a forged record appended after the last, inserted in the middle, or given a fractional seq', async () => {
    const forged = (seq: number, prevMac: string) => ({ seq, at: '2025-01-01T09:00:00.000Z', event: '{"kind":"request"}', key_id: 'k1', prev_mac: prevMac, mac: 'f'.repeat(64) });
    await catalog.db
      .insertInto('audit_events')
      .values(forged(RECORDS + 1, row(RECORDS).mac))
      .execute();
    expectBroken(await verify(), RECORDS + 1, /MAC does not match/, 'appended forgery');
    await catalog.db
      .deleteFrom('audit_events')
      .where('seq', '=', RECORDS + 1)
      .execute();

    // Make room at seq 3 by renumbering 3..5 to 4..6 (in two steps: the key is unique).
    await catalog.db
      .updateTable('audit_events')
      .set((eb) => ({ seq: eb('seq', '+', 1000) }))
      .where('seq', '>=', 3)
      .execute();
    await catalog.db
      .updateTable('audit_events')
      .set((eb) => ({ seq: eb('seq', '-', 999) }))
      .where('seq', '>=', 1000)
      .execute();
    await catalog.db
      .insertInto('audit_events')
      .values(forged(3, row(2).mac))
      .execute();
    expectBroken(await verify(), 3, /MAC does not match/, 'inserted forgery');
    await catalog.db.deleteFrom('audit_events').execute();
    await catalog.db.insertInto('audit_events').values(original).execute();

    await catalog.db
      .insertInto('audit_events')
      .values(forged(2.5, row(2).mac))
      .execute();
    expectBroken(await verify(), 2.5, /out of place/, 'fractional seq');
  });

  it('cannot be fooled by a chain recomputed with another key of the same id', async () => {
    const impostor = memoryKey('k1');
    // Alter record 3 and recompute everything after it, head included, with a key of the same name.
    let prevMac = row(2).mac;
    for (const seq of [3, 4, 5]) {
      const event = seq === 3 ? row(3).event.replace('alice', 'mallory') : row(seq).event;
      const mac = recordMac(impostor, { prevMac, seq, at: row(seq).at, event });
      await setRow(seq, { event, prev_mac: prevMac, mac });
      prevMac = mac;
    }
    await setHead({ mac: prevMac, signature: headSignature(impostor, RECORDS, prevMac) });
    expectBroken(await verify(), 3, /MAC does not match/, 'recomputed with the wrong key');
    // Nor with a plain (unkeyed) HMAC over the same bytes under an empty key.
    const unkeyed = createHmac('sha256', '')
      .update(JSON.stringify([row(2).mac, 3, row(3).at, row(3).event]))
      .digest('hex');
    assert.notEqual(unkeyed, row(3).mac, 'the MAC depends on the master key');
  });

  it('names records under a key that is not in the keyring', async () => {
    await setRow(3, { key_id: 'k9' });
    expectBroken(await verify(), 3, /'k9' is not in the keyring/, 'unknown key id');
    await setRow(3, { key_id: 'k1' });
    const other = memoryKey('k2');
    expectBroken(await verify(new Keyring([other], other)), 1, /'k1' is not in the keyring/, 'verified without k1');
  });

  it('finds a missing, forged or unknown-key head after the last intact record', async () => {
    await setHead({ signature: '0'.repeat(64) });
    expectBroken(await verify(), RECORDS + 1, /invalid signature/, 'forged head signature');
    await setHead({ signature: originalHead.signature, key_id: 'k7' });
    expectBroken(await verify(), RECORDS + 1, /'k7' is not in the keyring/, 'head key unknown');
    await catalog.db.deleteFrom('audit_head').execute();
    expectBroken(await verify(), RECORDS + 1, /head is missing/, 'head removed');
    await catalog.db.insertInto('audit_head').values(originalHead).execute();
    assert.equal((await verify()).ok, true, 'restored');
    await catalog.db.deleteFrom('audit_events').execute();
    expectBroken(await verify(), 1, /record 1 is missing/, 'every record removed, head kept');
  });

  it('refuses to extend a trail whose head is forged or missing, and extends an intact one', async () => {
    const next = [{ at: '2025-01-02T00:00:00.000Z', event: '{}' }];
    await setHead({ signature: 'a'.repeat(64) });
    await assert.rejects(appendAuditRecords(catalog.db, keyring, next), (e: unknown) => isGatewayError(e, 'AUDIT_TRAIL_BROKEN') && /invalid signature/.test((e as Error).message));
    await catalog.db.deleteFrom('audit_head').execute();
    await assert.rejects(appendAuditRecords(catalog.db, keyring, next), (e: unknown) => isGatewayError(e, 'AUDIT_TRAIL_BROKEN') && /no head/.test((e as Error).message));
    assert.equal((await rows()).length, RECORDS, 'nothing appended');
    await catalog.db.insertInto('audit_head').values(originalHead).execute();
    assert.equal(await appendAuditRecords(catalog.db, keyring, next), RECORDS + 1);
    assert.deepEqual(await verify(), { ok: true, records: RECORDS + 1, head: { seq: RECORDS + 1, mac: (await rows()).at(-1)!.mac } });
  });
});
