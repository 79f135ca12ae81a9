/**
 * The buffered writer on a real SQLite catalog: events land in the order recorded, on the interval,
 * at the batch size, or at once with recordNow; records under k1 then k2 (key rotation) verify; a
 * head signed with a key this process does not know makes it reload the keyring; a trail that cannot
 * be written is logged loudly, never throws into the caller, keeps (a bounded number of) events and
 * records how many it dropped; break-glass is flagged; close() flushes.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Catalog } from '../../../../gateway/catalog/catalog.js';
import { AuditTrail, type AuditLogger, type AuditTrailOptions } from '../../../../gateway/access/audit/trail.js';
import type { StoredAuditEvent } from '../../../../gateway/access/audit/event.js';
import { verifyAuditTrail } from '../../../../gateway/access/audit/verify.js';
import { isGatewayError } from '../../../../gateway/errors.js';
import { Keyring } from '../../../../gateway/keys/keyring.js';
import { eventually, memoryKey, recordingLogger, sampleEvent, temporaryCatalog } from '../../../support/audit.js';

describe('AuditTrail', () => {
  const k1 = memoryKey('k1');
  const k2 = memoryKey('k2');
  const ringK1 = new Keyring([k1], k1);
  const ringK2 = new Keyring([k1, k2], k2);
  let catalog: Catalog;
  let remove: () => Promise<void>;
  const trails: AuditTrail[] = [];
  const open = (keyring: Keyring, logger: AuditLogger, options?: AuditTrailOptions) => {
    const trail = new AuditTrail(catalog.db, keyring, logger, options);
    trails.push(trail);
    return trail;
  };
  const stored = async () => (await catalog.db.selectFrom('audit_events').selectAll().orderBy('seq').execute()).map((r) => ({ ...r, parsed: JSON.parse(r.event) as StoredAuditEvent }));
  const count = async () => (await stored()).length;

  beforeEach(async () => {
    ({ catalog, remove } = await temporaryCatalog('aegis-audit-trail-'));
  });
  afterEach(async () => {
    for (const trail of trails.splice(0)) await trail.close();
    await remove();
  });

  it('writes buffered events in the order they were recorded, in one flush', async () => {
    const logger = recordingLogger();
    const trail = open(ringK1, logger, { flushIntervalMs: 60_000 });
    for (let i = 1; i <= 10; i++) trail.record(sampleEvent(i));
    assert.equal(trail.pending, 10, 'buffered, not yet written');
    assert.equal(await count(), 0, 'nothing written before the flush');
    await trail.flush();
    const rows = await stored();
    assert.deepEqual(
      rows.map((r) => r.parsed.requestId),
      Array.from({ length: 10 }, (_, i) => `req-${i + 1}`),
    );
    assert.deepEqual(
      rows.map((r) => r.seq),
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
    assert.equal(rows[0].at, '2025-01-01T08:00:00.001Z', 'at is the event time');
    assert.equal(trail.pending, 0);
    assert.deepEqual(logger.errors, []);
    assert.deepEqual(await verifyAuditTrail(catalog.db, ringK1), { ok: true, records: 10, head: { seq: 10, mac: rows[9].mac } });
  });

  it('flushes on the interval, and at once when the batch size is reached', async () => {
    const timed = open(ringK1, recordingLogger(), { flushIntervalMs: 20 });
    timed.record(sampleEvent(1));
    await eventually(async () => (await count()) === 1, 'the interval flush');
    await timed.close();

    const batched = open(ringK1, recordingLogger(), { flushIntervalMs: 60_000, flushBatchSize: 5 });
    for (let i = 2; i <= 5; i++) batched.record(sampleEvent(i));
    assert.equal(batched.pending, 4, 'below the batch size: waiting for the (long) interval');
    batched.record(sampleEvent(6));
    await eventually(async () => (await count()) === 6, 'the batch-size flush');
    assert.equal((await verifyAuditTrail(catalog.db, ringK1)).ok, true, 'chain intact across trails');
  });

  it('recordNow resolves once the event is stored', async () => {
    const trail = open(ringK1, recordingLogger(), { flushIntervalMs: 60_000 });
    trail.record(sampleEvent(1));
    await trail.recordNow(sampleEvent(2, { kind: 'authentication', operation: 'login', outcome: 'denied', reason: 'wrong password' }));
    const rows = await stored();
    assert.deepEqual(
      rows.map((r) => [r.parsed.requestId, r.parsed.kind, r.parsed.outcome]),
      [
        ['req-1', 'request', 'success'],
        ['req-2', 'authentication', 'denied'],
      ],
    );
  });

  it('signs new records with the active key: records under k1 then k2 verify with both keys', async () => {
    const before = open(ringK1, recordingLogger());
    for (let i = 1; i <= 3; i++) before.record(sampleEvent(i));
    await before.close();
    const after = open(ringK2, recordingLogger());
    for (let i = 4; i <= 6; i++) after.record(sampleEvent(i));
    await after.close();
    assert.deepEqual(
      (await stored()).map((r) => r.key_id),
      ['k1', 'k1', 'k1', 'k2', 'k2', 'k2'],
    );
    const result = await verifyAuditTrail(catalog.db, ringK2);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.records, 6);
    const withoutK1 = await verifyAuditTrail(catalog.db, new Keyring([k2], k2));
    assert.equal(withoutK1.ok, false, 'k1 is needed for the old records');
  });

  it('reloads the keyring when another process moved the head to a key it does not know', async () => {
    const logger = recordingLogger();
    let reloads = 0;
    const old = open(ringK1, logger, { reloadKeyring: async () => (reloads++, ringK2) });
    const rotated = open(ringK2, recordingLogger());
    await rotated.recordNow(sampleEvent(1));
    await old.recordNow(sampleEvent(2));
    assert.equal(reloads, 1);
    assert.deepEqual(
      (await stored()).map((r) => r.key_id),
      ['k2', 'k2'],
      'after the reload the newer active key signs',
    );
    assert.deepEqual(logger.errors, []);

    const stuck = open(ringK1, logger, { flushIntervalMs: 60_000 });
    await assert.rejects(stuck.recordNow(sampleEvent(3)), (e: unknown) => isGatewayError(e, 'KEY_NOT_FOUND'));
    assert.equal(stuck.pending, 1, 'kept for a retry');
    assert.match(logger.errors.join('\n'), /AUDIT TRAIL WRITE FAILED/);
  });

  it('keeps events, logs loudly and never throws while the trail cannot be written; records what it dropped', async () => {
    const logger = recordingLogger();
    const trail = open(ringK1, logger, { flushIntervalMs: 60_000, maxBuffered: 3, retryDelayMs: 60_000 });
    await trail.recordNow(sampleEvent(1));
    const head = await catalog.db.selectFrom('audit_head').selectAll().executeTakeFirstOrThrow();
    await catalog.db
      .updateTable('audit_head')
      .set({ signature: '0'.repeat(64) })
      .execute();

    await assert.rejects(trail.recordNow(sampleEvent(2)), (e: unknown) => isGatewayError(e, 'AUDIT_TRAIL_BROKEN'));
    assert.match(logger.errors.join('\n'), /AUDIT TRAIL WRITE FAILED/);
    await assert.rejects(trail.recordNow(sampleEvent(3)), (e: unknown) => isGatewayError(e, 'BACKEND_UNAVAILABLE'), 'answers at once while failing');
    assert.doesNotThrow(() => {
      for (let i = 4; i <= 7; i++) trail.record(sampleEvent(i));
    }, 'record never throws');
    assert.equal(trail.pending, 3, 'bounded buffer');
    assert.equal(trail.dropped, 3, 'events 4 to 7 beyond the bound: one fits, three dropped');
    assert.equal(logger.errors.filter((m) => /AUDIT BUFFER FULL/.test(m)).length, 1, 'the full buffer is said once');
    assert.equal(await count(), 1);

    await catalog.db.updateTable('audit_head').set({ signature: head.signature }).execute();
    await trail.flush();
    const rows = await stored();
    assert.deepEqual(
      rows.map((r) => r.parsed.requestId ?? r.parsed.kind),
      ['req-1', 'integrity', 'req-2', 'req-3', 'req-4'],
    );
    assert.match(rows[1].parsed.reason ?? '', /^3 audit events were dropped/);
    assert.equal(trail.dropped, 0);
    assert.match(logger.warnings.join('\n'), /audit trail writes resumed/);
    assert.equal((await verifyAuditTrail(catalog.db, ringK1)).ok, true);
  });

  it('flags break-glass loudly, flushes on close, and refuses events after it without throwing', async () => {
    const logger = recordingLogger();
    const trail = open(ringK1, logger, { flushIntervalMs: 60_000 });
    trail.record(sampleEvent(1, { purpose: 'ETREAT', breakGlass: { id: 'bg-1', reason: 'trauma bay, patient unconscious' } }));
    assert.match(logger.warnings.join('\n'), /BREAK-GLASS ACCESS/);
    await trail.close();
    const [row] = await stored();
    assert.equal(row.parsed.emergency, true);
    assert.deepEqual(row.parsed.breakGlass, { id: 'bg-1', reason: 'trauma bay, patient unconscious' });
    assert.doesNotThrow(() => trail.record(sampleEvent(2)));
    assert.match(logger.errors.join('\n'), /audit trail is closed/);
    assert.equal(await count(), 1);
  });

  it('logs and skips an invalid event instead of throwing', async () => {
    const logger = recordingLogger();
    const trail = open(ringK1, logger);
    assert.doesNotThrow(() => trail.record(sampleEvent(1, { time: new Date('not a date') })));
    assert.equal(trail.pending, 0);
    assert.match(logger.errors.join('\n'), /AUDIT EVENT NOT RECORDED: the event is invalid/);
  });
});
