/**
 * Throughput of the multi-region segmentation (not a test: nothing asserts a duration). On
 * synthetic 16-bit CT frames of 512 x 512 and 2048 x 2048 (test/fixtures/synthetic.ts, fixed seed),
 * for R = 2, 3 and 4, prints MB/s of pixel data for segment + split (`splitPixelData`) and for join
 * (`joinPixelData`), the best and the median of several rounds on one core, and the size of the
 * compressed label map (bits per pixel, and its ratio to one label byte per pixel).
 *
 *   npm run bench:segmentation
 */
import { joinPixelData, splitPixelData } from '../gateway/protection/split/pixel-split.js';
import type { PixelGeometry } from '../gateway/dicom/pixel-geometry.js';
import { syntheticPixelData } from '../test/fixtures/synthetic.js';

/** Milliseconds of each of `rounds` calls of `body`, after two warm-up calls. */
function time(rounds: number, body: () => unknown): number[] {
  body();
  body();
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = process.hrtime.bigint();
    body();
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.sort((a, b) => a - b);
}

function rate(bytes: number, times: number[]): string {
  const mbps = (ms: number) => (bytes / 1e6 / (ms / 1000)).toFixed(0);
  const median = times[Math.floor(times.length / 2)];
  return `${mbps(times[0]).padStart(5)} MB/s (${times[0].toFixed(1)} ms) best, ${mbps(median).padStart(5)} MB/s (${median.toFixed(1)} ms) median`;
}

console.log(`node ${process.version}, one thread`);
for (const size of [512, 2048]) {
  const pixels = syntheticPixelData({ rows: size, columns: size, pixels: 'ct', seed: 7 });
  const geometry: PixelGeometry = {
    rows: size,
    columns: size,
    samplesPerPixel: 1,
    bitsAllocated: 16,
    bitsStored: 16,
    highBit: 15,
    pixelRepresentation: 0,
    planarConfiguration: 0,
    frames: 1,
    bigEndian: false,
    photometricInterpretation: 'MONOCHROME2',
  };
  const rounds = size === 512 ? 40 : 12;
  for (const regions of [2, 3, 4]) {
    const split = splitPixelData(pixels, geometry, { regions });
    const splitTimes = time(rounds, () => splitPixelData(pixels, geometry, { regions }));
    const joinTimes = time(rounds, () => joinPixelData(split.regions, split.labelMap, geometry, split.parameters));
    const joined = joinPixelData(split.regions, split.labelMap, geometry, split.parameters);
    if (!Buffer.from(joined).equals(pixels)) throw new Error('join differs from the pixels');
    const pixelCount = size * size;
    console.log(`CT ${size}x${size} 16-bit (${(pixels.length / 1e6).toFixed(1)} MB), R=${regions}`);
    console.log(`  segment + split  ${rate(pixels.length, splitTimes)}`);
    console.log(`  join             ${rate(pixels.length, joinTimes)}`);
    console.log(
      `  label map        ${split.labelMap.length} bytes = ${((split.labelMap.length * 8) / pixelCount).toFixed(3)} bits/pixel ` +
        `(1:${(pixelCount / split.labelMap.length).toFixed(0)} of a byte per pixel, 1:${(pixels.length / split.labelMap.length).toFixed(0)} of the pixel data)`,
    );
  }
}
