/**
 * What real DICOMweb clients send and expect, beyond the letter of the RFCs: Orthanc's own client
 * uses multipart boundaries longer than RFC 2046's 70 characters, libcurl- and httplib-based tools
 * send an empty `Expect:` header, some clients compare `application/dicom+json` exactly, and
 * clients that join QIDO results expect the parent's unique keys in results under a parent.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { PYDICOM_DATA } from '../support/corpus.js';
import { retrieveAsStored, stowBody, value } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { rawRequest } from '../support/raw-http.js';

describe('client quirks', () => {
  let gw: TestGateway;
  const study = newUid();
  const series = newUid();
  const instance = (n: number) => syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: newUid(), instanceNumber: n, rows: 8, columns: 8, seed: n });

  before(async () => {
    gw = await startTestGateway();
  });
  after(async () => {
    await gw.stop();
  });

  it('stores with a 73-character boundary (Orthanc) and refuses one past a sane bound with 400', async () => {
    const long = stowBody([instance(1)], `${'-'.repeat(29)}${'0123456789abcdef'.repeat(2)}${'x'.repeat(12)}`);
    assert.equal(long.boundary.length, 73);
    const stored = await fetch(`${gw.dicomWebUrl}/studies`, { method: 'POST', headers: { 'Content-Type': long.contentType, Accept: 'application/dicom+json' }, body: long.body });
    assert.equal(stored.status, 200, await stored.text());
    const huge = stowBody([instance(2)], 'b'.repeat(300));
    const refused = await fetch(`${gw.dicomWebUrl}/studies`, { method: 'POST', headers: { 'Content-Type': huge.contentType }, body: huge.body });
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /MALFORMED_MULTIPART/);
  });

  it('treats an empty Expect header as none, and still answers 417 to an expectation it does not know', async () => {
    const { body, contentType } = stowBody([instance(3)]);
    const empty = await rawRequest(`${gw.dicomWebUrl}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, 'Content-Length': body.length, Expect: '' }, body });
    assert.equal(empty.status, 200, empty.body.toString());
    const unknown = await rawRequest(`${gw.dicomWebUrl}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, 'Content-Length': body.length, Expect: 'teapot' }, body });
    assert.equal(unknown.status, 417);
  });

  it('answers application/dicom+json exactly, without a charset parameter', async () => {
    for (const path of ['/studies', `/studies/${study}/series`, `/studies/${study}/metadata`]) {
      const res = await fetch(`${gw.dicomWebUrl}${path}`, { headers: { Accept: 'application/dicom+json' } });
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), 'application/dicom+json', path);
    }
    const { body, contentType } = stowBody([instance(4)]);
    const stow = await fetch(`${gw.dicomWebUrl}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body });
    assert.equal(stow.headers.get('content-type'), 'application/dicom+json');
  });

  it('includes the parent UIDs in QIDO results under a parent', async () => {
    const seriesUnder = (await (await fetch(`${gw.dicomWebUrl}/studies/${study}/series`)).json()) as Record<string, unknown>[];
    assert.ok(seriesUnder.length > 0);
    for (const match of seriesUnder) assert.equal(value(match, '0020000D'), study, 'Study Instance UID in a series under its study');
    const instancesUnder = (await (await fetch(`${gw.dicomWebUrl}/studies/${study}/series/${series}/instances`)).json()) as Record<string, unknown>[];
    assert.ok(instancesUnder.length > 0);
    for (const match of instancesUnder) {
      assert.equal(value(match, '0020000D'), study, 'Study Instance UID in an instance under its series');
      assert.equal(value(match, '0020000E'), series, 'Series Instance UID in an instance under its series');
    }
  });

  it('stores files padded with zero bytes after their last element, and returns them with their padding', async () => {
    const sources: Array<[string, Uint8Array]> = [
      ['explicit VR little endian', instance(5)],
      ['implicit VR little endian', readFileSync(join(PYDICOM_DATA, 'test_files', 'MR_small_implicit.dcm'))],
      ['explicit VR big endian', readFileSync(join(PYDICOM_DATA, 'test_files', 'MR_small_bigendian.dcm'))],
    ];
    for (const [name, source] of sources) {
      for (const pad of [1, 7, 8, 512]) {
        const padded = Buffer.concat([source, Buffer.alloc(pad)]);
        const { body, contentType } = stowBody([padded]);
        const res = await fetch(`${gw.dicomWebUrl}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body });
        const json = (await res.json()) as Record<string, any>;
        assert.equal(res.status, 200, `${name} + ${pad}: ${JSON.stringify(json)}`);
        const instanceUrl = value(json['00081199'].Value[0], '00081190') as string;
        const [part] = await retrieveAsStored(instanceUrl);
        assert.ok(part.bytes.equals(padded), `${name} + ${pad} zero bytes: returned byte-identical`);
        assert.equal((await fetch(instanceUrl.replace(/\/series\/.*/, ''), { method: 'DELETE' })).status, 204);
      }
    }
  });

  it('stores an instance whose Number of Frames is malformed, its pixel data as opaque bytes, with WarningReason B007', async () => {
    const sop = newUid();
    const bytes = Buffer.from(syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop, rows: 8, columns: 8, seed: 9, numberOfFrames: 2 }));
    const at = bytes.indexOf(Buffer.from([0x28, 0x00, 0x08, 0x00, 0x49, 0x53, 0x02, 0x00]));
    assert.ok(at > 0);
    bytes.write('1A', at + 8, 'latin1');
    const { body, contentType } = stowBody([bytes]);
    const res = await fetch(`${gw.dicomWebUrl}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body });
    assert.equal(res.status, 202);
    assert.match(res.headers.get('warning') ?? '', /opaque bytes.*Number of Frames/);
    const json = (await res.json()) as Record<string, any>;
    const [item] = json['00081199'].Value as Record<string, any>[];
    assert.equal(value(item, '00081155'), sop);
    assert.equal(value(item, '00081196'), 0xb007);
    const [part] = await retrieveAsStored(`${gw.dicomWebUrl}/studies/${study}/series/${series}/instances/${sop}`);
    assert.ok(part.bytes.equals(bytes), 'returned byte-identical');
    // Protected as opaque bytes: striped over the regions and sealed, and the manifest says why.
    const catalog = await Catalog.openSqlite(join(gw.dataDir, 'catalog.sqlite'));
    const row = await catalog.findInstance(sop);
    await catalog.close();
    const manifest = JSON.parse(row!.manifest!) as { pixels: { kind: string; reason: string; split: { reason: string; length: number } } };
    assert.equal(manifest.pixels.kind, 'striped');
    assert.match(manifest.pixels.reason, /cannot be read as frames \(Number of Frames \(0028,0008\) is not a positive integer: "1A"/);
    assert.equal(manifest.pixels.split.reason, 'unreadable');
    assert.equal(manifest.pixels.split.length, 8 * 8 * 2 * 2);
    const pixels = bytes.subarray(bytes.length - 8 * 8 * 2 * 2);
    for (const file of await storedFiles(join(gw.dataDir, 'stores'))) {
      const stored = await readFile(file);
      for (let at = 0; at + 32 <= pixels.length; at += 32) assert.equal(stored.indexOf(pixels.subarray(at, at + 32)), -1, `${file} holds none of the pixel bytes in the clear`);
    }
    const frames = await fetch(`${gw.dicomWebUrl}/studies/${study}/series/${series}/instances/${sop}/frames/1`, { headers: { Accept: 'multipart/related; type=application/octet-stream; transfer-syntax=*' } });
    assert.equal(frames.status, 404);
    assert.match(await frames.text(), /cannot be read as frames/);
  });
});

/** Every file under `dir`. */
async function storedFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}
