/**
 * The reversible watermark (histogram shifting, Ni et al. 2006) per sample format: the original
 * comes back byte for byte with the payload, no value leaves Bits Stored, the bits outside it are
 * kept, only the visited prefix is touched and by at most one per pass; caller orders, several
 * passes, refusals, malformed or mismatching parameters (INTEGRITY_FAILURE), and every native
 * file of the pydicom corpus.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isGatewayError, type ErrorCode } from '../../../../gateway/errors.js';
import { embedWatermark, extractWatermark, type WatermarkOptions } from '../../../../gateway/protection/watermark/watermark.js';
import type { WatermarkParameters } from '../../../../gateway/protection/watermark/watermark-parameters.js';
import { sampleCodec, sampleOffset, unsupportedSampleAccess, valueRange, type PixelGeometry } from '../../../../gateway/dicom/pixel-geometry.js';
import { nativePixelCorpus } from '../../../support/native-pixels.js';
import { geometryOf, outsideStoredBits, pixelsFor, prng, sampleOffsets, sampleValues } from '../../dicom/pixel-support.js';

function payloadOf(length: number, seed: number): Uint8Array {
  const next = prng(seed);
  return Uint8Array.from({ length }, () => next() & 0xff);
}

/** Embeds, extracts and checks everything a round trip promises; returns the parameters. */
function roundTrip(pixels: Uint8Array, geometry: PixelGeometry, options: WatermarkOptions = {}, payload = payloadOf(32, 7)): { parameters: WatermarkParameters; watermarked: Uint8Array } {
  const result = embedWatermark(pixels, geometry, payload, options);
  assert.ok(!('refused' in result), `refused: ${'refused' in result ? result.refused : ''}`);
  const { watermarked, parameters } = result;
  assert.notEqual(watermarked.buffer, pixels.buffer, 'the watermarked pixels are a new buffer');
  assert.ok(Buffer.compare(watermarked, pixels) !== 0, 'nothing was embedded');
  const parsedBack = JSON.parse(JSON.stringify(parameters)) as WatermarkParameters;
  const { payload: extracted, restored } = extractWatermark(watermarked, geometry, parsedBack, options);
  assert.deepEqual(Buffer.from(extracted), Buffer.from(payload), 'payload differs');
  assert.ok(Buffer.compare(restored, pixels) === 0, 'restored pixels differ from the original');
  assert.deepEqual(outsideStoredBits(watermarked, geometry), outsideStoredBits(pixels, geometry), 'bits outside Bits Stored changed');
  const before = sampleValues(pixels, geometry);
  const after = sampleValues(watermarked, geometry);
  const { min, max } = valueRange(geometry);
  let changed = 0;
  after.forEach((v, i) => {
    assert.ok(v >= min && v <= max, `sample ${i} = ${v} is outside ${min}..${max}`);
    assert.ok(Math.abs(v - before[i]) <= parameters.passes.length, `sample ${i} moved from ${before[i]} to ${v}`);
    if (v !== before[i]) changed++;
  });
  assert.equal(changed, parameters.samplesChanged);
  const visited = new Set(visitedOffsets(geometry, options.order).slice(0, parameters.samplesScanned));
  const codec = sampleCodec(geometry);
  for (const offset of sampleOffsets(geometry)) {
    if (!visited.has(offset)) assert.equal(codec.read(watermarked, offset), codec.read(pixels, offset), `sample at byte ${offset} is not in the scanned prefix but changed`);
  }
  return { parameters, watermarked };
}

/** The sample offsets in visiting order (the test's own reading of VisitingOrder). */
function visitedOffsets(geometry: PixelGeometry, order: WatermarkOptions['order']): number[] {
  const offsets: number[] = [];
  const all = Array.from({ length: geometry.rows * geometry.columns }, (_, p) => p);
  for (let f = 0; f < geometry.frames; f++) {
    for (const p of order === undefined ? all : typeof order === 'function' ? order(f) : order) {
      for (let k = 0; k < geometry.samplesPerPixel; k++) offsets.push(sampleOffset(geometry, f, p, k));
    }
  }
  return offsets;
}

function assertCode(fn: () => unknown, code: ErrorCode, reason: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isGatewayError(error, code), `not ${code}: ${String(error)}`);
    assert.match(error.message, reason);
    return true;
  });
}

const NOISE = [0, 0, 0, 0, 0, 1, 1, 2];

/** A CT-like image: a dark, slightly noisy background around a brighter disc. */
function phantom(geometry: PixelGeometry, seed = 1): Uint8Array {
  const next = prng(seed);
  const { min, max } = valueRange(geometry);
  const span = max - min;
  const per = geometry.rows * geometry.columns * geometry.samplesPerPixel;
  return pixelsFor(
    geometry,
    (i) => {
      const p = Math.floor((i % per) / geometry.samplesPerPixel);
      const [y, x] = [Math.floor(p / geometry.columns) / geometry.rows - 0.5, (p % geometry.columns) / geometry.columns - 0.5];
      const base = x * x + y * y < 0.12 ? min + Math.floor(span * 0.6) : min + Math.floor(span * 0.05);
      return Math.min(max, base + NOISE[next() % 8]);
    },
    seed,
  );
}

