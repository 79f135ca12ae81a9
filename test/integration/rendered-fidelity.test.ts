/**
 * Rendered resources (PS3.18 §10.4.1.1.3) show what pydicom shows: for CT, MR, JPEG 2000 (lossless
 * and lossy), JPEG-LS, RLE, RGB and YBR samples of the pydicom corpus, stored through STOW-RS, the PNG of
 * `/rendered` (Accept: image/png) is compared, pixel by pixel, with a reference rendering made by
 * pydicom + numpy from the original file with the same window (test/support/pydicom-render.py).
 * Every sample gets a gateway of its own (several samples share a SOP Instance UID).
 *
 * Tolerance, per 8-bit sample: mean absolute difference at most 0.5 and no sample more than 1 apart
 * (the gateway's renderer truncates where the reference rounds). The lossy JPEG 2000 sample is held
 * to the same: both sides decode its code stream with OpenJPEG.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { get, stow } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { pydicomRenderings, type ReferenceImage, type ReferenceRequest } from '../support/pydicom-render.js';

const SAMPLES = '/usr/lib/python3/dist-packages/pydicom/data/test_files/';

interface Sample {
  label: string;
  file: string;
  /** The file pydicom renders: the same one, or a lossless original when pydicom has no decoder for the file. */
  reference?: string;
  frame?: number;
  window: ReferenceRequest['window'];
  tolerance: { mean: number; max: number };
}

const EXACT = { mean: 0.5, max: 1 };

const SAMPLES_RENDERED: Sample[] = [
  { label: 'CT, Explicit VR LE, rescaled, window from the query', file: 'CT_small.dcm', window: [100, 1000, 'linear'], tolerance: EXACT },
  { label: 'MR, the instance window', file: 'MR_small.dcm', window: null, tolerance: EXACT },
  { label: 'MR, sigmoid window', file: 'MR_small.dcm', window: [600, 1600, 'sigmoid'], tolerance: EXACT },
  { label: 'MR, linear-exact window', file: 'MR_small.dcm', window: [700, 900, 'linear-exact'], tolerance: EXACT },
  { label: 'JPEG 2000 lossless MR', file: 'MR_small_jp2klossless.dcm', window: null, tolerance: EXACT },
  { label: 'JPEG 2000 (lossy) NM, signed', file: 'JPEG2000.dcm', window: [110, 280, 'linear'], tolerance: EXACT },
  // pydicom here has no JPEG-LS decoder: the reference is the lossless original of the same pixels.
  { label: 'JPEG-LS lossless MR', file: 'MR_small_jpeg_ls_lossless.dcm', reference: 'MR_small.dcm', window: null, tolerance: EXACT },
  { label: 'RLE lossless MR', file: 'MR_small_RLE.dcm', window: null, tolerance: EXACT },
  { label: 'RGB, RLE lossless', file: 'SC_rgb_rle.dcm', window: null, tolerance: EXACT },
  { label: 'YBR_FULL_422, uncompressed, shown as RGB', file: 'SC_ybr_full_422_uncompressed.dcm', window: null, tolerance: EXACT },
  { label: 'RGB, RLE, frame 2 of 2', file: 'SC_rgb_rle_2frame.dcm', frame: 2, window: null, tolerance: EXACT },
];

/** The UIDs of a stored instance, from the STOW-RS response's ReferencedSOPSequence. */
function storedUids(json: Record<string, any> | undefined): { study: string; series: string; sop: string } {
  const url = String(json?.['00081199']?.Value?.[0]?.['00081190']?.Value?.[0] ?? '');
  const match = /studies\/([\d.]+)\/series\/([\d.]+)\/instances\/([\d.]+)$/.exec(url);
  assert.ok(match, `the STOW response names the stored instance: ${JSON.stringify(json).slice(0, 300)}`);
  return { study: match[1], series: match[2], sop: match[3] };
}

/** The samples of an image (PNG, JPEG): one per pixel when it is encoded grayscale, else three. */
async function decodedSamples(image: Buffer): Promise<{ data: Buffer; width: number; height: number; channels: number }> {
  const { channels } = await sharp(image).metadata();
  const decoded = channels === 1 ? sharp(image).toColourspace('b-w') : sharp(image).removeAlpha();
  const { data, info } = await decoded.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/** Mean and largest absolute difference of two sample arrays of the same length. */
function difference(actual: Buffer, expected: Buffer): { mean: number; max: number } {
  assert.equal(actual.length, expected.length, 'same number of samples');
  let sum = 0;
  let max = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / actual.length, max };
}

describe('rendered PNGs match pydicom + numpy renderings with the same window', () => {
  let references: ReferenceImage[];

  before(() => {
    references = pydicomRenderings(SAMPLES_RENDERED.map((s) => ({ file: join(SAMPLES, s.reference ?? s.file), frame: s.frame ?? 1, window: s.window })));
  });

  for (const [i, sample] of SAMPLES_RENDERED.entries()) {
    it(`${sample.label} (${sample.file})`, { timeout: 120_000 }, async (t) => {
      const gateway: TestGateway = await startTestGateway();
      try {
        const stored = await stow(gateway.dicomWebUrl, [await readFile(join(SAMPLES, sample.file))]);
        assert.equal(stored.status, 200, JSON.stringify(stored.json).slice(0, 300));
        const uids = storedUids(stored.json);
        const resource = `${gateway.dicomWebUrl}/studies/${uids.study}/series/${uids.series}/instances/${uids.sop}${sample.frame ? `/frames/${sample.frame}` : ''}/rendered`;
        const query = sample.window ? `?window=${sample.window.join(',')}` : '';
        const res = await get(`${resource}${query}`, 'image/png');
        assert.equal(res.status, 200, res.body.toString('utf8', 0, 300));
        assert.equal(res.headers.get('content-type'), 'image/png');
        assert.ok(res.body.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'a PNG signature');
        const { data, width, height, channels } = await decodedSamples(res.body);
        const reference = references[i];
        assert.deepEqual([width, height, channels], [reference.width, reference.height, reference.channels], 'size and channels of the reference');
        const diff = difference(data, reference.pixels);
        t.diagnostic(`mean |difference| ${diff.mean.toFixed(4)}, max ${diff.max} over ${data.length} samples`);
        assert.ok(diff.mean <= sample.tolerance.mean && diff.max <= sample.tolerance.max, `difference ${JSON.stringify(diff)} exceeds ${JSON.stringify(sample.tolerance)}`);
      } finally {
        await gateway.stop();
      }
    });
  }
});

describe('the reference comparison can fail', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway();
  });
  after(() => gateway.stop());

  it('another window than the reference is far from it', { timeout: 120_000 }, async () => {
    const stored = await stow(gateway.dicomWebUrl, [await readFile(join(SAMPLES, 'CT_small.dcm'))]);
    assert.equal(stored.status, 200);
    const uids = storedUids(stored.json);
    const [reference] = pydicomRenderings([{ file: join(SAMPLES, 'CT_small.dcm'), frame: 1, window: [100, 1000, 'linear'] }]);
    const res = await get(`${gateway.dicomWebUrl}/studies/${uids.study}/series/${uids.series}/instances/${uids.sop}/rendered?window=300,1000,linear`, 'image/png');
    assert.equal(res.status, 200);
    const { data } = await decodedSamples(res.body);
    assert.ok(difference(data, reference.pixels).mean > 10, 'a 200 HU shift of the window shows');
  });
});
