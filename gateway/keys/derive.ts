/**
 * Keys derived from a master key for one purpose each (HKDF-SHA-256, RFC 5869, empty salt, the
 * purpose as `info`): access tokens, the audit chain, manifest signatures, manifest copies and
 * watermarks never share key material, and every process derives the same keys.
 */
import { hkdfSync, type KeyObject } from 'node:crypto';

/** Derived keys by master secret (the object) and purpose: every STOW and WADO needs a few. */
const derived = new WeakMap<KeyObject | Uint8Array, Map<string, Buffer>>();

/** A 256-bit key for `info` derived from `secret` (a fresh copy: the caller may wipe it). */
export function deriveKey(secret: KeyObject | Uint8Array, info: string): Buffer {
  let keys = derived.get(secret);
  if (keys === undefined) derived.set(secret, (keys = new Map()));
  let key = keys.get(info);
  if (key === undefined) keys.set(info, (key = Buffer.from(hkdfSync('sha256', secret, new Uint8Array(0), info, 32))));
  return Buffer.from(key);
}
