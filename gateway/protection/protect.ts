/**
 * Protects one instance before it is stored (docs/architecture.md, "Data flow"): the identity
 * values leave the skeleton (identity split), the pixel data leaves it too and is split over the
 * region fragments, and in hardened mode every fragment is sealed with AES-256-GCM under a fresh
 * per-instance key bound to the instance, the fragment's role and index (envelope encryption: the
 * instance key is derived from a data key wrapped by the active master key and a shred key kept in
 * the vault, destroyed when the instance is deleted). Pure computation: the caller
 * stores the fragments, then signs and records the manifest. Never re-serializes: fragments are
 * byte ranges of the received instance.
 */
import type { JsonValue } from '../canonical-json.js';
import { cutRanges, type ByteRange } from './split/byte-cuts.js';
import { identityRanges } from './split/identity-ranges.js';
import type { ParsedInstance } from '../dicom/types.js';
import { fragmentAad } from '../keys/associated-data.js';
import { encryptFragment } from '../keys/envelope.js';
import { destroyInstanceKeys, newInstanceKey } from '../keys/instance-keys.js';
import type { Keyring } from '../keys/keyring.js';
import { MANIFEST_VERSION, type ManifestBody, type PixelProtection, type ProtectionMode } from './manifest.js';
import { backgroundFirstPixels, segmentationRefusal, segmentPixels } from './segmentation/segmentation.js';
import { pixelGeometry, frameByteLength, type PixelGeometry } from '../dicom/pixel-geometry.js';
import { joinPixelData, splitEncapsulatedPixelData, splitPixelData } from './split/pixel-split.js';
import { stripeBytes } from './split/byte-stripes.js';
import { planPixelWatermark, watermarkKey } from './watermark/watermark-payload.js';
import { writeWatermarkChanges } from './watermark/watermark.js';
import { isGatewayError } from '../errors.js';

/** How to protect. */
export interface ProtectOptions {
  mode: ProtectionMode;
  /** Region fragments of the pixel data (at least 2). */
  regions: number;
  gatewayId: string;
  keyring: Keyring;
  now?: Date;
  /** Also return {@link ProtectedInstance.background} (for a PACS presentation of the instance). */
  background?: boolean;
}

/** A fragment ready to store: its bytes are sealed in hardened mode. */
export interface OutgoingFragment {
  role: string;
  index: number;
  bytes: Uint8Array;
}

/** What {@link protectInstance} hands the store: the manifest without its fragment records, and the fragments. */
export interface ProtectedInstance {
  body: Omit<ManifestBody, 'fragments'>;
  fragments: OutgoingFragment[];
  /**
   * With `options.background` and segmented pixels: the Pixel Data value with only region 0's
   * (the background's) pixels, watermarked, every other pixel zero. Never enough to restore the image.
   */
  background?: Uint8Array;
}

/** Splits (and in hardened mode seals) a parsed instance. `sha256` is the hex digest of `bytes`. */
export function protectInstance(bytes: Uint8Array, parsed: ParsedInstance, sha256: string, options: ProtectOptions): ProtectedInstance {
  let cuts: { identity: ByteRange[]; pixels?: ByteRange } = { identity: [] };
  let identity: ManifestBody['identity'];
  if (parsed.deflated) {
    identity = { status: 'opaque', reason: 'deflated data set: its bytes are compressed as a whole and cannot be cut by offsets' };
  } else {
    cuts = identityRanges(bytes, parsed);
    identity = { status: 'split' };
  }
  const ranges = cuts.pixels ? [...cuts.identity, cuts.pixels] : cuts.identity;
  const { kept: skeleton, cut } = cutRanges(bytes, ranges);
  // cutRanges returns the pieces in offset order; the pixel range is found by its offset.
  const sorted = [...ranges].sort((a, b) => a.offset - b.offset);
  const pixelIndex = cuts.pixels ? sorted.indexOf(cuts.pixels) : -1;
  const identityBytes = Buffer.concat(cut.filter((_, i) => i !== pixelIndex));
  const pixelBytes = pixelIndex >= 0 ? cut[pixelIndex] : new Uint8Array(0);

  const createdAt = (options.now ?? new Date()).toISOString();
  const instanceKey = options.mode === 'hardened' ? newInstanceKey(options.keyring) : undefined;
  const dataKey = instanceKey?.instanceKey;
  let done = false;
  try {
    // Every fragment goes through `seal` (regions while they are still in the pixel kernels' workspace).
    const seal = (role: string, index: number, plain: Uint8Array): Uint8Array =>
      dataKey === undefined ? plain : encryptFragment(dataKey, plain, fragmentAad({ sopInstanceUid: parsed.sopInstanceUID, role, index, manifestVersion: MANIFEST_VERSION }));
    const { pixels, regions, labels, background } = parsed.deflated
      ? { pixels: { kind: 'opaque' as const, reason: 'deflated data set: the pixel data stays in the (sealed) skeleton', watermark: { applied: false as const, reason: 'deflated data set' } }, regions: [], labels: undefined }
      : splitPixels(pixelBytes, parsed, options, { time: createdAt, instanceSha256: Buffer.from(sha256, 'hex') }, seal);
    const fragments: OutgoingFragment[] = [
      { role: 'skeleton', index: 0, bytes: seal('skeleton', 0, skeleton) },
      { role: 'identity', index: 0, bytes: seal('identity', 0, identityBytes) },
      ...(labels ? [{ role: 'labels', index: 0, bytes: seal('labels', 0, labels) }] : []),
      ...regions.map((bytes, index) => ({ role: 'region', index, bytes })),
    ];
    const body: Omit<ManifestBody, 'fragments'> = {
      version: MANIFEST_VERSION,
      sopInstanceUid: parsed.sopInstanceUID,
      studyInstanceUid: parsed.studyInstanceUID,
      seriesInstanceUid: parsed.seriesInstanceUID,
      sopClassUid: parsed.sopClassUID,
      transferSyntaxUid: parsed.transferSyntaxUID,
      length: bytes.length,
      sha256,
      createdAt,
      gatewayId: options.gatewayId,
      mode: options.mode,
      cuts,
      identity,
      pixels,
    };
    done = true;
    return instanceKey === undefined ? { body, fragments, background } : { body: { ...body, dataKey: instanceKey.record }, fragments, background };
  } finally {
    dataKey?.fill(0);
    // Nothing was sealed for good: the shred key made for it goes again.
    if (!done && instanceKey !== undefined) destroyInstanceKeys(options.keyring, [instanceKey.record]);
  }
}

