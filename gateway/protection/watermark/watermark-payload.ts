/**
 * What the fragile watermark carries and how it is checked (docs/protection.md):
 * a keyed MAC, HMAC-SHA-256 (RFC 2104), over the SOP Instance UID, a SHA-256 digest, the gateway
 * id and the time: 256 bits. The digest is that of the whole received instance, which the signed
 * manifest records and the read path checks the reassembled instance against (the gateway's
 * watermarks: no extra pass over the pixels to hash them), or, for a watermark made without an
 * instance at hand (and in manifests written before), that of the original pixel data. The two
 * kinds are told apart by the MAC's domain prefix and by the record's field (`instanceSha256` or
 * `pixelSha256`). The gateway id and the time are recorded next to the watermark parameters in
 * the manifest; on read, the payload extracted from the pixels must equal the MAC recomputed
 * over the digest, and the restored bytes must have that digest, so a change to any watermarked
 * byte (which changes the restored bytes or the extracted bits, see watermark.ts) fails one check
 * or the other. The MAC key is derived from a master key with HKDF-SHA-256 (RFC 5869). Pure: no I/O.
 */
import { createHash, createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { deriveKey } from '../../keys/derive.js';
import { GatewayError } from '../../errors.js';
import type { PixelGeometry } from '../../dicom/pixel-geometry.js';
import { planWatermark, removeWatermark, writeWatermarkChanges, type ExtractedWatermark, type WatermarkChanges, type WatermarkOptions, type WatermarkRefusal } from './watermark.js';
import type { WatermarkParameters } from './watermark-parameters.js';

/** HKDF info of the watermark MAC key. */
export const WATERMARK_KEY_INFO = 'aegis watermark v1';
/** Domain separation prefix of the MAC input over the original pixels' digest. */
const MAC_DOMAIN = 'aegis-watermark-mac-v1';
/** Domain separation prefix of the MAC input over the whole instance's digest. */
const INSTANCE_MAC_DOMAIN = 'aegis-watermark-instance-mac-v1';

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

/** The digest a watermark's MAC covers: the original pixels' or the whole instance's (32 bytes each). */
export type WatermarkDigest = { pixelSha256: Uint8Array } | { instanceSha256: Uint8Array };

/**
 * The watermark payload: HMAC-SHA-256 over the claims and a digest (the original pixel data's, or
 * the whole instance's under another domain prefix), each field length-prefixed (32-bit big
 * endian) so that no two field lists encode alike.
 */
export function watermarkPayload(key: Uint8Array | KeyObject, fields: WatermarkClaims & WatermarkDigest): Uint8Array {
  const [domain, digest] = 'instanceSha256' in fields ? [INSTANCE_MAC_DOMAIN, fields.instanceSha256] : [MAC_DOMAIN, fields.pixelSha256];
  if (digest.length !== 32) {
    throw new GatewayError('INTERNAL', `the digest a watermark covers must be 32 bytes, got ${digest.length}`);
  }
  const mac = createHmac('sha256', key).update(domain);
  for (const field of [fields.sopInstanceUid, digest, fields.gatewayId, fields.time]) {
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
  return sameBytes(extracted.payload, watermarkPayload(key, { ...claims, pixelSha256 }));
}

/**
 * What the manifest records about an instance's watermark: its parameters and claims, and the
 * digest the MAC covers (hex): `instanceSha256`, the whole instance's (the gateway's watermarks),
 * or `pixelSha256`, the original pixel data's (watermarks made from pixels alone, and manifests
 * written before); or why there is none.
 */
export type WatermarkRecord = { parameters: WatermarkParameters; gatewayId: string; time: string; pixelSha256?: string; instanceSha256?: string } | WatermarkRefusal;

/** What verifying a watermark needs: the MAC key and the instance it claims to belong to. */
export interface WatermarkVerification {
  key: Uint8Array | KeyObject;
  sopInstanceUid: string;
  /** The SHA-256 of the original pixels, when the caller checks the restored pixels against it itself. */
  restoredSha256?: Uint8Array;
  /**
   * The SHA-256 of the whole instance from the signed manifest, which the caller checks the
   * reassembled instance against before using it: needed for a watermark bound to it.
   */
  instanceSha256?: Uint8Array;
}

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
 * ({@link writeWatermarkChanges}; none when refused) and the record for the manifest. With
 * `instanceSha256` (the digest of the instance the pixels belong to, which the manifest signs) the
 * MAC covers it and the pixels are not hashed; otherwise it covers the SHA-256 of the pixels.
 */
export function planPixelWatermark(pixels: Uint8Array, geometry: PixelGeometry, seal: WatermarkSeal, options: WatermarkOptions = {}, instanceSha256?: Uint8Array): { changes?: WatermarkChanges; record: WatermarkRecord } {
  const { key, ...claims } = seal;
  const digest: WatermarkDigest = instanceSha256 === undefined ? { pixelSha256: createHash('sha256').update(pixels).digest() } : { instanceSha256 };
  const plan = planWatermark(pixels, geometry, watermarkPayload(key, { ...claims, ...digest }), options);
  if ('refused' in plan) return { record: plan };
  const bound = 'instanceSha256' in digest ? { instanceSha256: Buffer.from(digest.instanceSha256).toString('hex') } : { pixelSha256: Buffer.from(digest.pixelSha256).toString('hex') };
  return { changes: plan.changes, record: { parameters: plan.parameters, gatewayId: claims.gatewayId, time: claims.time, ...bound } };
}

/**
 * The inverse of {@link watermarkPixelData}: extracts and verifies the watermark and returns the
 * original pixel data bytes (a copy). With a refusal record the stored bytes are returned as they
 * are (integrity then rests on the manifest's hashes). Throws `INTEGRITY_FAILURE` when the
 * watermark does not verify.
 */
export function verifyAndRemoveWatermark(stored: Uint8Array, geometry: PixelGeometry, record: WatermarkRecord, verification: WatermarkVerification, options: WatermarkOptions = {}): Uint8Array {
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
 * the pixels twice. A watermark bound to the instance's digest (`instanceSha256` in the record)
 * is verified over `verification.instanceSha256`, which must be the recorded one, and the caller
 * must check the reassembled instance against it. Either way a change to the watermarked pixels
 * fails one check or the other: the payload bits (the MAC) or the restored bytes (the caller's hash).
 */
export function verifyAndRemoveWatermarkInPlace(pixels: Uint8Array, geometry: PixelGeometry, record: WatermarkRecord, verification: WatermarkVerification, options: WatermarkOptions = {}): void {
  if ('refused' in record) return;
  const bound = record.instanceSha256;
  if (bound !== undefined && (verification.instanceSha256 === undefined || Buffer.from(verification.instanceSha256).toString('hex') !== bound)) {
    throw new GatewayError('INTEGRITY_FAILURE', 'watermark: it is bound to an instance digest other than the one the instance must have');
  }
  const payload = removeWatermark(pixels, geometry, record.parameters, options);
  const claims = { sopInstanceUid: verification.sopInstanceUid, gatewayId: record.gatewayId, time: record.time };
  const valid =
    bound === undefined
      ? verifyWatermark(verification.key, claims, { payload, restored: pixels }, verification.restoredSha256)
      : sameBytes(payload, watermarkPayload(verification.key, { ...claims, instanceSha256: verification.instanceSha256! }));
  if (!valid) {
    throw new GatewayError('INTEGRITY_FAILURE', 'watermark: the MAC carried by the pixels does not match the restored pixel data and claims');
  }
}

/** Constant-time equality of two byte strings (false when their lengths differ). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
