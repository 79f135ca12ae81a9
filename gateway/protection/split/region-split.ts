/**
 * The region fragments of a segmentation (the paper's split: each region backend receives only its
 * region's pixels) and their exact reassembly. Region i holds the bytes of the pixels labelled i,
 * samples unchanged: frame by frame, plane by plane (Planar Configuration 1), first the pixels with
 * an even raster index, then those with an odd one. That order keeps a region fragment free of two
 * horizontally adjacent pixels, so it holds no run of the original bytes longer than one pixel even
 * where a region is a large contiguous area. The label map says where each pixel goes back.
 */
import { createHash } from 'node:crypto';
import { GatewayError } from '../../errors.js';
import { decodeLabelMap, encodeLabelMap, LABEL_MAP_ENCODING } from '../segmentation/label-map.js';
import { MAX_ITERATIONS } from '../segmentation/kmeans-histogram.js';
import { bytesPerSample, frameByteLength, type PixelGeometry } from '../../dicom/pixel-geometry.js';
import { gatherFrames, scatterFrames, type FrameLayout, type RegionSource } from '../segmentation/pixel-kernels.js';
import { segmentationRefusal, type FrameSegmentation, type Segmentation } from '../segmentation/segmentation.js';

/** Everything {@link joinRegions} needs besides the fragments and the label map (JSON, kept in the manifest). */
export interface SegmentationParameters {
  version: 1;
  algorithm: 'kmeans-histogram';
  /** R. */
  regions: number;
  seed: number;
  initialisation: 'greedy-kmeans++';
  /** What was clustered: the stored value, or the mean of the samples of a pixel. */
  intensity: 'stored-value' | 'mean-of-samples';
  maxIterations: number;
  /** The histogram counted every this many pixels of a frame (informative; absent before it was recorded: 1). */
  histogramStep?: number;
  /** The order of the pixels inside a region fragment (see the module header). */
  pixelOrder: 'frame-plane-even-odd';
  geometry: PixelGeometry;
  /** Per frame: centroids, counts, iterations. */
  frames: FrameSegmentation[];
  /** Bytes of each region fragment. */
  regionBytes: number[];
  labelMap: { encoding: typeof LABEL_MAP_ENCODING; length: number; sha256: string };
  /**
   * The bytes of the value after the last frame (the pad byte of an odd-length value, or a writer's
   * padding), base64; '' when none. They are no pixel's bytes, so no region holds them.
   */
  trailer: string;
}

/** Region fragments (what `take` returned, by default copies), the compressed label map and the parameters. */
export interface RegionSplit {
  regions: Uint8Array[];
  labelMap: Uint8Array;
  parameters: SegmentationParameters;
}

/**
 * Splits native pixel data (`pixels`: the Pixel Data value, as given to {@link segmentPixels}) into
 * the fragments of `segmentation`'s regions. The segmentation may come from other pixels of the
 * same geometry (the original ones, when the watermark changes some: `patch` edits a copy of each
 * frame before it is split, `pixels` itself is never written). `take` receives each region while
 * it lies in the pixel kernels' workspace (valid during the call only) and returns the fragment
 * (sealed, for example); by default a copy. Throws `INTERNAL`
 * when the geometry, the labels and the bytes do not belong together.
 */
export function splitRegions(pixels: Uint8Array, geometry: PixelGeometry, segmentation: Segmentation, patch?: FramePatch, take?: (region: Uint8Array, index: number) => Uint8Array): RegionSplit {
  const refusal = segmentationRefusal(geometry, pixels.length);
  if (refusal !== undefined) throw new GatewayError('INTERNAL', `cannot split this pixel data into regions: ${refusal.detail}`);
  const pixelsPerFrame = geometry.rows * geometry.columns;
  if (!sameGeometry(geometry, segmentation.geometry) || segmentation.labels.length !== pixelsPerFrame * geometry.frames) {
    throw new GatewayError('INTERNAL', 'the segmentation was made for another geometry');
  }
  const { labels, regions } = segmentation;
  const counts = new Array<number>(regions).fill(0);
  for (const frame of segmentation.frames) frame.counts.forEach((count, r) => (counts[r] += count));
  if (counts.length !== regions || counts.reduce((a, b) => a + b, 0) !== pixelsPerFrame * geometry.frames) {
    throw new GatewayError('INTERNAL', 'the region counts of the segmentation do not add up to its pixels');
  }
  const fragments = scatterFrames(pixels, labels, frameLayout(geometry, segmentation.frames), take ?? ((region) => region.slice()), patch);
  const labelMap = encodeLabelMap(labels, regions, segmentation.labelRuns);
  const trailer = pixels.subarray(frameByteLength(geometry) * geometry.frames);
  return {
    regions: fragments,
    labelMap,
    parameters: {
      version: 1,
      algorithm: 'kmeans-histogram',
      regions,
      seed: segmentation.seed,
      initialisation: 'greedy-kmeans++',
      intensity: geometry.samplesPerPixel === 1 ? 'stored-value' : 'mean-of-samples',
      maxIterations: MAX_ITERATIONS,
      histogramStep: segmentation.histogramStep ?? 1,
      pixelOrder: 'frame-plane-even-odd',
      geometry: { ...geometry },
      frames: segmentation.frames,
      regionBytes: counts.map((count) => count * geometry.samplesPerPixel * bytesPerSample(geometry)),
      labelMap: { encoding: LABEL_MAP_ENCODING, length: labelMap.length, sha256: sha256(labelMap) },
      trailer: Buffer.from(trailer).toString('base64'),
    },
  };
}

