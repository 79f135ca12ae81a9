/**
 * Independent reference checks for the multi-region segmentation tests: what region i must hold
 * (computed pixel by pixel through `sampleOffset`, not through the split's packed loops), that the
 * labels are a converged k-means of the intensities (read through `readSample`), and the
 * confidentiality rule on stored fragments (no 32-byte run of the original with 8 distinct bytes).
 */
import assert from 'node:assert/strict';
import { bytesPerSample, readSample, sampleOffset, type PixelGeometry } from '../../../../gateway/dicom/pixel-geometry.js';
import type { Segmentation } from '../../../../gateway/protection/segmentation/segmentation.js';
import type { SyntheticOptions } from '../../../fixtures/synthetic.js';

/** The geometry of what `syntheticPixelData(options)` writes. */
export function syntheticGeometry(o: SyntheticOptions): PixelGeometry {
  const bitsAllocated = o.bitsAllocated ?? 16;
  const bitsStored = o.bitsStored ?? bitsAllocated;
  const samplesPerPixel = o.samplesPerPixel ?? 1;
  return {
    rows: o.rows ?? 64,
    columns: o.columns ?? 64,
    samplesPerPixel,
    bitsAllocated,
    bitsStored,
    highBit: o.highBit ?? bitsStored - 1,
    pixelRepresentation: o.pixelRepresentation ?? 0,
    planarConfiguration: samplesPerPixel === 3 ? (o.planarConfiguration ?? 0) : 0,
    frames: o.numberOfFrames ?? 1,
    bigEndian: false,
    photometricInterpretation: o.photometricInterpretation ?? (samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2'),
  };
}

/**
 * The bytes region `region` must hold: frame by frame, plane by plane (planar configuration 1),
 * the pixels labelled `region` with an even raster index, then those with an odd one.
 */
export function expectedRegion(pixels: Uint8Array, geometry: PixelGeometry, labels: Uint8Array, region: number): Buffer {
  const size = bytesPerSample(geometry);
  const perFrame = geometry.rows * geometry.columns;
  const planes = geometry.planarConfiguration === 1 ? geometry.samplesPerPixel : 1;
  const samplesPerUnit = geometry.samplesPerPixel / planes;
  const parts: Uint8Array[] = [];
  for (let frame = 0; frame < geometry.frames; frame++) {
    for (let plane = 0; plane < planes; plane++) {
      for (const parity of [0, 1]) {
        for (let p = parity; p < perFrame; p += 2) {
          if (labels[frame * perFrame + p] !== region) continue;
          const at = sampleOffset(geometry, frame, p, plane * samplesPerUnit);
          parts.push(pixels.subarray(at, at + samplesPerUnit * size));
        }
      }
    }
  }
  return Buffer.concat(parts);
}

/** Mean of the samples of each pixel of a frame, read one by one. */
export function intensities(pixels: Uint8Array, geometry: PixelGeometry, frame: number): number[] {
  const values: number[] = [];
  for (let p = 0; p < geometry.rows * geometry.columns; p++) {
    let sum = 0;
    for (let s = 0; s < geometry.samplesPerPixel; s++) sum += readSample(pixels, geometry, frame, p, s);
    values.push(sum / geometry.samplesPerPixel);
  }
  return values;
}

/**
 * Asserts that the labels of every frame order like the intensities (a darker pixel never has a
 * higher label, equal intensities share one), that each reported centroid is its pixels' mean and
 * count, and (exact intensities: Bits Stored <= 16) that each pixel is nearest to its own centroid.
 */
export function assertKmeans(pixels: Uint8Array, segmentation: Segmentation, converged: boolean): void {
  const { geometry, labels, regions } = segmentation;
  const perFrame = geometry.rows * geometry.columns;
  for (let frame = 0; frame < geometry.frames; frame++) {
    const values = intensities(pixels, geometry, frame);
    const order = values.map((value, p) => ({ value, label: labels[frame * perFrame + p] })).sort((a, b) => a.value - b.value);
    for (let i = 1; i < order.length; i++) {
      const [a, b] = [order[i - 1], order[i]];
      assert.ok(a.label <= b.label, `frame ${frame}: intensity ${a.value} has label ${a.label} but ${b.value} has ${b.label}`);
      if (a.value === b.value) assert.equal(a.label, b.label, `frame ${frame}: equal intensities ${a.value} in two regions`);
    }
    const result = segmentation.frames[frame];
    const sums = new Array<number>(regions).fill(0);
    const counts = new Array<number>(regions).fill(0);
    values.forEach((value, p) => {
      sums[labels[frame * perFrame + p]] += value;
      counts[labels[frame * perFrame + p]]++;
    });
    assert.deepEqual(result.counts, counts, `frame ${frame}: region counts`);
    if (geometry.bitsStored > 16) continue;
    const centroids = result.centroids;
    for (let r = 0; r < regions; r++) {
      if (counts[r] === 0) assert.equal(centroids[r], null, `frame ${frame}: empty region ${r} has a centroid`);
      else assert.ok(Math.abs((centroids[r] as number) - sums[r] / counts[r]) <= 0.001, `frame ${frame}: centroid ${r} is ${centroids[r]}, its pixels' mean ${sums[r] / counts[r]}`);
    }
    if (!converged) continue;
    values.forEach((value, p) => {
      const own = centroids[labels[frame * perFrame + p]] as number;
      for (const other of centroids) {
        if (other !== null) assert.ok(Math.abs(value - own) <= Math.abs(value - other) + 0.002, `frame ${frame}: pixel ${p} (${value}) is nearer to ${other} than to its centroid ${own}`);
      }
    });
  }
}

/** Runs of the original that no stored fragment may contain: 32 bytes with at least 8 distinct values. */
export const RUN_BYTES = 32;
const DISTINCT = 8;

/** Every 32-byte window of `original` with at least 8 distinct byte values (as latin1 strings). */
export function revealingRuns(original: Uint8Array): Set<string> {
  const runs = new Set<string>();
  const seen = new Uint16Array(256);
  let distinct = 0;
  for (let i = 0; i < original.length; i++) {
    if (seen[original[i]]++ === 0) distinct++;
    if (i >= RUN_BYTES && --seen[original[i - RUN_BYTES]] === 0) distinct--;
    if (i >= RUN_BYTES - 1 && distinct >= DISTINCT) runs.add(Buffer.from(original.subarray(i - RUN_BYTES + 1, i + 1)).toString('latin1'));
  }
  return runs;
}

/** The first offset at which `fragment` holds one of `runs`, or -1. */
export function revealingRunAt(fragment: Uint8Array, runs: Set<string>): number {
  if (runs.size === 0) return -1;
  const text = Buffer.from(fragment).toString('latin1');
  for (let i = 0; i + RUN_BYTES <= text.length; i++) if (runs.has(text.slice(i, i + RUN_BYTES))) return i;
  return -1;
}

/** Asserts that no fragment holds a revealing run of `original`. */
export function assertNoRevealingRun(original: Uint8Array, fragments: Uint8Array[], what: string): void {
  const runs = revealingRuns(original);
  fragments.forEach((fragment, i) => {
    const at = revealingRunAt(fragment, runs);
    assert.equal(at, -1, `${what}: fragment ${i} holds a ${RUN_BYTES}-byte run of the original at offset ${at}`);
  });
}
