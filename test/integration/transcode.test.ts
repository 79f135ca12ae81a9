/**
 * Transcoding on request (PS3.18 §8.7.3) over the compressed and deflated files of the pydicom
 * corpus, through real HTTP: each file is stored through STOW-RS, then
 *   - WADO-RS of the instance without `transfer-syntax=*` (the default, Explicit VR Little Endian)
 *     returns an Explicit VR Little Endian instance whose native pixel values equal pydicom's decoded
 *     values: exactly for lossless syntaxes, within LOSSY_TOLERANCE for lossy ones (the same
 *     libjpeg-turbo / OpenJPEG algorithms built twice may round the inverse transforms differently),
 *     and whose other attributes are those of the stored instance;
 *   - frames asked for as application/octet-stream come decoded, each equal to its frame of that
 *     instance; the Pixel Data bulk data too;
 *   - `transfer-syntax=*` returns the stored bytes byte for byte, and an unsupported target is a 406
 *     that names what is offered.
 * Files pydicom cannot decode here (no JPEG-LS, lossless JPEG or 12-bit JPEG handler installed) are
 * compared with pydicom's reading of the uncompressed file of the same image when the corpus has
 * one (REFERENCE_OF); the rest are listed in NO_REFERENCE and only checked for a well-formed answer.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseInstance, datasetView } from '../../gateway/dicom/parse.js';
import { nativePixelBytes, pixelGeometry, sampleCodec, sampleOffset } from '../../gateway/dicom/pixel-geometry.js';
import type { DicomJson } from '../../gateway/dicom/types.js';
import { corpusFiles, PYDICOM_DATA } from '../support/corpus.js';
import { get, multipartParts, stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { pydicomDecoded, type PydicomDecoded } from '../support/pydicom-decoded.js';

const EXPLICIT = '1.2.840.10008.1.2.1';
const DEFLATED = '1.2.840.10008.1.2.1.99';
const LOSSY = new Set(['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.81', '1.2.840.10008.1.2.4.91', '1.2.840.10008.1.2.4.203']);
const LOSSY_TOLERANCE = 2;
const DEFAULT_INSTANCE = 'multipart/related; type="application/dicom"';
const DEFAULT_FRAMES = 'multipart/related; type="application/octet-stream"';
/** Lossless files pydicom cannot decode here, and the uncompressed file of the same image. */
const REFERENCE_OF: Record<string, string> = {
  'MR_small_jpeg_ls_lossless.dcm': 'MR_small.dcm',
  'SC_rgb_jpeg_gdcm.dcm': 'SC_rgb_rle.dcm',
};
/** Files decoded by Aegis for which the corpus has no independent reference reading. */
const NO_REFERENCE = new Set(['GDCMJ2K_TextGBR.dcm', 'JPEG-lossy.dcm', 'JPGExtended.dcm']);
/** Files whose pixel data the codec refuses (a corrupt JPEG 2000 header): 406 with the reason. */
const UNDECODABLE = new Set(['JPEG2000-embedded-sequence-delimiter.dcm']);

/** The corpus files Aegis parses whose pixel data is encapsulated, or whose data set is deflated. */
function transcodable(): string[] {
  return corpusFiles().filter((file) => {
    try {
      const parsed = parseInstance(readFileSync(file));
      return parsed.pixelData?.encapsulated === true || parsed.transferSyntaxUID === DEFLATED;
    } catch {
      return false;
    }
  });
}

const files = transcodable();
const referenceFiles = [...files, ...Object.values(REFERENCE_OF).map((name) => `${PYDICOM_DATA}/test_files/${name}`)];
const reference = pydicomDecoded(referenceFiles);

/** Every stored value of native pixel data, frame, row, column, sample order (as pydicom-decoded.py lists them). */
function storedValues(bytes: Uint8Array): { values: Float64Array; photometric: string; metadata: DicomJson; pixels: Uint8Array } {
  const parsed = parseInstance(bytes);
  const layout = parsed.pixelData;
  assert.ok(layout !== undefined && !layout.encapsulated, 'native pixel data');
  const g = pixelGeometry(parsed.metadata, layout);
  const pixels = nativePixelBytes(datasetView(bytes, parsed), layout);
  const codec = sampleCodec(g);
  const values = new Float64Array(g.frames * g.rows * g.columns * g.samplesPerPixel);
  let i = 0;
  for (let frame = 0; frame < g.frames; frame++) {
    for (let pixel = 0; pixel < g.rows * g.columns; pixel++) {
      for (let sample = 0; sample < g.samplesPerPixel; sample++) values[i++] = codec.read(pixels, sampleOffset(g, frame, pixel, sample));
    }
  }
  return { values, photometric: g.photometricInterpretation, metadata: parsed.metadata, pixels };
}

