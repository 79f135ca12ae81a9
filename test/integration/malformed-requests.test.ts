/**
 * Malformed request lines against a real gateway (the CLI, two worker processes), sent as raw
 * bytes: double slashes, bad authorities, bad percent-encoding, over-long paths and queries,
 * control characters, absolute-form and asterisk-form targets, odd methods. Each gets its exact
 * status; no worker process ends (the same PIDs serve before and after, and a STOW-RS upload in
 * flight meanwhile completes), and the audit trail holds a record of every one of them with the
 * status that was sent, and still verifies.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { stowBody } from '../support/dicomweb.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { childPids, until } from '../support/processes.js';
import { rawExchange, rawRequest } from '../support/raw-http.js';
import { readTrail } from '../support/trail.js';

/** A request line (without CRLF), sent as latin1 bytes, and the status it must get. */
const CASES: Array<{ line: string; status: number; body?: string }> = [
  { line: 'GET // HTTP/1.1', status: 401 },
  { line: 'GET //x:99999/dicom-web/studies HTTP/1.1', status: 401 },
  { line: 'GET //a%/ HTTP/1.1', status: 401 },
  { line: 'HEAD // HTTP/1.1', status: 401 },
  { line: 'GET //?a=%zz HTTP/1.1', status: 401 },
  { line: 'POST // HTTP/1.1', status: 401, body: 'hello' },
  { line: 'GET /%zz HTTP/1.1', status: 401 },
  { line: 'GET /dicom-web/studies/%E0%A4%A HTTP/1.1', status: 401 },
  { line: 'GET /dicom-web/studies?%zz=%G1&PatientName=%FF HTTP/1.1', status: 401 },
  { line: 'GET /dicom-web/studies/%00 HTTP/1.1', status: 401 },
  { line: 'GET /%C0%AF..%C0%AFetc%C0%AFpasswd HTTP/1.1', status: 401 },
  { line: 'GET ///dicom-web//studies// HTTP/1.1', status: 401 },
  { line: 'GET /dicom-web/studies/..%2f..%2f..%2fetc%2fpasswd HTTP/1.1', status: 401 },
  { line: 'GET /\\evil.example HTTP/1.1', status: 401 },
  { line: 'GET /dicom-web/studies/1.2/series/1.3/instances/1.4/frames/0,-1,x HTTP/1.1', status: 401 },
  { line: `GET /${'a'.repeat(12_000)} HTTP/1.1`, status: 401 },
  { line: `GET /${'a'.repeat(20_000)} HTTP/1.1`, status: 431 },
  { line: `GET /dicom-web/studies?${'PatientName=x&'.repeat(400)} HTTP/1.1`, status: 414 },
  { line: 'GET /a\x01b HTTP/1.1', status: 400 },
  { line: 'GET /a\x7fb HTTP/1.1', status: 400 },
  { line: 'GET /a\tb HTTP/1.1', status: 400 },
  { line: 'GET /dicom-web/studies\x00 HTTP/1.1', status: 400 },
  { line: 'GET /\xff\xfe HTTP/1.1', status: 400 },
  { line: 'GET http://evil.example/dicom-web/studies HTTP/1.1', status: 401 },
  { line: 'GET http://[::1/dicom-web/studies HTTP/1.1', status: 400 },
  { line: 'GET http://x:99999/dicom-web/studies HTTP/1.1', status: 400 },
  { line: 'GET http://user:secret@evil.example/dicom-web/studies HTTP/1.1', status: 400 },
  { line: 'GET ftp://evil.example/dicom-web/studies HTTP/1.1', status: 400 },
  { line: 'OPTIONS * HTTP/1.1', status: 401 },
  { line: 'GET * HTTP/1.1', status: 400 },
  { line: 'DELETE * HTTP/1.1', status: 400 },
  { line: 'M-SEARCH * HTTP/1.1', status: 400 },
  { line: 'FOO / HTTP/1.1', status: 400 },
  { line: 'get /dicom-web/studies HTTP/1.1', status: 400 },
  { line: 'PROPFIND /dicom-web/studies HTTP/1.1', status: 401 },
  { line: 'QUERY /dicom-web/studies HTTP/1.1', status: 401 },
  { line: 'CONNECT evil.example:443 HTTP/1.1', status: 405 },
  { line: 'GET /dicom-web/studies HTTP/9.9', status: 400 },
  { line: 'GET  /dicom-web/studies  HTTP/1.1', status: 401 },
];

