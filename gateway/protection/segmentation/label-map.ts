/**
 * The stored label map of a segmentation: where each pixel's bytes went, so reassembly can put
 * them back. Encoding `labels-v1+deflate-raw`: raw DEFLATE (RFC 1951, strategy Z_RLE) of one mode
 * byte and a body, labels in raster order, frames one after another:
 * - mode 0, runs: for each run of equal labels, the label byte and (run length - 1) in unsigned
 *   LEB128 (a run may stop at a frame boundary, or go on). A typical CT frame has a few runs per row.
 * - mode 1, 2, 4 or 8, packed: each label in that many bits (the fewest of these that hold R - 1),
 *   least significant bits first. Chosen when it is shorter than the runs (noisy label maps).
 */
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { GatewayError } from '../../errors.js';
import { labelRuns } from './pixel-kernels.js';

/** The name of the encoding, recorded in the parameters. */
export const LABEL_MAP_ENCODING = 'labels-v1+deflate-raw';

const RUNS = 0;

/** Bits per label in the packed mode. */
function labelBits(regions: number): number {
  return regions <= 2 ? 1 : regions <= 4 ? 2 : regions <= 16 ? 4 : 8;
}

/** Bytes of `pixels` labels of `regions` regions in the packed mode (without the mode byte). */
export function packedLabelBytes(pixels: number, regions: number): number {
  return Math.ceil((pixels * labelBits(regions)) / 8);
}

/**
 * Compresses one label (< `regions`) per pixel. `frameRuns`: the run-length code of each frame's
 * labels (mode 0 without the mode byte; runs end at frame boundaries) when the caller has it.
 */
export function encodeLabelMap(labels: Uint8Array, regions: number, frameRuns?: readonly Uint8Array[]): Uint8Array {
  const bits = labelBits(regions);
  const packedLength = packedLabelBytes(labels.length, regions);
  const runs = frameRuns ? joinRuns(frameRuns, packedLength) : runLengths(labels, packedLength);
  const body = runs ?? packLabels(labels, bits, packedLength);
  // Z_RLE: Huffman coding plus repeats only; bounded time on noisy maps, where hash chains are slow.
  const compressed = deflateRawSync(body, { strategy: constants.Z_RLE });
  return new Uint8Array(compressed.buffer, compressed.byteOffset, compressed.length);
}

/** Mode byte and the frames' runs, or undefined when they take more than `limit` bytes. */
function joinRuns(frameRuns: readonly Uint8Array[], limit: number): Uint8Array | undefined {
  const length = 1 + frameRuns.reduce((n, runs) => n + runs.length, 0);
  if (length > limit) return undefined;
  const body = new Uint8Array(length);
  body[0] = RUNS;
  let at = 1;
  for (const runs of frameRuns) {
    body.set(runs, at);
    at += runs.length;
  }
  return body;
}

/** Mode byte and runs (by the pixel kernels), or undefined when they would take more than `limit` bytes. */
function runLengths(labels: Uint8Array, limit: number): Uint8Array | undefined {
  const runs = labelRuns(labels, limit - 1);
  if (runs === undefined) return undefined;
  const body = new Uint8Array(1 + runs.length);
  body[0] = RUNS;
  body.set(runs, 1);
  return body;
}

/** Mode byte (bits per label) and the packed labels. */
function packLabels(labels: Uint8Array, bits: number, packedLength: number): Uint8Array {
  const packed = new Uint8Array(1 + packedLength);
  packed[0] = bits;
  const perByte = 8 / bits;
  for (let p = 0; p < labels.length; p++) packed[1 + Math.floor(p / perByte)] |= labels[p] << ((p % perByte) * bits);
  return packed;
}

/** Decoded labels, and the pixels of each region in each frame. */
export interface DecodedLabelMap {
  labels: Uint8Array;
  /** counts[frame][region]. */
  counts: number[][];
}

/**
 * The labels of `frames` frames of `pixelsPerFrame` pixels from a label map. Throws
 * `INTEGRITY_FAILURE` when it does not inflate, does not cover exactly those pixels, or holds a
 * label >= `regions`.
 */
