/**
 * What the fragile watermark carries and how it is checked (docs/protection.md):
 * a keyed MAC, HMAC-SHA-256 (RFC 2104), over the SOP Instance UID, the SHA-256 of the original
 * pixel data, the gateway id and the time: 256 bits. The gateway id and the time are recorded next
 * to the watermark parameters in the manifest; on read, the payload extracted from the pixels
 * must equal the MAC recomputed over the restored pixels, so a change to any watermarked byte
 * (which changes the restored pixels or the extracted bits, see watermark.ts) fails verification.
 * The MAC key is derived from a master key with HKDF-SHA-256 (RFC 5869). Pure: no I/O.
 */
import { createHash, createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { deriveKey } from '../../keys/derive.js';
import { GatewayError } from '../../errors.js';
import type { PixelGeometry } from '../../dicom/pixel-geometry.js';
import { planWatermark, removeWatermark, writeWatermarkChanges, type ExtractedWatermark, type WatermarkChanges, type WatermarkOptions, type WatermarkRefusal } from './watermark.js';
import type { WatermarkParameters } from './watermark-parameters.js';

/** HKDF info of the watermark MAC key. */
export const WATERMARK_KEY_INFO = 'aegis watermark v1';
/** Domain separation prefix of the MAC input. */
const MAC_DOMAIN = 'aegis-watermark-mac-v1';

/** The watermark MAC key (32 bytes) derived from a master key's secret. */
export function watermarkKey(masterSecret: KeyObject | Uint8Array): Uint8Array {
  return new Uint8Array(deriveKey(masterSecret, WATERMARK_KEY_INFO));
}

/** What the MAC binds besides the pixels; the manifest records gateway id and time. */
export interface WatermarkClaims {
  sopInstanceUid: string;
  gatewayId: string;
  /** When the instance was watermarked, ISO 8601 (UTC), as recorded. */
  time: string;
}

/**
 * The watermark payload: HMAC-SHA-256 over the claims and the SHA-256 of the original pixel data,
 * each field length-prefixed (32-bit big endian) so that no two field lists encode alike.
 */
export function watermarkPayload(key: Uint8Array | KeyObject, fields: WatermarkClaims & { pixelSha256: Uint8Array }): Uint8Array {
  if (fields.pixelSha256.length !== 32) {
    throw new GatewayError('INTERNAL', `pixelSha256 must be 32 bytes, got ${fields.pixelSha256.length}`);
  }
  const mac = createHmac('sha256', key).update(MAC_DOMAIN);
  for (const field of [fields.sopInstanceUid, fields.pixelSha256, fields.gatewayId, fields.time]) {
    const bytes = typeof field === 'string' ? Buffer.from(field, 'utf8') : field;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    mac.update(length).update(bytes);
  }
  return new Uint8Array(mac.digest());
}

/**
 * True when the extracted payload is the MAC of the claims and the restored pixels (constant-time
 * compare). `restoredSha256`: their digest when the caller vouches for it (see
 * {@link verifyAndRemoveWatermarkInPlace}); otherwise they are hashed.
 */
export function verifyWatermark(key: Uint8Array | KeyObject, claims: WatermarkClaims, extracted: ExtractedWatermark, restoredSha256?: Uint8Array): boolean {
  const pixelSha256 = restoredSha256 ?? createHash('sha256').update(extracted.restored).digest();
  const expected = watermarkPayload(key, { ...claims, pixelSha256 });
  return extracted.payload.length === expected.length && timingSafeEqual(extracted.payload, expected);
}

/**
 * What the manifest records about an instance's watermark: its parameters and claims (and the
 * SHA-256 of the original pixel data, hex, which the MAC covers), or why there is none.
 */
export type WatermarkRecord = { parameters: WatermarkParameters; gatewayId: string; time: string; pixelSha256?: string } | WatermarkRefusal;

/** The key and claims to watermark one instance's pixel data with. */
export interface WatermarkSeal extends WatermarkClaims {
  key: Uint8Array | KeyObject;
}

/**
 * Watermarks the native Pixel Data value bytes of one instance with the MAC of `seal`. Returns
 * the bytes to store (a watermarked copy, or `pixels` itself when refused) and the record for the
 * manifest.
 */
export function watermarkPixelData(pixels: Uint8Array, geometry: PixelGeometry, seal: WatermarkSeal, options: WatermarkOptions = {}): { pixels: Uint8Array; record: WatermarkRecord } {
  const { changes, record } = planPixelWatermark(pixels, geometry, seal, options);
  if (changes === undefined) return { pixels, record };
  const watermarked = new Uint8Array(pixels);
  writeWatermarkChanges(watermarked, geometry, changes);
  return { pixels: watermarked, record };
}

/**
 * What {@link watermarkPixelData} does without copying the pixels: the samples to change
 * ({@link writeWatermarkChanges}; none when refused) and the record for the manifest.
 */
export function planPixelWatermark(pixels: Uint8Array, geometry: PixelGeometry, seal: WatermarkSeal, options: WatermarkOptions = {}): { changes?: WatermarkChanges; record: WatermarkRecord } {
  const { key, ...claims } = seal;
  const pixelSha256 = createHash('sha256').update(pixels).digest();
  const plan = planWatermark(pixels, geometry, watermarkPayload(key, { ...claims, pixelSha256 }), options);
  if ('refused' in plan) return { record: plan };
  return { changes: plan.changes, record: { parameters: plan.parameters, gatewayId: claims.gatewayId, time: claims.time, pixelSha256: pixelSha256.toString('hex') } };
}

/**
 * The inverse of {@link watermarkPixelData}: extracts and verifies the watermark and returns the
 * original pixel data bytes (a copy). With a refusal record the stored bytes are returned as they
 * are (integrity then rests on the manifest's hashes). Throws `INTEGRITY_FAILURE` when the
 * watermark does not verify.
 */
export function verifyAndRemoveWatermark(stored: Uint8Array, geometry: PixelGeometry, record: WatermarkRecord, verification: { key: Uint8Array | KeyObject; sopInstanceUid: string }, options: WatermarkOptions = {}): Uint8Array {
  if ('refused' in record) return stored;
  const restored = new Uint8Array(stored);
  verifyAndRemoveWatermarkInPlace(restored, geometry, record, verification, options);
  return restored;
}

/**
 * What {@link verifyAndRemoveWatermark} does, in place: `pixels` (as stored) become the original
 * bytes, or it throws `INTEGRITY_FAILURE` (and `pixels` must not be used).
 *
 * `restoredSha256`: the SHA-256 the restored pixels must have, when the caller checks that itself
 * before using them (the read path checks the SHA-256 of the whole instance, which covers them,
 * against the signed manifest): the MAC is then verified over that digest, which saves hashing
 * the pixels twice. A change to the watermarked pixels still fails one check or the other: the
 * payload bits (the MAC) or the restored bytes (the caller's hash).
 */
export function verifyAndRemoveWatermarkInPlace(
  pixels: Uint8Array,
  geometry: PixelGeometry,
  record: WatermarkRecord,
  verification: { key: Uint8Array | KeyObject; sopInstanceUid: string; restoredSha256?: Uint8Array },
  options: WatermarkOptions = {},
): void {
  if ('refused' in record) return;
  const payload = removeWatermark(pixels, geometry, record.parameters, options);
  const claims = { sopInstanceUid: verification.sopInstanceUid, gatewayId: record.gatewayId, time: record.time };
  if (!verifyWatermark(verification.key, claims, { payload, restored: pixels }, verification.restoredSha256)) {
    throw new GatewayError('INTEGRITY_FAILURE', 'watermark: the MAC carried by the pixels does not match the restored pixel data and claims');
  }
}
