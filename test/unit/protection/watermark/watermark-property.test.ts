/**
 * Property test of the reversible watermark over every native sample format: 8, 16 and 32-bit
 * samples, any Bits Stored and High Bit (garbage in the other bits), signed or not, 1 or 3 samples
 * per pixel (interleaved or planar), any number of frames, odd sizes, either byte order, and the
 * default, a shuffled or a partial visiting order. Whatever the image: the original comes back
 * byte for byte with the payload, no value leaves Bits Stored, the other bits are kept, samples
 * outside the order are untouched, and flipping any one bit of the watermarked pixel data makes
 * verification fail.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isGatewayError } from '../../../../gateway/errors.js';
import { embedWatermark, extractWatermark } from '../../../../gateway/protection/watermark/watermark.js';
import { MIN_PAYLOAD_BYTES } from '../../../../gateway/protection/watermark/watermark-parameters.js';
import { sampleCodec, sampleOffset, valueRange, type PixelGeometry } from '../../../../gateway/dicom/pixel-geometry.js';
import { verifyAndRemoveWatermark, watermarkKey, watermarkPixelData } from '../../../../gateway/protection/watermark/watermark-payload.js';
import { geometryOf, outsideStoredBits, pixelsFor, prng, sampleValues } from '../../dicom/pixel-support.js';

const geometry: fc.Arbitrary<PixelGeometry> = fc
  .record({
    bitsAllocated: fc.constantFrom(8, 16, 32),
    storedFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    highFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    pixelRepresentation: fc.constantFrom(0 as const, 1 as const),
    samplesPerPixel: fc.constantFrom(1, 3),
    planarConfiguration: fc.constantFrom(0 as const, 1 as const),
    rows: fc.integer({ min: 1, max: 24 }),
    columns: fc.integer({ min: 1, max: 24 }),
    extraFrames: fc.integer({ min: 0, max: 2 }),
    bigEndian: fc.boolean(),
  })
  .map((g) => {
    const bitsStored = 1 + Math.floor(g.storedFraction * (g.bitsAllocated - 1) + 0.5);
    const highBit = bitsStored - 1 + Math.floor(g.highFraction * (g.bitsAllocated - bitsStored) + 0.5);
    // Enough frames for at least 600 samples, so that a 70 % background carries 320 bits.
    const perFrame = g.rows * g.columns * g.samplesPerPixel;
    const frames = Math.ceil(600 / perFrame) + g.extraFrames;
    return geometryOf({ ...g, bitsStored, highBit, frames, photometricInterpretation: g.samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2' });
  });

/** Pixels with a 70 % background value and the rest uniform over the stored range, over garbage bytes. */
function image(g: PixelGeometry, seed: number, background: number): Uint8Array {
  const { min, max } = valueRange(g);
  const bg = min + Math.floor(background * (max - min + 1));
  const next = prng(seed);
  return pixelsFor(g, (i) => ((i * 7919 + seed) % 10 < 7 ? bg : min + (next() % (max - min + 1))), seed ^ 0x5a5a);
}

type OrderKind = 'default' | 'shuffled' | 'partial';

/** A visiting order for every frame: shuffled pixels, or half of them, per frame. */
function orderOf(kind: OrderKind, g: PixelGeometry, seed: number): ((frame: number) => number[]) | undefined {
  if (kind === 'default') return undefined;
  const pixels = g.rows * g.columns;
  return (frame) => {
    const next = prng(seed + frame);
    const list = Array.from({ length: pixels }, (_, i) => i);
    for (let i = pixels - 1; i > 0; i--) {
      const j = next() % (i + 1);
      [list[i], list[j]] = [list[j], list[i]];
    }
    return kind === 'partial' ? list.slice(0, Math.ceil(pixels / 2)) : list;
  };
}

const cases = fc.record({
  geometry,
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
  background: fc.double({ min: 0, max: 0.999, noNaN: true }),
  payload: fc.uint8Array({ minLength: MIN_PAYLOAD_BYTES, maxLength: 40 }),
  order: fc.constantFrom<OrderKind>('default', 'shuffled', 'partial'),
  flip: fc.nat(),
});

describe('watermark properties over every native pixel format', () => {
  it('round trip, stored range, kept bits, untouched samples outside the order', () => {
    fc.assert(
      fc.property(cases, ({ geometry: g, seed, background, payload, order: kind }) => {
        const pixels = image(g, seed, background);
        const order = orderOf(kind, g, seed);
        const result = embedWatermark(pixels, g, payload, { order });
        if ('refused' in result) {
          // Only a partial order over a 1 or 2-bit range can lack a near-empty bin or enough samples.
          assert.ok(kind === 'partial' || g.bitsStored <= 2, `refused: ${result.refused}`);
          assert.equal(result.reason, 'insufficient-capacity');
          return;
        }
        const { payload: extracted, restored } = extractWatermark(result.watermarked, g, result.parameters, { order });
        assert.ok(Buffer.compare(restored, pixels) === 0, 'restored pixels differ');
        assert.ok(Buffer.compare(extracted, payload) === 0, 'payload differs');
        assert.ok(Buffer.compare(outsideStoredBits(result.watermarked, g), outsideStoredBits(pixels, g)) === 0, 'bits outside Bits Stored changed');
        const { min, max } = valueRange(g);
        const before = sampleValues(pixels, g);
        const after = sampleValues(result.watermarked, g);
        const limit = result.parameters.passes.length;
        for (let i = 0; i < after.length; i++) {
          if (after[i] < min || after[i] > max || Math.abs(after[i] - before[i]) > limit) {
            assert.fail(`sample ${i}: ${before[i]} became ${after[i]} (range ${min}..${max}, ${limit} passes)`);
          }
        }
        if (kind === 'partial') {
          const codec = sampleCodec(g);
          for (let f = 0; f < g.frames; f++) {
            const listed = new Set(order!(f));
            for (let p = 0; p < g.rows * g.columns; p++) {
              if (listed.has(p)) continue;
              for (let k = 0; k < g.samplesPerPixel; k++) {
                const offset = sampleOffset(g, f, p, k);
                assert.equal(codec.read(result.watermarked, offset), codec.read(pixels, offset), `pixel ${p} of frame ${f} is not in the order but changed`);
              }
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('flipping any one bit of the watermarked pixel data fails verification', () => {
    const key = watermarkKey(new Uint8Array(32).fill(1));
    const claims = { sopInstanceUid: '1.2.3', gatewayId: 'gw', time: '2024-01-01T00:00:00.000Z' };
    fc.assert(
      fc.property(cases, ({ geometry: g, seed, background, order: kind, flip }) => {
        const pixels = image(g, seed, background);
        const order = orderOf(kind, g, seed);
        const { pixels: stored, record } = watermarkPixelData(pixels, g, { key, ...claims }, { order });
        if ('refused' in record) return;
        const flipped = new Uint8Array(stored);
        const bit = flip % (stored.length * 8);
        flipped[bit >>> 3] ^= 1 << (bit & 7);
        assert.throws(
          () => verifyAndRemoveWatermark(flipped, g, record, { key, sopInstanceUid: claims.sopInstanceUid }, { order }),
          (error: unknown) => isGatewayError(error, 'INTEGRITY_FAILURE'),
          `flipping bit ${bit} went unnoticed`,
        );
      }),
      { numRuns: 200 },
    );
  });
});