export function decodeLabelMap(labelMap: Uint8Array, pixelsPerFrame: number, frames: number, regions: number): DecodedLabelMap {
  const pixelCount = pixelsPerFrame * frames;
  let body: Uint8Array;
  try {
    body = inflateRawSync(labelMap, { maxOutputLength: pixelCount * 2 + 16 });
  } catch (error) {
    throw new GatewayError('INTEGRITY_FAILURE', `the label map does not inflate (${(error as Error).message})`, { cause: error });
  }
  const labels = new Uint8Array(pixelCount);
  // counted[frame * regions + label]: pixels of each region in each frame.
  const counted = new Float64Array(frames * regions);
  if (body[0] === RUNS) runsToLabels(body, labels, pixelsPerFrame, regions, counted);
  else unpackLabels(body, labels, pixelsPerFrame, regions, counted);
  const counts = Array.from({ length: frames }, (_, frame) => Array.from(counted.subarray(frame * regions, (frame + 1) * regions)));
  return { labels, counts };
}

function runsToLabels(body: Uint8Array, labels: Uint8Array, pixelsPerFrame: number, regions: number, counted: Float64Array): void {
  const pixelCount = labels.length;
  let p = 0;
  let at = 1;
  let frameBase = 0;
  let frameEnd = pixelsPerFrame;
  while (at < body.length) {
    const label = body[at++];
    if (label >= regions) throw new GatewayError('INTEGRITY_FAILURE', `the label map holds label ${label} but there are ${regions} regions`);
    let length = 1;
    let scale = 1;
    let byte: number;
    do {
      if (at >= body.length || scale > 2 ** 35) throw new GatewayError('INTEGRITY_FAILURE', 'the label map ends inside a run length');
      byte = body[at++];
      length += (byte & 0x7f) * scale;
      scale *= 0x80;
    } while (byte & 0x80);
    const end = p + length;
    if (end > pixelCount) throw new GatewayError('INTEGRITY_FAILURE', `the label map covers more than the ${pixelCount} pixels of the geometry`);
    if (label !== 0) {
      if (length < 16) for (let q = p; q < end; q++) labels[q] = label;
      else labels.fill(label, p, end);
    }
    // Count the run in each frame it covers.
    while (end > frameEnd) {
      counted[frameBase + label] += frameEnd - p;
      p = frameEnd;
      frameBase += regions;
      frameEnd += pixelsPerFrame;
    }
    counted[frameBase + label] += end - p;
    p = end;
  }
  if (p !== pixelCount) throw new GatewayError('INTEGRITY_FAILURE', `the label map covers ${p} pixels, the geometry has ${pixelCount}`);
}

function unpackLabels(body: Uint8Array, labels: Uint8Array, pixelsPerFrame: number, regions: number, counted: Float64Array): void {
  const pixelCount = labels.length;
  const bits = body[0];
  if (bits !== 1 && bits !== 2 && bits !== 4 && bits !== 8) throw new GatewayError('INTEGRITY_FAILURE', `the label map has an unknown mode ${bits}`);
  const perByte = 8 / bits;
  if (body.length !== 1 + Math.ceil(pixelCount / perByte)) {
    throw new GatewayError('INTEGRITY_FAILURE', `the label map packs ${Math.floor(((body.length - 1) * 8) / bits)} labels, the geometry has ${pixelCount} pixels`);
  }
  const mask = (1 << bits) - 1;
  for (let frameBase = 0, p = 0; p < pixelCount; frameBase += regions) {
    for (const end = p + pixelsPerFrame; p < end; p++) {
      const label = (body[1 + Math.floor(p / perByte)] >>> ((p % perByte) * bits)) & mask;
      if (label >= regions) throw new GatewayError('INTEGRITY_FAILURE', `the label map holds label ${label} but there are ${regions} regions`);
      labels[p] = label;
      counted[frameBase + label]++;
    }
  }
}
