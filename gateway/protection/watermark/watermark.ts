/**
 * Reversible fragile watermark of native pixel data by histogram shifting:
 *
 *   Z. Ni, Y.-Q. Shi, N. Ansari, W. Su, "Reversible Data Hiding", IEEE Transactions on Circuits
 *   and Systems for Video Technology 16(3), 354-362, 2006. doi:10.1109/TCSVT.2006.869964
 *
 * The paper's scheme: take the histogram of the sample values, its peak point P (the most
 * frequent value) and a zero point Z (an empty bin); shift every value strictly between P and Z
 * by one towards Z, which empties the bin next to P; then visit the samples and, at each sample
 * equal to P, embed one bit: 0 leaves it at P, 1 moves it into the emptied bin. Extraction reads
 * P as 0 and P +- 1 as 1 and shifts back: the original is restored bit for bit. Where one peak is
 * not enough, the paper's general case uses several pairs of peak and zero points; here they are
 * applied one after the other ("passes"), each on the result of the previous one, and removed in
 * reverse order.
 *
 * What Aegis adds, all within the paper's scheme:
 * - Region of non-interest first: samples are visited in the caller's order (the segmentation's
 *   background region first, so that the payload lands outside the diagnostic regions) and a pass
 *   uses the histogram of a prefix of that order only: the scan stops at the first value seen once
 *   per payload bit still to embed, so only that prefix is touched and every later sample keeps
 *   its bytes.
 * - The zero point is the bin, on either side of P, that costs least: the samples strictly
 *   between P and Z (each moves by one) plus a weight per sample already holding Z. Such samples
 *   (the paper's bookkeeping, when no bin is empty) are left untouched and listed in the
 *   parameters, which live in the signed manifest rather than in the pixels.
 * - Values are stored values over Bits Stored (two's complement when Pixel Representation is 1),
 *   so nothing leaves the stored range; bits outside Bits Stored / High Bit are kept exactly,
 *   garbage included. Each sample is a carrier (channels and frames pooled in one histogram).
 *
 * Why not prediction-error expansion (Thodi and Rodriguez, IEEE TIP 16(3), 2007): it carries more
 * bits per pixel, but each prediction needs its neighbours decoded first, which ties the scan to
 * a causal raster order and brings overflow maps; here the payload is 256 bits, the order is the
 * segmentation's, and medical backgrounds (air, padding, dark MR noise) give tall histogram peaks:
 * independent samples, each moved by at most one per pass, win.
 *
 * Fragility: each pass maps a watermarked sample to (bit, previous value) one-to-one, so any
 * change of the watermarked bytes changes the extracted payload or the restored pixels, and with
 * them the SHA-256 the payload's MAC covers (watermark-payload.ts). Pure: no I/O.
 */
import { GatewayError } from '../../errors.js';
import { sampleCodec, samplesPerFrame, unsupportedSampleAccess, type PixelGeometry, type SampleCodec } from '../../dicom/pixel-geometry.js';
import { encodePositions, newHistogram, OffsetList, scanSamples, type Histogram, type VisitingOrder } from './watermark-scan.js';
import { checkWatermarkParameters, digestLabel, MAX_PASSES, MAX_SKIPPED_SAMPLES, MIN_PAYLOAD_BYTES, WATERMARK_SCHEME, watermarkIntegrityError, type WatermarkParameters, type WatermarkPass } from './watermark-parameters.js';

/** Options of {@link embedWatermark}, {@link extractWatermark} and {@link watermarkCapacity}. */
export interface WatermarkOptions {
  order?: VisitingOrder;
}

/** A listed (skipped) sample costs as much as this many shifted samples when choosing Z. */
const SKIP_WEIGHT = 16;

/** Why no watermark was embedded (for the manifest). */
export interface WatermarkRefusal {
  refused: string;
  reason: 'unsupported-pixel-format' | 'insufficient-capacity';
}

/** The result of {@link embedWatermark}. */
export type EmbedResult = { watermarked: Uint8Array; parameters: WatermarkParameters } | WatermarkRefusal;

/** The result of {@link extractWatermark}. */
export interface ExtractedWatermark {
  payload: Uint8Array;
  /** The original pixel data, byte for byte. */
  restored: Uint8Array;
}

