/**
 * The bookkeeping of the reversible watermark (watermark.ts): the visiting order of samples
 * (background first, given by the caller), the histogram of stored values, the list of scanned
 * sample offsets and its digest, and the compact encoding of sample positions in the parameters.
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import { GatewayError } from '../../errors.js';
import { pixelsPerFrame, sampleOffset, type PixelGeometry } from '../../dicom/pixel-geometry.js';

/**
 * The pixel visiting order, background first: pixel indices (row x Columns + column) of one
 * frame, either one list used for every frame or a function of the frame (0-based). Frames are
 * visited in turn; pixels not listed are never touched. A pixel listed twice is an error.
 * Default: every pixel of every frame in raster order. Extraction needs the very same order.
 */
export type VisitingOrder = Uint32Array | ((frame: number) => Iterable<number>);

/**
 * Calls `visit` with the byte offset of every sample of the visited pixels (all samples of a
 * pixel in turn), in order, until it returns true. Throws `INTERNAL` when the order lists a pixel
 * that does not exist, or one pixel twice in a frame.
 */
export function scanSamples(geometry: PixelGeometry, order: VisitingOrder | undefined, visit: (offset: number) => boolean): void {
  const pixels = pixelsPerFrame(geometry);
  const samples = geometry.samplesPerPixel;
  const seen = order === undefined ? undefined : new Uint8Array(pixels);
  for (let frame = 0; frame < geometry.frames; frame++) {
    if (seen === undefined) {
      for (let p = 0; p < pixels; p++) {
        for (let k = 0; k < samples; k++) if (visit(sampleOffset(geometry, frame, p, k))) return;
      }
      continue;
    }
    const stamp = (frame % 255) + 1;
    if (stamp === 1 && frame > 0) seen.fill(0);
    for (const p of typeof order === 'function' ? order(frame) : order!) {
      if (!(p >= 0 && p < pixels && Number.isInteger(p))) {
        throw new GatewayError('INTERNAL', `the visiting order of frame ${frame} lists pixel ${p}, outside 0..${pixels - 1}`);
      }
      if (seen[p] === stamp) throw new GatewayError('INTERNAL', `the visiting order of frame ${frame} lists pixel ${p} twice`);
      seen[p] = stamp;
      for (let k = 0; k < samples; k++) if (visit(sampleOffset(geometry, frame, p, k))) return;
    }
  }
}

/** Counts per value index (stored value minus the smallest stored value). */
export interface Histogram {
  increment(index: number): number;
  decrement(index: number): void;
  count(index: number): number;
  /** The sum of the `k` largest counts. */
  largestSum(k: number): number;
}

/** A histogram for `bitsStored`-bit values: a typed array up to 16 bits, a map above. */
export function newHistogram(bitsStored: number): Histogram {
  if (bitsStored <= 16) {
    const counts = new Uint32Array(2 ** bitsStored);
    return {
      increment: (i) => ++counts[i],
      decrement: (i) => void counts[i]--,
      count: (i) => counts[i],
      largestSum: (k) => largest(counts, k),
    };
  }
  const counts = new Map<number, number>();
  return {
    increment(i) {
      const n = (counts.get(i) ?? 0) + 1;
      counts.set(i, n);
      return n;
    },
    decrement: (i) => void counts.set(i, counts.get(i)! - 1),
    count: (i) => counts.get(i) ?? 0,
    largestSum: (k) => largest(counts.values(), k),
  };
}

function largest(counts: Iterable<number>, k: number): number {
  const best: number[] = [];
  for (const n of counts) {
    if (n === 0 || (best.length === k && n <= best[k - 1])) continue;
    let i = best.length === k ? k - 1 : best.length;
    while (i > 0 && best[i - 1] < n) {
      best[i] = best[i - 1];
      i--;
    }
    best[i] = n;
  }
  return best.reduce((a, b) => a + b, 0);
}

/** A growable list of sample byte offsets (Pixel Data values are below 4 GiB). */
export class OffsetList {
  #items = new Uint32Array(4096);
  length = 0;

  push(offset: number): void {
    if (this.length === this.#items.length) {
      const grown = new Uint32Array(this.#items.length * 2);
      grown.set(this.#items);
      this.#items = grown;
    }
    this.#items[this.length++] = offset;
  }

  at(index: number): number {
    return this.#items[index];
  }

  /**
   * SHA-256 (hex) of the first `count` offsets (32-bit little endian) after a label: ties the
   * parameters to the visiting order and the sample format.
   */
  digest(label: string, count: number): string {
    const view = new Uint8Array(this.#items.buffer, 0, count * 4);
    return createHash('sha256')
      .update(`${label}\n`)
      .update(LITTLE_ENDIAN_HOST ? view : Buffer.from(view).swap32())
      .digest('hex');
  }
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Ascending non-negative integers as deltas in LEB128, base64url. */
export function encodePositions(positions: readonly number[]): string {
  const bytes: number[] = [];
  let previous = -1;
  for (const position of positions) {
    let delta = position - previous - 1;
    previous = position;
    while (delta >= 0x80) {
      bytes.push((delta % 0x80) | 0x80);
      delta = Math.floor(delta / 0x80);
    }
    bytes.push(delta);
  }
  return Buffer.from(bytes).toString('base64url');
}

/** The inverse of {@link encodePositions}; undefined unless exactly `count` positions below `limit`. */
export function decodePositions(text: unknown, count: number, limit: number): number[] | undefined {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) return undefined;
  const positions: number[] = [];
  let previous = -1;
  let delta = 0;
  let scale = 1;
  for (const byte of bytes) {
    delta += (byte & 0x7f) * scale;
    if (byte & 0x80) {
      scale *= 0x80;
      if (scale > 2 ** 35) return undefined;
      continue;
    }
    previous += delta + 1;
    positions.push(previous);
    delta = 0;
    scale = 1;
  }
  if (scale !== 1 || positions.length !== count || (count > 0 && previous >= limit)) return undefined;
  return positions;
}
