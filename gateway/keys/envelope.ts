/**
 * Envelope encryption (hardened mode, docs/protection.md): each fragment is encrypted with
 * AES-256-GCM (NIST SP 800-38D) under a per-instance 256-bit data key, and the data key is itself
 * encrypted ("wrapped") under a master key named by a key id, so rotating the master key rewraps
 * 61-byte wrapped keys and never rewrites fragments.
 *
 * Sealed layout, fragments and wrapped keys alike:
 *
 *     version (1 byte, 0x01) | nonce (12 bytes) | ciphertext (as long as the plaintext) | tag (16 bytes)
 *
 * The nonce is 96 random bits (SP 800-38D §8.2.2, RBG-based construction); the tag is the full 128
 * bits (§5.2.1.2). The GCM additional authenticated data is the version byte followed by the
 * caller's canonical AAD (`associated-data.ts`). The nonce sets the counter blocks and the tag
 * mask (§7.1), so a change to the version, nonce, ciphertext, tag or any bound field fails with
 * `INTEGRITY_FAILURE`, and no plaintext is returned before the tag has been checked.
 *
 * Key wrapping uses the same AES-256-GCM construction rather than AES Key Wrap (RFC 3394,
 * node:crypto `id-aes256-wrap`): AES-KW has no associated data, so it cannot bind the key id (a
 * wrapped key moved under another id would still unwrap), and its integrity check is 64 bits
 * against GCM's 128. Random 96-bit nonces are safe for up to 2^32 wraps per master key
 * (SP 800-38D §8.3), far beyond one wrap per stored instance between rotations; data keys are
 * fresh per instance, so fragments never approach the limit either.
 */
import { createCipheriv, createDecipheriv, randomBytes, type Cipher, type Decipher, type KeyObject } from 'node:crypto';
import { GatewayError } from '../errors.js';
import { dataKeyAad } from './associated-data.js';

/** Length of a data key and of a master key: 256 bits. */
export const KEY_BYTES = 32;
/** Length of the GCM nonce: 96 bits. */
export const NONCE_BYTES = 12;
/** Length of the GCM authentication tag: 128 bits. */
export const TAG_BYTES = 16;
/** The only layout version so far. */
export const SEALED_VERSION = 0x01;
/** Bytes a sealed value adds to its plaintext: version, nonce and tag. */
export const SEALED_OVERHEAD = 1 + NONCE_BYTES + TAG_BYTES;
/** Length of a wrapped data key. */
export const WRAPPED_KEY_BYTES = SEALED_OVERHEAD + KEY_BYTES;

/** Slice size for cipher updates. */
const CHUNK_BYTES = 256 * 1024;

/** A 256-bit AES key: raw bytes, or a secret KeyObject (which never prints its material). */
export type AesKey = Buffer | KeyObject;

/** A fresh random 256-bit data key for one instance. */
export function generateDataKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/**
 * Encrypts one fragment under the instance's data key, binding `aad` (see `fragmentAad`).
 * Returns the sealed layout described in the module header.
 */
export function encryptFragment(dataKey: AesKey, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  return seal(checkedKey(dataKey, 'data key'), plaintext, aad);
}

/**
 * Authenticates and decrypts a sealed fragment, into `into` when given (its length must be the
 * plaintext's, {@link plaintextLength}). Throws `INTEGRITY_FAILURE` when anything (layout, nonce,
 * ciphertext, tag, associated data or key) is not exactly what was sealed; `into` is then zeroed.
 */
export function decryptFragment(dataKey: AesKey, sealed: Uint8Array, aad: Uint8Array, into?: Uint8Array): Buffer {
  return open(checkedKey(dataKey, 'data key'), sealed, aad, 'fragment', into);
}

/** The plaintext length of a sealed fragment of `sealedLength` bytes. */
export function plaintextLength(sealedLength: number): number {
  return sealedLength - SEALED_OVERHEAD;
}

