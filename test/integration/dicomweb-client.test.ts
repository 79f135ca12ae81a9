/**
 * The DICOMweb client library that OHIF uses (`dicomweb-client`, over `xhr2` as XMLHttpRequest)
 * against a gateway started on port 0: it stores (STOW-RS), searches (QIDO-RS) and retrieves
 * (WADO-RS: instances, series, studies, metadata, bulk data, frames) synthetic instances and
 * pydicom's sample files, and every answer is checked exactly (attributes, bytes).
 *
 * Retrieving instances that are not Explicit VR Little Endian needs a custom XHR passed through
 * `request: { instance }` (test/support/xhr.ts, as INFRA.md describes): the stock client never
 * sends `transfer-syntax=*` and its `mediaTypes` path throws. STOW is done with the stock client;
 * should the gateway ever refuse its body again (it once rejected the empty preamble the client
 * writes before the first boundary), the first test fails with the gateway's answer and the data is
 * stored through an XHR that drops the preamble, so that the rest of the suite still runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import dicomweb from 'dicomweb-client';
import { newUid, syntheticInstance, syntheticPixelData, type SyntheticOptions } from '../fixtures/synthetic.js';
import { PYDICOM_DATA } from '../support/corpus.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { acceptAnyTransferSyntax, installXhr, RecordingXhr, withoutLeadingCrlf } from '../support/xhr.js';
import { datasetView, parseInstance } from '../../gateway/dicom/parse.js';
import { nativePixelBytes } from '../../gateway/dicom/pixel-geometry.js';

installXhr();

/** The calls used here, typed loosely (the package's own .d.ts mistypes several of them). */
interface Client {
  storeInstances(o: { datasets: ArrayBuffer[]; studyInstanceUID?: string; request?: { instance: RecordingXhr } }): Promise<string>;
  searchForStudies(o?: { queryParams?: Record<string, string | number> }): Promise<Json[]>;
  searchForSeries(o?: { studyInstanceUID?: string; queryParams?: Record<string, string | number> }): Promise<Json[]>;
  searchForInstances(o?: { studyInstanceUID?: string; seriesInstanceUID?: string; queryParams?: Record<string, string | number> }): Promise<Json[]>;
  retrieveStudyMetadata(o: { studyInstanceUID: string }): Promise<Json[]>;
  retrieveSeriesMetadata(o: { studyInstanceUID: string; seriesInstanceUID: string }): Promise<Json[]>;
  retrieveInstanceMetadata(o: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string }): Promise<Json[]>;
  retrieveBulkData(o: { BulkDataURI: string; request?: { instance: RecordingXhr } }): Promise<Part[]>;
  retrieveInstance(o: Uids & { mediaTypes?: MediaType[]; request?: { instance: RecordingXhr } }): Promise<Part>;
  retrieveSeries(o: { studyInstanceUID: string; seriesInstanceUID: string; request?: { instance: RecordingXhr } }): Promise<Part[]>;
  retrieveStudy(o: { studyInstanceUID: string; request?: { instance: RecordingXhr } }): Promise<Part[]>;
  retrieveInstanceFrames(o: Uids & { frameNumbers: string; mediaTypes?: MediaType[]; request?: { instance: RecordingXhr } }): Promise<Part[]>;
}
type Json = Record<string, any>;
interface Uids {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
}
interface MediaType {
  mediaType: string;
  transferSyntaxUID?: string;
}
/** A decoded multipart part: an ArrayBuffer with the headers the client attaches. */
type Part = ArrayBuffer & { contentType?: string; transferSyntaxUID?: string | null };
/** What the client rejects with on an HTTP error. */
interface ClientError {
  message: string;
  status: number;
  response: unknown;
}

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const J2K = '1.2.840.10008.1.2.4.91';
const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';
const MR_IMAGE = '1.2.840.10008.5.1.4.1.1.4';
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
const RT_DOSE = '1.2.840.10008.5.1.4.1.1.481.2';
/** The Accept the client sends for instances, series and studies when given no media types. */
const CLIENT_DICOM_ACCEPT = 'multipart/related; type="application/dicom"';
/** What OHIF asks for frames with. */
const OHIF_FRAME_TYPES: MediaType[] = [{ mediaType: 'application/octet-stream', transferSyntaxUID: '*' }];

// ---------------------------------------------------------------------------------------------
// Test data

const study1 = newUid();
const seriesA = newUid();
const seriesB = newUid();
const study2 = newUid();
const series2 = newUid();
const common1: SyntheticOptions = {
  studyInstanceUID: study1,
  patientName: 'Client^Carla',
  patientID: 'DWC-1',
  patientBirthDate: '19800229',
  patientSex: 'F',
  studyDate: '20240610',
  studyTime: '083000',
  accessionNumber: 'DWC-ACC-1',
  referringPhysicianName: 'Referrer^Rita',
  studyID: 'S1',
  studyDescription: 'Client round trip',
};
const optA1: SyntheticOptions = { ...common1, seriesInstanceUID: seriesA, sopInstanceUID: newUid(), seriesNumber: 1, instanceNumber: 1, modality: 'CT', seriesDescription: 'Axial', rows: 32, columns: 48, seed: 1 };
const optA2: SyntheticOptions = { ...common1, seriesInstanceUID: seriesA, sopInstanceUID: newUid(), seriesNumber: 1, instanceNumber: 2, modality: 'CT', seriesDescription: 'Axial', rows: 16, columns: 24, numberOfFrames: 4, seed: 2 };
const optB1: SyntheticOptions = {
  ...common1,
  seriesInstanceUID: seriesB,
  sopInstanceUID: newUid(),
  seriesNumber: 2,
  instanceNumber: 1,
  modality: 'MR',
  seriesDescription: 'Colour',
  sopClassUID: SECONDARY_CAPTURE,
  rows: 8,
  columns: 10,
  bitsAllocated: 8,
  samplesPerPixel: 3,
  pixels: 'gradient',
  seed: 3,
};
const opt2: SyntheticOptions = {
  studyInstanceUID: study2,
  seriesInstanceUID: series2,
  sopInstanceUID: newUid(),
  patientName: 'Ørsted^Olga',
  patientID: 'DWC-2',
  studyDate: '20230101',
  studyTime: '235959',
  accessionNumber: 'DWC-ACC-2',
  modality: 'CT',
  rows: 8,
  columns: 8,
  seed: 4,
};
const a1 = syntheticInstance(optA1);
const a2 = syntheticInstance(optA2);
const b1 = syntheticInstance(optB1);
const s2 = syntheticInstance(opt2);