/**
 * The exact pixel data value given to {@link splitRegions} (trailer included), written into
 * `into` when given (its length must be the value's). `segmentation`: the one
 * {@link restoreSegmentation} gives for these arguments, when the caller has it already. Throws
 * `INTEGRITY_FAILURE` when the fragments, the label map, the geometry and the parameters do not
 * add up.
 */
export function joinRegions(
  regions: readonly RegionSource[],
  labelMap: Uint8Array,
  geometry: PixelGeometry,
  parameters: SegmentationParameters,
  into?: Uint8Array,
  segmentation = restoreSegmentation(labelMap, geometry, parameters),
): Uint8Array {
  const counts = segmentation.frames.reduce((sum, frame) => sum.map((count, r) => count + frame.counts[r]), new Array<number>(parameters.regions).fill(0));
  const size = bytesPerSample(geometry);
  if (regions.length !== parameters.regions) {
    throw new GatewayError('INTEGRITY_FAILURE', `${regions.length} region fragments for ${parameters.regions} regions`);
  }
  counts.forEach((count, r) => {
    const expected = count * geometry.samplesPerPixel * size;
    if (regions[r].length !== expected || parameters.regionBytes[r] !== expected) {
      throw new GatewayError('INTEGRITY_FAILURE', `region fragment ${r} holds ${regions[r].length} bytes (parameters: ${parameters.regionBytes[r]}); its ${count} pixels need ${expected}`);
    }
  });
  const trailer = Buffer.from(parameters.trailer, 'base64');
  const pixelBytes = frameByteLength(geometry) * geometry.frames;
  const out = into ?? new Uint8Array(pixelBytes + trailer.length);
  if (out.length !== pixelBytes + trailer.length) throw new GatewayError('INTERNAL', `the pixel data needs ${pixelBytes + trailer.length} bytes, the target has ${out.length}`);
  gatherFrames(out, segmentation.labels, frameLayout(geometry, segmentation.frames), regions);
  out.set(trailer, pixelBytes);
  return out;
}

/**
 * The segmentation behind stored parameters and label map (for the watermark on read: its
 * background-first order). Throws `INTEGRITY_FAILURE` when the label map is not the one the
 * parameters name, or the geometry differs from theirs.
 */
export function restoreSegmentation(labelMap: Uint8Array, geometry: PixelGeometry, parameters: SegmentationParameters): Segmentation {
  if (parameters.algorithm !== 'kmeans-histogram' || parameters.version !== 1 || parameters.pixelOrder !== 'frame-plane-even-odd') {
    throw new GatewayError('INTEGRITY_FAILURE', `unknown segmentation parameters (${String(parameters.algorithm)}, version ${String(parameters.version)})`);
  }
  if (!sameGeometry(geometry, parameters.geometry)) {
    throw new GatewayError('INTEGRITY_FAILURE', 'the pixel geometry differs from the one the regions were split with');
  }
  if (labelMap.length !== parameters.labelMap.length || sha256(labelMap) !== parameters.labelMap.sha256) {
    throw new GatewayError('INTEGRITY_FAILURE', 'the label map is not the one the segmentation parameters name (length or SHA-256 differs)');
  }
  if (parameters.frames.length !== geometry.frames) {
    throw new GatewayError('INTEGRITY_FAILURE', `the parameters describe ${parameters.frames.length} frames, the geometry has ${geometry.frames}`);
  }
  const { labels, counts } = decodeLabelMap(labelMap, geometry.rows * geometry.columns, geometry.frames, parameters.regions);
  const frames = parameters.frames.map((frame, f): FrameSegmentation => {
    if (counts[f].some((count, r) => count !== frame.counts[r])) {
      throw new GatewayError('INTEGRITY_FAILURE', `the label map does not give frame ${f} the region counts of the parameters`);
    }
    return { ...frame, counts: counts[f] };
  });
  return { geometry, regions: parameters.regions, seed: parameters.seed, labels, frames };
}

const GEOMETRY_FIELDS = ['rows', 'columns', 'samplesPerPixel', 'bitsAllocated', 'bitsStored', 'highBit', 'pixelRepresentation', 'planarConfiguration', 'frames', 'bigEndian'] as const satisfies ReadonlyArray<keyof PixelGeometry>;

function sameGeometry(a: PixelGeometry, b: PixelGeometry | undefined): boolean {
  return b !== undefined && GEOMETRY_FIELDS.every((field) => a[field] === b[field]);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Edits the copy of frame `frame` (its bytes) before it is split. */
export type FramePatch = (frame: number, bytes: Uint8Array) => void;

/** The frame layout the pixel kernels move by. */
function frameLayout(geometry: PixelGeometry, frames: readonly FrameSegmentation[]): FrameLayout {
  const planar = geometry.planarConfiguration === 1;
  return {
    frames: geometry.frames,
    pixelsPerFrame: geometry.rows * geometry.columns,
    planes: planar ? geometry.samplesPerPixel : 1,
    unit: bytesPerSample(geometry) * (planar ? 1 : geometry.samplesPerPixel),
    counts: frames.map((frame) => frame.counts),
  };
}