/** Wraps a 256-bit data key under the master key `keyId`; the key id is authenticated. */
export function wrapDataKey(masterKey: AesKey, keyId: string, dataKey: Uint8Array): Buffer {
  if (dataKey.length !== KEY_BYTES) throw new GatewayError('INTERNAL', `a data key must be ${KEY_BYTES} bytes`);
  return seal(checkedKey(masterKey, 'master key'), dataKey, dataKeyAad(keyId));
}

/**
 * Unwraps a data key wrapped under the master key `keyId`. Throws `INTEGRITY_FAILURE` when the
 * wrapped bytes were altered, were wrapped under another key or another key id.
 */
export function unwrapDataKey(masterKey: AesKey, keyId: string, wrapped: Uint8Array): Buffer {
  if (wrapped.length !== WRAPPED_KEY_BYTES) {
    throw new GatewayError('INTEGRITY_FAILURE', `wrapped data key under '${keyId}' has ${wrapped.length} bytes, expected ${WRAPPED_KEY_BYTES}`);
  }
  return open(checkedKey(masterKey, 'master key'), wrapped, dataKeyAad(keyId), `data key wrapped under '${keyId}'`);
}

function seal(key: AesKey, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(gcmAad(aad));
  const sealed = Buffer.allocUnsafe(SEALED_OVERHEAD + plaintext.length);
  sealed[0] = SEALED_VERSION;
  nonce.copy(sealed, 1);
  let end = transform(cipher, plaintext, sealed, 1 + NONCE_BYTES);
  end += cipher.final().copy(sealed, end);
  cipher.getAuthTag().copy(sealed, end);
  return sealed;
}

function open(key: AesKey, sealed: Uint8Array, aad: Uint8Array, what: string, into?: Uint8Array): Buffer {
  if (sealed.length < SEALED_OVERHEAD) throw new GatewayError('INTEGRITY_FAILURE', `${what}: ${sealed.length} bytes is too short to be sealed`);
  if (sealed[0] !== SEALED_VERSION) throw new GatewayError('INTEGRITY_FAILURE', `${what}: unknown layout version ${sealed[0]}`);
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const nonce = bytes.subarray(1, 1 + NONCE_BYTES);
  const ciphertext = bytes.subarray(1 + NONCE_BYTES, bytes.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(gcmAad(aad));
  decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
  if (into !== undefined && into.length !== ciphertext.length) throw new GatewayError('INTERNAL', `${what}: ${ciphertext.length} bytes of plaintext for ${into.length}`);
  const plaintext = into ? Buffer.from(into.buffer, into.byteOffset, into.byteLength) : Buffer.allocUnsafe(ciphertext.length);
  const end = transform(decipher, ciphertext, plaintext, 0);
  try {
    decipher.final().copy(plaintext, end);
    return plaintext;
  } catch (cause) {
    // Unauthenticated plaintext never leaves this function.
    plaintext.fill(0);
    throw new GatewayError('INTEGRITY_FAILURE', `${what}: authentication failed (altered, moved or wrong key)`, { cause });
  }
}

/**
 * Runs `input` through `cipher` in {@link CHUNK_BYTES} slices into `output` at `offset`; returns
 * the end offset. Measured on 8 MB: about twice as fast as one `update` of the whole buffer followed
 * by a concatenation (one output allocation instead of two, and cache-sized slices).
 */
function transform(cipher: Cipher | Decipher, input: Uint8Array, output: Buffer, offset: number): number {
  let end = offset;
  for (let start = 0; start < input.length; start += CHUNK_BYTES) {
    end += cipher.update(input.subarray(start, start + CHUNK_BYTES)).copy(output, end);
  }
  return end;
}

/** The GCM AAD: the layout version byte, then the caller's canonical associated data. */
function gcmAad(aad: Uint8Array): Buffer {
  return Buffer.concat([Buffer.of(SEALED_VERSION), aad]);
}

function checkedKey(key: AesKey, what: string): AesKey {
  const size = Buffer.isBuffer(key) ? key.length : key.symmetricKeySize;
  if (size !== KEY_BYTES) throw new GatewayError('INTERNAL', `the ${what} must be ${KEY_BYTES} bytes (AES-256)`);
  return key;
}