describe('malformed request lines', { timeout: 180_000 }, () => {
  let gw: RunningGateway;

  before(async () => {
    gw = await startGateway({ secure: true, env: { AEGIS_WORKERS: '2' } });
    await until(() => childPids(gw.pid).length === 2, 'two workers');
  });
  after(async () => {
    await gw?.stop();
  });

  it(`answers each of ${CASES.length} with its status, keeps every worker alive and audits every one`, async () => {
    const workers = childPids(gw.pid);
    assert.equal(workers.length, 2);

    // Another user's upload in flight on the workers meanwhile, its body sent slowly.
    const password = readFileSync(join(gw.dataDir, 'admin-password'), 'utf8').trim();
    const { body, contentType } = stowBody([syntheticInstance({ studyInstanceUID: newUid(), seed: 3 })]);
    const chunks = Array.from({ length: 10 }, (_, i) => body.subarray(Math.floor((i * body.length) / 10), Math.floor(((i + 1) * body.length) / 10)));
    const upload = rawRequest(`${gw.dicomWebUrl}/studies`, {
      method: 'POST',
      headers: { 'Content-Type': contentType, 'Content-Length': body.length, Authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` },
      body: chunks,
      chunkDelayMs: 150,
      timeoutMs: 60_000,
    });

    const statuses: number[] = [];
    for (const [i, { line, body: content }] of CASES.entries()) {
      const head = `${line}\r\nHost: 127.0.0.1\r\nX-Request-Id: mal-${i}\r\nConnection: close\r\n${content === undefined ? '' : `Content-Length: ${content.length}\r\n`}\r\n`;
      const answer = await rawExchange(gw.url, Buffer.from(head + (content ?? ''), 'latin1'));
      statuses.push(Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1] ?? 0));
    }
    assert.deepEqual(
      statuses.map((status, i) => [CASES[i].line.slice(0, 60), status]),
      CASES.map(({ line, status }) => [line.slice(0, 60), status]),
    );

    const stored = await upload;
    assert.equal(stored.status, 200, `the upload in flight completes: ${stored.body.toString()}`);
    assert.equal((await rawRequest(`${gw.url}/healthz`)).status, 200);
    assert.deepEqual(childPids(gw.pid), workers, 'the same worker processes serve after the malformed requests');
    assert.ok(!gw.logs.some((l) => l.includes('a worker exited')), 'no worker exited');

    let trail: Awaited<ReturnType<typeof readTrail>> | undefined;
    const missing = () => CASES.map((_, i) => `mal-${i}`).filter((id) => !trail!.events.some((e) => e.requestId === id));
    await until(
      async () => {
        trail = await readTrail(gw.dataDir);
        return missing().length === 0;
      },
      'an audit record of every malformed request',
      10_000,
    ).catch(() => assert.deepEqual(missing(), [], 'every malformed request has an audit record'));
    for (const [i, { status }] of CASES.entries()) {
      const event = trail!.events.find((e) => e.requestId === `mal-${i}`)!;
      assert.equal(event.kind, 'request');
      assert.equal(event.http?.status, status, `the record of ${JSON.stringify(CASES[i].line.slice(0, 60))} has the status sent`);
      assert.equal(event.actor.clientAddress, '127.0.0.1');
      assert.ok(!JSON.stringify(event).includes('secret'), 'no credentials of a request target reach the trail');
    }
    assert.equal(trail!.verification.ok, true, JSON.stringify(trail!.verification));
  });
});
