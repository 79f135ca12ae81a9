/**
 * The hot loops of the pixel split, run as WebAssembly (kernels/pixel-kernels.ts, AssemblyScript,
 * built into pixel-kernels.wasm.ts by `npm run build:kernels`): the element histogram and the
 * labelling of the segmentation, and the moves between pixel order and region order of the region
 * split. Written in plain TypeScript they ran 2-3 times slower on 8 MB frames; they decide the
 * protected STOW and WADO throughput (bench/README.md).
 *
 * The kernels see only their module's memory, used here as a workspace: pixels and labels are
 * copied in one frame at a time; the regions of a split live there whole (they are sealed, or
 * decrypted, in place), so the workspace grows to about the largest pixel data plus two frames. It
 * is reused by every later call (one per process: calls are synchronous and never overlap) unless it
 * grew past 64 MiB, when it is dropped after the call. Nothing outlives a call: views of the
 * workspace are handed to callbacks during the call only, never returned.
 */
import { GatewayError } from '../../errors.js';
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
 * `step`-th element value (256 or 65,536 bins, values as stored, little endian; a view of the
 * workspace, valid during the call) goes to `classify`, which returns the label of each element value; `labels` receives the label of each
 * pixel. Also counts the pixels of each label, and codes the labels' runs unless that takes more
 * than `runsLimit` bytes.
 */
export function labelFrame(frame: Uint8Array, size: 1 | 2, step: number, classify: (histogram: Uint32Array) => Uint8Array, labels: Uint8Array, runsLimit: number): LabelledFrame {
  const k = load();
  const count = labels.length;
  const bins = size === 1 ? 256 : 65536;
  const [hist, table, counts, px, out, runs] = reserve([bins * 4, bins, 256 * 4, count * size, count, runsLimit]);
  bytes(px, count * size).set(frame.subarray(0, count * size));
  bytes(hist, bins * 4).fill(0);
  bytes(counts, 256 * 4).fill(0);
  (size === 1 ? k.histogram8 : k.histogram16)(px, count, step, hist);
  const labelOf = classify(new Uint32Array(k.memory.buffer, hist, bins));
  bytes(table, bins).set(labelOf.subarray(0, bins));
  const length = (size === 1 ? k.label8 : k.label16)(px, count, table, out, counts, runs, runsLimit);
  labels.set(bytes(out, count));
  const result = { counts: new Uint32Array(k.memory.buffer, counts, 256).slice(), runs: length < 0 ? undefined : bytes(runs, length).slice() };
  shrink();
  return result;
}

const IDENTITY = Uint8Array.from({ length: 256 }, (_, i) => i);

/**
 * The run-length code of `labels` (label-map.ts, mode 0, without the mode byte); undefined when
 * it would take more than `limit` bytes.
 */
export function labelRuns(labels: Uint8Array, limit: number): Uint8Array | undefined {
  // Labelled through the identity table: `labels` is written back with the very same values.
  return labelFrame(labels, 1, labels.length || 1, () => IDENTITY, labels, limit).runs;
}

/** How the frames of native pixel data are laid out, for {@link scatterFrames} and {@link gatherFrames}. */
export interface FrameLayout {
  frames: number;
  pixelsPerFrame: number;
  /** Planes per frame (samples per pixel when planar, else 1). */
  planes: number;
  /** Bytes of a pixel in a plane. */
  unit: number;
  /** Pixels of each region in each frame: counts[frame][region]. */
  counts: readonly (readonly number[])[];
}

/**
 * Moves every pixel of `pixels` (frames in order) to its region, in region order: for each frame,
 * plane after plane, in each the pixels of even index then those of odd index, in raster order.
 * `labels`: one per pixel, all frames. `patch` edits the workspace copy of each frame before it is
 * moved (`pixels` are never written). The regions are built in the workspace and handed to `take`
 * there (valid only during the call); what it returns (a sealed or plain copy) is the result.
 */
