/**
 * Proxy mode streams with bounded memory: a 1 GiB answer of the upstream (a real HTTP server in
 * this process, sending at the pace the gateway reads) goes through a gateway child process to a
 * client that reads it to the end, and the gateway's peak resident set (all its processes) stays
 * under 300 MB. A memory bound, not a timing.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { newUid } from '../fixtures/synthetic.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { peakRssBytes } from '../support/orthanc.js';

const GiB = 1024 * 1024 * 1024;
const CHUNK = Buffer.alloc(1024 * 1024, 0x5a);
const STUDY = newUid();
const HEAD = Buffer.from('--b\r\nContent-Type: application/dicom\r\n\r\n');
const TAIL = Buffer.from('\r\n--b--\r\n');

/** An upstream that describes the study for the decision and answers its instance with 1 GiB. */
function hugeUpstream(): Server {
  return createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    if (path === `/dicom-web/studies/${STUDY}/instances`) {
      res.setHeader('Content-Type', 'application/dicom+json');
      res.end(JSON.stringify([{ '0020000D': { vr: 'UI', Value: [STUDY] }, '0020000E': { vr: 'UI', Value: ['1.2'] }, '00080018': { vr: 'UI', Value: ['1.3'] }, '00080060': { vr: 'CS', Value: ['CT'] } }]));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b', 'Content-Length': String(HEAD.length + GiB + TAIL.length) });
    res.write(HEAD);
    let sent = 0;
    const pump = () => {
      while (sent < GiB) {
        sent += CHUNK.length;
        if (!res.write(CHUNK)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end(TAIL);
    };
    pump();
  });
}

describe('proxy mode: a 1 GiB upstream answer', () => {
  const upstream = hugeUpstream();
  let gateway: RunningGateway;

  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as { port: number }).port;
    gateway = await startGateway({ config: { server: { workers: 1 }, upstream: { url: `http://127.0.0.1:${port}/dicom-web` } } });
  });
  after(async () => {
    await gateway?.stop();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  // The gateway here runs from the TypeScript sources through tsx, which alone holds about 60 MB
  // more than the compiled gateway that ships: the bound holds with that on top.
  it('streams through the gateway with its peak RSS under 300 MB', async (t) => {
    const idle = peakRssBytes(gateway.pid);
    const res = await request(`${gateway.dicomWebUrl}/studies/${STUDY}/series/1.2/instances/1.3`, { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' }, bodyTimeout: 120_000 });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(HEAD.length + GiB + TAIL.length));
    let received = 0;
    for await (const chunk of res.body) received += (chunk as Buffer).length;
    assert.equal(received, HEAD.length + GiB + TAIL.length, 'every byte arrived');
    const peak = peakRssBytes(gateway.pid);
    t.diagnostic(`gateway peak RSS ${(peak / 1024 / 1024).toFixed(0)} MB for ${(received / 1024 / 1024).toFixed(0)} MiB proxied (${(idle / 1024 / 1024).toFixed(0)} MB before the request)`);
    assert.ok(peak < 300 * 1024 * 1024, `gateway peak RSS ${(peak / 1024 / 1024).toFixed(0)} MB`);
  });
});
