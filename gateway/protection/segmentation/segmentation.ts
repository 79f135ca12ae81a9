/**
 * Multi-region segmentation of native pixel data (the paper's privacy split: Marwan, Kartit,
 * Ouahmane, "A Framework to Secure Medical Image Storage in Cloud Computing Environment"): each frame
 * is segmented into R regions by k-means on intensity, clustered on the intensity histogram
 * ({@link kmeansHistogram}). Intensity is the stored value of the sample (PS3.5 §8.1.1: Bits Stored
 * ending at High Bit, two's complement when Pixel Representation is 1), the sum (so the mean) of
 * the samples for several samples per pixel. Region 0 is the darkest cluster: the background, the
 * watermark's region of non-interest. Pure and deterministic: the same bytes give the same labels.
 */
import { GatewayError } from '../../errors.js';
import { kmeansHistogram, type HistogramClusters } from './kmeans-histogram.js';
import { packedLabelBytes } from './label-map.js';
import { bytesPerSample, frameByteLength, type PixelGeometry } from '../../dicom/pixel-geometry.js';
import { labelFrame } from './pixel-kernels.js';
import { HOST_BIG_ENDIAN, sampleArray, type SampleArray } from './sample-array.js';

/** Options of {@link segmentPixels}. */
export interface SegmentationOptions {
  /** R, the number of regions: 2 to {@link MAX_REGIONS}. */
  regions: number;
  /**
   * Recorded in the parameters. The default initialisation (greedy k-means++) is deterministic
   * without it; it is kept so that a seeded (random) initialisation can be added and reproduced.
   * Default 0.
   */
  seed?: number;
}

/** What the clustering found in one frame. */
export interface FrameSegmentation {
  /** Mean intensity of each region, ascending (stored value units, mean of the samples); null when empty. */
  centroids: Array<number | null>;
  /** Pixels of each region. */
  counts: number[];
  /** Lloyd iterations. */
  iterations: number;
}

/** The label of every pixel of every frame. */
export interface Segmentation {
  geometry: PixelGeometry;
  /** R. */
  regions: number;
  seed: number;
  /** One label (0..R-1) per pixel: frames in order, pixels in raster order; shared by all samples and planes. */
  labels: Uint8Array;
  frames: FrameSegmentation[];
  /**
   * The run-length code of each frame's labels (label-map.ts, mode 0, no mode byte), when the
   * labelling produced it and every frame's runs are shorter than its packed labels.
   */
  labelRuns?: Uint8Array[];
  /** The histogram counted every this many pixels (1: all). */
  histogramStep?: number;
}

/** Labels are bytes. */
export const MAX_REGIONS = 255;
/** Samples per pixel segmented at most (RGB, YBR: 3; the retired ARGB and CMYK: 4). */
export const MAX_SAMPLES_PER_PIXEL = 4;
/** Bytes after the last frame (a pad byte, some writers' padding) kept in the parameters, at most. */
export const MAX_TRAILER_BYTES = 1024;

/** Why native pixel data is striped instead of segmented. */
export interface SegmentationRefusal {
  reason: 'bit-packed' | 'unsupported-bits-allocated' | 'unsupported-samples-per-pixel' | 'invalid-bits' | 'length-mismatch';
  detail: string;
}

/**
 * Why pixel data of this geometry and `byteLength` bytes (the whole Pixel Data value) cannot be
 * segmented, or undefined when it can.
 */
export function segmentationRefusal(geometry: PixelGeometry, byteLength: number): SegmentationRefusal | undefined {
  const { bitsAllocated, bitsStored, highBit, rows, columns, samplesPerPixel, frames } = geometry;
  if (bitsAllocated === 1) {
    return { reason: 'bit-packed', detail: 'BitsAllocated 1: pixels are bits packed across byte (and frame) boundaries, so no pixel owns a byte' };
  }
  if (bitsAllocated !== 8 && bitsAllocated !== 16 && bitsAllocated !== 32) {
    return { reason: 'unsupported-bits-allocated', detail: `BitsAllocated ${bitsAllocated}: only 8, 16 and 32 are segmented` };
  }
  if (!(samplesPerPixel >= 1 && samplesPerPixel <= MAX_SAMPLES_PER_PIXEL)) {
    return { reason: 'unsupported-samples-per-pixel', detail: `SamplesPerPixel ${samplesPerPixel}: only 1 to ${MAX_SAMPLES_PER_PIXEL} are segmented` };
  }
  if (!(bitsStored >= 1 && bitsStored <= bitsAllocated && highBit >= bitsStored - 1 && highBit < bitsAllocated)) {
    return { reason: 'invalid-bits', detail: `BitsStored ${bitsStored} and HighBit ${highBit} do not fit in BitsAllocated ${bitsAllocated}` };
  }
  const needed = frameByteLength(geometry) * frames;
  if (byteLength < needed || byteLength > needed + MAX_TRAILER_BYTES || rows * columns * samplesPerPixel === 0) {
    return {
      reason: 'length-mismatch',
      detail:
        `the value holds ${byteLength} bytes but ${frames} frame(s) of ${rows} x ${columns} x ${samplesPerPixel} samples ` +
        `x ${bitsAllocated} bits need ${needed} (a YBR_*_422 or another layout that is not one sample per pixel and component)`,
    };
  }
  return undefined;
}

