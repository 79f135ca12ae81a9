/**
 * Keys derived from a master key for one purpose each (HKDF-SHA-256, RFC 5869, empty salt, the
 * purpose as `info`): access tokens, the audit chain, manifest signatures, manifest copies and
 * watermarks never share key material, and every process derives the same keys.
 */
import { hkdfSync, type KeyObject } from 'node:crypto';

/** A 256-bit key for `info` derived from `secret`. */
export function deriveKey(secret: KeyObject | Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, new Uint8Array(0), info, 32));
}
