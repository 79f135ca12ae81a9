/**
 * The pixel kernels (WebAssembly, kernels/pixel-kernels.ts): the committed module is what the
 * source compiles to, and each kernel agrees with a plain TypeScript statement of what it does on
 * random data of every pixel size, plane count, parity and run structure, including sizes that
 * make the workspace grow and then shrink back.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { gatherFrames, labelFrame, labelRuns, scatterFrames } from '../../../../gateway/protection/segmentation/pixel-kernels.js';
import { seededRandom } from '../../../support/random.js';
import { compileKernels } from '../../../../scripts/build-kernels.mjs';

describe('pixel kernels', () => {
  it('the committed module is what kernels/pixel-kernels.ts compiles to (npm run build:kernels)', () => {
    const committed = readFileSync(new URL('../../../../gateway/protection/segmentation/pixel-kernels.wasm.ts', import.meta.url), 'utf8');
    assert.equal(committed, compileKernels(), 'gateway/protection/segmentation/pixel-kernels.wasm.ts is stale: run npm run build:kernels');
  });

  it('labelFrame: histogram of every step-th element, labels by table, counts and runs', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<1 | 2>(1, 2),
        fc.integer({ min: 1, max: 3000 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.constantFrom(0, 3, 40, 100_000),
        (size, count, step, regions, seed, runsLimit) => {
          const random = seededRandom(seed);
          // Runs of repeated values, so that the run code has something to do.
          const values = new Array<number>(count);
          for (let i = 0; i < count;) {
            const value = Math.floor(random() * (size === 1 ? 256 : 65536));
            const run = 1 + Math.floor(random() * 12);
            for (let k = 0; k < run && i < count; k++) values[i++] = value;
          }
          const frame = new Uint8Array(count * size + 1).subarray(1); // odd byte offset
          values.forEach((v, i) => (size === 1 ? (frame[i] = v) : ((frame[2 * i] = v & 0xff), (frame[2 * i + 1] = v >>> 8))));
          const table = Uint8Array.from({ length: size === 1 ? 256 : 65536 }, (_, v) => (v * 7 + 3) % regions);
          let seen: Uint32Array | undefined;
          const labels = new Uint8Array(count);
          const result = labelFrame(frame, size, step, (h) => ((seen = h.slice()), table), labels, runsLimit);

          const histogram = new Uint32Array(table.length);
          for (let i = 0; i < count; i += step) histogram[values[i]]++;
          assert.deepEqual(seen, histogram, 'histogram of every step-th element');
          const expected = Uint8Array.from(values, (v) => table[v]);
          assert.deepEqual(labels, expected, 'labels');
          const counts = new Uint32Array(256);
          for (const l of expected) counts[l]++;
          assert.deepEqual(result.counts, counts, 'counts');
          const runs = referenceRuns(expected);
          if (runs.length + 6 <= runsLimit) assert.deepEqual(result.runs, runs, 'runs');
          if (runs.length > runsLimit) assert.equal(result.runs, undefined, 'runs over the limit are refused');
          if (result.runs !== undefined) assert.deepEqual(result.runs, runs, 'runs, when given, are exact');
          assert.deepEqual(labelRuns(expected, 100_000), runs, 'labelRuns');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('scatterFrames: each frame, plane by plane, even then odd pixels to their region; gatherFrames undoes it', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 2, 3, 4, 6, 8),
        fc.integer({ min: 1, max: 1500 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (unit, pixelsPerFrame, planes, frames, regions, seed) => {
          const random = seededRandom(seed);
          const labels = new Uint8Array(pixelsPerFrame * frames);
          for (let p = 0; p < labels.length;) {
            const label = Math.floor(random() * regions);
            const run = 1 + Math.floor(random() * 20);
            for (let k = 0; k < run && p < labels.length; k++) labels[p++] = label;
          }
          const frameBytes = pixelsPerFrame * unit * planes;
          const pixels = Uint8Array.from({ length: frameBytes * frames }, () => Math.floor(random() * 256));
          const counts = Array.from({ length: frames }, (_, f) => {
            const c = new Array<number>(regions).fill(0);
            for (const l of labels.subarray(f * pixelsPerFrame, (f + 1) * pixelsPerFrame)) c[l]++;
            return c;
          });
          const layout = { frames, pixelsPerFrame, planes, unit, counts };
          const expected = referenceScatter(pixels, labels, layout, regions);
          const patched: number[] = [];
          const out = scatterFrames(
            pixels,
            labels,
            layout,
            (region) => region.slice(),
            (f) => patched.push(f),
          );
          assert.deepEqual(
            patched,
            Array.from({ length: frames }, (_, f) => f),
            'the patch sees each frame',
          );
          out.forEach((region, r) => assert.deepEqual(region, expected[r], `region ${r}`));
          const back = new Uint8Array(pixels.length);
          gatherFrames(back, labels, layout, out);
          assert.deepEqual(back, pixels, 'gather restores the frames');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('counts that do not match the labels, or regions of other sizes, are refused', () => {
    const labels = Uint8Array.of(0, 1, 1, 0);
    const layout = { frames: 1, pixelsPerFrame: 4, planes: 1, unit: 2, counts: [[1, 3]] };
    assert.throws(() => scatterFrames(new Uint8Array(8), labels, layout, (r) => r.slice()), /sizes/);
    assert.throws(() => gatherFrames(new Uint8Array(8), labels, { ...layout, counts: [[2, 2]] }, [new Uint8Array(2), new Uint8Array(6)]), /sizes/);
  });

  it('a large frame grows the workspace, a small one after it still works', () => {
    const pixels = 3000 * 3000;
    const frame = new Uint8Array(pixels * 2);
    for (let i = 0; i < pixels; i++) frame[2 * i] = i % 251;
    const labels = new Uint8Array(pixels);
    const table = Uint8Array.from({ length: 65536 }, (_, v) => (v < 100 ? 0 : 1));
    const result = labelFrame(frame, 2, 8, () => table, labels, 1 << 20);
    assert.equal(result.counts[0] + result.counts[1], pixels, 'every pixel counted');
    const small = new Uint8Array(3);
    labelFrame(Uint8Array.of(5, 200, 5), 1, 1, () => Uint8Array.from({ length: 256 }, (_, v) => (v > 100 ? 1 : 0)), small, 64);
    assert.deepEqual(small, Uint8Array.of(0, 1, 0));
  });
});

/** The run code of label-map.ts mode 0, without the mode byte. */
function referenceRuns(labels: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let p = 0; p < labels.length;) {
    let end = p + 1;
    while (end < labels.length && labels[end] === labels[p]) end++;
    out.push(labels[p]);
    let rest = end - p - 1;
    while (rest >= 0x80) {
      out.push((rest & 0x7f) | 0x80);
      rest = Math.floor(rest / 0x80);
    }
    out.push(rest);
    p = end;
  }
  return Uint8Array.from(out);
}

function referenceScatter(pixels: Uint8Array, labels: Uint8Array, layout: { frames: number; pixelsPerFrame: number; planes: number; unit: number }, regions: number): Uint8Array[] {
  const parts: number[][] = Array.from({ length: regions }, () => []);
  const { frames, pixelsPerFrame, planes, unit } = layout;
  for (let f = 0; f < frames; f++) {
    for (let plane = 0; plane < planes; plane++) {
      for (let parity = 0; parity < 2; parity++) {
        for (let p = parity; p < pixelsPerFrame; p += 2) {
          const at = ((f * planes + plane) * pixelsPerFrame + p) * unit;
          parts[labels[f * pixelsPerFrame + p]].push(...pixels.subarray(at, at + unit));
        }
      }
    }
  }
  return parts.map((bytes) => Uint8Array.from(bytes));
}