/**
 * The samples a watermark changes: byte offsets in the Pixel Data value (ascending scan order,
 * not byte order) and their new stored values. A few thousand samples at most in practice, so
 * callers write them into their own copy of the pixels ({@link writeWatermarkChanges}) instead of
 * copying the whole value.
 */
export interface WatermarkChanges {
  offsets: Uint32Array;
  values: Float64Array;
}

/** The result of {@link planWatermark}. */
export type WatermarkPlan = { changes: WatermarkChanges; parameters: WatermarkParameters } | WatermarkRefusal;

/**
 * Embeds `payload` (at least {@link MIN_PAYLOAD_BYTES}) in a copy of `pixels`, the native Pixel
 * Data value bytes (all frames). Returns the watermarked copy and the parameters, or a refusal
 * saying why it cannot apply (unaddressable samples, too little capacity in the visited pixels).
 */
export function embedWatermark(pixels: Uint8Array, geometry: PixelGeometry, payload: Uint8Array, options: WatermarkOptions = {}): EmbedResult {
  const plan = planWatermark(pixels, geometry, payload, options);
  if ('refused' in plan) return plan;
  const watermarked = new Uint8Array(pixels);
  writeWatermarkChanges(watermarked, geometry, plan.changes);
  return { watermarked, parameters: plan.parameters };
}

/**
 * Writes the changed samples into `target`, a copy of the bytes of the Pixel Data value from
 * byte `from` on (a frame, or the whole value); changes outside it are left out. The bits of
 * each word outside Bits Stored are kept as `target` has them.
 */
export function writeWatermarkChanges(target: Uint8Array, geometry: PixelGeometry, changes: WatermarkChanges, from = 0): void {
  const codec = sampleCodec(geometry);
  const end = from + target.length;
  for (let i = 0; i < changes.offsets.length; i++) {
    const offset = changes.offsets[i];
    if (offset >= from && offset < end) codec.write(target, offset - from, changes.values[i]);
  }
}

/**
 * What {@link embedWatermark} does, without copying the pixels: `pixels` are only read, and the
 * result lists the samples to change ({@link writeWatermarkChanges}).
 */
export function planWatermark(pixels: Uint8Array, geometry: PixelGeometry, payload: Uint8Array, options: WatermarkOptions = {}): WatermarkPlan {
  const unsupported = unsupportedSampleAccess(geometry);
  if (unsupported !== undefined) return { refused: `unsupported pixel format: ${unsupported}`, reason: 'unsupported-pixel-format' };
  checkLength(pixels, geometry);
  if (payload.length < MIN_PAYLOAD_BYTES) {
    throw new GatewayError('INTERNAL', `a watermark payload needs at least ${MIN_PAYLOAD_BYTES} bytes, got ${payload.length}`);
  }
  const codec = sampleCodec(geometry);
  const needed = payload.length * 8;
  const offsets = new OffsetList();
  // The current value of each scanned sample, by scan position (filled after the first scan).
  let values = new Float64Array(0);
  const passes: WatermarkPass[] = [];
  let embedded = 0;
  while (embedded < needed) {
    const remaining = needed - embedded;
    const histogram = newHistogram(geometry.bitsStored);
    let most = 0;
    let peak = 0;
    const count = (value: number): boolean => {
      const n = histogram.increment(value - codec.min);
      if (n > most) {
        most = n;
        peak = value;
      }
      return n === remaining;
    };
    let samples = 0;
    let reached = false;
    if (passes.length === 0) {
      scanSamples(geometry, options.order, (offset) => {
        offsets.push(offset);
        return (reached = count(codec.read(pixels, offset)));
      });
      samples = offsets.length;
      const offered = reached ? needed : histogram.largestSum(MAX_PASSES);
      if (offered < needed) return insufficient(`the ${samples} visited samples offer at most ${offered} bits (their ${MAX_PASSES} most frequent values), the payload needs ${needed}`);
      values = new Float64Array(samples);
      for (let u = 0; u < samples; u++) values[u] = codec.read(pixels, offsets.at(u));
    } else {
      while (samples < offsets.length && !reached) reached = count(values[samples++]);
    }
    if (!reached) samples = lastOccurrence(values, histogram, peak, codec.min) + 1;
    const zero = zeroPoint(histogram, peak - codec.min, codec.max - codec.min + 1);
    if (zero === undefined) return insufficient(`every value near ${peak} occurs more than ${MAX_SKIPPED_SAMPLES} times in the ${samples} visited samples`);
    const pass = { peak, zero: zero + codec.min, samples, bits: most };
    passes.push({ ...pass, ...embedPass(values, pass, payload, embedded) });
    embedded += most;
    if (embedded < needed && passes.length === MAX_PASSES) return insufficient(`${MAX_PASSES} passes carry ${embedded} of the ${needed} payload bits`);
  }
  const samplesScanned = Math.max(...passes.map((p) => p.samples));
  const changed: number[] = [];
  for (let u = 0; u < samplesScanned; u++) if (values[u] !== codec.read(pixels, offsets.at(u))) changed.push(u);
  return {
    changes: { offsets: Uint32Array.from(changed, (u) => offsets.at(u)), values: Float64Array.from(changed, (u) => values[u]) },
    parameters: {
      scheme: WATERMARK_SCHEME,
      version: 1,
      payloadBits: needed,
      samplesScanned,
      scanDigest: offsets.digest(digestLabel(geometry), samplesScanned),
      passes,
      samplesChanged: changed.length,
    },
  };
}

