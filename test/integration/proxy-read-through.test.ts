/**
 * Proxy mode, read-through: a real Orthanc (Debian, DICOMweb plugin) holds a study stored directly
 * into it; Aegis in front of it, with authentication on and the default policy, serves that study
 * byte-identical to Orthanc's own answer to the radiologist of its institution, refuses a
 * radiologist of another institution as if the study did not exist, records the proxied reads in
 * the audit trail and rewrites Orthanc's URLs in metadata to its own. QIDO-RS through Aegis lists
 * each study once (only in Orthanc, stored through Aegis, in both), and paging over the merged
 * list returns each exactly once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { multipartParts, stowBody } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { startOrthanc, type RunningOrthanc } from '../support/orthanc.js';
import { readTrail } from '../support/trail.js';

const PASSWORD = 'correct horse battery staple';
const STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';
const basic = (name: string) => `Basic ${Buffer.from(`${name}:${PASSWORD}`).toString('base64')}`;

describe('proxy mode: read-through of a study only in the upstream PACS', () => {
  let orthanc: RunningOrthanc;
  let gw: TestGateway;
  const study = newUid();
  const series = newUid();
  const sops = [newUid(), newUid()];
  const instances = sops.map((sop, i) => syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop, instanceNumber: i + 1, institutionName: 'Old Hospital', rows: 32, columns: 32 }));
  /** A study stored through Aegis only, and one stored into both (Orthanc directly, and through Aegis). */
  const [fresh, both] = [newUid(), newUid()];
  const freshBytes = syntheticInstance({ studyInstanceUID: fresh, institutionName: 'Old Hospital', studyDate: '20250101', rows: 16, columns: 16 });
  const bothBytes = syntheticInstance({ studyInstanceUID: both, institutionName: 'Old Hospital', studyDate: '20230101', rows: 16, columns: 16 });

  before(async () => {
    orthanc = await startOrthanc();
    for (const bytes of [...instances, bothBytes]) {
      const res = await fetch(`${orthanc.url}/instances`, { method: 'POST', body: bytes });
      assert.equal(res.status, 200, `stored into Orthanc: ${await res.text()}`);
    }
    gw = await startTestGateway({ auth: { bootstrapAdmin: false }, upstream: { url: orthanc.dicomWebUrl, headersTimeoutSeconds: 5 } });
    const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
    try {
      const users = new UserStore(catalog.db);
      await users.add({ name: 'old-rad', role: 'radiologist', attributes: { institution: 'Old Hospital' }, password: PASSWORD });
      await users.add({ name: 'other-rad', role: 'radiologist', attributes: { institution: 'Elsewhere' }, password: PASSWORD });
      await users.add({ name: 'root', role: 'admin', password: PASSWORD });
      await users.add({ name: 'researcher', role: 'research', password: PASSWORD });
    } finally {
      await catalog.close();
    }
    const { body, contentType } = stowBody([freshBytes, bothBytes]);
    const stored = await fetch(`${gw.dicomWebUrl}/studies`, { method: 'POST', headers: { authorization: basic('root'), 'content-type': contentType, accept: 'application/dicom+json' }, body });
    assert.equal(stored.status, 200, await stored.text());
  });
  after(async () => {
    await gw?.stop();
    await orthanc?.stop();
  });

  it('gives the instances of the old study byte-identical to Orthanc, to a reader the policy allows', async () => {
    const res = await fetch(`${gw.dicomWebUrl}/studies/${study}`, { headers: { authorization: basic('old-rad'), accept: STORED } });
    assert.equal(res.status, 200);
    const viaAegis = Buffer.from(await res.arrayBuffer());
    const parts = multipartParts(viaAegis, res.headers.get('content-type')!);
    assert.deepEqual(parts.map((p) => p.bytes.length).sort(), instances.map((b) => b.length).sort());
    for (const bytes of instances)
      assert.ok(
        parts.some((p) => p.bytes.equals(bytes)),
        'each instance as stored into Orthanc',
      );
    const one = await fetch(`${gw.dicomWebUrl}/studies/${study}/series/${series}/instances/${sops[0]}`, { headers: { authorization: basic('old-rad'), accept: STORED } });
    const direct = await fetch(`${orthanc.dicomWebUrl}/studies/${study}/series/${series}/instances/${sops[0]}`, { headers: { accept: STORED } });
    assert.equal(one.status, 200);
    const [a, b] = [Buffer.from(await one.arrayBuffer()), Buffer.from(await direct.arrayBuffer())];
    assert.equal(one.headers.get('content-length'), String(a.length), "Orthanc's Content-Length passed through");
    assert.deepEqual(multipartParts(a, one.headers.get('content-type')!)[0].bytes, multipartParts(b, direct.headers.get('content-type')!)[0].bytes);
  });

  it("rewrites Orthanc's URLs in metadata to the gateway's own", async () => {
    const res = await fetch(`${gw.dicomWebUrl}/studies/${study}/metadata`, { headers: { authorization: basic('old-rad') } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^application\/dicom\+json/);
    const text = await res.text();
    assert.equal(JSON.parse(text).length, 2);
    assert.ok(!text.includes(orthanc.url), 'no URL of the upstream is left');
    const bulk = /"BulkDataURI"\s*:\s*"([^"]+)"/.exec(text);
    assert.ok(bulk, 'the pixel data is given as a BulkDataURI');
    assert.ok(bulk[1].startsWith(`${gw.dicomWebUrl}/studies/${study}/series/${series}/instances/`), bulk[1]);
    const pixels = await fetch(bulk[1], { headers: { authorization: basic('old-rad'), accept: 'multipart/related; type="application/octet-stream"' } });
    assert.equal(pixels.status, 200, 'the rewritten BulkDataURI is served through the gateway');
    await pixels.arrayBuffer();
  });

  it('serves studies of the catalog from the catalog, and reads through only paths built from valid UIDs and tags', async () => {
    const local = await fetch(`${gw.dicomWebUrl}/studies/${both}/metadata`, { headers: { authorization: basic('old-rad') } });
    const text = await local.text();
    assert.equal(local.status, 200);
    assert.ok(text.includes(`"BulkDataURI":"${gw.dicomWebUrl}/studies/${both}/series/`) && text.includes('/bulkdata/'), 'the catalog answers, with its own bulkdata/ URIs');
    const instance = `${gw.dicomWebUrl}/studies/${study}/series/${series}/instances/${sops[0]}`;
    for (const path of ['/bulk/7fe00010/..%2F..%2F..%2F..%2F..%2Fstudies', '/bulk/..%2F..%2F..%2F..', '/bulk/7fe00010%3Fx=1', '/frames/1%2F..']) {
      const res = await fetch(`${instance}${path}`, { headers: { authorization: basic('old-rad') } });
      await res.arrayBuffer();
      assert.ok(res.status === 404 || res.status === 400, `${path}: ${res.status}`);
    }
    const bulkOfLocal = await fetch(`${gw.dicomWebUrl}/studies/${both}/series/1.2/instances/1.3/bulk/7fe00010`, { headers: { authorization: basic('old-rad') } });
    await bulkOfLocal.arrayBuffer();
    assert.equal(bulkOfLocal.status, 404);
  });

  it('passes the rendering parameters on, and gives thumbnails of an upstream study from its rendered images', async () => {
    const instance = `/studies/${study}/series/${series}/instances/${sops[0]}`;
    const png = async (base: string, path: string, headers: Record<string, string>) => {
      const res = await fetch(`${base}${path}`, { headers: { accept: 'image/png', ...headers } });
      const bytes = Buffer.from(await res.arrayBuffer());
      assert.equal(res.status, 200, `${path}: ${res.status} ${bytes.toString().slice(0, 200)}`);
      assert.equal(res.headers.get('content-type'), 'image/png', path);
      return { bytes, size: [bytes.readUInt32BE(16), bytes.readUInt32BE(20)] };
    };
    const old = { authorization: basic('old-rad') };
    for (const path of [`${instance}/rendered`, `${instance}/frames/1/rendered`]) {
      const query = '?viewport=16,16&window=100,50,linear';
      const [through, direct, plain] = [await png(gw.dicomWebUrl, path + query, old), await png(orthanc.dicomWebUrl, path + query, {}), await png(orthanc.dicomWebUrl, path, {})];
      assert.deepEqual(through.size, [16, 16], `${path}: the viewport reached the upstream`);
      assert.ok(through.bytes.equals(direct.bytes) && !through.bytes.equals(plain.bytes), `${path}: Orthanc's rendering with the same parameters`);
    }
    for (const path of [`/studies/${study}/thumbnail`, `/studies/${study}/series/${series}/thumbnail`, `${instance}/thumbnail`, `${instance}/frames/1/thumbnail`]) {
      const { size } = await png(gw.dicomWebUrl, path, old);
      assert.ok(size[0]! <= 128 && size[1]! <= 128, `${path}: ${size}`);
      assert.deepEqual((await png(gw.dicomWebUrl, `${path}?viewport=8,8`, old)).size, [8, 8], path);
    }
  });

  it('refuses a reader of another institution as if the study did not exist, and an anonymous client with 401', async () => {
    for (const path of [`/studies/${study}`, `/studies/${study}/metadata`, `/studies/${study}/series/${series}/instances/${sops[0]}/frames/1`]) {
      const res = await fetch(`${gw.dicomWebUrl}${path}`, { headers: { authorization: basic('other-rad'), accept: path.endsWith('/1') ? 'multipart/related; type="application/octet-stream"' : '*/*' } });
      assert.equal(res.status, 404, path);
      const body = await res.text();
      assert.ok(!body.includes('Old Hospital') && !body.includes(orthanc.url), body);
      assert.equal((await fetch(`${gw.dicomWebUrl}${path}`)).status, 401, `${path} anonymous`);
    }
  });

  it('records the proxied reads in the audit trail with their decisions', async () => {
    await fetch(`${gw.dicomWebUrl}/studies/${study}/metadata`, { headers: { authorization: basic('old-rad') } }).then((r) => r.arrayBuffer());
    await fetch(`${gw.dicomWebUrl}/studies/${study}/metadata`, { headers: { authorization: basic('other-rad') } }).then((r) => r.arrayBuffer());
    const events = (await readTrail(gw.dataDir)).events.filter((e: any) => e.kind === 'request' && e.http?.path === `/dicom-web/studies/${study}/metadata`);
    const allowed = events.find((e: any) => e.actor.name === 'old-rad');
    const denied = events.find((e: any) => e.actor.name === 'other-rad');
    assert.ok(allowed && denied, JSON.stringify(events));
    assert.equal(allowed.outcome, 'success');
    assert.equal(allowed.policyRule, 'clinicians-own-institution');
    assert.deepEqual(allowed.resources, [{ study }]);
    assert.equal(denied.outcome, 'denied');
    assert.equal(denied.http?.status, 404);
  });

  /** The Study Instance UIDs of a QIDO-RS answer, in order. */
  async function studiesOf(query: string, user: string): Promise<string[]> {
    const res = await fetch(`${gw.dicomWebUrl}/studies${query}`, { headers: { authorization: basic(user), accept: 'application/dicom+json' } });
    assert.equal(res.status, 200, `${query}: ${res.status}`);
    return ((await res.json()) as any[]).map((match) => match['0020000D'].Value[0] as string);
  }

  it('QIDO lists each study once: only in Orthanc, stored through Aegis, and in both', async () => {
    const all = await studiesOf('', 'old-rad');
    assert.deepEqual([...all].sort(), [study, fresh, both].sort());
    // The catalog's order: newest study date first (the synthetic default date is 20240115).
    assert.deepEqual(all, [fresh, study, both]);
    const res = await fetch(`${gw.dicomWebUrl}/studies?StudyInstanceUID=${study}`, { headers: { authorization: basic('old-rad') } });
    const [old] = (await res.json()) as any[];
    assert.equal(old['00081190'].Value[0], `${gw.dicomWebUrl}/studies/${study}`, 'RetrieveURL names the gateway, not Orthanc');
    assert.equal(old['00201208'].Value[0], 2, 'NumberOfStudyRelatedInstances from Orthanc');
    assert.equal(old['00080080'], undefined, 'the policy attributes asked of the upstream are not shown unless asked for');
    assert.deepEqual(await studiesOf('', 'other-rad'), [], 'the policy filters the upstream results too');
  });

  it('paging over the merged list returns each study exactly once', async () => {
    const seen: string[] = [];
    for (let offset = 0; offset < 4; offset++) seen.push(...(await studiesOf(`?limit=1&offset=${offset}`, 'old-rad')));
    assert.deepEqual(seen, [fresh, study, both]);
    assert.deepEqual(await studiesOf('?limit=2&offset=1', 'old-rad'), [study, both]);
    const res = await fetch(`${gw.dicomWebUrl}/studies?limit=2`, { headers: { authorization: basic('old-rad') } });
    await res.arrayBuffer();
    assert.match(res.headers.get('warning') ?? '', /exceeded the limit of 2; request more with offset=2/);
    const instancesOfOld = await fetch(`${gw.dicomWebUrl}/studies/${study}/instances`, { headers: { authorization: basic('old-rad') } });
    assert.deepEqual(
      ((await instancesOfOld.json()) as any[]).map((m) => m['00080018'].Value[0]),
      sops,
    );
  });

  it('gives a de-identified view of upstream results to a researcher, and refuses the bytes of an upstream study in that view', async () => {
    const research = { authorization: basic('researcher'), 'x-purpose-of-use': 'HRESCH' };
    const found = await fetch(`${gw.dicomWebUrl}/studies?StudyInstanceUID=${study}`, { headers: research });
    const text = await found.text();
    assert.equal(found.status, 200);
    assert.equal(JSON.parse(text).length, 1, 'the researcher may search the old study');
    assert.ok(!text.includes('Synthetic^Patient') && !text.includes('AEGIS-0001'), `no identity in the result: ${text}`);
    for (const path of [`/studies/${study}/metadata`, `/studies/${study}`]) {
      const res = await fetch(`${gw.dicomWebUrl}${path}`, { headers: { ...research, accept: '*/*' } });
      const body = await res.text();
      assert.equal(res.status, 403, path);
      assert.match(JSON.parse(body).error.message, /given in the full view only/);
      assert.ok(!body.includes('Synthetic^Patient'));
    }
  });
  it('reads through without a MaxListenersExceededWarning per response (a stack trace and a line on stderr for every read)', async () => {
    const warnings: string[] = [];
    const listener = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', listener);
    try {
      const base = `${gw.dicomWebUrl}/studies/${study}/series/${series}/instances/${sops[0]}`;
      const reads: Array<[string, string]> = [
        [base, STORED],
        [`${base}/frames/1`, 'multipart/related; type=application/octet-stream; transfer-syntax=*'],
        [`${base}/metadata`, 'application/dicom+json'],
      ];
      for (const [url, accept] of reads) {
        const res = await fetch(url, { headers: { authorization: basic('old-rad'), accept } });
        await res.arrayBuffer();
        assert.equal(res.status, 200, url);
      }
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      assert.deepEqual(
        warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')),
        [],
      );
    } finally {
      process.off('warning', listener);
    }
  });
});
