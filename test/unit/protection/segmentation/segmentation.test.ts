/**
 * Multi-region segmentation (k-means on the intensity histogram), the region fragments and their
 * exact reassembly, per pixel format of the synthetic generator: each region holds exactly the
 * bytes of its pixels, the labels are a converged k-means, the join gives back every byte, and
 * whatever does not add up is an INTEGRITY_FAILURE.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isGatewayError } from '../../../../gateway/errors.js';
import { backgroundFirstOrder, segmentPixels } from '../../../../gateway/protection/segmentation/segmentation.js';
import { joinPixelData, splitPixelData } from '../../../../gateway/protection/split/pixel-split.js';
import { joinRegions, restoreSegmentation, splitRegions, type SegmentationParameters } from '../../../../gateway/protection/split/region-split.js';
import type { PixelGeometry } from '../../../../gateway/dicom/pixel-geometry.js';
import { syntheticPixelData, type SyntheticOptions } from '../../../fixtures/synthetic.js';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { decodeLabelMap, encodeLabelMap } from '../../../../gateway/protection/segmentation/label-map.js';
import { assertKmeans, assertNoRevealingRun, expectedRegion, syntheticGeometry } from './segmentation-support.js';

const FORMATS: Array<[string, SyntheticOptions]> = [
  ['16-bit unsigned CT', { rows: 48, columns: 40 }],
  ['16-bit signed CT', { rows: 32, columns: 32, pixelRepresentation: 1 }],
  ['12 of 16 bits, signed, random (bits above High Bit set)', { rows: 9, columns: 11, bitsStored: 12, pixelRepresentation: 1, pixels: 'random' }],
  ['8-bit CT, 3 frames', { rows: 20, columns: 24, bitsAllocated: 8, numberOfFrames: 3 }],
  ['8-bit RGB interleaved', { rows: 17, columns: 13, bitsAllocated: 8, samplesPerPixel: 3 }],
  ['8-bit RGB planar, 2 frames', { rows: 15, columns: 9, bitsAllocated: 8, samplesPerPixel: 3, planarConfiguration: 1, numberOfFrames: 2 }],
  ['16-bit RGB gradient', { rows: 7, columns: 5, samplesPerPixel: 3, pixels: 'gradient' }],
  ['1 x 1', { rows: 1, columns: 1 }],
  ['odd 7 x 5, 8-bit signed gradient', { rows: 7, columns: 5, bitsAllocated: 8, pixelRepresentation: 1, pixels: 'gradient' }],
];

function isIntegrityFailure(pattern: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(isGatewayError(error, 'INTEGRITY_FAILURE'), `not INTEGRITY_FAILURE: ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  };
}

describe('segmentPixels and splitRegions per pixel format', () => {
  for (const [name, options] of FORMATS) {
    for (const regions of [2, 3, 5]) {
      it(`${name}, R = ${regions}`, () => {
        const pixels = syntheticPixelData(options);
        const geometry = syntheticGeometry(options);
        const segmentation = segmentPixels(pixels, geometry, { regions });
        assertKmeans(
          pixels,
          segmentation,
          segmentation.frames.every((f) => f.iterations < 100),
        );
        const split = splitRegions(pixels, geometry, segmentation);
        assert.equal(split.regions.length, regions);
        split.regions.forEach((region, r) => {
          assert.ok(Buffer.from(region).equals(expectedRegion(pixels, geometry, segmentation.labels, r)), `region ${r} holds other bytes than its pixels'`);
        });
        assert.deepEqual(
          split.parameters.regionBytes,
          split.regions.map((region) => region.length),
        );
        assert.ok(Buffer.from(joinRegions(split.regions, split.labelMap, geometry, split.parameters)).equals(pixels), 'join differs from the original');
      });
    }
  }

  it('puts the air of a CT in region 0, the largest, and bone in the last region', () => {
    const options: SyntheticOptions = { rows: 256, columns: 256 };
    const pixels = syntheticPixelData(options);
    const segmentation = segmentPixels(pixels, syntheticGeometry(options), { regions: 4 });
    const { centroids, counts } = segmentation.frames[0];
    // Stored value = HU + 1024: air -1000, lung -840, soft tissue 35, bone 260 to 750.
    assert.ok((centroids[0] as number) > 0 && (centroids[0] as number) < 60, `air centroid ${centroids[0]}`);
    assert.ok((centroids[1] as number) > 150 && (centroids[1] as number) < 220, `lung centroid ${centroids[1]}`);
    assert.ok((centroids[3] as number) > 1300, `bone centroid ${centroids[3]}`);
    assert.equal(Math.max(...counts), counts[0], `region 0 is not the largest: ${counts}`);
  });

  it('is deterministic and records R and the seed', () => {
    const options: SyntheticOptions = { rows: 33, columns: 31, numberOfFrames: 2 };
    const pixels = syntheticPixelData(options);
    const geometry = syntheticGeometry(options);
    const a = splitPixelData(pixels, geometry, { regions: 3, seed: 42 });
    const b = splitPixelData(Buffer.from(pixels), geometry, { regions: 3, seed: 42 });
    assert.deepEqual(a.regions, b.regions);
    assert.deepEqual(a.labelMap, b.labelMap);
    assert.deepEqual(a.parameters, b.parameters);
    const parameters = a.parameters as SegmentationParameters;
    assert.equal(parameters.algorithm, 'kmeans-histogram');
    assert.equal(parameters.regions, 3);
    assert.equal(parameters.seed, 42);
    assert.equal(parameters.frames.length, 2);
    assert.deepEqual(JSON.parse(JSON.stringify(parameters)), parameters, 'parameters are not plain JSON');
  });

  it('leaves regions empty when a frame has fewer intensities than regions', () => {
    const geometry = syntheticGeometry({ rows: 2, columns: 3, bitsAllocated: 8 });
    const pixels = new Uint8Array([9, 200, 9, 9, 200, 9]);
    const split = splitPixelData(pixels, geometry, { regions: 4 });
    const parameters = split.parameters as SegmentationParameters;
    assert.deepEqual(parameters.frames[0].counts, [4, 2, 0, 0]);
    assert.deepEqual(parameters.frames[0].centroids, [9, 200, null, null]);
    assert.deepEqual(
      split.regions.map((r) => [...r]),
      [[9, 9, 9, 9], [200, 200], [], []],
    );
    assert.deepEqual(joinPixelData(split.regions, split.labelMap, geometry, split.parameters), pixels);
  });

  it('clusters a large frame on a sample of its histogram, and still labels values the sample missed by intensity', () => {
    // 2048 x 1100 pixels: the histogram counts every 2nd pixel. Value 4000 sits only at odd
    // pixels (never counted); it must go with the bright cluster (3000), not with the air (0).
    const geometry = syntheticGeometry({ rows: 1100, columns: 2048, bitsAllocated: 16, bitsStored: 16, highBit: 15 });
    const pixels = new Uint8Array(1100 * 2048 * 2);
    const view = new DataView(pixels.buffer);
    for (let p = 0; p < 1100 * 2048; p++) {
      const bright = p % 2048 >= 1024;
      view.setUint16(2 * p, bright ? (p % 2 === 1 && p % 7 === 0 ? 4000 : 3000) : 0, true);
    }
    const segmentation = segmentPixels(pixels, geometry, { regions: 2 });
    assert.equal(segmentation.histogramStep, 2, 'the histogram counts every 2nd pixel');
    for (let p = 0; p < 1100 * 2048; p++) {
      const expected = p % 2048 >= 1024 ? 1 : 0;
      if (segmentation.labels[p] !== expected) assert.fail(`pixel ${p} (value ${view.getUint16(2 * p, true)}) labelled ${segmentation.labels[p]}`);
    }
    assert.deepEqual(segmentation.frames[0].counts, [1100 * 1024, 1100 * 1024], "exact counts, not the sample's");
  });

  it('takes a value at any byte offset (unaligned 16 and 32-bit samples)', () => {
    for (const bitsAllocated of [16, 32]) {
      const geometry: PixelGeometry = { ...syntheticGeometry({ rows: 5, columns: 3 }), bitsAllocated, bitsStored: bitsAllocated, highBit: bitsAllocated - 1 };
      const value = Uint8Array.from({ length: 15 * (bitsAllocated / 8) }, (_, i) => (i * 37) % 256);
      const shifted = new Uint8Array(value.length + 1);
      shifted.set(value, 1);
      const split = splitPixelData(shifted.subarray(1), geometry, { regions: 2 });
      assert.deepEqual(split.regions, splitPixelData(value, geometry, { regions: 2 }).regions);
      assert.deepEqual(joinPixelData(split.regions, split.labelMap, geometry, split.parameters), value);
    }
  });

  it('refuses R outside 2..255 and layouts it cannot segment', () => {
    const geometry = syntheticGeometry({ rows: 2, columns: 2, bitsAllocated: 8 });
    for (const regions of [1, 256, 2.5]) {
      assert.throws(
        () => segmentPixels(new Uint8Array(4), geometry, { regions }),
        (e: unknown) => isGatewayError(e, 'INTERNAL') && /regions/.test(e.message),
      );
    }
    assert.throws(
      () => segmentPixels(new Uint8Array(3), geometry, { regions: 2 }),
      (e: unknown) => isGatewayError(e, 'INTERNAL') && /need 4/.test(e.message),
    );
  });
});

describe('backgroundFirstOrder', () => {
  it('lists region 0 first, each region in raster order, every pixel once', () => {
    const options: SyntheticOptions = { rows: 40, columns: 30, numberOfFrames: 2 };
    const pixels = syntheticPixelData(options);
    const segmentation = segmentPixels(pixels, syntheticGeometry(options), { regions: 3 });
    for (const frame of [0, 1]) {
      const order = backgroundFirstOrder(segmentation, frame);
      const labels = segmentation.labels.subarray(frame * 1200, (frame + 1) * 1200);
      assert.equal(order.length, 1200);
      assert.equal(new Set(order).size, 1200, 'not a permutation');
      for (let i = 1; i < order.length; i++) {
        const [a, b] = [order[i - 1], order[i]];
        assert.ok(labels[a] < labels[b] || (labels[a] === labels[b] && a < b), `pixel ${b} (region ${labels[b]}) after ${a} (region ${labels[a]})`);
      }
      assert.equal(labels[order[0]], 0);
    }
    assert.throws(
      () => backgroundFirstOrder(segmentation, 2),
      (e: unknown) => isGatewayError(e, 'NOT_FOUND'),
    );
  });

  it('is the same after a restore from the stored label map and parameters', () => {
    const options: SyntheticOptions = { rows: 24, columns: 24, bitsAllocated: 8, samplesPerPixel: 3 };
    const pixels = syntheticPixelData(options);
    const geometry = syntheticGeometry(options);
    const split = splitPixelData(pixels, geometry, { regions: 3 });
    const restored = restoreSegmentation(split.labelMap, geometry, split.parameters as SegmentationParameters);
    assert.deepEqual(restored.labels, split.segmentation?.labels);
    assert.deepEqual(backgroundFirstOrder(restored, 0), backgroundFirstOrder(split.segmentation!, 0));
  });
});

describe('region fragments', () => {
  it('split other pixels (watermarked) by a given segmentation and join them back', () => {
    const options: SyntheticOptions = { rows: 16, columns: 16 };
    const original = syntheticPixelData(options);
    const geometry = syntheticGeometry(options);
    const segmentation = segmentPixels(original, geometry, { regions: 2 });
    const marked = Buffer.from(original);
    for (const p of backgroundFirstOrder(segmentation, 0).subarray(0, 20)) marked[2 * p] ^= 1;
    const split = splitPixelData(marked, geometry, { regions: 2, segmentation });
    assert.deepEqual(split.segmentation?.labels, segmentation.labels);
    assert.deepEqual(joinPixelData(split.regions, split.labelMap, geometry, split.parameters), new Uint8Array(marked));
  });

  it("keep the pad byte of an odd-length value (and a writer's padding) in the parameters, in no region", () => {
    const options: SyntheticOptions = { rows: 3, columns: 3, bitsAllocated: 8, samplesPerPixel: 3, pixels: 'gradient' };
    const geometry = syntheticGeometry(options);
    for (const trailer of [[0], new Array<number>(128).fill(0), [1, 2, 3]]) {
      const value = Buffer.concat([syntheticPixelData(options), Buffer.from(trailer)]);
      const split = splitPixelData(value, geometry, { regions: 2 });
      const parameters = split.parameters as SegmentationParameters;
      assert.equal(parameters.algorithm, 'kmeans-histogram');
      assert.equal(parameters.trailer, Buffer.from(trailer).toString('base64'));
      assert.equal(
        split.regions.reduce((n, r) => n + r.length, 0),
        27,
      );
      assert.deepEqual(joinPixelData(split.regions, split.labelMap, geometry, parameters), new Uint8Array(value));
    }
    const tooLong = splitPixelData(Buffer.alloc(27 + 1025), geometry, { regions: 2 });
    assert.equal(tooLong.parameters.algorithm, 'byte-stripes');
  });

  it('hold no 32-byte run of the original pixel data with 8 distinct bytes', () => {
    const cases: SyntheticOptions[] = [
      { rows: 128, columns: 128 },
      { rows: 96, columns: 64, bitsAllocated: 8, numberOfFrames: 2 },
      { rows: 64, columns: 64, bitsAllocated: 8, pixels: 'gradient' },
      { rows: 50, columns: 70, bitsAllocated: 8, samplesPerPixel: 3, planarConfiguration: 1 },
      { rows: 40, columns: 40, samplesPerPixel: 3, pixels: 'gradient' },
      { rows: 64, columns: 64, pixels: 'random', bitsStored: 12 },
    ];
    for (const options of cases) {
      const pixels = syntheticPixelData(options);
      for (const regions of [2, 3, 4]) {
        const split = splitPixelData(pixels, syntheticGeometry(options), { regions });
        assertNoRevealingRun(pixels, split.regions, `${JSON.stringify(options)} R=${regions}`);
      }
    }
  });

  it('compress the label map of a CT to a small fraction of a byte per pixel', () => {
    const options: SyntheticOptions = { rows: 512, columns: 512 };
    const split = splitPixelData(syntheticPixelData(options), syntheticGeometry(options), { regions: 3 });
    assert.ok(split.labelMap.length < (512 * 512) / 50, `label map of ${split.labelMap.length} bytes`);
  });
});

describe('label map', () => {
  it("round-trips runs of any length, at any offset, and counts each frame's regions", () => {
    const labels = new Uint8Array(1 + 3 + 130 + 20000 + 7 + 1);
    labels.fill(2, 1, 4);
    labels.fill(1, 4, 134);
    labels.fill(4, 134, 20134);
    labels[labels.length - 1] = 3;
    const shifted = new Uint8Array(labels.length + 3);
    shifted.set(labels, 3);
    for (const view of [labels, shifted.subarray(3)]) {
      const map = encodeLabelMap(view, 5);
      const decoded = decodeLabelMap(map, labels.length / 2, 2, 5);
      assert.deepEqual(decoded.labels, labels);
      assert.deepEqual(decoded.counts, [
        [1, 130, 3, 0, 9937],
        [7, 0, 0, 1, 10063],
      ]);
    }
    assert.throws(() => decodeLabelMap(encodeLabelMap(labels, 5), labels.length, 1, 4), isIntegrityFailure(/label 4 but there are 4 regions/));
    assert.throws(() => decodeLabelMap(Uint8Array.of(1, 2, 3), 10, 1, 4), isIntegrityFailure(/does not inflate/));
  });

  it('packs noisy labels in 1, 2, 4 or 8 bits when that is shorter than their runs', () => {
    for (const [regions, bits] of [
      [2, 1],
      [3, 2],
      [4, 2],
      [5, 4],
      [16, 4],
      [17, 8],
      [255, 8],
    ]) {
      const labels = Uint8Array.from({ length: 1001 }, (_, i) => (Math.imul(i + 1, 2654435761) >>> 20) % regions);
      const map = encodeLabelMap(labels, regions);
      assert.equal(inflateRawSync(map)[0], bits, `R=${regions}: mode`);
      const decoded = decodeLabelMap(map, 1001, 1, regions);
      assert.deepEqual(decoded.labels, labels);
      if (2 ** bits > regions) {
        assert.throws(() => decodeLabelMap(map, 1001, 1, regions - 1), isIntegrityFailure(/label \d+ but there are/));
      }
    }
    const labels = Uint8Array.from({ length: 1000 }, (_, i) => i % 2);
    assert.throws(() => decodeLabelMap(encodeLabelMap(labels, 2), 1001, 1, 2), isIntegrityFailure(/packs 1000 labels, the geometry has 1001/));
    assert.throws(() => decodeLabelMap(deflateRawSync(Uint8Array.of(3, 0)), 1, 1, 2), isIntegrityFailure(/unknown mode 3/));
  });
});

describe('joinRegions refuses pieces that do not add up', () => {
  const options: SyntheticOptions = { rows: 10, columns: 12, numberOfFrames: 2 };
  const pixels = syntheticPixelData(options);
  const geometry = syntheticGeometry(options);
  const split = splitRegions(pixels, geometry, segmentPixels(pixels, geometry, { regions: 3 }));
  const parameters = split.parameters;

  it('a truncated or missing region fragment', () => {
    const short = split.regions.map((r, i) => (i === 1 ? r.subarray(1) : r));
    assert.throws(() => joinRegions(short, split.labelMap, geometry, parameters), isIntegrityFailure(/region fragment 1 holds/));
    assert.throws(() => joinRegions(split.regions.slice(0, 2), split.labelMap, geometry, parameters), isIntegrityFailure(/2 region fragments for 3/));
  });

  it('another label map', () => {
    const other = Uint8Array.from(split.labelMap);
    other[other.length - 1] ^= 0xff;
    assert.throws(() => joinRegions(split.regions, other, geometry, parameters), isIntegrityFailure(/label map is not the one/));
  });

  it('a label map that matches forged parameters but not the geometry', () => {
    const small: PixelGeometry = { ...geometry, frames: 1 };
    const forged = splitRegions(pixels.subarray(0, 240), small, segmentPixels(pixels.subarray(0, 240), small, { regions: 3 }));
    const mixed: SegmentationParameters = { ...parameters, labelMap: forged.parameters.labelMap };
    assert.throws(() => joinRegions(split.regions, forged.labelMap, geometry, mixed), isIntegrityFailure(/(covers|packs) 120 (pixels|labels), the geometry has 240/));
  });

  it('region counts that differ from the label map, or another geometry', () => {
    const counts: SegmentationParameters = { ...parameters, frames: parameters.frames.map((f) => ({ ...f, counts: [...f.counts].reverse() })) };
    assert.throws(() => joinRegions(split.regions, split.labelMap, geometry, counts), isIntegrityFailure(/region counts/));
    assert.throws(() => joinRegions(split.regions, split.labelMap, { ...geometry, bigEndian: true }, parameters), isIntegrityFailure(/geometry differs/));
  });
});
