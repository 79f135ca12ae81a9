/**
 * STOW-RS, WADO-RS, QIDO-RS and DELETE through real HTTP against a gateway started on port 0,
 * with synthetic instances: exact statuses, media types and bytes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance, syntheticPixelData } from '../fixtures/synthetic.js';
import { get, multipartParts, retrieveAsStored, stow, value } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';

const STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';

describe('DICOMweb on the embedded default', () => {
  let gw: TestGateway;
  const study = newUid();
  const seriesA = newUid();
  const seriesB = newUid();
  const sopA1 = newUid();
  const sopA2 = newUid();
  const sopB1 = newUid();
  /** The patient and study every instance shares. */
  const patientStudy = { studyInstanceUID: study, patientName: 'Müller^Jürgen', patientID: 'PID-1', studyDate: '20240315', studyTime: '101500', accessionNumber: 'ACC1', studyDescription: 'Chest CT' };
  const ct = { ...patientStudy, seriesInstanceUID: seriesA, seriesNumber: 1, modality: 'CT', rows: 32, columns: 48 };
  const a1 = syntheticInstance({ ...ct, sopInstanceUID: sopA1, instanceNumber: 1, seed: 1 });
  const a2 = syntheticInstance({ ...ct, sopInstanceUID: sopA2, instanceNumber: 2, seed: 2, numberOfFrames: 3 });
  const b1 = syntheticInstance({ ...patientStudy, seriesInstanceUID: seriesB, sopInstanceUID: sopB1, instanceNumber: 1, seriesNumber: 2, modality: 'MR', rows: 16, columns: 16, bitsAllocated: 8, samplesPerPixel: 3, seed: 3 });

  before(async () => {
    gw = await startTestGateway();
  });
  after(async () => {
    await gw.stop();
  });

  it('stores instances and answers 200 with ReferencedSOPSequence and RetrieveURLs', async () => {
    const res = await stow(gw.dicomWebUrl, [a1, a2, b1]);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^application\/dicom\+json/);
    const refs = res.json!['00081199'].Value as Record<string, any>[];
    assert.deepEqual(
      refs.map((r) => value(r, '00081155')),
      [sopA1, sopA2, sopB1],
    );
    assert.equal(value(refs[0], '00081190'), `${gw.dicomWebUrl}/studies/${study}/series/${seriesA}/instances/${sopA1}`);
    assert.equal(value(res.json!, '00081190'), `${gw.dicomWebUrl}/studies/${study}`);
    assert.equal(res.json!['00081198'], undefined);
  });

  it('re-storing identical bytes is idempotent; different bytes under the same UID are rejected (0x0111)', async () => {
    const same = await stow(gw.dicomWebUrl, [a1]);
    assert.equal(same.status, 200);
    const changed = syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: seriesA, sopInstanceUID: sopA1, seed: 99, rows: 32, columns: 48 });
    const conflict = await stow(gw.dicomWebUrl, [changed]);
    assert.equal(conflict.status, 409);
    const failed = conflict.json!['00081198'].Value[0];
    assert.equal(value(failed, '00081155'), sopA1);
    assert.equal(value(failed, '00081197'), 0x0111);
    assert.match(conflict.headers.get('warning')!, /already stored/);
    const parts = await retrieveAsStored(`${gw.dicomWebUrl}/studies/${study}/series/${seriesA}/instances/${sopA1}`);
    assert.ok(parts[0].bytes.equals(a1), 'the stored instance is unchanged');
  });

  it('STOW to /studies/{study} rejects an instance of another study with 0xA900', async () => {
    const other = syntheticInstance({ seed: 5 });
    const res = await stow(gw.dicomWebUrl, [other, a1], study);
    assert.equal(res.status, 202);
    assert.equal(value(res.json!['00081198'].Value[0], '00081197'), 0xa900);
    assert.equal(value(res.json!['00081199'].Value[0], '00081155'), sopA1);
  });

  it('refuses an instance whose series is recorded under another study (0xA900)', async () => {
    const stray = syntheticInstance({ studyInstanceUID: newUid(), seriesInstanceUID: seriesA, seed: 21 });
    const res = await stow(gw.dicomWebUrl, [stray]);
    assert.equal(res.status, 409);
    assert.equal(value(res.json!['00081198'].Value[0], '00081197'), 0xa900);
    assert.match(res.headers.get('warning')!, new RegExp(`${seriesA.replace(/\./g, '\\.')} belongs to another study`));
    assert.ok(!res.headers.get('warning')!.includes(study), 'the other study is not named');
  });

  it('WADO-RS returns the exact stored bytes for an instance, a series and a study', async () => {
    const instance = await retrieveAsStored(`${gw.dicomWebUrl}/studies/${study}/series/${seriesA}/instances/${sopA2}`);
    assert.equal(instance.length, 1);
    assert.ok(instance[0].bytes.equals(a2), 'instance[0].bytes.equals(a2)');
    assert.equal(instance[0].headers['content-type'], 'application/dicom; transfer-syntax=1.2.840.10008.1.2.1');
    const series = await retrieveAsStored(`${gw.dicomWebUrl}/studies/${study}/series/${seriesA}`);
    assert.deepEqual(
      series.map((p) => sha(p.bytes)),
      [sha(a1), sha(a2)],
    );
    const whole = await retrieveAsStored(`${gw.dicomWebUrl}/studies/${study}`);
    assert.deepEqual(whole.map((p) => sha(p.bytes)).sort(), [sha(a1), sha(a2), sha(b1)].sort());
  });

  it('negotiates Accept: quoted/unquoted type, q-values, duplicated transfer-syntax, */*, and bare application/dicom', async () => {
    const url = `${gw.dicomWebUrl}/studies/${study}/series/${seriesA}/instances/${sopA1}`;
    for (const accept of [
      'multipart/related; type=application/dicom; transfer-syntax=*',
      'multipart/related; type="application/dicom"; transfer-syntax=*; transfer-syntax=*',
      'multipart/related; type="application/dicom"',
      'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1',
      'image/png;q=0.9, multipart/related; type="application/dicom"; transfer-syntax=*',
      '*/*',
    ]) {
      const res = await get(url, accept);
      assert.equal(res.status, 200, accept);
      const parts = multipartParts(res.body, res.headers.get('content-type')!);
      assert.ok(parts[0].bytes.equals(a1), accept);
    }
    const bare = await get(url, 'application/dicom');
    assert.equal(bare.status, 200);
    assert.ok(bare.body.equals(a1), 'bare.body.equals(a1)');
    const notAcceptable = await get(url, 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50');
    assert.equal(notAcceptable.status, 406);
    assert.match(JSON.parse(notAcceptable.body.toString()).error.message, /transfer syntax/);
    assert.equal((await get(url, 'image/png')).status, 406);
  });

  it('serves metadata as DICOM JSON with absolute BulkDataURIs that resolve', async () => {
    const res = await get(`${gw.dicomWebUrl}/studies/${study}/series/${seriesA}/instances/${sopA2}/metadata`, 'application/dicom+json');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /^application\/dicom\+json/);
    const [meta] = JSON.parse(res.body.toString());
    assert.equal(value(meta, '00080018'), sopA2);
    assert.deepEqual(meta['00100010'].Value[0], { Alphabetic: 'Müller^Jürgen' });
    assert.equal(value(meta, '00280008'), 3);
    const uri = meta['7FE00010'].BulkDataURI as string;
    assert.equal(uri, `${gw.dicomWebUrl}/studies/${study}/series/${seriesA}/instances/${sopA2}/bulkdata/7FE00010`);
    const bulk = await get(uri, 'multipart/related; type="application/octet-stream"');
    assert.equal(bulk.status, 200);
    const [part] = multipartParts(bulk.body, bulk.headers.get('content-type')!);
    assert.ok(part.bytes.equals(syntheticPixelData({ rows: 32, columns: 48, seed: 2, numberOfFrames: 3, instanceNumber: 2 })), 'part.bytes.equals(syntheticPixelData({ rows: 32, columns: 48, seed: 2, numberOfFrames: 3, instanceNu');
    const study3 = JSON.parse((await get(`${gw.dicomWebUrl}/studies/${study}/metadata`)).body.toString());
    assert.equal(study3.length, 3);
  });

  it('ignores X-Forwarded-* and Forwarded from a client that is not a trusted proxy in BulkDataURI and RetrieveURL', async () => {
    const forged = { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Prefix': '/gw', Forwarded: 'host=evil.example;proto=https' };
    const res = await fetch(`${gw.dicomWebUrl}/studies/${study}/series/${seriesA}/instances/${sopA1}/metadata`, { headers: forged });
    const [meta] = (await res.json()) as any[];
    assert.ok(meta['7FE00010'].BulkDataURI.startsWith(`${gw.dicomWebUrl}/studies/`), meta['7FE00010'].BulkDataURI);
    const found = await fetch(`${gw.dicomWebUrl}/studies?StudyInstanceUID=${study}`, { headers: { ...forged, Accept: 'application/dicom+json' } });
    const [match] = (await found.json()) as any[];
    assert.equal(match['00081190'].Value[0], `${gw.dicomWebUrl}/studies/${study}`);
  });

  it('returns native frames as application/octet-stream, one part per frame; out of range is 404', async () => {
    const pixels = syntheticPixelData({ rows: 32, columns: 48, seed: 2, numberOfFrames: 3, instanceNumber: 2 });
    const frameBytes = 32 * 48 * 2;
    const url = `${gw.dicomWebUrl}/studies/${study}/series/${seriesA}/instances/${sopA2}/frames/3,1`;
    const res = await get(url, 'multipart/related; type=application/octet-stream; transfer-syntax=*');
    assert.equal(res.status, 200);
    const parts = multipartParts(res.body, res.headers.get('content-type')!);
    assert.equal(parts.length, 2);
    assert.ok(parts[0].bytes.equals(pixels.subarray(2 * frameBytes, 3 * frameBytes)), 'parts[0].bytes.equals(pixels.subarray(2 * frameBytes, 3 * frameBytes))');
    assert.ok(parts[1].bytes.equals(pixels.subarray(0, frameBytes)), 'parts[1].bytes.equals(pixels.subarray(0, frameBytes))');
    assert.equal(parts[0].headers['content-type'], 'application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1');
    const composite = await get(url, 'multipart/related; type="application/octet-stream"; transfer-syntax=*, multipart/related; type="image/jls"; transfer-syntax=1.2.840.10008.1.2.4.80; transfer-syntax=*');
    assert.equal(composite.status, 200);
    assert.equal((await get(`${gw.dicomWebUrl}/studies/${study}/series/${seriesA}/instances/${sopA2}/frames/4`, '*/*')).status, 404);
    assert.equal((await get(`${gw.dicomWebUrl}/studies/${study}/series/${seriesA}/instances/${sopA2}/frames/0`, '*/*')).status, 400);
    assert.equal((await get(`${gw.dicomWebUrl}/studies/${study}/series/${seriesA}/instances/${sopA2}/frames/x`, '*/*')).status, 400);
  });

  describe('QIDO-RS', () => {
    const qido = async (path: string) => {
      const res = await get(`${gw.dicomWebUrl}${path}`, 'application/dicom+json');
      return { status: res.status, headers: res.headers, json: res.body.length ? JSON.parse(res.body.toString()) : undefined };
    };

    it('finds studies with the default attributes, counts and ModalitiesInStudy', async () => {
      const res = await qido(`/studies?StudyInstanceUID=${study}`);
      assert.equal(res.status, 200);
      assert.equal(res.json.length, 1);
      const [s] = res.json;
      assert.equal(value(s, '0020000D'), study);
      assert.equal(value(s, '00201206'), 2);
      assert.equal(value(s, '00201208'), 3);
      assert.deepEqual([...s['00080061'].Value].sort(), ['CT', 'MR']);
      assert.equal(value(s, '00100020'), 'PID-1');
      assert.equal(value(s, '00080020'), '20240315');
      assert.equal(value(s, '00081190'), `${gw.dicomWebUrl}/studies/${study}`);
      assert.equal(value(s, '00080056'), 'ONLINE');
    });

    it('matches keywords and hex tags, wildcards, UID lists, date and time ranges', async () => {
      const hit = (r: { json: any[] }) => r.json.some((s) => value(s, '0020000D') === study);
      assert.ok(hit(await qido('/studies?PatientID=PID-1')), "hit(await qido('/studies?PatientID=PID-1'))");
      assert.ok(hit(await qido('/studies?00100020=PID-1')), "hit(await qido('/studies?00100020=PID-1'))");
      assert.ok(!hit(await qido('/studies?PatientID=PID-2')), "!hit(await qido('/studies?PatientID=PID-2'))");
      assert.ok(hit(await qido('/studies?PatientID=PID-?')), "hit(await qido('/studies?PatientID=PID-?'))");
      assert.ok(hit(await qido('/studies?PatientName=*ller*')), "hit(await qido('/studies?PatientName=*ller*'))");
      assert.ok(!hit(await qido('/studies?PatientName=*LLER*')), 'wildcard matching is case-sensitive');
      assert.ok(hit(await qido(`/studies?StudyInstanceUID=1.2.3\\${study}`)), 'hit(await qido(`/studies?StudyInstanceUID=1.2.3\\\\${study}`))');
      assert.ok(hit(await qido(`/studies?StudyInstanceUID=1.2.3,${study}`)), 'hit(await qido(`/studies?StudyInstanceUID=1.2.3,${study}`))');
      assert.ok(hit(await qido('/studies?StudyDate=20240101-20241231')), "hit(await qido('/studies?StudyDate=20240101-20241231'))");
      assert.ok(hit(await qido('/studies?StudyDate=-20240315')), "hit(await qido('/studies?StudyDate=-20240315'))");
      assert.ok(hit(await qido('/studies?StudyDate=20240315-')), "hit(await qido('/studies?StudyDate=20240315-'))");
      assert.ok(!hit(await qido('/studies?StudyDate=20240316-')), "!hit(await qido('/studies?StudyDate=20240316-'))");
      assert.ok(hit(await qido('/studies?StudyTime=1000-1030')), "hit(await qido('/studies?StudyTime=1000-1030'))");
      assert.ok(!hit(await qido('/studies?StudyTime=1016-')), "!hit(await qido('/studies?StudyTime=1016-'))");
      assert.ok(hit(await qido('/studies?ModalitiesInStudy=MR')), "hit(await qido('/studies?ModalitiesInStudy=MR'))");
      assert.ok(!hit(await qido('/studies?ModalitiesInStudy=US')), "!hit(await qido('/studies?ModalitiesInStudy=US'))");
      assert.ok(hit(await qido('/studies?AccessionNumber=ACC1&PatientName=*')), "hit(await qido('/studies?AccessionNumber=ACC1&PatientName=*'))");
    });

    it('fuzzymatching is case- and accent-insensitive on person names', async () => {
      const hit = (r: { json: any[] }) => r.json.some((s) => value(s, '0020000D') === study);
      assert.ok(hit(await qido('/studies?PatientName=muller&fuzzymatching=true')), "hit(await qido('/studies?PatientName=muller&fuzzymatching=true'))");
      assert.ok(hit(await qido('/studies?PatientName=JURGEN&fuzzymatching=true')), "hit(await qido('/studies?PatientName=JURGEN&fuzzymatching=true'))");
      assert.ok(!hit(await qido('/studies?PatientName=muller&fuzzymatching=false')), "!hit(await qido('/studies?PatientName=muller&fuzzymatching=false'))");
      assert.ok(!hit(await qido('/studies?PatientName=jurgenx&fuzzymatching=true')), "!hit(await qido('/studies?PatientName=jurgenx&fuzzymatching=true'))");
    });

    it('includefield adds attributes; all returns every study attribute held', async () => {
      const plain = await qido(`/studies?StudyInstanceUID=${study}`);
      assert.equal(plain.json[0]['00081030'], undefined, 'StudyDescription is not a default attribute');
      const res = await qido(`/studies?StudyInstanceUID=${study}&includefield=00081030,PatientSex`);
      assert.equal(value(res.json[0], '00081030'), 'Chest CT');
      const byKeyword = await qido(`/studies?StudyInstanceUID=${study}&includefield=StudyDescription`);
      assert.equal(value(byKeyword.json[0], '00081030'), 'Chest CT');
      const all = await qido(`/studies?StudyInstanceUID=${study}&includefield=all`);
      assert.equal(value(all.json[0], '00081030'), 'Chest CT');
    });

    it('searches series and instances at every path, with level defaults', async () => {
      const series = await qido(`/studies/${study}/series`);
      assert.deepEqual(series.json.map((s: any) => value(s, '0020000E')).sort(), [seriesA, seriesB].sort());
      const a = series.json.find((s: any) => value(s, '0020000E') === seriesA);
      assert.equal(value(a, '00201209'), 2);
      assert.equal(value(a, '00080060'), 'CT');
      assert.equal((await qido(`/series?Modality=MR&StudyInstanceUID=${study}`)).json.length, 1);
      const inst = await qido(`/studies/${study}/series/${seriesA}/instances`);
      assert.deepEqual(
        inst.json.map((i: any) => value(i, '00080018')),
        [sopA1, sopA2],
      );
      assert.equal(value(inst.json[1], '00280008'), 3);
      assert.equal((await qido(`/studies/${study}/instances?SOPInstanceUID=${sopB1}`)).json.length, 1);
      const global = await qido(`/instances?SOPInstanceUID=${sopB1}`);
      assert.equal(value(global.json[0], '0020000D'), study, 'instance search outside a study carries study attributes');
      assert.equal(value(global.json[0], '0020000E'), seriesB);
      assert.equal((await qido(`/instances?InstanceNumber=2&StudyInstanceUID=${study}`)).json.length, 1);
    });

    it('pages with limit and offset, and warns when more results remain', async () => {
      const page1 = await qido(`/studies/${study}/instances?limit=2`);
      const page2 = await qido(`/studies/${study}/instances?limit=2&offset=2`);
      assert.equal(page1.json.length, 2);
      assert.equal(page2.json.length, 1);
      assert.match(page1.headers.get('warning')!, /offset=2/);
      const all = [...page1.json, ...page2.json].map((i: any) => value(i, '00080018'));
      assert.deepEqual(all.sort(), [sopA1, sopA2, sopB1].sort());
    });

    it('answers 200 with [] when nothing matches, and 400 with a reason for bad keys and values', async () => {
      const none = await qido('/studies?PatientID=nobody-at-all');
      assert.equal(none.status, 200);
      assert.deepEqual(none.json, []);
      for (const [path, pattern] of [
        ['/studies?NoSuchKeyword=1', /NoSuchKeyword/],
        ['/studies?StudyDate=2024', /date/],
        ['/studies?StudyDate=20240101-20240202-20240303', /date/],
        ['/studies?StudyInstanceUID=1.2.abc', /UID/],
        ['/studies?limit=-1', /limit/],
        ['/studies?fuzzymatching=maybe', /fuzzymatching/],
        ['/studies?includefield=NotAThing', /NotAThing/],
      ] as const) {
        const res = await qido(path);
        assert.equal(res.status, 400, path);
        assert.match(res.json.error.message, pattern, path);
      }
      assert.equal((await qido('/studies/not-a-uid/series')).status, 400);
    });
  });

  it('DELETE removes an instance, a series and a study, and frees the space', async () => {
    const extraStudy = newUid();
    const extraSeries = newUid();
    const sop1 = newUid();
    const i1 = syntheticInstance({ studyInstanceUID: extraStudy, seriesInstanceUID: extraSeries, sopInstanceUID: sop1, seed: 11 });
    const i2 = syntheticInstance({ studyInstanceUID: extraStudy, seriesInstanceUID: extraSeries, seed: 12 });
    const storeDir = join(gw.dataDir, 'stores', 'local');
    const empty = await countFiles(storeDir);
    assert.equal((await stow(gw.dicomWebUrl, [i1, i2])).status, 200);
    const before = await countFiles(storeDir);
    const perInstance = (before - empty) / 2;
    assert.equal(perInstance, 2, 'each instance is stored as one bundle of its fragments and a manifest copy');
    const del = await fetch(`${gw.dicomWebUrl}/studies/${extraStudy}/series/${extraSeries}/instances/${sop1}`, { method: 'DELETE' });
    assert.equal(del.status, 204);
    assert.equal(await countFiles(storeDir), before - perInstance);
    assert.equal((await get(`${gw.dicomWebUrl}/studies/${extraStudy}/series/${extraSeries}/instances/${sop1}`, STORED)).status, 404);
    assert.equal((await fetch(`${gw.dicomWebUrl}/studies/${extraStudy}`, { method: 'DELETE' })).status, 204);
    assert.equal(await countFiles(storeDir), empty, 'every fragment is gone');
    assert.deepEqual(JSON.parse((await get(`${gw.dicomWebUrl}/studies?StudyInstanceUID=${extraStudy}`)).body.toString()), []);
    assert.equal((await fetch(`${gw.dicomWebUrl}/studies/${extraStudy}`, { method: 'DELETE' })).status, 404);
  });

  it('answers health and readiness probes', async () => {
    assert.equal((await get(`${gw.url}/healthz`)).status, 200);
    const ready = await get(`${gw.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(JSON.parse(ready.body.toString()).checks, { catalog: 'ok', 'backend:local': 'ok' });
  });
});

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) if (entry.isFile()) n++;
  return n;
}
