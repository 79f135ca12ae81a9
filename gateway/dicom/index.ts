/**
 * The byte-level DICOM module of Aegis (PS3.5 encoding, PS3.10 files, PS3.18 F.2 JSON): pure
 * functions from the bytes of a Part 10 instance to what the gateway needs to know about it.
 */
export type {
  BulkDataLocation,
  DicomJson,
  DicomJsonAttribute,
  EncapsulatedFrame,
  ParsedInstance,
  PixelDataLayout,
} from './types.js';
export { parseInstance, datasetView, type ParseOptions } from './parse.js';
export { frameRanges, frameCount } from './pixel-data.js';
export { INLINE_BINARY_LIMIT } from './json-model.js';
export {
  transferSyntax,
  isEncapsulated,
  isKnownTransferSyntax,
  frameMediaType,
  knownTransferSyntaxes,
  IMPLICIT_VR_LITTLE_ENDIAN,
  EXPLICIT_VR_LITTLE_ENDIAN,
  DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
  EXPLICIT_VR_BIG_ENDIAN,
  type TransferSyntax,
} from './transfer-syntax.js';
export {
  tagForKeyword,
  keywordForTag,
  vrForTag,
  dictionaryVR,
  normalizeTag,
  isPrivateTag,
  isPrivateCreatorTag,
} from './dictionary.js';
export { charsetDecoder, type CharsetDecoder } from './charset.js';
export { readInstanceTree, type InstanceTree } from './parse.js';
export {
  annexERows,
  annexEAction,
  identityAttributes,
  isIdentityAttribute,
  DEIDENTIFICATION_METHODS,
  type AnnexERow,
  type AnnexEActionCode,
  type DeidentificationMethod,
} from './annex-e.js';
export {
  DeidentificationPlan,
  type DeidentifyOptions,
  type DatesOption,
  type DeidentificationReport,
  type DeidentificationCounts,
} from './deid-plan.js';
export { deidentifyInstance, type DeidentifiedInstance } from './deidentify.js';
export { deidentifyJson, type DeidentifiedJson } from './deidentify-json.js';
export {
  pixelGeometry,
  nativePixelBytes,
  unsupportedSampleAccess,
  bytesPerSample,
  pixelsPerFrame,
  samplesPerFrame,
  frameLength,
  frameByteLength,
  valueRange,
  sampleOffset,
  sampleCodec,
  readSample,
  writeSample,
  type PixelGeometry,
  type SampleCodec,
  type NativePixelDataLayout,
} from './pixel-geometry.js';
export {
  embedWatermark,
  extractWatermark,
  writeWatermarkChanges,
  watermarkCapacity,
  WATERMARK_SCHEME,
  MIN_PAYLOAD_BYTES,
  MAX_SKIPPED_SAMPLES,
  MAX_PASSES,
  type VisitingOrder,
  type WatermarkPass,
  type WatermarkOptions,
  type WatermarkParameters,
  type WatermarkRefusal,
  type EmbedResult,
  type ExtractedWatermark,
} from './watermark.js';
export {
  watermarkKey,
  watermarkPayload,
  verifyWatermark,
  watermarkPixelData,
  planPixelWatermark,
  verifyAndRemoveWatermark,
  verifyAndRemoveWatermarkInPlace,
  WATERMARK_KEY_INFO,
  type WatermarkClaims,
  type WatermarkRecord,
  type WatermarkSeal,
} from './watermark-payload.js';
export {
  segmentPixels,
  segmentationRefusal,
  backgroundFirstOrder,
  backgroundFirstPixels,
  MAX_REGIONS,
  type Segmentation,
  type SegmentationOptions,
  type SegmentationRefusal,
  type FrameSegmentation,
} from './segmentation.js';
export { splitRegions, joinRegions, restoreSegmentation, type FramePatch, type RegionSplit, type SegmentationParameters } from './region-split.js';
export type { RegionSource } from './pixel-kernels.js';
export {
  splitEncapsulated,
  joinEncapsulated,
  stripeBytes,
  joinStripes,
  DEFAULT_STRIPE_BYTES,
  type StripeParameters,
  type StripeReason,
  type StripedBytes,
} from './byte-stripes.js';
export {
  splitPixelData,
  splitEncapsulatedPixelData,
  joinPixelData,
  type PixelSplit,
  type PixelSplitOptions,
  type PixelSplitParameters,
} from './pixel-split.js';