/** Seals (hardened) or keeps (paper) one fragment. */
type Seal = (role: string, index: number, plain: Uint8Array) => Uint8Array;

/** The pixel data value split over the region fragments (and the label map), with what the manifest says of it. */
function splitPixels(
  pixelBytes: Uint8Array,
  parsed: ParsedInstance,
  options: ProtectOptions,
  mark: { time: string; instanceSha256: Uint8Array },
  seal: Seal,
): { pixels: PixelProtection; regions: Uint8Array[]; labels?: Uint8Array; background?: Uint8Array } {
  const striped = (pixels: PixelProtection, regions: Uint8Array[]) => ({ pixels, regions: regions.map((region, index) => seal('region', index, region)) });
  if (pixelBytes.length === 0) {
    return { pixels: { kind: 'none', reason: 'no pixel data', watermark: { applied: false, reason: 'no pixel data' } }, regions: [] };
  }
  const layout = parsed.pixelData;
  if (layout === undefined && parsed.unreadablePixelData !== undefined) {
    const reason = `the pixel data cannot be read as frames (${parsed.unreadablePixelData}): its bytes are striped over the regions as opaque data`;
    const split = stripeBytes(pixelBytes, options.regions, { reason: 'unreadable', detail: parsed.unreadablePixelData });
    return striped({ kind: 'striped', reason, split: json(split.parameters), watermark: { applied: false, reason: 'unreadable pixel data' } }, split.regions);
  }
  if (layout === undefined || layout.encapsulated) {
    const split = splitEncapsulatedPixelData(pixelBytes, options.regions);
    const reason = 'encapsulated (compressed) pixel data cannot be segmented without decoding: its bytes are striped over the regions';
    return striped({ kind: 'striped', reason, split: json(split.parameters), watermark: { applied: false, reason: 'encapsulated pixel data: integrity rests on the signed manifest and the sealed fragments' } }, split.regions);
  }
  let geometry: PixelGeometry;
  try {
    geometry = pixelGeometry(parsed.metadata, layout);
  } catch (error) {
    if (!isGatewayError(error)) throw error;
    const split = stripeBytes(pixelBytes, options.regions, { reason: 'length-mismatch', detail: error.message });
    return striped({ kind: 'striped', reason: error.message, split: json(split.parameters), watermark: { applied: false, reason: error.message } }, split.regions);
  }
  const refusal = segmentationRefusal(geometry, pixelBytes.length);
  if (refusal !== undefined) {
    const split = splitPixelData(pixelBytes, geometry, { regions: options.regions });
    return striped({ kind: 'striped', reason: `not segmented (${refusal.reason}): ${refusal.detail}`, split: json(split.parameters), watermark: { applied: false, reason: `not segmented: ${refusal.detail}` } }, split.regions);
  }
  // Segment the original pixels, watermark them background first, split the watermarked pixels by the same labels.
  const segmentation = segmentPixels(pixelBytes, geometry, { regions: options.regions });
  const active = options.keyring.active!;
  const key = watermarkKey(active.secret);
  const order = (frame: number) => backgroundFirstPixels(segmentation, frame);
  // The MAC covers the instance's digest, which the manifest signs: no pass over the pixels to hash them.
  const { time, instanceSha256 } = mark;
  const marked = planPixelWatermark(pixelBytes, geometry, { key, sopInstanceUid: parsed.sopInstanceUID, gatewayId: options.gatewayId, time }, { order }, instanceSha256);
  // The watermark's changes go into the split's copy of each frame: the received bytes stay as they are.
  const { changes } = marked;
  const frameBytes = frameByteLength(geometry);
  const patch = changes && ((frame: number, bytes: Uint8Array) => writeWatermarkChanges(bytes, geometry, changes, frame * frameBytes));
  // Paper mode keeps plain regions: copies, since the workspace is reused.
  // With `background`, the plain regions' lengths and region 0 itself are kept for the background view.
  const plain: Uint8Array[] = [];
  const take = (region: Uint8Array, index: number) => {
    if (options.background) plain[index] = index === 0 ? region.slice() : new Uint8Array(region.length);
    return options.mode === 'paper' ? region.slice() : seal('region', index, region);
  };
  const split = splitPixelData(pixelBytes, geometry, { regions: options.regions, segmentation, patch, take });
  const background = options.background ? joinPixelData(plain, split.labelMap, geometry, split.parameters) : undefined;
  const watermark: PixelProtection['watermark'] = 'refused' in marked.record ? { applied: false, reason: marked.record.refused } : { applied: true, parameters: json({ keyId: active.id, ...marked.record }) };
  return { pixels: { kind: 'segmented', geometry: json(geometry), split: json(split.parameters), watermark }, regions: split.regions, labels: split.labelMap, background };
}

function json(value: unknown): JsonValue {
  return value as JsonValue;
}
