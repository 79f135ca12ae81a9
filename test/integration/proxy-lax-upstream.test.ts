/**
 * Proxy mode in front of a lax upstream PACS (a tiny real HTTP server): one that serves a series or
 * instance by its own UID whatever study the path names. The decision is made on the upstream's
 * description of the study in the path, so Aegis itself refuses a series or instance that is not
 * part of that description (404, recorded as denied), rather than trusting the upstream to check:
 * a reader allowed on one study never reaches another study's instance through its path. A search
 * result whose Study Instance UID is no UID (`..`, slashes, a query) never becomes a path of a
 * request to the upstream. An answer of the upstream in a media type that is not DICOMweb's (an
 * HTML page, which a browser would run on the gateway's origin, with its session cookie) is not
 * passed on, and what is passed on carries `X-Content-Type-Options: nosniff`.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { newUid } from '../fixtures/synthetic.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { readTrail } from '../support/trail.js';

const PASSWORD = 'correct horse battery staple';
const READER = `Basic ${Buffer.from(`old-rad:${PASSWORD}`).toString('base64')}`;
const [ALLOWED, ALLOWED_SERIES, ALLOWED_SOP] = [newUid(), newUid(), newUid()];
/** A series and instance of another study (of another institution) that the lax upstream serves under any study. */
const [OTHER_SERIES, OTHER_SOP] = [newUid(), newUid()];
const SECRET = 'Secret^Patient';
/** A Study Instance UID a search of the upstream returns that would climb out of the DICOMweb root as a path. */
const CRAFTED = '1.2/../../admin/export?all=1&x=';
/** The paths (with queries) the upstream was asked for. */
const asked: string[] = [];

/** The lax upstream: describes ALLOWED (one instance, Old Hospital); serves any instance path, ignoring its study. */
function laxUpstream(): Server {
  return createServer((req, res) => {
    asked.push(req.url!);
    const url = new URL(req.url!, 'http://x');
    if (url.pathname === '/dicom-web/studies') {
      res.setHeader('Content-Type', 'application/dicom+json');
      res.end(JSON.stringify([{ '0020000D': { vr: 'UI', Value: [CRAFTED] }, '00080080': { vr: 'LO', Value: ['Old Hospital'] }, '00080061': { vr: 'CS', Value: ['CT'] } }]));
      return;
    }
    if (url.pathname === `/dicom-web/studies/${ALLOWED}/instances`) {
      res.setHeader('Content-Type', 'application/dicom+json');
      const instance = {
        '0020000D': { vr: 'UI', Value: [ALLOWED] },
        '0020000E': { vr: 'UI', Value: [ALLOWED_SERIES] },
        '00080018': { vr: 'UI', Value: [ALLOWED_SOP] },
        '00080080': { vr: 'LO', Value: ['Old Hospital'] },
        '00080060': { vr: 'CS', Value: ['CT'] },
      };
      res.end(JSON.stringify([instance]));
      return;
    }
    if (url.pathname.endsWith('/rendered') && url.pathname.includes(`/instances/${ALLOWED_SOP}/`)) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(`<script>fetch('/admin/users')</script>${SECRET}`);
      return;
    }
    if (/^\/dicom-web\/studies\/[^/]+\/series\/[^/]+(\/instances\/[^/]+)?(\/metadata|\/rendered|\/frames\/1)?$/.test(url.pathname)) {
      const body = Buffer.from(`${SECRET} ${url.pathname}`);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length) });
      res.end(body);
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' });
    res.end('not here');
  });
}

describe('proxy mode: a lax upstream that ignores the study in the path', () => {
  const upstream = laxUpstream();
  let gw: TestGateway;

  before(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as { port: number }).port;
    gw = await startTestGateway({ auth: { bootstrapAdmin: false }, upstream: { url: `http://127.0.0.1:${port}/dicom-web`, headersTimeoutSeconds: 2 } });
    const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
    try {
      await new UserStore(catalog.db).add({ name: 'old-rad', role: 'radiologist', attributes: { institution: 'Old Hospital' }, password: PASSWORD });
    } finally {
      await catalog.close();
    }
  });
  after(async () => {
    await gw?.stop();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it("refuses series and instances that are not in the upstream's description of the study in the path", async () => {
    const study = `/studies/${ALLOWED}`;
    const answers: string[] = [];
    for (const path of [
      `${study}/series/${OTHER_SERIES}`,
      `${study}/series/${OTHER_SERIES}/metadata`,
      `${study}/series/${OTHER_SERIES}/instances/${OTHER_SOP}`,
      `${study}/series/${OTHER_SERIES}/instances/${OTHER_SOP}/frames/1`,
      `${study}/series/${ALLOWED_SERIES}/instances/${OTHER_SOP}`,
      `${study}/series/${ALLOWED_SERIES}/instances/${OTHER_SOP}/rendered`,
    ]) {
      const res = await fetch(`${gw.dicomWebUrl}${path}`, { headers: { authorization: READER, accept: path.endsWith('rendered') ? 'image/jpeg' : '*/*' } });
      const body = await res.text();
      answers.push(`${path.slice(study.length)}: ${res.status}${body.includes(SECRET) ? ' with the other study' : ''}`);
    }
    assert.deepEqual(answers, [
      `/series/${OTHER_SERIES}: 404`,
      `/series/${OTHER_SERIES}/metadata: 404`,
      `/series/${OTHER_SERIES}/instances/${OTHER_SOP}: 404`,
      `/series/${OTHER_SERIES}/instances/${OTHER_SOP}/frames/1: 404`,
      `/series/${ALLOWED_SERIES}/instances/${OTHER_SOP}: 404`,
      `/series/${ALLOWED_SERIES}/instances/${OTHER_SOP}/rendered: 404`,
    ]);
    const events = (await readTrail(gw.dataDir)).events.filter((e: any) => e.kind === 'request' && e.http?.path === `/dicom-web${study}/series/${OTHER_SERIES}`);
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0].outcome, 'denied');
  });

  it('still reads through the series and instance the description names', async () => {
    const res = await fetch(`${gw.dicomWebUrl}/studies/${ALLOWED}/series/${ALLOWED_SERIES}/instances/${ALLOWED_SOP}`, { headers: { authorization: READER, accept: '*/*' } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), `${SECRET} /dicom-web/studies/${ALLOWED}/series/${ALLOWED_SERIES}/instances/${ALLOWED_SOP}`);
  });

  it('never makes a path of a search result whose Study Instance UID is no UID', async () => {
    asked.length = 0;
    const res = await fetch(`${gw.dicomWebUrl}/studies`, { headers: { authorization: READER, accept: 'application/dicom+json' } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), [], 'the crafted study is not listed');
    assert.deepEqual(
      asked.map((path) => path.split('?')[0]),
      ['/dicom-web/studies'],
      'the upstream was asked for the search only',
    );
  });

  it('passes on no answer of the upstream in a media type that is not DICOMweb, and tells browsers not to sniff', async () => {
    const instance = `${gw.dicomWebUrl}/studies/${ALLOWED}/series/${ALLOWED_SERIES}/instances/${ALLOWED_SOP}`;
    const html = await fetch(`${instance}/rendered`, { headers: { authorization: READER, accept: 'image/jpeg' } });
    const body = await html.text();
    assert.deepEqual([html.status, html.headers.get('content-type')?.split(';')[0], body.includes('<script>')], [502, 'application/json', false]);
    const ok = await fetch(instance, { headers: { authorization: READER, accept: '*/*' } });
    await ok.arrayBuffer();
    assert.deepEqual([ok.status, ok.headers.get('x-content-type-options')], [200, 'nosniff']);
  });
});