/**
 * Reads the payload out of watermarked pixels and restores the original bytes exactly. Throws
 * `INTEGRITY_FAILURE` when the parameters are malformed or inconsistent with the data (another
 * visiting order or geometry, a sample that no longer decodes, a different number of bits).
 */
export function extractWatermark(watermarked: Uint8Array, geometry: PixelGeometry, parameters: WatermarkParameters, options: WatermarkOptions = {}): ExtractedWatermark {
  const restored = new Uint8Array(watermarked);
  return { payload: removeWatermark(restored, geometry, parameters, options), restored };
}

/**
 * What {@link extractWatermark} does, in place: `pixels` (watermarked) become the original bytes;
 * returns the payload. On `INTEGRITY_FAILURE` `pixels` may be partly restored.
 */
export function removeWatermark(pixels: Uint8Array, geometry: PixelGeometry, parameters: WatermarkParameters, options: WatermarkOptions = {}): Uint8Array {
  const unsupported = unsupportedSampleAccess(geometry);
  if (unsupported !== undefined) throw watermarkIntegrityError(`unsupported pixel format: ${unsupported}`);
  checkLength(pixels, geometry);
  const codec = sampleCodec(geometry);
  const passes = checkWatermarkParameters(parameters, geometry);
  const offsets = new OffsetList();
  scanSamples(geometry, options.order, (offset) => {
    offsets.push(offset);
    return offsets.length === parameters.samplesScanned;
  });
  if (offsets.length !== parameters.samplesScanned || offsets.digest(digestLabel(geometry), offsets.length) !== parameters.scanDigest) {
    throw watermarkIntegrityError('the visiting order or the pixel geometry differs from the one the watermark was embedded with');
  }
  const payload = new Uint8Array(parameters.payloadBits >>> 3);
  let end = parameters.payloadBits;
  for (let j = passes.length - 1; j >= 0; j--) {
    end -= passes[j].bits;
    extractPass(pixels, codec, offsets, passes[j], payload, end);
  }
  return payload;
}

/**
 * The capacity over the whole visiting order: the samples of the most frequent value (the bits
 * one pass could carry) and of the {@link MAX_PASSES} most frequent values (about what all passes
 * could carry), for benchmarks and statistics.
 */
export function watermarkCapacity(pixels: Uint8Array, geometry: PixelGeometry, options: WatermarkOptions = {}): { samples: number; onePass: number; allPasses: number } {
  if (unsupportedSampleAccess(geometry) !== undefined) return { samples: 0, onePass: 0, allPasses: 0 };
  checkLength(pixels, geometry);
  const codec = sampleCodec(geometry);
  const histogram = newHistogram(geometry.bitsStored);
  let samples = 0;
  scanSamples(geometry, options.order, (offset) => {
    samples++;
    histogram.increment(codec.read(pixels, offset) - codec.min);
    return false;
  });
  return { samples, onePass: histogram.largestSum(1), allPasses: histogram.largestSum(MAX_PASSES) };
}