/** The largest difference between two value arrays of the same length. */
function maxDifference(a: Float64Array, b: Float64Array): number {
  assert.equal(a.length, b.length, 'as many values as pydicom');
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** The attributes a decoder changes or drops; every other one must be kept. */
const PIXEL_ATTRIBUTES = ['7FE00010', '7FE00001', '7FE00002', '7FE00003', '00280004', '00280006'];
function withoutPixelAttributes(metadata: DicomJson): DicomJson {
  return Object.fromEntries(Object.entries(metadata).filter(([tag]) => !PIXEL_ATTRIBUTES.includes(tag)));
}

function referenceFor(file: string): PydicomDecoded | undefined {
  const name = basename(file);
  if (REFERENCE_OF[name] !== undefined) return reference.files[`${PYDICOM_DATA}/test_files/${REFERENCE_OF[name]}`];
  const own = reference.files[file];
  return 'error' in own ? undefined : own;
}

describe(`transcoding the compressed and deflated files of the pydicom corpus (${files.length} files, pydicom ${reference.version})`, { timeout: 300_000 }, () => {
  let gw: TestGateway;
  const measured: string[] = [];

  before(async () => {
    gw = await startTestGateway({ stow: { onConflict: 'replace' } });
  });
  after(async () => {
    await gw?.stop();
    if (measured.length > 0) console.log(`largest differences from pydicom (lossy files):\n  ${measured.join('\n  ')}`);
  });

  it('every file pydicom cannot decode is either compared with another reading of its image, listed as without reference, or undecodable', () => {
    for (const file of files) {
      const name = basename(file);
      const own = reference.files[file];
      if (!('error' in own)) continue;
      assert.ok(REFERENCE_OF[name] !== undefined || NO_REFERENCE.has(name) || UNDECODABLE.has(name), `${name}: pydicom says ${own.error}`);
    }
  });

  for (const file of files) {
    const name = basename(file);
    it(`${name}: the default is Explicit VR Little Endian with pydicom's pixels; frames and bulk data decoded; transfer-syntax=* as stored`, async () => {
      const bytes = readFileSync(file);
      const stored = parseInstance(bytes);
      const stowed = await stow(gw.dicomWebUrl, [bytes]);
      assert.ok(stowed.status === 200 || stowed.status === 202, `STOW answered ${stowed.status}`);
      const url = `${gw.dicomWebUrl}/studies/${stored.studyInstanceUID}/series/${stored.seriesInstanceUID}/instances/${stored.sopInstanceUID}`;

      const asStored = await get(url, 'multipart/related; type="application/dicom"; transfer-syntax=*');
      assert.equal(asStored.status, 200);
      const [storedPart] = multipartParts(asStored.body, asStored.headers.get('content-type')!);
      assert.ok(storedPart.bytes.equals(bytes), 'transfer-syntax=*: the stored bytes, byte for byte');
      assert.equal(storedPart.headers['content-type'], `application/dicom; transfer-syntax=${stored.transferSyntaxUID}`);

      const res = await get(url, DEFAULT_INSTANCE);
      if (UNDECODABLE.has(name)) {
        assert.equal(res.status, 406);
        assert.match(JSON.parse(res.body.toString()).error.message, /^the pixel data cannot be decoded \(.+\); ask for transfer-syntax=\* to get the stored bytes$/);
        return;
      }
      assert.equal(res.status, 200, res.body.toString().slice(0, 300));
      const [part] = multipartParts(res.body, res.headers.get('content-type')!);
      assert.equal(part.headers['content-type'], `application/dicom; transfer-syntax=${EXPLICIT}`);
      assert.equal(parseInstance(part.bytes).transferSyntaxUID, EXPLICIT);
      if (stored.pixelData === undefined) return;
      const decoded = storedValues(part.bytes);
      assert.deepEqual(withoutPixelAttributes(decoded.metadata), withoutPixelAttributes(stored.metadata), 'every attribute but the pixel data ones kept');

      const ref = referenceFor(file);
      if (ref !== undefined && !('error' in ref)) {
        assert.equal(decoded.photometric, ref.photometric);
        const difference = maxDifference(decoded.values, ref.values);
        if (LOSSY.has(stored.transferSyntaxUID)) {
          measured.push(`${name}: ${difference}`);
          assert.ok(difference <= LOSSY_TOLERANCE, `${name}: differs from pydicom by up to ${difference}`);
        } else assert.equal(difference, 0, `${name}: lossless, equal to pydicom`);
      } else assert.ok(NO_REFERENCE.has(name) || !stored.pixelData.encapsulated, `${name}: no reference`);

      // Frames (all of them, in one request, last first) and the Pixel Data bulk data, decoded.
      const frameCount = stored.pixelData.encapsulated ? stored.pixelData.frames.length : stored.pixelData.numberOfFrames;
      const frameLength = decoded.pixels.length / frameCount;
      const numbers = Array.from({ length: frameCount }, (_, i) => frameCount - i);
      const frames = await get(`${url}/frames/${numbers.join(',')}`, DEFAULT_FRAMES);
      assert.equal(frames.status, 200, frames.body.toString().slice(0, 300));
      const frameParts = multipartParts(frames.body, frames.headers.get('content-type')!);
      assert.deepEqual(
        frameParts.map((p) => p.headers['content-type']),
        numbers.map(() => `application/octet-stream; transfer-syntax=${EXPLICIT}`),
      );
      numbers.forEach((n, i) => assert.ok(frameParts[i].bytes.equals(decoded.pixels.subarray((n - 1) * frameLength, n * frameLength)), `frame ${n}`));
      const bulk = await get(`${url}/bulkdata/7FE00010`, DEFAULT_FRAMES);
      assert.equal(bulk.status, 200);
      const [value] = multipartParts(bulk.body, bulk.headers.get('content-type')!);
      assert.ok(value.bytes.subarray(0, decoded.pixels.length).equals(decoded.pixels), 'bulk data: the decoded Pixel Data');
      assert.equal(value.bytes.length, decoded.pixels.length + (decoded.pixels.length % 2));
    });
  }

  it('a target Aegis does not encode to is 406 naming what is offered; transfer-syntax=* and the stored syntax give the stored bytes', async () => {
    const file = files.find((f) => basename(f) === 'MR_small_jp2klossless.dcm')!;
    const bytes = readFileSync(file);
    const stored = parseInstance(bytes);
    assert.ok([200, 202].includes((await stow(gw.dicomWebUrl, [bytes])).status));
    const url = `${gw.dicomWebUrl}/studies/${stored.studyInstanceUID}/series/${stored.seriesInstanceUID}/instances/${stored.sopInstanceUID}`;
    const jpeg = await get(url, 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50');
    assert.equal(jpeg.status, 406);
    assert.equal(
      JSON.parse(jpeg.body.toString()).error.message,
      'cannot provide the instances as multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50: stored in transfer syntax 1.2.840.10008.1.2.4.90, offered as stored (transfer-syntax=* or 1.2.840.10008.1.2.4.90) and transcoded to 1.2.840.10008.1.2.1, 1.2.840.10008.1.2',
    );
    const frames = await get(`${url}/frames/1`, 'multipart/related; type="image/jpeg"');
    assert.equal(frames.status, 406);
    assert.match(JSON.parse(frames.body.toString()).error.message, /they are offered as stored \(transfer-syntax=\*\) and decoded as application\/octet-stream in 1\.2\.840\.10008\.1\.2\.1 or 1\.2\.840\.10008\.1\.2$/);
    const bulk = await get(`${url}/bulkdata/7FE00010`, 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.4.80');
    assert.equal(bulk.status, 406);
    // Implicit VR Little Endian when named: the same decoded pixels as in Explicit VR Little Endian.
    const implicit = await get(url, 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2');
    assert.equal(implicit.status, 200);
    const [implicitPart] = multipartParts(implicit.body, implicit.headers.get('content-type')!);
    assert.equal(implicitPart.headers['content-type'], 'application/dicom; transfer-syntax=1.2.840.10008.1.2');
    assert.equal(parseInstance(implicitPart.bytes).transferSyntaxUID, '1.2.840.10008.1.2');
    const explicit = await get(url, DEFAULT_INSTANCE);
    const explicitPart = multipartParts(explicit.body, explicit.headers.get('content-type')!)[0];
    assert.deepEqual(storedValues(implicitPart.bytes).values, storedValues(explicitPart.bytes).values);
    assert.deepEqual(storedValues(implicitPart.bytes).metadata, storedValues(explicitPart.bytes).metadata);
    const implicitFrame = await get(`${url}/frames/1`, 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2');
    assert.equal(implicitFrame.status, 200);
    const [framePart] = multipartParts(implicitFrame.body, implicitFrame.headers.get('content-type')!);
    assert.equal(framePart.headers['content-type'], 'application/octet-stream; transfer-syntax=1.2.840.10008.1.2');
    assert.ok(framePart.bytes.equals(storedValues(explicitPart.bytes).pixels), 'the decoded frame');
    for (const accept of ['multipart/related; type="application/dicom"; transfer-syntax=*', 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.90']) {
      const res = await get(url, accept);
      assert.equal(res.status, 200);
      assert.ok(multipartParts(res.body, res.headers.get('content-type')!)[0].bytes.equals(bytes), accept);
    }
  });
});
