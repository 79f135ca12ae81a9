/**
 * Proxy mode against a tiny real HTTP server standing in for the upstream PACS: what the gateway
 * sends it (its own credentials, never the client's Authorization or Cookie, no hop-by-hop header)
 * and what it passes back (status, Content-Type, Content-Length and the body; no upstream header
 * beyond those), and how failures of the upstream answer: down -> 502 with a reason, a server that
 * never answers -> 504 once headersTimeoutSeconds have passed, an upstream error -> 502 without
 * its body, an upstream 404 -> 404. None of them is recorded as an integrity failure. With
 * `forwardStow`, an instance stored through Aegis also reaches the upstream as a plain copy, and an
 * upstream that refuses it costs a Warning, not the store.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { multipartParts, stowBody } from '../support/dicomweb.js';
import { freePort } from '../support/ports.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { readTrail } from '../support/trail.js';

const PASSWORD = 'correct horse battery staple';
const CLIENT_AUTH = `Basic ${Buffer.from(`root:${PASSWORD}`).toString('base64')}`;
const UPSTREAM_AUTH = `Basic ${Buffer.from('aegis-at-pacs:pacs-secret').toString('base64')}`;
const STUDY = newUid();
const SECRET_BODY = 'java.lang.NullPointerException at com.pacs.Internal';

/** STOW-RS requests the fake upstream received, and whether it takes them. */
const forwarded: Array<{ contentType: string; body: Buffer }> = [];
let takeStow = true;

/** A fake upstream: answers the decision's search, and per study UID suffix a chosen behaviour. */
function fakeUpstream(seen: IncomingHttpHeaders[]): Server {
  return createServer((req, res) => {
    seen.push(req.headers);
    const url = new URL(req.url!, 'http://x');
    if (req.method === 'POST' && url.pathname === '/pacs/dicom-web/studies') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        forwarded.push({ contentType: req.headers['content-type']!, body: Buffer.concat(chunks) });
        res.writeHead(takeStow ? 200 : 500, { 'Content-Type': takeStow ? 'application/dicom+json' : 'text/plain' });
        res.end(takeStow ? '{}' : SECRET_BODY);
      });
      return;
    }
    if (url.pathname === `/pacs/dicom-web/studies/${STUDY}/instances`) {
      res.setHeader('Content-Type', 'application/dicom+json');
      // Instance 1.4 is described but missing when asked: the upstream's own 404.
      const instance = (sop: string) => ({
        '0020000D': { vr: 'UI', Value: [STUDY] },
        '0020000E': { vr: 'UI', Value: ['1.2'] },
        '00080018': { vr: 'UI', Value: [sop] },
        '00080080': { vr: 'LO', Value: ['Old Hospital'] },
        '00080060': { vr: 'CS', Value: ['CT'] },
      });
      res.end(JSON.stringify(['1.3', '1.4', '1.5'].map(instance)));
      return;
    }
    if (url.pathname === `/pacs/dicom-web/studies/${STUDY}/series/1.2/instances/1.3`) {
      const body = Buffer.from('--b\r\nContent-Type: application/dicom\r\n\r\nDICM-bytes\r\n--b--\r\n');
      res.writeHead(200, {
        'Content-Type': 'multipart/related; type="application/dicom"; boundary=b',
        'Content-Length': String(body.length),
        'Set-Cookie': 'pacs-session=abc',
        'X-Pacs-Internal': 'node-7',
        'Keep-Alive': 'timeout=5',
        Connection: 'keep-alive',
      });
      res.end(body);
      return;
    }
    if (url.pathname === `/pacs/dicom-web/studies/${STUDY}/series/1.2/instances/1.5`) {
      res.writeHead(500, { 'Content-Type': 'text/plain', 'X-Pacs-Internal': 'node-7' });
      res.end(SECRET_BODY);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end(`not here: ${SECRET_BODY}`);
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function gatewayFor(url: string, forwardStow = false): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'aegis-upstream-creds-'));
  const credentialsFile = join(dir, 'upstream.json');
  writeFileSync(credentialsFile, JSON.stringify({ username: 'aegis-at-pacs', password: 'pacs-secret' }));
  chmodSync(credentialsFile, 0o600);
  const gw = await startTestGateway({ auth: { bootstrapAdmin: false }, upstream: { url, auth: 'basic', credentialsFile, headersTimeoutSeconds: 1, connectTimeoutSeconds: 1, forwardStow } });
  const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
  try {
    await new UserStore(catalog.db).add({ name: 'root', role: 'admin', password: PASSWORD });
  } finally {
    await catalog.close();
  }
  return gw;
}