describe('round trip per sample format', () => {
  const cases: Array<[string, Partial<PixelGeometry>]> = [
    ['8-bit', { bitsAllocated: 8 }],
    ['8-bit, 7 bits stored, signed', { bitsAllocated: 8, bitsStored: 7, pixelRepresentation: 1 }],
    ['8-bit, 1 bit stored', { bitsAllocated: 8, bitsStored: 1 }],
    ['16-bit, 12 bits stored, garbage above High Bit', { bitsStored: 12 }],
    ['16-bit, 12 bits stored, big endian', { bitsStored: 12, bigEndian: true }],
    ['16-bit, 12 bits stored at High Bit 15', { bitsStored: 12, highBit: 15 }],
    ['16-bit signed', { pixelRepresentation: 1 }],
    ['16-bit signed, 12 bits stored, big endian', { bitsStored: 12, pixelRepresentation: 1, bigEndian: true }],
    ['32-bit', { bitsAllocated: 32 }],
    ['32-bit signed, big endian', { bitsAllocated: 32, pixelRepresentation: 1, bigEndian: true }],
    ['32-bit, 20 bits stored', { bitsAllocated: 32, bitsStored: 20 }],
    ['8-bit RGB, interleaved', { bitsAllocated: 8, samplesPerPixel: 3 }],
    ['16-bit RGB, planar, big endian', { samplesPerPixel: 3, planarConfiguration: 1, bigEndian: true }],
    ['7x5, 3 samples, 8 frames', { rows: 5, columns: 7, samplesPerPixel: 3, frames: 8, bitsAllocated: 8 }],
    ['7x5, 16-bit, 10 bits stored, 24 frames', { rows: 5, columns: 7, frames: 24, bitsStored: 10 }],
  ];
  for (const [name, overrides] of cases) {
    it(name, () => {
      const geometry = geometryOf({ rows: 32, columns: 24, ...overrides });
      const pixels = phantom(geometry);
      const { parameters } = roundTrip(pixels, geometry);
      assert.equal(parameters.payloadBits, 256);
      assert.ok(parameters.samplesScanned < sampleValues(pixels, geometry).length, 'the whole image was scanned');
    });
  }

  it('a longer payload (512 bits) and a constant image (peak next to the top of the range)', () => {
    const geometry = geometryOf({ rows: 40, columns: 40, bitsAllocated: 8 });
    const { parameters } = roundTrip(
      pixelsFor(geometry, () => 255),
      geometry,
      {},
      payloadOf(64, 3),
    );
    assert.deepEqual([parameters.payloadBits, parameters.passes[0].peak, parameters.passes[0].zero, parameters.samplesScanned], [512, 255, 254, 512]);
  });

  it('needs several passes where no value is frequent enough, and says how many', () => {
    const geometry = geometryOf({ rows: 40, columns: 40 });
    const pixels = pixelsFor(geometry, (i) => 1000 + 3 * (i % 20));
    const { parameters } = roundTrip(pixels, geometry);
    assert.ok(parameters.passes.length >= 3, `${parameters.passes.length} passes`);
    assert.equal(
      parameters.passes.reduce((sum, pass) => sum + pass.bits, 0),
      256,
    );
  });

  it('leaves samples holding the zero point untouched and lists them', () => {
    const geometry = geometryOf({ rows: 128, columns: 128, bitsAllocated: 8 });
    const next = prng(5);
    const pixels = pixelsFor(geometry, () => next() & 0xff);
    const { parameters, watermarked } = roundTrip(pixels, geometry);
    const pass = parameters.passes[0];
    assert.ok(pass.skippedCount > 0, 'every value occurs in uniform noise: the zero point has samples');
    // Tampering with one of them (it must still hold the zero point) is detected.
    const codec = sampleCodec(geometry);
    const tampered = new Uint8Array(watermarked);
    const offset = [...Array(pass.samples).keys()].find((u) => codec.read(watermarked, u) === pass.zero)!;
    codec.write(tampered, offset, pass.zero === 0 ? 1 : pass.zero - 1);
    assert.throws(
      () => extractWatermark(tampered, geometry, parameters),
      (error: unknown) => isGatewayError(error, 'INTEGRITY_FAILURE'),
    );
  });
});