/** Shifts the values between P and Z and embeds payload bits from `firstBit` on at the samples of value P. */
function embedPass(values: Float64Array, pass: { peak: number; zero: number; samples: number }, payload: Uint8Array, firstBit: number): { skipped: string; skippedCount: number } {
  const { peak, zero } = pass;
  const step = zero > peak ? 1 : -1;
  const skipped: number[] = [];
  let bit = firstBit;
  for (let u = 0; u < pass.samples; u++) {
    const value = values[u];
    if (value === zero) {
      skipped.push(u);
    } else if (value === peak) {
      if ((payload[bit >>> 3] >>> (7 - (bit & 7))) & 1) values[u] = value + step;
      bit++;
    } else if ((value - peak) * step > 0 && (zero - value) * step > 0) {
      values[u] = value + step;
    }
  }
  return { skipped: encodePositions(skipped), skippedCount: skipped.length };
}

/** Undoes one pass in place, writing its bits to `payload` from `firstBit` on. */
function extractPass(data: Uint8Array, codec: SampleCodec, offsets: OffsetList, pass: WatermarkPass & { positions: number[] }, payload: Uint8Array, firstBit: number): void {
  const { peak, zero, positions } = pass;
  const step = zero > peak ? 1 : -1;
  let bits = 0;
  let nextSkipped = 0;
  for (let u = 0; u < pass.samples; u++) {
    const offset = offsets.at(u);
    const value = codec.read(data, offset);
    if (u === positions[nextSkipped]) {
      nextSkipped++;
      if (value !== zero) throw watermarkIntegrityError(`sample ${u} of the scan no longer holds the zero point ${zero}`);
    } else if (value === peak) {
      bits++;
    } else if (value === peak + step) {
      if (bits < pass.bits) payload[(firstBit + bits) >>> 3] |= 0x80 >>> ((firstBit + bits) & 7);
      bits++;
      codec.write(data, offset, peak);
    } else if ((value - peak) * step > 1 && (zero - value) * step >= 0) {
      codec.write(data, offset, value - step);
    }
  }
  if (bits !== pass.bits) throw watermarkIntegrityError(`a pass of the watermarked pixels carries ${bits} bits where ${pass.bits} were embedded`);
}

/** The position of the last sample of value `peak`; samples after it are taken out of the histogram. */
function lastOccurrence(values: Float64Array, histogram: Histogram, peak: number, min: number): number {
  let u = values.length - 1;
  for (; u >= 0; u--) {
    const value = values[u];
    if (value === peak) break;
    histogram.decrement(value - min);
  }
  return u;
}

/**
 * The zero point (as a value index) that costs least, searched outwards from the peak on both
 * sides: samples strictly between peak and zero (each moves by one) plus SKIP_WEIGHT per sample
 * holding the zero value (listed and untouched). Undefined when every candidate holds more than
 * MAX_SKIPPED_SAMPLES samples.
 */
function zeroPoint(histogram: Histogram, peak: number, size: number): number | undefined {
  let best: number | undefined;
  let bestCost = Infinity;
  for (const step of [1, -1]) {
    let between = 0;
    for (let i = peak + step; i >= 0 && i < size && between < bestCost; i += step) {
      const count = histogram.count(i);
      if (count <= MAX_SKIPPED_SAMPLES && between + count * SKIP_WEIGHT < bestCost) {
        best = i;
        bestCost = between + count * SKIP_WEIGHT;
      }
      if (count === 0) break;
      between += count;
    }
  }
  return best;
}

function insufficient(why: string): WatermarkRefusal {
  return { refused: `insufficient capacity: ${why}`, reason: 'insufficient-capacity' };
}

function checkLength(pixels: Uint8Array, geometry: PixelGeometry): void {
  const needed = samplesPerFrame(geometry) * geometry.frames * (geometry.bitsAllocated >>> 3);
  if (pixels.length < needed) {
    throw new GatewayError('INTERNAL', `the pixel data holds ${pixels.length} bytes but ${geometry.frames} frame(s) of ${geometry.rows}x${geometry.columns}x${geometry.samplesPerPixel} samples need ${needed}`);
  }
}
