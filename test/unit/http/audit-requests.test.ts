/**
 * The audit middleware's response hooks: whatever the request target, recording a request never
 * throws out of a 'finish' or 'close' handler (an exception there would end the process), and the
 * event names the target as it was sent.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type { Request, Response } from 'express';
import type { AuditEvent } from '../../../gateway/access/audit/event.js';
import type { AuditTrail } from '../../../gateway/access/audit/trail.js';
import { auditRequests } from '../../../gateway/http/audit-requests.js';

/** A trail that keeps what it is given. */
function keepingTrail(): AuditTrail & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return {
    events,
    record: (event: AuditEvent) => void events.push(event),
    recordNow: async (event: AuditEvent) => void events.push(event),
  } as unknown as AuditTrail & { events: AuditEvent[] };
}

/** A request and response as far as the middleware reads them; the response ends with `status`. */
function exchange(target: string, status: number) {
  const path = target.split('?')[0];
  const req = { originalUrl: target, url: target, path, method: 'GET', headers: {}, socket: { remoteAddress: '127.0.0.1' }, id: 'req-1', log: silentLog } as unknown as Request;
  const res = Object.assign(new EventEmitter(), {
    statusCode: status,
    writableFinished: false,
    headersSent: false,
    end(this: Response & { writableFinished: boolean }) {
      this.writableFinished = true;
      this.emit('finish');
      return this;
    },
    destroyed: false,
    destroy(this: { destroyed: boolean }) {
      this.destroyed = true;
    },
  }) as unknown as Response;
  return { req, res };
}

const silentLog = { error() {}, warn() {}, info() {}, debug() {} };

describe('auditRequests', () => {
  for (const target of ['//', '//x:99999/dicom-web/studies', '//a%/', '//?a=%zz', '/dicom-web/studies?%zz=%G1&PatientName=DOE']) {
    it(`records ${JSON.stringify(target)} without throwing from the response hook`, async () => {
      const trail = keepingTrail();
      const { req, res } = exchange(target, 401);
      await new Promise<void>((resolve) => auditRequests(trail, silentLog as never)(req, res, () => resolve()));
      assert.doesNotThrow(() => res.end());
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(trail.events.length, 1);
      assert.equal(trail.events[0].http?.path, target.split('?')[0]);
      assert.equal(trail.events[0].http?.status, 401);
      assert.equal(trail.events[0].outcome, 'denied');
    });
  }

  it('keeps the query parameters of a target whose percent-encoding is broken', async () => {
    const trail = keepingTrail();
    const { req, res } = exchange('/dicom-web/studies?%zz=%G1&PatientName=DOE', 200);
    await new Promise<void>((resolve) => auditRequests(trail, silentLog as never)(req, res, () => resolve()));
    res.end();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(trail.events[0].http?.query, { '%zz': ['%G1'], PatientName: ['DOE'] });
  });

  it('logs, and does not throw, when building or writing the record fails', async () => {
    const errors: unknown[] = [];
    const log = { ...silentLog, error: (details: unknown) => void errors.push(details) };
    const trail = {
      record: () => {
        throw new Error('boom');
      },
      recordNow: () => {
        throw new Error('boom');
      },
    } as unknown as AuditTrail;
    const { req, res } = exchange('/dicom-web/studies', 200);
    await new Promise<void>((resolve) => auditRequests(trail, log as never)(req, res, () => resolve()));
    assert.doesNotThrow(() => res.end());
    assert.doesNotThrow(() => res.emit('close'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(errors.length >= 1, 'the failure is logged');
  });

  it('holds the end of the response until its record is durable', async () => {
    let durable!: () => void;
    const recorded: AuditEvent[] = [];
    const trail = { record: () => assert.fail('a completed response is recorded durably'), recordNow: (event: AuditEvent) => (recorded.push(event), new Promise<void>((resolve) => (durable = resolve))) } as unknown as AuditTrail;
    const { req, res } = exchange('/dicom-web/studies/1.2.3/metadata', 200);
    await new Promise<void>((resolve) => auditRequests(trail, silentLog as never)(req, res, () => resolve()));
    res.end('[]');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(recorded.length, 1);
    assert.equal(res.writableFinished, false, 'nothing of the end is sent before the record is durable');
    res.end('again');
    durable();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(res.writableFinished, true, 'the response ends once the record is durable');
    assert.equal(recorded.length, 1, 'one record per request');
  });

  it('withholds the response (closes the connection) when its record cannot be made durable', async () => {
    const errors: string[] = [];
    const log = { ...silentLog, error: (_details: unknown, message: string) => void errors.push(message) };
    const trail = { record: () => undefined, recordNow: () => Promise.reject(new Error('database is locked')) } as unknown as AuditTrail;
    const { req, res } = exchange('/dicom-web/studies', 200);
    await new Promise<void>((resolve) => auditRequests(trail, log as never)(req, res, () => resolve()));
    res.end('[]');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(res.writableFinished, false);
    assert.equal(res.destroyed, true);
    assert.match(errors.join('\n'), /RESPONSE WITHHELD/);
  });

  it('records a response the client abandoned with 499, once', async () => {
    const trail = keepingTrail();
    const { req, res } = exchange('/dicom-web/studies', 200);
    await new Promise<void>((resolve) => auditRequests(trail, silentLog as never)(req, res, () => resolve()));
    res.emit('close');
    res.end();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      trail.events.map((e) => e.http?.status),
      [499],
    );
  });
});