export function scatterFrames<T>(pixels: Uint8Array, labels: Uint8Array, layout: FrameLayout, take: (region: Uint8Array, index: number) => T, patch?: (frame: number, bytes: Uint8Array) => void): T[] {
  const { cursors, lab, px, starts, sizes } = frameWorkspace(layout);
  const k = load();
  const frameBytes = layout.pixelsPerFrame * layout.unit * layout.planes;
  for (let f = 0; f < layout.frames; f++) {
    const copy = bytes(px, frameBytes);
    copy.set(pixels.subarray(f * frameBytes, (f + 1) * frameBytes));
    patch?.(f, copy);
    bytes(lab, layout.pixelsPerFrame).set(labels.subarray(f * layout.pixelsPerFrame, (f + 1) * layout.pixelsPerFrame));
    moveFrame(k, px, lab, cursors, layout, 0);
  }
  checkCursors(cursors, starts, sizes);
  const result = sizes.map((size, r) => take(bytes(starts[r], size), r));
  shrink();
  return result;
}

/**
 * A region for {@link gatherFrames}: its bytes, or a way to write them into the workspace (the
 * read path decrypts sealed regions straight into it: no plaintext copy of its own).
 */
export type RegionSource = Uint8Array | { readonly length: number; fill(into: Uint8Array): void };

/** The inverse of {@link scatterFrames}: fills `pixels` (frames in order) from `regions`. */
export function gatherFrames(pixels: Uint8Array, labels: Uint8Array, layout: FrameLayout, regions: readonly RegionSource[]): void {
  const { cursors, lab, px, starts, sizes } = frameWorkspace(layout);
  if (regions.some((region, r) => region.length !== sizes[r])) throw new GatewayError('INTERNAL', 'the region fragments do not have the sizes their counts give');
  const k = load();
  regions.forEach((region, r) => {
    const slot = bytes(starts[r], sizes[r]);
    if (region instanceof Uint8Array) slot.set(region);
    else region.fill(slot);
  });
  const frameBytes = layout.pixelsPerFrame * layout.unit * layout.planes;
  for (let f = 0; f < layout.frames; f++) {
    bytes(lab, layout.pixelsPerFrame).set(labels.subarray(f * layout.pixelsPerFrame, (f + 1) * layout.pixelsPerFrame));
    moveFrame(k, px, lab, cursors, layout, 1);
    pixels.set(bytes(px, frameBytes), f * frameBytes);
  }
  checkCursors(cursors, starts, sizes);
  shrink();
}

/** The workspace of a move: one frame's labels and pixels, every region whole, the cursors. */
function frameWorkspace(layout: FrameLayout): { cursors: number; lab: number; px: number; starts: number[]; sizes: number[] } {
  const regions = layout.counts[0]?.length ?? 0;
  const sizes = new Array<number>(regions).fill(0);
  for (const counts of layout.counts) counts.forEach((count, r) => (sizes[r] += count * layout.unit * layout.planes));
  const [cursors, lab, px, ...starts] = reserve([regions * 4, layout.pixelsPerFrame, layout.pixelsPerFrame * layout.unit * layout.planes, ...sizes]);
  new Uint32Array(load().memory.buffer, cursors, regions).set(starts);
  return { cursors, lab, px, starts, sizes };
}

/** Moves one frame (in the workspace at `px`, labels at `lab`) to or from the regions. */
function moveFrame(k: KernelExports, px: number, lab: number, cursors: number, layout: FrameLayout, back: 0 | 1): void {
  for (let plane = 0; plane < layout.planes; plane++) {
    k.moveByLabel(px + plane * layout.pixelsPerFrame * layout.unit, lab, layout.pixelsPerFrame, layout.unit, cursors, back);
  }
}

/** Throws unless every region's cursor ended where the next region starts. */
function checkCursors(cursors: number, starts: readonly number[], sizes: readonly number[]): void {
  const ends = new Uint32Array(load().memory.buffer, cursors, starts.length);
  if (ends.some((end, r) => end !== starts[r] + sizes[r])) {
    throw new GatewayError('INTERNAL', 'the labels of the frames do not give the regions the sizes their counts give');
  }
}

/** The workspace grows to the largest instance seen; past this it is dropped after use. */
const KEPT_WORKSPACE_BYTES = 64 * 1024 * 1024;

function shrink(): void {
  if (kernels !== undefined && kernels.memory.buffer.byteLength > KEPT_WORKSPACE_BYTES) kernels = undefined;
}
