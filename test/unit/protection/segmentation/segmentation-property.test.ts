/**
 * Property tests of the privacy split of pixel data over every pixel format: sizes from 1 x 1 to
 * odd ones, 1 to 3 frames, 8, 16 and 32 bits allocated, signed and unsigned, Bits Stored below Bits
 * Allocated (High Bit at either end), 1 and 3 samples, interleaved and planar, little and big
 * endian, with or without a pad byte, pixel values of high and low entropy, R from 2 to 6.
 * Whatever the input: the join gives back every byte, the split is deterministic, region i holds
 * exactly the bytes of the pixels labelled i (paper mode) and the labels are a converged k-means.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { backgroundFirstOrder } from '../../../../gateway/protection/segmentation/segmentation.js';
import { bytesPerSample, frameByteLength, type PixelGeometry } from '../../../../gateway/dicom/pixel-geometry.js';
import { joinEncapsulated, splitEncapsulated } from '../../../../gateway/protection/split/byte-stripes.js';
import { joinPixelData, splitPixelData } from '../../../../gateway/protection/split/pixel-split.js';
import type { SegmentationParameters } from '../../../../gateway/protection/split/region-split.js';
import { assertKmeans, expectedRegion } from './segmentation-support.js';

const FORMATS = [
  { bitsAllocated: 8, bitsStored: 8, highBit: 7 },
  { bitsAllocated: 8, bitsStored: 6, highBit: 6 },
  { bitsAllocated: 16, bitsStored: 16, highBit: 15 },
  { bitsAllocated: 16, bitsStored: 12, highBit: 11 },
  { bitsAllocated: 16, bitsStored: 12, highBit: 15 },
  { bitsAllocated: 32, bitsStored: 32, highBit: 31 },
  { bitsAllocated: 32, bitsStored: 20, highBit: 27 },
];

const geometries: fc.Arbitrary<PixelGeometry> = fc
  .record({
    rows: fc.integer({ min: 1, max: 7 }),
    columns: fc.integer({ min: 1, max: 9 }),
    frames: fc.integer({ min: 1, max: 3 }),
    format: fc.constantFrom(...FORMATS),
    pixelRepresentation: fc.constantFrom(0 as const, 1 as const),
    samplesPerPixel: fc.constantFrom(1, 3),
    planarConfiguration: fc.constantFrom(0 as const, 1 as const),
    bigEndian: fc.boolean(),
  })
  .map(({ format, samplesPerPixel, planarConfiguration, ...rest }) => ({
    ...rest,
    ...format,
    samplesPerPixel,
    planarConfiguration: samplesPerPixel === 3 ? planarConfiguration : 0,
    photometricInterpretation: samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2',
  }));

/** A geometry, its pixel data value (a pad byte when odd), R. Low maxima make few distinct values. */
const inputs = geometries.chain((geometry) =>
  fc
    .record({
      geometry: fc.constant(geometry),
      pixels: fc.constantFrom(1, 15, 255).chain((max) => {
        const length = frameByteLength(geometry) * geometry.frames;
        return fc.uint8Array({ minLength: length, maxLength: length, max });
      }),
      regions: fc.integer({ min: 2, max: 6 }),
    })
    .map(({ pixels, ...rest }) => ({ ...rest, pixels: pixels.length % 2 === 1 ? Uint8Array.from([...pixels, 0]) : pixels })),
);

describe('segmentation properties over every pixel format', () => {
  it('join(split(x)) = x, deterministic, each region exactly its pixels, a converged k-means', () => {
    fc.assert(
      fc.property(inputs, ({ geometry, pixels, regions }) => {
        const split = splitPixelData(pixels, geometry, { regions });
        const parameters = split.parameters as SegmentationParameters;
        assert.equal(parameters.algorithm, 'kmeans-histogram');
        assert.ok(Buffer.from(joinPixelData(split.regions, split.labelMap, geometry, parameters)).equals(pixels), 'join differs from the value');
        const again = splitPixelData(Uint8Array.from(pixels), geometry, { regions });
        assert.deepEqual(again.regions, split.regions);
        assert.deepEqual(again.labelMap, split.labelMap);
        assert.deepEqual(again.parameters, split.parameters);
        const segmentation = split.segmentation!;
        split.regions.forEach((region, r) => {
          assert.ok(Buffer.from(region).equals(expectedRegion(pixels, geometry, segmentation.labels, r)), `region ${r} holds other bytes than its pixels'`);
        });
        const sampleBytes = bytesPerSample(geometry) * geometry.samplesPerPixel;
        assert.equal(
          split.regions.reduce((n, r) => n + r.length, 0),
          geometry.rows * geometry.columns * geometry.frames * sampleBytes,
        );
        assertKmeans(
          pixels,
          segmentation,
          parameters.frames.every((f) => f.iterations < parameters.maxIterations),
        );
        const perFrame = geometry.rows * geometry.columns;
        for (let frame = 0; frame < geometry.frames; frame++) {
          const order = backgroundFirstOrder(segmentation, frame);
          const labels = segmentation.labels.subarray(frame * perFrame);
          assert.equal(new Set(order).size, perFrame, 'background-first order is not a permutation');
          for (let i = 1; i < order.length; i++) assert.ok(labels[order[i - 1]] <= labels[order[i]], 'background-first order is not by region');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('encapsulated values: join(stripe(x)) = x for any length, R and stripe', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 2, max: 7 }), fc.integer({ min: 1, max: 40 }), (value, regions, stripe) => {
        const { regions: fragments, parameters } = splitEncapsulated(value, regions, stripe);
        assert.ok(Buffer.from(joinEncapsulated(fragments, parameters)).equals(value), 'join differs');
      }),
    );
  });
});