const TEST_FILES = join(PYDICOM_DATA, 'test_files');
/** pydicom's sample files: two Explicit VR Little Endian, one JPEG 2000, one Implicit VR Little Endian. */
const SAMPLES = {
  ct: { file: 'CT_small.dcm', study: '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322', series: '1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322', sop: '1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322', ts: EXPLICIT_LE },
  mr: { file: 'MR_small.dcm', study: '1.3.6.1.4.1.5962.1.2.4.20040826185059.5457', series: '1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457', sop: '1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457', ts: EXPLICIT_LE },
  j2k: { file: 'JPEG2000.dcm', study: '1.3.6.1.4.1.5962.1.2.8.20040826185059.5457', series: '1.3.6.1.4.1.5962.1.3.8.1.20040826185059.5457', sop: '1.3.6.1.4.1.5962.1.1.8.1.3.20040826185059.5457', ts: J2K },
  dose: { file: 'rtdose_1frame.dcm', study: '1.2.999.999.99.9.9999.8888', series: '1.2.777.777.77.7.7777.7777', sop: '1.9.999.999.99.9.9999.9999.20030818153516', ts: IMPLICIT_LE },
} as const;
type SampleKey = keyof typeof SAMPLES;
const sampleBytes = Object.fromEntries(Object.entries(SAMPLES).map(([k, s]) => [k, readFileSync(join(TEST_FILES, s.file))])) as Record<SampleKey, Buffer>;

/** What pydicom (the system Python's) reads in a sample: where Pixel Data's value is, and its frames. */
interface PydicomPixels {
  transferSyntax: string;
  valueOffset: number;
  valueLength: number;
  frames: string[];
}
const PYDICOM_SCRIPT = `
import base64, json, sys, warnings
import pydicom
from pydicom.encaps import generate_pixel_data_frame
warnings.simplefilter("ignore")
out = {}
for path in sys.argv[1:]:
    ds = pydicom.dcmread(path)
    raw = ds.get_item(0x7FE00010)
    ts = ds.file_meta.TransferSyntaxUID
    n = int(ds.get("NumberOfFrames", 1) or 1)
    frames = list(generate_pixel_data_frame(raw.value, n)) if ts.is_compressed else []
    out[path] = {"transferSyntax": str(ts), "valueOffset": raw.value_tell, "valueLength": len(raw.value),
                 "frames": [base64.b64encode(f).decode() for f in frames]}
print(json.dumps(out))
`;
function pydicomPixels(): Record<SampleKey, PydicomPixels> {
  const paths = Object.values(SAMPLES).map((s) => join(TEST_FILES, s.file));
  const run = spawnSync('/usr/bin/python3', ['-c', PYDICOM_SCRIPT, ...paths], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (run.error !== undefined || run.status !== 0) throw new Error(`pydicom (/usr/bin/python3, apt-get install -y python3-pydicom) failed: ${run.error?.message ?? run.stderr}`);
  const byPath = JSON.parse(run.stdout) as Record<string, PydicomPixels>;
  return Object.fromEntries(Object.entries(SAMPLES).map(([k, s]) => [k, byPath[join(TEST_FILES, s.file)]])) as Record<SampleKey, PydicomPixels>;
}

function arrayBuffer(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
}
function sha(bytes: ArrayBuffer | Uint8Array): string {
  return createHash('sha256')
    .update(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes)
    .digest('hex');
}
/** The native Pixel Data bytes of an instance (all frames). */
function nativePixelsOf(bytes: Buffer): Buffer {
  const parsed = parseInstance(bytes);
  assert.ok(parsed.pixelData !== undefined && !parsed.pixelData.encapsulated, 'native pixel data');
  const length = parsed.pixelData.frameLength * parsed.pixelData.numberOfFrames;
  return Buffer.from(nativePixelBytes(datasetView(bytes, parsed), parsed.pixelData).subarray(0, length + (length % 2)));
}

function same(actual: ArrayBuffer, expected: Uint8Array, what: string): void {
  assert.ok(actual instanceof ArrayBuffer, `${what}: the client returned an ArrayBuffer`);
  assert.equal(actual.byteLength, expected.length, `${what}: length`);
  assert.ok(Buffer.from(actual).equals(expected), `${what}: bytes identical`);
}
/** The rejection of a client call, which must fail. */
async function rejection(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise;
  } catch (error) {
    return error as ClientError;
  }
  assert.fail('the call was expected to fail');
}
function errorJson(error: ClientError): Json {
  const body = error.response instanceof ArrayBuffer ? Buffer.from(error.response).toString() : String(error.response);
  return JSON.parse(body) as Json;
}
/** A DICOM JSON attribute. */
const attr = (vr: string, ...values: unknown[]) => (values.length ? { vr, Value: values } : { vr });
const pn = (name: string) => attr('PN', { Alphabetic: name });

