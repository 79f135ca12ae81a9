/**
 * The hot loops of the pixel split, run as WebAssembly (kernels/pixel-kernels.ts, AssemblyScript,
 * built into pixel-kernels.wasm.ts by `npm run build:kernels`): the element histogram and the
 * labelling of the segmentation, and the moves between pixel order and region order of the region
 * split. Written in plain TypeScript they ran 2-3 times slower on 8 MB frames; they decide the
 * protected STOW and WADO throughput (bench/README.md).
 *
 * The kernels see only their module's memory, used here as a workspace: a frame's pixels and
 * labels are copied in, the results copied out, one frame at a time, so the workspace grows to
 * about twice the largest frame and is reused by every later call (one per process: calls are
 * synchronous and never overlap). Nothing outlives a call: no view of the workspace is returned.
 */
import { GatewayError } from '../errors.js';
import { PIXEL_KERNELS_WASM } from './pixel-kernels.wasm.js';

/** The parts of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

interface KernelExports {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  heapBase(): number;
  histogram16(px: number, count: number, step: number, hist: number): void;
  histogram8(px: number, count: number, step: number, hist: number): void;
  label16(px: number, count: number, table: number, labels: number, counts: number, runs: number, runsLimit: number): number;
  label8(px: number, count: number, table: number, labels: number, counts: number, runs: number, runsLimit: number): number;
  moveByLabel(px: number, labels: number, count: number, unit: number, cursors: number, back: number): void;
}

let kernels: KernelExports | undefined;

function load(): KernelExports {
  const wasm = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
  kernels ??= new wasm.Instance(new wasm.Module(Buffer.from(PIXEL_KERNELS_WASM, 'base64')), {}).exports as KernelExports;
  return kernels;
}

const PAGE = 65536;

/**
 * Lays out blocks of the given byte sizes in the workspace (each 16-byte aligned), growing the
 * memory when needed; returns their addresses. Views of the memory made before are stale after.
 */
function reserve(sizes: readonly number[]): number[] {
  const k = load();
  let at = align(k.heapBase(), 16);
  const addresses = sizes.map((size) => {
    const address = at;
    at = align(at + size, 16);
    return address;
  });
  const needed = Math.ceil(at / PAGE) - k.memory.buffer.byteLength / PAGE;
  if (needed > 0) k.memory.grow(needed);
  return addresses;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

function bytes(address: number, length: number): Uint8Array {
  return new Uint8Array(load().memory.buffer, address, length);
}

/** What {@link labelFrame} finds. */
export interface LabelledFrame {
  /** Pixels of each label (256 entries). */
  counts: Uint32Array;
  /** The run-length code of the labels (label-map.ts, mode 0, no mode byte); undefined when longer than the limit. */
  runs?: Uint8Array;
}

/**
 * Labels one frame of one-sample pixels of `size` bytes (1 or 2): the histogram of every
 * `step`-th element value (256 or 65,536 bins, values as stored, little endian) goes to
 * `classify`, which returns the label of each element value; `labels` receives the label of each
 * pixel. Also counts the pixels of each label, and codes the labels' runs unless that takes more
 * than `runsLimit` bytes.
 */
export function labelFrame(
  frame: Uint8Array,
  size: 1 | 2,
  step: number,
  classify: (histogram: Uint32Array) => Uint8Array,
  labels: Uint8Array,
  runsLimit: number,
): LabelledFrame {
  const k = load();
  const count = labels.length;
  const bins = size === 1 ? 256 : 65536;
  const [hist, table, counts, px, out, runs] = reserve([bins * 4, bins, 256 * 4, count * size, count, runsLimit]);
  bytes(px, count * size).set(frame.subarray(0, count * size));
  bytes(hist, bins * 4).fill(0);
  bytes(counts, 256 * 4).fill(0);
  (size === 1 ? k.histogram8 : k.histogram16)(px, count, step, hist);
  const labelOf = classify(new Uint32Array(k.memory.buffer, hist, bins).slice());
  bytes(table, bins).set(labelOf.subarray(0, bins));
  const length = (size === 1 ? k.label8 : k.label16)(px, count, table, out, counts, runs, runsLimit);
  labels.set(bytes(out, count));
  return { counts: new Uint32Array(k.memory.buffer, counts, 256).slice(), runs: length < 0 ? undefined : bytes(runs, length).slice() };
}

const IDENTITY = Uint8Array.from({ length: 256 }, (_, i) => i);

/**
 * The run-length code of `labels` (label-map.ts, mode 0, without the mode byte); undefined when
 * it would take more than `limit` bytes.
 */
export function labelRuns(labels: Uint8Array, limit: number): Uint8Array | undefined {
  return labelFrame(labels, 1, labels.length || 1, () => IDENTITY, new Uint8Array(labels.length), limit).runs;
}

/**
 * Moves the pixels of one frame between raster order (`frame`: `planes` planes of
 * `labels.length` pixels of `unit` bytes) and region order (`regions[r]`: this frame's bytes of
 * region r: plane after plane, in each the pixels of even index then those of odd index, in
 * raster order). 'scatter' fills `regions` from `frame` (after `patch` edits the copy of the
 * frame), 'gather' fills `frame` from `regions`. The caller checks that the sizes add up.
 */
export function moveFrame(
  direction: 'scatter' | 'gather',
  frame: Uint8Array,
  labels: Uint8Array,
  planes: number,
  unit: number,
  regions: readonly Uint8Array[],
  patch?: (frame: Uint8Array) => void,
): void {
  const k = load();
  const pixels = labels.length;
  const frameBytes = pixels * unit * planes;
  const regionBytes = regions.reduce((n, r) => n + r.length, 0);
  const [cursors, lab, px, packed] = reserve([regions.length * 4, pixels, frameBytes, regionBytes]);
  bytes(lab, pixels).set(labels);
  const starts: number[] = [];
  let at = packed;
  for (const region of regions) {
    starts.push(at);
    at += region.length;
  }
  if (direction === 'scatter') {
    const copy = bytes(px, frameBytes);
    copy.set(frame.subarray(0, frameBytes));
    patch?.(copy);
  } else {
    regions.forEach((region, r) => bytes(starts[r], region.length).set(region));
  }
  const cursorTable = new Uint32Array(k.memory.buffer, cursors, regions.length);
  cursorTable.set(starts);
  for (let plane = 0; plane < planes; plane++) {
    k.moveByLabel(px + plane * pixels * unit, lab, pixels, unit, cursors, direction === 'gather' ? 1 : 0);
  }
  if (cursorTable.some((end, r) => end !== starts[r] + regions[r].length)) {
    throw new GatewayError('INTERNAL', 'the labels of a frame do not give its regions the sizes they were given');
  }
  if (direction === 'scatter') regions.forEach((region, r) => region.set(bytes(starts[r], region.length)));
  else frame.set(bytes(px, frameBytes));
}

