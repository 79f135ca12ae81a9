/**
 * The privacy split of Pixel Data (docs/protection.md): native pixel data is segmented into R
 * regions ({@link segmentPixels}, {@link splitRegions}); what cannot be segmented without decoding
 * is striped byte by byte across the same R fragments ({@link stripeBytes}), the parameters saying
 * why. One entry point each way, so the store and retrieve services need not know which.
 */
import { joinStripes, splitEncapsulated, stripeBytes, type StripeParameters } from './byte-stripes.js';
import type { PixelGeometry } from '../../dicom/pixel-geometry.js';
import { joinRegions, splitRegions, type FramePatch, type SegmentationParameters } from './region-split.js';
import { segmentationRefusal, segmentPixels, type Segmentation, type SegmentationOptions } from '../segmentation/segmentation.js';

/** The parameters of either split (JSON, kept in the manifest); `algorithm` tells which. */
export type PixelSplitParameters = SegmentationParameters | StripeParameters;

/** Options of {@link splitPixelData}. */
export interface PixelSplitOptions extends SegmentationOptions {
  /**
   * Split by this segmentation instead of segmenting `pixels` (for example the segmentation of the
   * pixels before the watermark changed them, whose background-first order the watermark used).
   */
  segmentation?: Segmentation;
  /** Edits the copy of each frame before it is split (the watermark's changes); `pixels` are never written. */
  patch?: FramePatch;
  /** Turns each region into its fragment while it is in the kernels' workspace (see {@link splitRegions}). */
  take?: (region: Uint8Array, index: number) => Uint8Array;
}

/** The R region fragments, the label map (empty when striped) and the parameters. */
export interface PixelSplit {
  regions: Uint8Array[];
  labelMap: Uint8Array;
  parameters: PixelSplitParameters;
  /** The segmentation used; absent when the bytes were striped. */
  segmentation?: Segmentation;
}

/**
 * Splits the value of a native Pixel Data element into `options.regions` region fragments:
 * segmented when {@link segmentationRefusal} allows it, otherwise striped with the reason recorded.
 */
export function splitPixelData(pixels: Uint8Array, geometry: PixelGeometry, options: PixelSplitOptions): PixelSplit {
  const refusal = segmentationRefusal(geometry, pixels.length);
  if (refusal !== undefined) return { ...stripeBytes(pixels, options.regions, refusal), labelMap: new Uint8Array(0) };
  const segmentation = options.segmentation ?? segmentPixels(pixels, geometry, options);
  return { ...splitRegions(pixels, geometry, segmentation, options.patch, options.take), segmentation };
}

/** Splits the value of an encapsulated Pixel Data element (see {@link splitEncapsulated}). */
export function splitEncapsulatedPixelData(value: Uint8Array, regions: number): PixelSplit {
  return { ...splitEncapsulated(value, regions), labelMap: new Uint8Array(0) };
}

/**
 * The exact value given to {@link splitPixelData} or {@link splitEncapsulatedPixelData}, segmented
 * values written into `into` when given (see {@link joinRegions}). Throws `INTEGRITY_FAILURE` when
 * the pieces do not add up.
 */
export function joinPixelData(regions: Uint8Array[], labelMap: Uint8Array, geometry: PixelGeometry, parameters: PixelSplitParameters, into?: Uint8Array): Uint8Array {
  return parameters.algorithm === 'byte-stripes' ? joinStripes(regions, parameters) : joinRegions(regions, labelMap, geometry, parameters, into);
}