/**
 * Segments every frame of native pixel data (`pixels`: the Pixel Data value, all frames, a trailing
 * pad byte allowed) into `options.regions` regions. Throws `INTERNAL` when R is out of range or
 * the geometry is one {@link segmentationRefusal} refuses (the caller stripes those).
 */
export function segmentPixels(pixels: Uint8Array, geometry: PixelGeometry, options: SegmentationOptions): Segmentation {
  const regions = options.regions;
  const seed = options.seed ?? 0;
  checkRegions(regions);
  if (!Number.isSafeInteger(seed)) throw new GatewayError('INTERNAL', `the segmentation seed must be an integer, got ${seed}`);
  const refusal = segmentationRefusal(geometry, pixels.length);
  if (refusal !== undefined) throw new GatewayError('INTERNAL', `cannot segment this pixel data: ${refusal.detail}`);

  const coder = intensityCoder(geometry);
  const pixelsPerFrame = geometry.rows * geometry.columns;
  const labels = new Uint8Array(pixelsPerFrame * geometry.frames);
  const labelled =
    geometry.samplesPerPixel === 1 && coder.table !== undefined && !HOST_BIG_ENDIAN
      ? labelByTable(pixels, geometry, coder, regions, labels)
      : { frames: labelByKeys(sampleArray(pixels, coder.size, pixelsPerFrame * geometry.samplesPerPixel * geometry.frames), geometry, coder, regions, labels), histogramStep: 1 };
  return { geometry, regions, seed, labels, ...labelled };
}

/** Throws `INTERNAL` unless 2 <= regions <= MAX_REGIONS. */
export function checkRegions(regions: number): void {
  if (!Number.isInteger(regions) || regions < 2 || regions > MAX_REGIONS) {
    throw new GatewayError('INTERNAL', `the number of regions must be an integer from 2 to ${MAX_REGIONS}, got ${regions}`);
  }
}

/**
 * Turns a sample into its intensity key: the stored value offset to be non-negative (the sign bit
 * flipped), quantised to at most 16 bits. Keys order like the signed values.
 */
interface IntensityCoder {
  size: number;
  /** 1 << bits of a key (bins of one sample). */
  bins: number;
  /** Right shift of the offset value to the key (BitsStored above 16). */
  quantization: number;
  /** Offset of the signed value in the key, before quantisation. */
  offset: number;
  /** 1 and 2-byte samples: the key of each element value (host order). */
  table?: Uint16Array;
  /** 4-byte samples: the key of an element value (host order). */
  key: (element: number) => number;
}

function intensityCoder(geometry: PixelGeometry): IntensityCoder {
  const size = bytesPerSample(geometry);
  const bits = geometry.bitsStored;
  const shift = geometry.highBit + 1 - bits;
  const mask = bits === 32 ? -1 : 2 ** bits - 1;
  const flip = geometry.pixelRepresentation === 1 ? 1 << (bits - 1) : 0;
  const quantization = Math.max(0, bits - 16);
  const swap = size > 1 && geometry.bigEndian !== HOST_BIG_ENDIAN;
  const key = (element: number): number => {
    if (swap) element = size === 2 ? ((element & 0xff) << 8) | (element >>> 8) : byteSwap32(element);
    return (((element >>> shift) & mask) ^ flip) >>> quantization;
  };
  const coder: IntensityCoder = {
    size,
    bins: 2 ** (bits - quantization),
    quantization,
    offset: flip === 0 ? 0 : 2 ** (bits - 1),
    key,
  };
  if (size <= 2) {
    // The table depends only on the sample format: built once per format, not per instance.
    const id = `${size}/${bits}/${shift}/${flip}/${swap}`;
    let table = KEY_TABLES.get(id);
    if (table === undefined) {
      table = new Uint16Array(size === 1 ? 256 : 65536);
      for (let element = 0; element < table.length; element++) table[element] = key(element);
      if (KEY_TABLES.size >= 64) KEY_TABLES.clear();
      KEY_TABLES.set(id, table);
    }
    coder.table = table;
  }
  return coder;
}