describe('proxy mode: headers and failures of the upstream', () => {
  const seen: IncomingHttpHeaders[] = [];
  const upstream = fakeUpstream(seen);
  const hanging = createTcpServer((socket: Socket) => sockets.push(socket)); // accepts, never answers
  const sockets: Socket[] = [];
  let gw: TestGateway;
  let hangingGw: TestGateway;
  let downGw: TestGateway;

  before(async () => {
    gw = await gatewayFor(`http://127.0.0.1:${await listen(upstream)}/pacs/dicom-web`, true);
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    hangingGw = await gatewayFor(`http://127.0.0.1:${(hanging.address() as { port: number }).port}/dicom-web`);
    downGw = await gatewayFor(`http://127.0.0.1:${await freePort()}/dicom-web`);
  });
  after(async () => {
    await Promise.all([gw?.stop(), hangingGw?.stop(), downGw?.stop()]);
    for (const socket of sockets) socket.destroy();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    await new Promise((resolve) => hanging.close(resolve));
  });

  it("sends the gateway's credentials and no client credential or hop-by-hop header; passes back only status, type, length and body", async () => {
    seen.length = 0;
    const res = await fetch(`${gw.dicomWebUrl}/studies/${STUDY}/series/1.2/instances/1.3`, {
      headers: {
        authorization: CLIENT_AUTH,
        cookie: 'aegis-session=client-secret',
        accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
        te: 'trailers',
        'proxy-authorization': 'Basic cHJveHk6cHJveHk=',
        'x-client-private': 'do-not-forward',
        connection: 'keep-alive, x-client-private',
      },
    });
    const body = await res.text();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'multipart/related; type="application/dicom"; boundary=b');
    assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(body)));
    assert.equal(body, '--b\r\nContent-Type: application/dicom\r\n\r\nDICM-bytes\r\n--b--\r\n');
    assert.equal(res.headers.get('set-cookie'), null);
    assert.equal(res.headers.get('x-pacs-internal'), null);
    assert.equal(seen.length, 2, 'the decision search, then the instance');
    for (const headers of seen) {
      assert.equal(headers.authorization, UPSTREAM_AUTH, "the gateway's own credentials for the upstream");
      for (const name of ['cookie', 'te', 'proxy-authorization', 'x-client-private', 'trailer', 'upgrade']) assert.equal(headers[name], undefined, `${name} not forwarded`);
      assert.ok(!JSON.stringify(headers).includes('client-secret') && !JSON.stringify(headers).includes(CLIENT_AUTH));
    }
    assert.equal(seen[1].accept, 'multipart/related; type="application/dicom"; transfer-syntax=*');
  });

  it('answers an upstream error with 502 and a reason, never its body or headers; an upstream 404 with 404', async () => {
    const failed = await fetch(`${gw.dicomWebUrl}/studies/${STUDY}/series/1.2/instances/1.5`, { headers: { authorization: CLIENT_AUTH } });
    const text = await failed.text();
    assert.equal(failed.status, 502);
    assert.equal(JSON.parse(text).error.code, 'UPSTREAM_UNAVAILABLE');
    assert.equal(JSON.parse(text).error.message, 'the upstream PACS answered HTTP 500');
    assert.ok(!text.includes('NullPointer'));
    assert.equal(failed.headers.get('x-pacs-internal'), null);
    const missing = await fetch(`${gw.dicomWebUrl}/studies/${STUDY}/series/1.2/instances/1.4`, { headers: { authorization: CLIENT_AUTH } });
    const missingText = await missing.text();
    assert.equal(missing.status, 404);
    assert.ok(!missingText.includes('NullPointer'), missingText);
    const noStudy = await fetch(`${gw.dicomWebUrl}/studies/1.2.3.999/metadata`, { headers: { authorization: CLIENT_AUTH } });
    assert.equal(noStudy.status, 404);
    assert.equal(((await noStudy.json()) as any).error.message, 'no study with that UID');
  });

  it('answers 502 with a reason when the upstream is down, and 504 when it never answers', async () => {
    const down = await fetch(`${downGw.dicomWebUrl}/studies/${STUDY}/metadata`, { headers: { authorization: CLIENT_AUTH } });
    assert.equal(down.status, 502);
    assert.deepEqual(((await down.json()) as any).error.code, 'UPSTREAM_UNAVAILABLE');
    const started = Date.now();
    const hung = await fetch(`${hangingGw.dicomWebUrl}/studies/${STUDY}/metadata`, { headers: { authorization: CLIENT_AUTH }, signal: AbortSignal.timeout(20_000) });
    const waited = Date.now() - started;
    const json = (await hung.json()) as any;
    assert.equal(hung.status, 504);
    assert.equal(json.error.code, 'UPSTREAM_TIMEOUT');
    assert.equal(json.error.message, 'the upstream PACS did not answer within headersTimeoutSeconds');
    assert.ok(waited >= 900, `not before the timeout (${waited} ms)`);
    const search = await fetch(`${downGw.dicomWebUrl}/studies`, { headers: { authorization: CLIENT_AUTH } });
    assert.equal(search.status, 200, 'a search answers with what Aegis holds');
    assert.deepEqual(await search.json(), []);
    assert.match(search.headers.get('warning') ?? '', /^299 aegis "the upstream PACS could not be searched \(the upstream PACS cannot be reached \(ECONNREFUSED\)\): these are the results Aegis holds only"$/);
    const { events } = await readTrail(downGw.dataDir);
    assert.equal(events.filter((e) => e.kind === 'integrity').length, 0, 'an unreachable upstream is no integrity failure');
    assert.equal(events.filter((e) => e.kind === 'request' && e.http?.status === 502).length, 1);
    assert.equal(events.filter((e) => e.kind === 'request' && e.action === 'search' && e.http?.status === 200).length, 1);
  });

  it('forwards a plain copy of each instance stored through Aegis (forwardStow); a refused copy is a Warning, not a lost store', async () => {
    const store = async (bytes: Buffer) => {
      const { body, contentType } = stowBody([bytes]);
      return fetch(`${gw.dicomWebUrl}/studies`, { method: 'POST', headers: { authorization: CLIENT_AUTH, 'content-type': contentType, accept: 'application/dicom+json' }, body });
    };
    forwarded.length = 0;
    takeStow = true;
    const taken = syntheticInstance({ rows: 16, columns: 16 });
    const first = await store(taken);
    assert.equal(first.status, 200, await first.text());
    assert.equal(first.headers.get('warning'), null);
    assert.equal(forwarded.length, 1);
    const [part] = multipartParts(forwarded[0].body, forwarded[0].contentType);
    assert.ok(part.bytes.equals(taken), 'the upstream received the instance byte for byte');
    assert.match(forwarded[0].contentType, /^multipart\/related; type="application\/dicom"; boundary=aegis-[0-9a-f]{32}$/);

    takeStow = false;
    const refused = syntheticInstance({ rows: 16, columns: 16, seed: 7 });
    const sop = /"00081155":\{"vr":"UI","Value":\["([^"]+)"/;
    const second = await store(refused);
    const text = await second.text();
    assert.equal(second.status, 200, 'stored in Aegis all the same');
    assert.ok(sop.test(text));
    assert.match(second.headers.get('warning') ?? '', /^299 aegis "instance [0-9.]+ is stored in Aegis, but its copy was not forwarded to the upstream PACS \(the upstream PACS answered HTTP 500\)"$/);
    assert.ok(!text.includes('NullPointer'));
    assert.equal(forwarded.length, 2);
  });
});