describe('dicomweb-client (the library OHIF uses) against the gateway', () => {
  let gw: TestGateway;
  let client: Client;
  let pixels: Record<SampleKey, PydicomPixels>;
  let base: string;
  /** How the stock client's STOW-RS fared, and what was stored in the end. */
  let stockStow: { ok: true } | { ok: false; status: number; body: string };
  let stowBatch: Json;
  let stowStudy2: Json;
  const instanceUrl = (study: string, series: string, sop: string) => `${base}/studies/${study}/series/${series}/instances/${sop}`;
  const sampleUids = (k: SampleKey): Uids => ({ studyInstanceUID: SAMPLES[k].study, seriesInstanceUID: SAMPLES[k].series, sopInstanceUID: SAMPLES[k].sop });
  const uidsOf = (o: SyntheticOptions): Uids => ({ studyInstanceUID: o.studyInstanceUID!, seriesInstanceUID: o.seriesInstanceUID!, sopInstanceUID: o.sopInstanceUID! });

  before(async () => {
    pixels = pydicomPixels();
    gw = await startTestGateway();
    base = gw.dicomWebUrl;
    client = new dicomweb.api.DICOMwebClient({ url: gw.dicomWebUrl, verbose: false, singlepart: false }) as unknown as Client;
    const batch = [a1, a2, b1, sampleBytes.ct, sampleBytes.mr, sampleBytes.j2k, sampleBytes.dose].map(arrayBuffer);
    // First exactly as OHIF would call it; if the gateway refuses that body, record why (the first
    // test reports it) and store through an XHR that drops the client's empty preamble instead, so
    // that searching and retrieving are still exercised.
    try {
      stowBatch = JSON.parse(await client.storeInstances({ datasets: batch })) as Json;
      stockStow = { ok: true };
    } catch (error) {
      const e = error as ClientError;
      stockStow = { ok: false, status: e.status, body: String(e.response) };
      stowBatch = JSON.parse(await client.storeInstances({ datasets: batch, request: { instance: new RecordingXhr({ body: withoutLeadingCrlf }) } })) as Json;
    }
    const xhr = new RecordingXhr(stockStow.ok ? {} : { body: withoutLeadingCrlf });
    stowStudy2 = JSON.parse(await client.storeInstances({ datasets: [arrayBuffer(s2)], studyInstanceUID: study2, request: { instance: xhr } })) as Json;
    assert.equal(xhr.method, 'post', 'STOW is a POST');
    assert.equal(xhr.url, `${base}/studies/${study2}`, 'STOW to /studies/{study}');
  });
  after(async () => {
    await gw?.stop();
  });

  describe('STOW-RS: storeInstances', () => {
    it('accepts the body the stock client sends (a multipart/related body with an empty preamble)', () => {
      assert.deepEqual(
        stockStow,
        { ok: true },
        'POST /studies with the stock client\'s body ("\\r\\n--<boundary>\\r\\nContent-Type: application/dicom\\r\\n\\r\\n<instance>...\\r\\n--<boundary>--", ' +
          'Content-Type: multipart/related; type="application/dicom"; boundary="<guid>") must be stored: RFC 2046 section 5.1.1 allows a preamble before the first boundary',
      );
    });

    it('answers with the ReferencedSOPSequence of every instance, in order, with absolute RetrieveURLs', () => {
      const stored: Array<[string, string, string, string]> = [
        [CT_IMAGE, study1, seriesA, optA1.sopInstanceUID!],
        [CT_IMAGE, study1, seriesA, optA2.sopInstanceUID!],
        [SECONDARY_CAPTURE, study1, seriesB, optB1.sopInstanceUID!],
        ...(['ct', 'mr', 'j2k', 'dose'] as const).map((k): [string, string, string, string] => [{ ct: CT_IMAGE, mr: MR_IMAGE, j2k: SECONDARY_CAPTURE, dose: RT_DOSE }[k], SAMPLES[k].study, SAMPLES[k].series, SAMPLES[k].sop]),
      ];
      // Every stored instance's item also carries its signed receipt (checked in receipts.test.ts).
      const withoutReceipts = (response: Json) => {
        for (const item of (response['00081199']?.Value ?? []) as Json[]) {
          assert.equal(item['00090010']?.Value?.[0], 'AEGIS RECEIPT');
          assert.match(String(item['00091010']?.Value?.[0]), /^[\w-]+\.[\w-]+\.[\w-]+$/);
          delete item['00090010'];
          delete item['00091010'];
        }
        return response;
      };
      withoutReceipts(stowBatch);
      withoutReceipts(stowStudy2);
      assert.deepEqual(stowBatch, {
        '00081199': attr('SQ', ...stored.map(([cls, st, se, sop]) => ({ '00081150': attr('UI', cls), '00081155': attr('UI', sop), '00081190': attr('UR', instanceUrl(st, se, sop)) }))),
      });
      assert.deepEqual(stowStudy2, {
        '00081190': attr('UR', `${base}/studies/${study2}`),
        '00081199': attr('SQ', { '00081150': attr('UI', CT_IMAGE), '00081155': attr('UI', opt2.sopInstanceUID), '00081190': attr('UR', instanceUrl(study2, series2, opt2.sopInstanceUID!)) }),
      });
    });
  });

  describe('QIDO-RS: searchForStudies, searchForSeries, searchForInstances', () => {
    const studyUids = (results: Json[]) => results.map((s) => s['0020000D'].Value[0] as string);

    it('finds every study, and exactly the default attributes of one', async () => {
      const all = await client.searchForStudies();
      assert.deepEqual(studyUids(all).sort(), [study1, study2, SAMPLES.ct.study, SAMPLES.mr.study, SAMPLES.j2k.study, SAMPLES.dose.study].sort());
      const [s1, ...rest] = await client.searchForStudies({ queryParams: { PatientID: 'DWC-1' } });
      assert.equal(rest.length, 0, 'one study for PatientID=DWC-1');
      assert.deepEqual(s1, {
        '00080020': attr('DA', '20240610'),
        '00080030': attr('TM', '083000'),
        '00080050': attr('SH', 'DWC-ACC-1'),
        '00080056': attr('CS', 'ONLINE'),
        '00080061': attr('CS', 'CT', 'MR'),
        '00080090': pn('Referrer^Rita'),
        '00081190': attr('UR', `${base}/studies/${study1}`),
        '00100010': pn('Client^Carla'),
        '00100020': attr('LO', 'DWC-1'),
        '00100030': attr('DA', '19800229'),
        '00100040': attr('CS', 'F'),
        '0020000D': attr('UI', study1),
        '00200010': attr('SH', 'S1'),
        '00201206': attr('IS', 2),
        '00201208': attr('IS', 3),
      });
      const [ct] = await client.searchForStudies({ queryParams: { PatientID: '1CT1' } });
      assert.deepEqual(ct, {
        '00080005': attr('CS', 'ISO_IR 100'),
        '00080020': attr('DA', '20040119'),
        '00080030': attr('TM', '072730'),
        '00080050': attr('SH'),
        '00080056': attr('CS', 'ONLINE'),
        '00080061': attr('CS', 'CT'),
        '00080090': attr('PN'),
        '00080201': attr('SH', '-0500'),
        '00081190': attr('UR', `${base}/studies/${SAMPLES.ct.study}`),
        '00100010': pn('CompressedSamples^CT1'),
        '00100020': attr('LO', '1CT1'),
        '00100030': attr('DA'),
        '00100040': attr('CS', 'O'),
        '0020000D': attr('UI', SAMPLES.ct.study),
        '00200010': attr('SH', '1CT1'),
        '00201206': attr('IS', 1),
        '00201208': attr('IS', 1),
      });
    });

    it('matches PatientName wildcards, StudyDate ranges, UID lists and ModalitiesInStudy', async () => {
      const uids = async (queryParams: Record<string, string>) => studyUids(await client.searchForStudies({ queryParams })).sort();
      assert.deepEqual(await uids({ PatientName: 'CompressedSamples^*' }), [SAMPLES.ct.study, SAMPLES.mr.study, SAMPLES.j2k.study].sort());
      assert.deepEqual(await uids({ PatientName: '*^C?1' }), [SAMPLES.ct.study]);
      assert.deepEqual(await uids({ PatientName: 'Ørsted*' }), [study2]);
      assert.deepEqual(await uids({ StudyDate: '20040101-20041231' }), [SAMPLES.ct.study, SAMPLES.mr.study, SAMPLES.j2k.study].sort());
      assert.deepEqual(await uids({ StudyDate: '20230101-' }), [study1, study2].sort());
      assert.deepEqual(await uids({ StudyDate: '-20031231' }), [SAMPLES.dose.study]);
      assert.deepEqual(await uids({ StudyDate: '20240610', StudyTime: '0800-0900' }), [study1]);
      assert.deepEqual(await uids({ StudyInstanceUID: `${study2},${SAMPLES.mr.study}` }), [study2, SAMPLES.mr.study].sort());
      assert.deepEqual(await uids({ ModalitiesInStudy: 'MR' }), [study1, SAMPLES.mr.study].sort());
      assert.deepEqual(await uids({ ModalitiesInStudy: 'NM' }), [SAMPLES.j2k.study]);
      assert.deepEqual(await uids({ PatientID: 'nobody' }), []);
    });

    it('pages with limit and offset over a stable order', async () => {
      const all = studyUids(await client.searchForStudies());
      const pages: string[] = [];
      for (let offset = 0; offset < 8; offset += 4) pages.push(...studyUids(await client.searchForStudies({ queryParams: { limit: 4, offset } })));
      assert.deepEqual(pages, all);
      assert.equal(studyUids(await client.searchForStudies({ queryParams: { limit: 2 } })).length, 2, 'limit=2 gives two studies');
      assert.deepEqual(studyUids(await client.searchForStudies({ queryParams: { limit: 2, offset: 5 } })), all.slice(5));
      assert.deepEqual(await client.searchForStudies({ queryParams: { offset: 6 } }), []);
    });

    it('adds includefield attributes (keyword and tag)', async () => {
      const [s] = await client.searchForStudies({ queryParams: { PatientID: 'DWC-1', includefield: 'StudyDescription' } });
      assert.deepEqual(s['00081030'], attr('LO', 'Client round trip'));
      const [j] = await client.searchForStudies({ queryParams: { StudyInstanceUID: SAMPLES.j2k.study, includefield: '00081030' } });
      assert.deepEqual(j['00081030'], attr('LO', 'Whole Body Bone'));
      assert.equal((await client.searchForStudies({ queryParams: { PatientID: 'DWC-1' } }))[0]['00081030'], undefined, 'not a default attribute');
    });

    it('searches the series of a study, and series across studies', async () => {
      const series = await client.searchForSeries({ studyInstanceUID: study1 });
      const bySeries = Object.fromEntries(series.map((s) => [s['0020000E'].Value[0] as string, s]));
      assert.deepEqual(Object.keys(bySeries).sort(), [seriesA, seriesB].sort());
      assert.deepEqual(bySeries[seriesA], {
        '00080060': attr('CS', 'CT'),
        '0008103E': attr('LO', 'Axial'),
        '00081190': attr('UR', `${base}/studies/${study1}/series/${seriesA}`),
        '0020000D': attr('UI', study1),
        '0020000E': attr('UI', seriesA),
        '00200011': attr('IS', 1),
        '00201209': attr('IS', 2),
      });
      assert.deepEqual(bySeries[seriesB], {
        '00080060': attr('CS', 'MR'),
        '0008103E': attr('LO', 'Colour'),
        '00081190': attr('UR', `${base}/studies/${study1}/series/${seriesB}`),
        '0020000D': attr('UI', study1),
        '0020000E': attr('UI', seriesB),
        '00200011': attr('IS', 2),
        '00201209': attr('IS', 1),
      });
      const nm = await client.searchForSeries({ queryParams: { Modality: 'NM' } });
      assert.equal(nm.length, 1, 'one NM series');
      assert.equal(nm[0]['0020000E'].Value[0], SAMPLES.j2k.series);
      assert.deepEqual(nm[0]['0020000D'], attr('UI', SAMPLES.j2k.study), 'series found outside a study carry the StudyInstanceUID');
      const described = await client.searchForSeries({ studyInstanceUID: study1, queryParams: { SeriesDescription: 'Col*' } });
      assert.deepEqual(
        described.map((s) => [s['0020000E'].Value[0], s['0008103E']]),
        [[seriesB, attr('LO', 'Colour')]],
      );
    });

    it('searches the instances of a series, of a study and across studies', async () => {
      // Under /studies/{study}/series/{series} the study and series attributes are not repeated, but their UIDs are.
      const inA = await client.searchForInstances({ studyInstanceUID: study1, seriesInstanceUID: seriesA });
      assert.deepEqual(inA, [
        {
          '00080016': attr('UI', CT_IMAGE),
          '00080018': attr('UI', optA1.sopInstanceUID),
          '00080056': attr('CS', 'ONLINE'),
          '00081190': attr('UR', instanceUrl(study1, seriesA, optA1.sopInstanceUID!)),
          '0020000D': attr('UI', study1),
          '0020000E': attr('UI', seriesA),
          '00200013': attr('IS', 1),
          '00280010': attr('US', 32),
          '00280011': attr('US', 48),
          '00280100': attr('US', 16),
        },
        {
          '00080016': attr('UI', CT_IMAGE),
          '00080018': attr('UI', optA2.sopInstanceUID),
          '00080056': attr('CS', 'ONLINE'),
          '00081190': attr('UR', instanceUrl(study1, seriesA, optA2.sopInstanceUID!)),
          '0020000D': attr('UI', study1),
          '0020000E': attr('UI', seriesA),
          '00200013': attr('IS', 2),
          '00280008': attr('IS', 4),
          '00280010': attr('US', 16),
          '00280011': attr('US', 24),
          '00280100': attr('US', 16),
        },
      ]);
      const inStudy = await client.searchForInstances({ studyInstanceUID: study1, queryParams: { SOPClassUID: SECONDARY_CAPTURE } });
      assert.deepEqual(
        inStudy.map((i) => i['00080018'].Value[0]),
        [optB1.sopInstanceUID],
      );
      const [j2k, ...none] = await client.searchForInstances({ queryParams: { SOPInstanceUID: SAMPLES.j2k.sop } });
      assert.equal(none.length, 0, 'one instance by SOPInstanceUID');
      assert.deepEqual(j2k, {
        '00080016': attr('UI', SECONDARY_CAPTURE),
        '00080018': attr('UI', SAMPLES.j2k.sop),
        '00080020': attr('DA', '20040826'),
        '00080030': attr('TM', '185059'),
        '00080050': attr('SH'),
        '00080056': attr('CS', 'ONLINE'),
        '00080060': attr('CS', 'NM'),
        '00080090': attr('PN'),
        '00080201': attr('SH', '-0400'),
        '00081190': attr('UR', instanceUrl(SAMPLES.j2k.study, SAMPLES.j2k.series, SAMPLES.j2k.sop)),
        '00100010': pn('CompressedSamples^NM1'),
        '00100020': attr('LO', '8NM1'),
        '00100030': attr('DA'),
        '00100040': attr('CS', 'M'),
        '0020000D': attr('UI', SAMPLES.j2k.study),
        '0020000E': attr('UI', SAMPLES.j2k.series),
        '00200010': attr('SH', '8NM1'),
        '00200011': attr('IS', 1),
        '00200013': attr('IS', 3),
        '00280008': attr('IS', 1),
        '00280010': attr('US', 1024),
        '00280011': attr('US', 256),
        '00280100': attr('US', 16),
      });
      const page = await client.searchForInstances({ studyInstanceUID: study1, queryParams: { limit: 1, offset: 1 } });
      assert.equal(page.length, 1, 'limit=1 offset=1 gives one instance');
    });
  });

  describe('WADO-RS metadata and bulk data', () => {
    it('retrieveStudyMetadata and retrieveSeriesMetadata give one DICOM JSON object per instance', async () => {
      const studyMeta = await client.retrieveStudyMetadata({ studyInstanceUID: study1 });
      assert.deepEqual(studyMeta.map((m) => m['00080018'].Value[0]).sort(), [optA1.sopInstanceUID, optA2.sopInstanceUID, optB1.sopInstanceUID].sort());
      for (const m of studyMeta) {
        assert.deepEqual(m['00100010'], pn('Client^Carla'));
        assert.deepEqual(m['0020000D'], attr('UI', study1));
        assert.deepEqual(m['00081030'], attr('LO', 'Client round trip'));
      }
      const seriesMeta = await client.retrieveSeriesMetadata({ studyInstanceUID: study1, seriesInstanceUID: seriesA });
      assert.deepEqual(
        seriesMeta.map((m) => m['00080018'].Value[0]),
        [optA1.sopInstanceUID, optA2.sopInstanceUID],
      );
      assert.deepEqual(
        seriesMeta.map((m) => m['00280008']),
        [undefined, attr('IS', 4)],
      );
      assert.deepEqual(
        seriesMeta.map((m) => [m['00280010'], m['00280011']]),
        [
          [attr('US', 32), attr('US', 48)],
          [attr('US', 16), attr('US', 24)],
        ],
      );
    });

    it('retrieveInstanceMetadata gives exact values and an absolute BulkDataURI that retrieveBulkData resolves (synthetic)', async () => {
      const [meta, ...more] = await client.retrieveInstanceMetadata(uidsOf(optA2));
      assert.equal(more.length, 0, 'one object');
      const expected: Json = {
        '00080008': attr('CS', 'ORIGINAL', 'PRIMARY', 'AXIAL'),
        '00080016': attr('UI', CT_IMAGE),
        '00080018': attr('UI', optA2.sopInstanceUID),
        '00080020': attr('DA', '20240610'),
        '00080060': attr('CS', 'CT'),
        '00100010': pn('Client^Carla'),
        '00100020': attr('LO', 'DWC-1'),
        '0020000D': attr('UI', study1),
        '0020000E': attr('UI', seriesA),
        '00200013': attr('IS', 2),
        '00200032': attr('DS', -160, -160, 2.5),
        '00200037': attr('DS', 1, 0, 0, 0, 1, 0),
        '00280002': attr('US', 1),
        '00280004': attr('CS', 'MONOCHROME2'),
        '00280008': attr('IS', 4),
        '00280010': attr('US', 16),
        '00280011': attr('US', 24),
        '00280030': attr('DS', 20, 13.3333),
        '00280100': attr('US', 16),
        '00281052': attr('DS', -1024),
        '7FE00010': { vr: 'OW', BulkDataURI: `${instanceUrl(study1, seriesA, optA2.sopInstanceUID!)}/bulkdata/7FE00010` },
      };
      for (const [tag, value] of Object.entries(expected)) assert.deepEqual(meta[tag], value, tag);
      const xhr = new RecordingXhr();
      const parts = await client.retrieveBulkData({ BulkDataURI: meta['7FE00010'].BulkDataURI, request: { instance: xhr } });
      assert.equal(xhr.url, expected['7FE00010'].BulkDataURI, 'the client requested the BulkDataURI as given');
      assert.equal(parts.length, 1, 'one part');
      same(parts[0], syntheticPixelData(optA2), 'Pixel Data of the synthetic multi-frame instance');
      assert.equal(parts[0].contentType, 'application/octet-stream');
    });

    it('retrieveInstanceMetadata and retrieveBulkData on pydicom samples: native and encapsulated Pixel Data', async () => {
      const [ct] = await client.retrieveInstanceMetadata(sampleUids('ct'));
      assert.deepEqual(ct['00100010'], pn('CompressedSamples^CT1'));
      assert.deepEqual(ct['00280030'], attr('DS', 0.661468, 0.661468));
      assert.deepEqual(ct['00200032'], attr('DS', -158.135803, -179.035797, -75.699997));
      assert.deepEqual(ct['00280103'], attr('US', 1));
      assert.deepEqual(ct['7FE00010'], { vr: 'OW', BulkDataURI: `${instanceUrl(SAMPLES.ct.study, SAMPLES.ct.series, SAMPLES.ct.sop)}/bulkdata/7FE00010` });
      const [ctPixels] = await client.retrieveBulkData({ BulkDataURI: ct['7FE00010'].BulkDataURI });
      const p = pixels.ct;
      same(ctPixels, sampleBytes.ct.subarray(p.valueOffset, p.valueOffset + p.valueLength), 'CT_small Pixel Data');

      const [j2k] = await client.retrieveInstanceMetadata(sampleUids('j2k'));
      assert.deepEqual(j2k['00082111'], attr('ST', 'JPEG 2000 irreversible (lossy) 2097:1'));
      assert.deepEqual(j2k['00280010'], attr('US', 1024));
      assert.deepEqual(j2k['7FE00010'], { vr: 'OB', BulkDataURI: `${instanceUrl(SAMPLES.j2k.study, SAMPLES.j2k.series, SAMPLES.j2k.sop)}/bulkdata/7FE00010` });
      // Without transfer-syntax=* the client takes the default, Explicit VR Little Endian: the pixels decoded.
      const [j2kPixels] = await client.retrieveBulkData({ BulkDataURI: j2k['7FE00010'].BulkDataURI });
      same(j2kPixels, nativePixelsOf(Buffer.from(await client.retrieveInstance(sampleUids('j2k')))), 'JPEG2000 Pixel Data, decoded (the Pixel Data of the transcoded instance)');
      const [j2kStored] = await client.retrieveBulkData({ BulkDataURI: j2k['7FE00010'].BulkDataURI, request: { instance: new RecordingXhr({ accept: acceptAnyTransferSyntax }) } });
      const q = pixels.j2k;
      same(j2kStored, sampleBytes.j2k.subarray(q.valueOffset, q.valueOffset + q.valueLength), 'JPEG2000 encapsulated Pixel Data items with transfer-syntax=* (as pydicom reads the value)');

      const [dose] = await client.retrieveInstanceMetadata(sampleUids('dose'));
      assert.deepEqual(dose['00080060'], attr('CS', 'RTDOSE'));
      assert.deepEqual(dose['00280100'], attr('US', 32));
      assert.equal(dose['7FE00010'].BulkDataURI, `${instanceUrl(SAMPLES.dose.study, SAMPLES.dose.series, SAMPLES.dose.sop)}/bulkdata/7FE00010`);
      const [dosePixels] = await client.retrieveBulkData({ BulkDataURI: dose['7FE00010'].BulkDataURI });
      const d = pixels.dose;
      same(dosePixels, sampleBytes.dose.subarray(d.valueOffset, d.valueOffset + d.valueLength), 'rtdose_1frame Pixel Data (implicit VR)');
    });
  });

  describe('WADO-RS instances, series and studies (byte-exact)', () => {
    it('the stock client retrieves Explicit VR Little Endian instances, series and studies', async () => {
      const xhr = new RecordingXhr();
      const one = await client.retrieveInstance({ ...uidsOf(optA2), request: { instance: xhr } });
      assert.equal(xhr.sentHeaders.accept, CLIENT_DICOM_ACCEPT);
      same(one, a2, 'retrieveInstance (synthetic multi-frame)');
      assert.equal(one.contentType, 'application/dicom');
      assert.equal(one.transferSyntaxUID, EXPLICIT_LE);
      const series = await client.retrieveSeries({ studyInstanceUID: study1, seriesInstanceUID: seriesA });
      assert.equal(series.length, 2, 'two instances in series A');
      same(series[0], a1, 'retrieveSeries part 1');
      same(series[1], a2, 'retrieveSeries part 2');
      const whole = await client.retrieveStudy({ studyInstanceUID: study1 });
      assert.deepEqual(whole.map(sha).sort(), [a1, a2, b1].map(sha).sort());
      const [ct, ...rest] = await client.retrieveStudy({ studyInstanceUID: SAMPLES.ct.study });
      assert.equal(rest.length, 0, 'one instance in the CT_small study');
      same(ct, sampleBytes.ct, 'retrieveStudy CT_small');
      same(await client.retrieveInstance(sampleUids('mr')), sampleBytes.mr, 'retrieveInstance MR_small');
    });

    it('without transfer-syntax=* the stock client gets JPEG 2000 and Implicit VR instances transcoded to Explicit VR Little Endian (the PS3.18 default)', async () => {
      for (const k of ['j2k', 'dose'] as const) {
        const xhr = new RecordingXhr();
        const one = await client.retrieveInstance({ ...sampleUids(k), request: { instance: xhr } });
        assert.equal(xhr.sentHeaders.accept, CLIENT_DICOM_ACCEPT);
        assert.equal(one.transferSyntaxUID, EXPLICIT_LE, `${k}: part transfer syntax`);
        const transcoded = parseInstance(Buffer.from(one));
        const original = parseInstance(sampleBytes[k]);
        assert.equal(transcoded.transferSyntaxUID, EXPLICIT_LE);
        const kept = (m: Record<string, unknown>) => Object.fromEntries(Object.entries(m).filter(([tag]) => !['7FE00010', '00280004', '00280006'].includes(tag)));
        assert.deepEqual(kept(transcoded.metadata), kept(original.metadata), `${k}: every other attribute kept`);
        const [series] = await client.retrieveSeries({ studyInstanceUID: SAMPLES[k].study, seriesInstanceUID: SAMPLES[k].series });
        same(series, Buffer.from(one), `${k}: the series gives the same transcoded instance`);
        const [study] = await client.retrieveStudy({ studyInstanceUID: SAMPLES[k].study });
        same(study, Buffer.from(one), `${k}: the study too`);
      }
      // Implicit VR Little Endian: the same pixel bytes, only the data set's encoding changed.
      const dose = parseInstance(Buffer.from(await client.retrieveInstance(sampleUids('dose'))));
      const d = pixels.dose;
      assert.ok(nativePixelsOf(Buffer.from(await client.retrieveInstance(sampleUids('dose')))).equals(sampleBytes.dose.subarray(d.valueOffset, d.valueOffset + d.valueLength)), 'dose: Pixel Data unchanged');
      assert.equal(dose.pixelData?.encapsulated, false);
      // A compressed target is not offered: 406 with a reason naming what is.
      const asJpeg = new RecordingXhr({ accept: () => 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50' });
      const refused = await rejection(client.retrieveInstance({ ...sampleUids('j2k'), request: { instance: asJpeg } }));
      assert.equal(refused.status, 406);
      assert.match(
        errorJson(refused).error.message,
        /: stored in transfer syntax 1\.2\.840\.10008\.1\.2\.4\.91, offered as stored \(transfer-syntax=\* or 1\.2\.840\.10008\.1\.2\.4\.91\) and transcoded to 1\.2\.840\.10008\.1\.2\.1, 1\.2\.840\.10008\.1\.2$/,
      );
    });

    it('the client cannot ask for transfer-syntax=* through mediaTypes (a client limitation, not the gateway)', async () => {
      assert.throws(() => client.retrieveInstance({ ...sampleUids('j2k'), mediaTypes: [{ mediaType: 'application/dicom', transferSyntaxUID: '*' }] }), { message: 'Media type application/ is not supported for retrieval of instance.' });
    });

    it('with an XHR that adds transfer-syntax=* to Accept, every instance comes back byte for byte', async () => {
      const asStored = () => new RecordingXhr({ accept: acceptAnyTransferSyntax });
      for (const k of ['j2k', 'dose', 'ct', 'mr'] as const) {
        const xhr = asStored();
        const inst = await client.retrieveInstance({ ...sampleUids(k), request: { instance: xhr } });
        assert.equal(xhr.sentHeaders.accept, 'multipart/related; type="application/dicom"; transfer-syntax=*');
        same(inst, sampleBytes[k], `retrieveInstance ${SAMPLES[k].file}`);
        assert.equal(inst.transferSyntaxUID, SAMPLES[k].ts, `${k}: part transfer syntax`);
        const series = await client.retrieveSeries({ studyInstanceUID: SAMPLES[k].study, seriesInstanceUID: SAMPLES[k].series, request: { instance: asStored() } });
        assert.equal(series.length, 1, `${k}: one instance in the series`);
        same(series[0], sampleBytes[k], `retrieveSeries ${SAMPLES[k].file}`);
        const whole = await client.retrieveStudy({ studyInstanceUID: SAMPLES[k].study, request: { instance: asStored() } });
        assert.equal(whole.length, 1, `${k}: one instance in the study`);
        same(whole[0], sampleBytes[k], `retrieveStudy ${SAMPLES[k].file}`);
      }
      const study = await client.retrieveStudy({ studyInstanceUID: study1, request: { instance: asStored() } });
      assert.deepEqual(study.map(sha).sort(), [a1, a2, b1].map(sha).sort());
    });
  });

  describe('WADO-RS frames: retrieveInstanceFrames', () => {
    it("native frames (synthetic) with OHIF's media types and with the client's default", async () => {
      const all = syntheticPixelData(optA2);
      const frameBytes = 16 * 24 * 2;
      const frame = (n: number) => all.subarray((n - 1) * frameBytes, n * frameBytes);
      const xhr = new RecordingXhr();
      const parts = await client.retrieveInstanceFrames({ ...uidsOf(optA2), frameNumbers: '4,1,3', mediaTypes: OHIF_FRAME_TYPES, request: { instance: xhr } });
      assert.equal(xhr.url, `${instanceUrl(study1, seriesA, optA2.sopInstanceUID!)}/frames/4,1,3`);
      assert.equal(xhr.sentHeaders.accept, 'multipart/related; type="application/octet-stream"; transfer-syntax=*');
      assert.equal(parts.length, 3, 'three frames');
      same(parts[0], frame(4), 'frame 4');
      same(parts[1], frame(1), 'frame 1');
      same(parts[2], frame(3), 'frame 3');
      assert.equal(parts[0].contentType, 'application/octet-stream');
      assert.equal(parts[0].transferSyntaxUID, EXPLICIT_LE);
      const [single] = await client.retrieveInstanceFrames({ ...uidsOf(optA1), frameNumbers: '1' });
      same(single, syntheticPixelData(optA1), 'the only frame of a1 (client default Accept)');
      const [rgb] = await client.retrieveInstanceFrames({ ...uidsOf(optB1), frameNumbers: '1', mediaTypes: OHIF_FRAME_TYPES });
      same(rgb, syntheticPixelData(optB1), 'the RGB 8-bit frame of b1');
      const ctFrame = await client.retrieveInstanceFrames({ ...sampleUids('ct'), frameNumbers: '1', mediaTypes: OHIF_FRAME_TYPES });
      same(ctFrame[0], sampleBytes.ct.subarray(pixels.ct.valueOffset, pixels.ct.valueOffset + 128 * 128 * 2), 'CT_small frame 1');
    });

    it('an encapsulated JPEG 2000 frame is the codestream pydicom finds in the file', async () => {
      assert.equal(pixels.j2k.frames.length, 1, 'pydicom finds one frame');
      const codestream = Buffer.from(pixels.j2k.frames[0], 'base64');
      assert.deepEqual([...codestream.subarray(0, 4)], [0xff, 0x4f, 0xff, 0x51], 'pydicom frame starts with SOC + SIZ');
      const [asOhif, ...rest] = await client.retrieveInstanceFrames({ ...sampleUids('j2k'), frameNumbers: '1', mediaTypes: OHIF_FRAME_TYPES });
      assert.equal(rest.length, 0, 'one part');
      same(asOhif, codestream, 'JPEG 2000 frame asked as application/octet-stream; transfer-syntax=*');
      // Labelled with the stored transfer syntax, which is what OHIF's image loader decodes by.
      assert.equal(asOhif.contentType, 'application/octet-stream');
      assert.equal(asOhif.transferSyntaxUID, J2K);
      const [asJp2] = await client.retrieveInstanceFrames({
        ...sampleUids('j2k'),
        frameNumbers: '1',
        mediaTypes: [{ mediaType: 'image/jp2', transferSyntaxUID: J2K }, ...OHIF_FRAME_TYPES],
      });
      same(asJp2, codestream, 'JPEG 2000 frame asked as image/jp2');
      assert.equal(asJp2.contentType, 'image/jp2');
      assert.equal(asJp2.transferSyntaxUID, J2K);
      const missing = await rejection(client.retrieveInstanceFrames({ ...sampleUids('j2k'), frameNumbers: '2', mediaTypes: OHIF_FRAME_TYPES }));
      assert.equal(missing.status, 404, 'frame 2 of a single-frame instance');
    });
  });
  // dicomweb-client 0.11.x has no DELETE call (OHIF does not delete through it): DELETE is covered
  // with plain HTTP in dicomweb.test.ts.
});