describe('visiting order', () => {
  const geometry = geometryOf({ rows: 30, columns: 30, bitsStored: 12, frames: 2 });
  const pixels = phantom(geometry, 3);
  const pixels1 = 900;

  it('a list used for every frame: the last rows first', () => {
    const order = Uint32Array.from({ length: pixels1 }, (_, i) => pixels1 - 1 - i);
    const { parameters, watermarked } = roundTrip(pixels, geometry, { order });
    assert.ok(parameters.samplesScanned < pixels1, `${parameters.samplesScanned} samples scanned`);
    const untouched = 2 * (pixels1 - parameters.samplesScanned);
    assert.ok(Buffer.compare(watermarked.subarray(0, untouched), pixels.subarray(0, untouched)) === 0, 'the first rows, visited last, changed');
  });

  it('a function of the frame, visiting only part of the pixels', () => {
    const order = (frame: number) => (frame === 0 ? [] : Array.from({ length: 450 }, (_, i) => 2 * i));
    const { watermarked } = roundTrip(pixels, geometry, { order });
    assert.ok(Buffer.compare(watermarked.subarray(0, pixels1 * 2), pixels.subarray(0, pixels1 * 2)) === 0, 'frame 0 is not in the order but changed');
    for (let p = 1; p < pixels1; p += 2) {
      const at = (pixels1 + p) * 2;
      assert.ok(watermarked[at] === pixels[at] && watermarked[at + 1] === pixels[at + 1], `pixel ${p} of frame 1 is not in the order but changed`);
    }
  });

  it('extraction with another order or geometry is an INTEGRITY_FAILURE', () => {
    const result = embedWatermark(pixels, geometry, payloadOf(32, 1));
    assert.ok(!('refused' in result), 'refused');
    const reversed = Uint32Array.from({ length: pixels1 }, (_, i) => pixels1 - 1 - i);
    assertCode(() => extractWatermark(result.watermarked, geometry, result.parameters, { order: reversed }), 'INTEGRITY_FAILURE', /visiting order or the pixel geometry differs/);
    assertCode(() => extractWatermark(result.watermarked, { ...geometry, bigEndian: true }, result.parameters), 'INTEGRITY_FAILURE', /differs/);
  });

  it('an order listing a pixel twice, or one that does not exist, is an INTERNAL error', () => {
    assertCode(() => embedWatermark(pixels, geometry, payloadOf(32, 1), { order: Uint32Array.from([1, 2, 1]) }), 'INTERNAL', /lists pixel 1 twice/);
    assertCode(() => embedWatermark(pixels, geometry, payloadOf(32, 1), { order: () => [3, 900] }), 'INTERNAL', /lists pixel 900, outside 0..899/);
    assertCode(() => embedWatermark(pixels, geometry, payloadOf(32, 1), { order: () => [0.5] }), 'INTERNAL', /lists pixel 0.5/);
  });
});

