/**
 * Audit events as stored: canonical JSON (sorted keys, no whitespace, same text whatever the key
 * order), the query string moved out of the path, secrets redacted by name, resources bounded, and
 * the time kept as the record's `at`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson } from '../../../../gateway/canonical-json.js';
import { MAX_RESOURCES, normalizeAuditEvent } from '../../../../gateway/access/audit/event.js';
import { isGatewayError } from '../../../../gateway/errors.js';
import { sampleEvent } from '../../../support/audit.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth, keeps array order, drops undefined, adds no whitespace', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [3, { z: true, y: null }], c: 'x' }, u: undefined }), '{"a":{"c":"x","d":[3,{"y":null,"z":true}]},"b":1}');
    assert.equal(canonicalJson({ b: 'é\n"', a: 1 }), canonicalJson({ a: 1, b: 'é\n"' }), 'independent of key order');
    assert.equal(canonicalJson({ b: 'é\n"', a: 1 }), '{"a":1,"b":"é\\n\\""}');
  });

  it('refuses what JSON cannot hold faithfully', () => {
    assert.throws(() => canonicalJson({ n: Number.NaN }), /cannot hold the number NaN/);
    assert.throws(() => canonicalJson({ n: Number.POSITIVE_INFINITY }), /Infinity/);
    assert.throws(() => canonicalJson({ f: (() => 1) as never }), /cannot hold a function/);
  });
});

describe('normalizeAuditEvent', () => {
  it('stores the event without its time (the record holds it) as canonical JSON', () => {
    const { at, event, json } = normalizeAuditEvent(sampleEvent(7));
    assert.equal(at, '2025-01-01T08:00:00.007Z');
    assert.equal(json, canonicalJson(event as never));
    assert.equal('time' in JSON.parse(json), false);
    assert.deepEqual(JSON.parse(json), {
      requestId: 'req-7',
      kind: 'request',
      actor: { name: 'alice', role: 'radiologist', method: 'password', clientAddress: '10.0.0.7', attributes: { department: 'radiology' } },
      action: 'read',
      resources: [{ study: '1.2.3.7' }],
      outcome: 'success',
      purpose: 'TREAT',
      http: { method: 'GET', path: '/dicom-web/studies/1.2.3.7', status: 200 },
    });
  });

  it('moves the query string out of the path, keeps QIDO keys, redacts secrets by name', () => {
    const { json } = normalizeAuditEvent(
      sampleEvent(1, {
        action: 'search',
        actor: { name: 'bob', attributes: { department: 'er', apiKeySecret: 'sk-live-123', session_token: 'abc' } },
        http: { method: 'GET', path: '/dicom-web/studies?PatientName=DOE%5EJOHN&access_token=eyJhbGci&includefield=00100020&includefield=00080020', query: { Password: 'hunter2', limit: '10' }, status: 200 },
      }),
    );
    const stored = JSON.parse(json);
    assert.equal(stored.http.path, '/dicom-web/studies');
    assert.deepEqual(stored.http.query, { PatientName: 'DOE^JOHN', access_token: '[redacted]', includefield: ['00100020', '00080020'], Password: '[redacted]', limit: '10' });
    assert.deepEqual(stored.actor.attributes, { department: 'er', apiKeySecret: '[redacted]', session_token: '[redacted]' });
    for (const secret of ['eyJhbGci', 'hunter2', 'sk-live-123', '"abc"']) assert.equal(json.includes(secret), false, `no ${secret} in the stored event`);
  });

  it('bounds the resources and counts the rest; flags break-glass', () => {
    const resources = Array.from({ length: MAX_RESOURCES + 5 }, (_, i) => ({ study: '1.2.3', series: '1.2.3.4', instance: `1.2.3.4.${i}` }));
    const { event } = normalizeAuditEvent(sampleEvent(1, { resources, breakGlass: { id: 'bg-9', reason: 'stroke alert' } }));
    assert.equal(event.resources.length, MAX_RESOURCES);
    assert.equal(event.resourcesOmitted, 5);
    assert.equal(event.emergency, true);
    assert.deepEqual(event.breakGlass, { id: 'bg-9', reason: 'stroke alert' });
  });

  it('refuses an invalid time or a missing actor name', () => {
    assert.throws(
      () => normalizeAuditEvent(sampleEvent(1, { time: new Date(Number.NaN) })),
      (e: unknown) => isGatewayError(e, 'BAD_REQUEST'),
    );
    assert.throws(
      () => normalizeAuditEvent(sampleEvent(1, { actor: { name: '' } })),
      (e: unknown) => isGatewayError(e, 'BAD_REQUEST'),
    );
  });
});
