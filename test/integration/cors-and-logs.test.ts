/**
 * CORS for configured origins (preflight answered, headers on errors too, other origins get none),
 * and logs as operators see them: one JSON line per request with its id, and no patient identity
 * at the default level even when queries and instances carry it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stow } from '../support/dicomweb.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';

const VIEWER = 'https://viewer.example.org';

describe('CORS and logs', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway({ config: { cors: { origins: [VIEWER] } }, env: { AEGIS_WORKERS: '1' } });
  });
  after(async () => {
    await gw.stop();
  });

  it('answers a preflight for an allowed origin', async () => {
    const res = await fetch(`${gw.dicomWebUrl}/studies`, {
      method: 'OPTIONS',
      headers: { Origin: VIEWER, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'accept' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), VIEWER);
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /GET/);
    assert.match(res.headers.get('access-control-allow-headers') ?? '', /accept/i);
  });

  it('puts CORS headers on successes and on errors, and exposes Warning and Content-Location', async () => {
    const ok = await fetch(`${gw.dicomWebUrl}/studies?limit=1`, { headers: { Origin: VIEWER } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), VIEWER);
    assert.match(ok.headers.get('access-control-expose-headers') ?? '', /Warning/);
    assert.match(ok.headers.get('access-control-expose-headers') ?? '', /Content-Location/);
    const missing = await fetch(`${gw.dicomWebUrl}/studies/1.2.3/metadata`, { headers: { Origin: VIEWER } });
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get('access-control-allow-origin'), VIEWER);
    const bad = await fetch(`${gw.dicomWebUrl}/studies?NoSuchKey=1`, { headers: { Origin: VIEWER } });
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.get('access-control-allow-origin'), VIEWER);
  });

  it('gives no CORS headers to other origins', async () => {
    const res = await fetch(`${gw.dicomWebUrl}/studies`, { headers: { Origin: 'https://evil.example.com' } });
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    const preflight = await fetch(`${gw.dicomWebUrl}/studies`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example.com', 'Access-Control-Request-Method': 'GET' } });
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
  });

  it('logs one JSON line per request with its id, and no patient identity', async () => {
    const name = 'Zyxwvut^Qrstuv';
    const patientId = 'PID-SECRET-4711';
    const study = newUid();
    const instance = syntheticInstance({ studyInstanceUID: study, patientName: name, patientID: patientId, seed: 3 });
    assert.equal((await stow(gw.dicomWebUrl, [instance])).status, 200);
    const query = await fetch(`${gw.dicomWebUrl}/studies?PatientName=${encodeURIComponent('Zyxwvut*')}&PatientID=${patientId}`, { headers: { 'X-Request-Id': 'trace-42' } });
    assert.equal(query.status, 200);
    assert.equal(query.headers.get('x-request-id'), 'trace-42');
    const bad = await stow(gw.dicomWebUrl, [Buffer.from(`not dicom, but ${name}`)]);
    assert.equal(bad.status, 409);
    await new Promise((r) => setTimeout(r, 300)); // let the log lines arrive
    const lines = gw.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const traced = lines.find((l) => l.reqId === 'trace-42' && l.msg === 'request');
    assert.ok(traced, 'the request is logged under the id the client sent');
    assert.equal(traced.path, '/dicom-web/studies');
    assert.equal(traced.status, 200);
    const text = gw.logs.join('\n');
    for (const secret of ['Zyxwvut', 'Qrstuv', patientId]) assert.ok(!text.includes(secret), `the logs do not contain ${secret}`);
  });
});