/** Element-to-key tables by sample format (read only once built). */
const KEY_TABLES = new Map<string, Uint16Array>();

function byteSwap32(value: number): number {
  return (((value & 0xff) << 24) | ((value & 0xff00) << 8) | ((value >>> 8) & 0xff00) | (value >>> 24)) >>> 0;
}

/** Mean key of a cluster back to a mean stored value (3 decimals). */
function intensityOf(meanKey: number | null, coder: IntensityCoder, samplesPerPixel: number): number | null {
  if (meanKey === null) return null;
  return Math.round(((meanKey * 2 ** coder.quantization) / samplesPerPixel - coder.offset) * 1000) / 1000;
}

/**
 * One sample per pixel of 1 or 2 bytes: histogram of the element values, labels through a table,
 * region counts and the runs of the label map (all in the pixel kernels). Large frames are
 * clustered on the histogram of every {@link histogramStep}-th pixel: a million pixels give the
 * same clusters to within a fraction of a grey level, at a quarter of the cost on a 2048 x 2048 frame.
 */
function labelByTable(pixels: Uint8Array, geometry: PixelGeometry, coder: IntensityCoder, regions: number, labels: Uint8Array): { frames: FrameSegmentation[]; labelRuns?: Uint8Array[]; histogramStep: number } {
  const table = coder.table!;
  const pixelsPerFrame = geometry.rows * geometry.columns;
  const frameBytes = pixelsPerFrame * coder.size;
  const keyHistogram = new Uint32Array(coder.bins);
  const labelOfElement = new Uint8Array(table.length);
  const step = histogramStep(pixelsPerFrame);
  const frames: FrameSegmentation[] = [];
  const labelRuns: Uint8Array[] = [];
  let coded = true;
  for (let frame = 0; frame < geometry.frames; frame++) {
    let clusters: HistogramClusters | undefined;
    const classify = (elementHistogram: Uint32Array): Uint8Array => {
      clusters = clusterElements(elementHistogram, table, keyHistogram, regions, labelOfElement);
      return labelOfElement;
    };
    const labelled = labelFrame(
      pixels.subarray(frame * frameBytes, (frame + 1) * frameBytes),
      coder.size as 1 | 2,
      step,
      classify,
      labels.subarray(frame * pixelsPerFrame, (frame + 1) * pixelsPerFrame),
      packedLabelBytes(pixelsPerFrame, regions),
    );
    frames.push(frameResult(clusters!, coder, geometry.samplesPerPixel, Array.from(labelled.counts.subarray(0, regions))));
    if (labelled.runs === undefined) coded = false;
    else labelRuns.push(labelled.runs);
  }
  return { frames, labelRuns: coded ? labelRuns : undefined, histogramStep: step };
}

/** Pixels of a frame whose histogram is sampled: every step-th pixel, so that about 2^20 are counted. */
export function histogramStep(pixelsPerFrame: number): number {
  return Math.max(1, Math.floor(pixelsPerFrame / 2 ** 20));
}

/** k-means over the key histogram of the element histogram; fills `labelOfElement`. */
function clusterElements(elementHistogram: Uint32Array, table: Uint16Array, keyHistogram: Uint32Array, regions: number, labelOfElement: Uint8Array): HistogramClusters {
  keyHistogram.fill(0);
  for (let element = 0; element < table.length; element++) {
    const count = elementHistogram[element];
    if (count !== 0) keyHistogram[table[element]] += count;
  }
  const clusters = kmeansHistogram(keyHistogram, regions);
  const clusterOfKey = clusters.clusterOfBin;
  for (let element = 0; element < table.length; element++) labelOfElement[element] = clusterOfKey[table[element]];
  return clusters;
}

