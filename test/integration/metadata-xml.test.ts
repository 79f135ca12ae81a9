/**
 * WADO-RS metadata as `multipart/related; type="application/dicom+xml"` (PS3.18 §10.4.1.1.2,
 * PS3.19 Annex A) through real HTTP: one part per instance at the study, series and instance
 * paths, each the Native DICOM Model of exactly the JSON the same route serves (compared attribute
 * by attribute after reading the XML with fast-xml-parser), chosen by q-value; JSON stays the
 * default; other media types are 406.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keywordForTag } from '../../gateway/dicom/dictionary.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { get, multipartParts, stow, value } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { comparableJson, readNativeXml } from '../support/native-xml.js';

const XML = 'multipart/related; type="application/dicom+xml"';

describe('metadata as application/dicom+xml', () => {
  let gw: TestGateway;
  const study = newUid();
  const series = [newUid(), newUid()];
  const sops = [newUid(), newUid(), newUid()];
  const patient = { studyInstanceUID: study, patientName: 'Müller^Jürgen^^Dr', patientID: 'XML-1' };
  const instances = [
    syntheticInstance({
      ...patient,
      seriesInstanceUID: series[0],
      sopInstanceUID: sops[0],
      instanceNumber: 1,
      rows: 8,
      columns: 8,
      extra: [
        { tag: '00090010', vr: 'LO', value: 'ACME 1.0' },
        { tag: '00091010', vr: 'LO', value: 'a<b&c' },
      ],
    }),
    syntheticInstance({ ...patient, seriesInstanceUID: series[0], sopInstanceUID: sops[1], instanceNumber: 2, rows: 8, columns: 8, numberOfFrames: 2 }),
    syntheticInstance({ ...patient, seriesInstanceUID: series[1], sopInstanceUID: sops[2], instanceNumber: 1, rows: 4, columns: 4, modality: 'MR' }),
  ];

  before(async () => {
    gw = await startTestGateway();
    assert.equal((await stow(gw.dicomWebUrl, instances)).status, 200);
  });
  after(async () => {
    await gw.stop();
  });

  /** The XML parts of `path` checked against the JSON of the same path, instance by instance. */
  async function checkXml(path: string, expected: string[], accept = XML): Promise<void> {
    const url = `${gw.dicomWebUrl}${path}`;
    const json = JSON.parse((await get(url, 'application/dicom+json')).body.toString()) as Array<Record<string, any>>;
    const res = await get(url, accept);
    assert.equal(res.status, 200, path);
    assert.match(res.headers.get('content-type')!, /^multipart\/related; type="application\/dicom\+xml"; boundary=/);
    const parts = multipartParts(res.body, res.headers.get('content-type')!);
    assert.equal(parts.length, expected.length, `${path}: one part per instance`);
    const bySop = new Map(json.map((d) => [value(d, '00080018') as string, d]));
    const seen: string[] = [];
    for (const part of parts) {
      assert.equal(part.headers['content-type'], 'application/dicom+xml');
      assert.equal(Number(part.headers['content-length']), part.bytes.length);
      const { dataset } = readNativeXml(part.bytes.toString('utf8'));
      const sop = (dataset['00080018'].values as string[])[0];
      seen.push(sop);
      assert.equal(part.headers['content-location'], `${gw.dicomWebUrl}/studies/${study}/series/${value(bySop.get(sop)!, '0020000E')}/instances/${sop}`);
      assert.deepEqual(dataset, comparableJson(bySop.get(sop)!, keywordForTag), `${path}: ${sop} equals its JSON`);
    }
    assert.deepEqual(seen.sort(), [...expected].sort());
  }

  it('answers study, series and instance metadata with one Native DICOM Model part per instance, equal to the JSON', async () => {
    await checkXml(`/studies/${study}/metadata`, sops);
    await checkXml(`/studies/${study}/series/${series[0]}/metadata`, [sops[0], sops[1]]);
    await checkXml(`/studies/${study}/series/${series[0]}/instances/${sops[0]}/metadata`, [sops[0]]);
  });

  it('writes person names by component, private creators, and the same absolute BulkDataURIs', async () => {
    const res = await get(`${gw.dicomWebUrl}/studies/${study}/series/${series[0]}/instances/${sops[0]}/metadata`, XML);
    const xml = multipartParts(res.body, res.headers.get('content-type')!)[0].bytes.toString('utf8');
    assert.ok(xml.includes('<PersonName number="1"><Alphabetic><FamilyName>Müller</FamilyName><GivenName>Jürgen</GivenName><NamePrefix>Dr</NamePrefix></Alphabetic></PersonName>'), xml);
    assert.ok(xml.includes('<DicomAttribute tag="00091010" vr="LO" privateCreator="ACME 1.0"><Value number="1">a&lt;b&amp;c</Value></DicomAttribute>'), xml);
    assert.ok(xml.includes(`<BulkData uri="${gw.dicomWebUrl}/studies/${study}/series/${series[0]}/instances/${sops[0]}/bulkdata/7FE00010"`), xml);
  });

  it('chooses by q-value, keeps JSON the default, and answers 406 to other media types', async () => {
    await checkXml(`/studies/${study}/metadata`, sops, 'application/dicom+json; q=0.5, multipart/related; type="application/dicom+xml"');
    const preferred = await get(`${gw.dicomWebUrl}/studies/${study}/metadata`, 'application/dicom+json, multipart/related; type="application/dicom+xml"; q=0.5');
    assert.equal(preferred.headers.get('content-type'), 'application/dicom+json');
    const plain = await fetch(`${gw.dicomWebUrl}/studies/${study}/metadata`);
    assert.equal(plain.headers.get('content-type'), 'application/dicom+json');
    assert.equal(((await plain.json()) as unknown[]).length, 3);
    for (const accept of ['application/dicom+xml', 'text/html', 'multipart/related; type="application/dicom"', 'multipart/related; type="application/octet-stream"']) {
      const res = await get(`${gw.dicomWebUrl}/studies/${study}/metadata`, accept);
      assert.equal(res.status, 406, accept);
      assert.match(JSON.parse(res.body.toString()).error.message, /application\/dicom\+xml/, accept);
    }
  });
});
