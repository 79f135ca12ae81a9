/**
 * Byte striping of what cannot be segmented: encapsulated pixel data (PS3.5 §8.2), bit-packed
 * native pixel data (BitsAllocated 1) and layouts that are not one sample per pixel and component
 * (YBR_*_422). Exact round trips, the reason recorded, INTEGRITY_FAILURE when sizes do not add up.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isGatewayError } from '../../../../gateway/errors.js';
import { joinEncapsulated, joinStripes, splitEncapsulated, type StripeParameters } from '../../../../gateway/protection/split/byte-stripes.js';
import { joinPixelData, splitPixelData } from '../../../../gateway/protection/split/pixel-split.js';
import { assertNoRevealingRun, syntheticGeometry } from '../segmentation/segmentation-support.js';

describe('byte stripes', () => {
  it('round-trip every length and R, with stripes of 1, 3 and 4096 bytes', () => {
    for (const stripe of [1, 3, 4096]) {
      for (const length of [0, 1, 2, 5, 17, 4096, 9000]) {
        const value = randomBytes(length);
        for (const regions of [2, 3, 5]) {
          const { regions: fragments, parameters } = splitEncapsulated(value, regions, stripe);
          assert.equal(fragments.length, regions);
          assert.deepEqual(
            parameters.regionBytes,
            fragments.map((f) => f.length),
          );
          assert.equal(
            fragments.reduce((n, f) => n + f.length, 0),
            length,
          );
          assert.ok(Buffer.from(joinEncapsulated(fragments, parameters)).equals(value), `stripe ${stripe}, ${length} bytes, R=${regions}`);
        }
      }
    }
  });

  it('deal one byte to each region in turn by default, so no region holds two consecutive bytes', () => {
    const value = Uint8Array.from({ length: 11 }, (_, i) => i);
    const { regions, parameters } = splitEncapsulated(value, 3);
    assert.deepEqual(
      regions.map((r) => [...r]),
      [
        [0, 3, 6, 9],
        [1, 4, 7, 10],
        [2, 5, 8],
      ],
    );
    assert.deepEqual(parameters, {
      version: 1,
      algorithm: 'byte-stripes',
      regions: 3,
      stripe: 1,
      length: 11,
      reason: 'encapsulated',
      detail: parameters.detail,
      regionBytes: [4, 4, 3],
    });
    const jpeg = randomBytes(20000);
    assertNoRevealingRun(jpeg, splitEncapsulated(jpeg, 2).regions, 'compressed bytes');
  });

  it('refuse fragments that do not fit the parameters', () => {
    const { regions, parameters } = splitEncapsulated(randomBytes(100), 3);
    const fails = (pattern: RegExp) => (e: unknown) => isGatewayError(e, 'INTEGRITY_FAILURE') && pattern.test(e.message);
    assert.throws(() => joinStripes(regions.slice(0, 2), parameters), fails(/2 region fragments for 3/));
    assert.throws(() => joinStripes([regions[0], regions[1].subarray(1), regions[2]], parameters), fails(/region fragment 1 holds 32 bytes, 33 expected/));
    assert.throws(() => joinStripes(regions, { ...parameters, length: 101 }), fails(/fragment/));
    assert.throws(() => joinStripes(regions, { ...parameters, stripe: 0 }), fails(/not byte-stripes/));
  });
});

describe('native pixel data that is striped, not segmented', () => {
  it('BitsAllocated 1 (bit-packed)', () => {
    const geometry = { ...syntheticGeometry({ rows: 5, columns: 3, bitsAllocated: 8 }), bitsAllocated: 1, bitsStored: 1, highBit: 0, frames: 3 };
    const value = randomBytes(6); // 45 bits, padded to an even length
    const split = splitPixelData(value, geometry, { regions: 2 });
    const parameters = split.parameters as StripeParameters;
    assert.equal(parameters.algorithm, 'byte-stripes');
    assert.equal(parameters.reason, 'bit-packed');
    assert.match(parameters.detail, /bits packed/);
    assert.equal(split.labelMap.length, 0);
    assert.ok(Buffer.from(joinPixelData(split.regions, split.labelMap, geometry, parameters)).equals(value), 'join differs');
  });

  it('YBR_FULL_422 (two samples per pixel on average), BitsAllocated 24, BitsStored above BitsAllocated, 5 samples', () => {
    const ybr = syntheticGeometry({ rows: 4, columns: 4, bitsAllocated: 8, samplesPerPixel: 3 });
    const cases: Array<[string, typeof ybr, number]> = [
      ['length-mismatch', ybr, 32],
      ['unsupported-bits-allocated', { ...ybr, bitsAllocated: 24, bitsStored: 24, highBit: 23 }, 144],
      ['invalid-bits', { ...ybr, bitsStored: 12, highBit: 11 }, 48],
      ['unsupported-samples-per-pixel', { ...ybr, samplesPerPixel: 5 }, 80],
    ];
    for (const [reason, geometry, length] of cases) {
      const value = randomBytes(length);
      const split = splitPixelData(value, geometry, { regions: 3 });
      assert.equal((split.parameters as StripeParameters).reason, reason);
      assert.ok(Buffer.from(joinPixelData(split.regions, split.labelMap, geometry, split.parameters)).equals(value), `${reason}: join differs`);
    }
  });
});