/** Any other layout: the key of each pixel (sum of its samples' keys), then its histogram. */
function labelByKeys(samples: SampleArray, geometry: PixelGeometry, coder: IntensityCoder, regions: number, labels: Uint8Array): FrameSegmentation[] {
  const { samplesPerPixel, planarConfiguration } = geometry;
  const pixelsPerFrame = geometry.rows * geometry.columns;
  const keys = new Uint32Array(pixelsPerFrame);
  const histogram = new Uint32Array(samplesPerPixel * (coder.bins - 1) + 1);
  // Element index of sample s of pixel p: base + p * pixelStride + s * sampleStride.
  const pixelStride = planarConfiguration === 1 ? 1 : samplesPerPixel;
  const sampleStride = planarConfiguration === 1 ? pixelsPerFrame : 1;
  const { table, key } = coder;
  const frames: FrameSegmentation[] = [];
  for (let frame = 0; frame < geometry.frames; frame++) {
    const base = frame * pixelsPerFrame * samplesPerPixel;
    keys.fill(0);
    for (let s = 0; s < samplesPerPixel; s++) {
      let at = base + s * sampleStride;
      if (table !== undefined) {
        for (let p = 0; p < pixelsPerFrame; p++, at += pixelStride) keys[p] += table[samples[at]];
      } else {
        for (let p = 0; p < pixelsPerFrame; p++, at += pixelStride) keys[p] += key(samples[at]);
      }
    }
    histogram.fill(0);
    for (let p = 0; p < pixelsPerFrame; p++) histogram[keys[p]]++;
    const clusters = kmeansHistogram(histogram, regions);
    const clusterOfKey = clusters.clusterOfBin;
    const labelBase = frame * pixelsPerFrame;
    for (let p = 0; p < pixelsPerFrame; p++) labels[labelBase + p] = clusterOfKey[keys[p]];
    frames.push(frameResult(clusters, coder, samplesPerPixel));
  }
  return frames;
}

/** `counts`: the pixels of each region, when the histogram counted only a sample of them. */
function frameResult(clusters: HistogramClusters, coder: IntensityCoder, samplesPerPixel: number, counts = clusters.counts): FrameSegmentation {
  return {
    centroids: clusters.means.map((mean) => intensityOf(mean, coder, samplesPerPixel)),
    counts,
    iterations: clusters.iterations,
  };
}

/**
 * The pixel indices (raster, within frame `frameIndex`, 0-based) of region 0, then region 1, and
 * so on, each region in raster order: the order in which the watermark visits pixels, background
 * (region of non-interest) first. Throws `NOT_FOUND` for a frame that does not exist.
 */
export function backgroundFirstOrder(segmentation: Segmentation, frameIndex: number): Uint32Array {
  const frame = segmentation.frames[frameIndex];
  if (!Number.isInteger(frameIndex) || frame === undefined) {
    throw new GatewayError('NOT_FOUND', `frame index ${frameIndex} does not exist (the segmentation has ${segmentation.frames.length} frames)`);
  }
  const pixelsPerFrame = segmentation.geometry.rows * segmentation.geometry.columns;
  const next = new Uint32Array(segmentation.regions);
  for (let r = 1; r < segmentation.regions; r++) next[r] = next[r - 1] + frame.counts[r - 1];
  const order = new Uint32Array(pixelsPerFrame);
  const labels = segmentation.labels.subarray(frameIndex * pixelsPerFrame, (frameIndex + 1) * pixelsPerFrame);
  for (let p = 0; p < pixelsPerFrame; p++) order[next[labels[p]]++] = p;
  return order;
}

/**
 * The same order as {@link backgroundFirstOrder}, produced lazily: the watermark reads only a
 * prefix of it (usually a few thousand background pixels), so the whole order is rarely needed.
 */
export function* backgroundFirstPixels(segmentation: Segmentation, frameIndex: number): Generator<number> {
  const frame = segmentation.frames[frameIndex];
  if (!Number.isInteger(frameIndex) || frame === undefined) {
    throw new GatewayError('NOT_FOUND', `frame index ${frameIndex} does not exist (the segmentation has ${segmentation.frames.length} frames)`);
  }
  const pixelsPerFrame = segmentation.geometry.rows * segmentation.geometry.columns;
  const labels = segmentation.labels.subarray(frameIndex * pixelsPerFrame, (frameIndex + 1) * pixelsPerFrame);
  for (let region = 0; region < segmentation.regions; region++) {
    if (frame.counts[region] === 0) continue;
    for (let p = 0; p < pixelsPerFrame; p++) if (labels[p] === region) yield p;
  }
}