describe('refusals and errors', () => {
  it('refuses formats whose samples are not addressable, and too little capacity, saying why', () => {
    const payload = payloadOf(32, 1);
    const bits = embedWatermark(new Uint8Array(8), geometryOf({ bitsAllocated: 1, bitsStored: 1, rows: 8, columns: 8 }), payload);
    assert.deepEqual(bits, { refused: 'unsupported pixel format: Bits Allocated is 1: samples are bit-packed, not addressable as integers', reason: 'unsupported-pixel-format' });
    const ybr = embedWatermark(new Uint8Array(64), geometryOf({ bitsAllocated: 8, samplesPerPixel: 3, photometricInterpretation: 'YBR_FULL_422' }), payload);
    assert.equal('refused' in ybr && ybr.reason, 'unsupported-pixel-format');
    const tiny = geometryOf({ rows: 15, columns: 15 });
    const small = embedWatermark(
      pixelsFor(tiny, () => 7),
      tiny,
      payload,
    );
    assert.deepEqual(small, { refused: 'insufficient capacity: the 225 visited samples offer at most 225 bits (their 16 most frequent values), the payload needs 256', reason: 'insufficient-capacity' });
    const noise = geometryOf({ rows: 64, columns: 64 });
    const next = prng(9);
    const refused = embedWatermark(
      pixelsFor(noise, () => next() & 0xffff),
      noise,
      payload,
    );
    assert.equal('refused' in refused && refused.reason, 'insufficient-capacity');
    const nothing = embedWatermark(
      pixelsFor(noise, () => 0),
      noise,
      payload,
      { order: () => [] },
    );
    assert.match('refused' in nothing ? nothing.refused : '', /the 0 visited samples offer at most 0 bits/);
  });

  it('a payload under 256 bits or pixel data shorter than the geometry is an INTERNAL error', () => {
    const geometry = geometryOf({ rows: 32, columns: 32 });
    assertCode(() => embedWatermark(new Uint8Array(2048), geometry, new Uint8Array(31)), 'INTERNAL', /at least 32 bytes, got 31/);
    assertCode(() => embedWatermark(new Uint8Array(2047), geometry, new Uint8Array(32)), 'INTERNAL', /holds 2047 bytes but 1 frame\(s\) of 32x32x1 samples need 2048/);
  });

  it('malformed parameters are an INTEGRITY_FAILURE naming the problem', () => {
    const geometry = geometryOf({ rows: 32, columns: 32, bitsStored: 12 });
    const pixels = phantom(geometry);
    const result = embedWatermark(pixels, geometry, payloadOf(32, 2));
    assert.ok(!('refused' in result), 'refused');
    const { watermarked, parameters } = result;
    const pass = parameters.passes[0];
    const mutations: Array<[string, unknown, RegExp]> = [
      ['scheme', { ...parameters, scheme: 'lsb' }, /scheme "lsb" version 1 is not/],
      ['peak out of range', { ...parameters, passes: [{ ...pass, peak: 4096 }] }, /peak 4096 and zero/],
      ['peak equals zero', { ...parameters, passes: [{ ...pass, zero: pass.peak }] }, /must be distinct/],
      ['bits', { ...parameters, passes: [{ ...pass, bits: 255 }] }, /do not add up to payloadBits 256/],
      ['payloadBits', { ...parameters, payloadBits: 100 }, /payloadBits 100 is not/],
      ['samplesScanned', { ...parameters, samplesScanned: 5000 }, /samplesScanned 5000 is not 1..1024/],
      ['skipped', { ...parameters, passes: [{ ...pass, skipped: '!!', skippedCount: 1 }] }, /skipped \(1\) is not an ascending list/],
      ['skipped beyond the pass', { ...parameters, passes: [{ ...pass, skipped: 'gAg', skippedCount: 1 }] }, /skipped \(1\)/],
      ['no passes', { ...parameters, passes: [] }, /passes is not a list of 1 to 16 passes/],
      ['digest', { ...parameters, scanDigest: 'x' }, /scanDigest is not a SHA-256/],
      ['not an object', null, /not an object/],
    ];
    for (const [name, bad, reason] of mutations) {
      assert.throws(
        () => extractWatermark(watermarked, geometry, bad as WatermarkParameters),
        (error: unknown) => {
          assert.ok(isGatewayError(error, 'INTEGRITY_FAILURE'), `${name}: not INTEGRITY_FAILURE: ${String(error)}`);
          assert.match(error.message, reason, name);
          return true;
        },
      );
    }
    const other = { ...parameters, scanDigest: '0'.repeat(64) };
    assertCode(() => extractWatermark(watermarked, geometry, other), 'INTEGRITY_FAILURE', /differs from the one the watermark was embedded with/);
  });

  it('changing a carrier into a non-carrier changes the number of bits: INTEGRITY_FAILURE', () => {
    const geometry = geometryOf({ rows: 32, columns: 32, bitsAllocated: 8 });
    const pixels = pixelsFor(geometry, (i) => (i < 600 ? 10 : 200));
    const result = embedWatermark(pixels, geometry, payloadOf(32, 4));
    assert.ok(!('refused' in result), 'refused');
    const tampered = new Uint8Array(result.watermarked);
    tampered[0] = 100;
    assertCode(() => extractWatermark(tampered, geometry, result.parameters), 'INTEGRITY_FAILURE', /carries 255 bits where 256 were embedded/);
  });
});

describe('watermark on the pydicom corpus', () => {
  const corpus = nativePixelCorpus();
  for (const { name, geometry, pixels } of corpus) {
    it(name, () => {
      const samples = geometry.rows * geometry.columns * geometry.samplesPerPixel * geometry.frames;
      const result = embedWatermark(pixels, geometry, payloadOf(32, 11));
      if (!('refused' in result)) {
        roundTrip(pixels, geometry, {}, payloadOf(32, 11));
        return;
      }
      if (result.reason === 'unsupported-pixel-format') {
        assert.ok(unsupportedSampleAccess(geometry) !== undefined, 'refused a supported format');
        return;
      }
      assert.ok(samples <= 1024, `refused ${samples} samples: ${result.refused}`);
    });
  }

  it('watermarks the 16-bit CT and MR, the 32-bit RT dose, big endian and deflated files', () => {
    const expected = ['CT_small.dcm', 'MR_small.dcm', 'MR_small_bigendian.dcm', 'rtdose.dcm', 'rtdose_expb.dcm', 'ExplVR_BigEnd.dcm', 'image_dfl.dcm', 'SC_rgb_jpeg_dcmd.dcm'];
    for (const name of expected) {
      const found = corpus.find((c) => c.name === `test_files/${name}`);
      assert.ok(found !== undefined, `${name} is not a native pixel file of the corpus`);
      const result = embedWatermark(found.pixels, found.geometry, payloadOf(32, 12));
      assert.ok(!('refused' in result), `${name} refused: ${'refused' in result ? result.refused : ''}`);
    }
  });
});
