/**
 * Random secrets the gateway hands out (API keys, refresh tokens) and how they are kept: only the
 * SHA-256 of a 256-bit random secret is stored (a fast hash is enough for secrets of that entropy;
 * argon2 is for human passwords), and comparisons are constant-time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new identifier (16 hex digits) and secret (256 bits, base64url). */
export function newSecret(): { id: string; secret: string } {
  return { id: randomBytes(8).toString('hex'), secret: randomBytes(32).toString('base64url') };
}

/** The stored form of a secret. */
export function secretDigest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** Constant-time comparison of a presented secret with a stored digest. */
export function secretMatches(secret: string, storedDigest: string): boolean {
  const presented = Buffer.from(secretDigest(secret), 'hex');
  const stored = Buffer.from(storedDigest, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** Splits `<prefix><id 16 hex><separator><secret>`; undefined when it does not have that shape. */
export function splitSecret(text: string, prefix: string, separator: string): { id: string; secret: string } | undefined {
  if (!text.startsWith(prefix)) return undefined;
  const id = text.slice(prefix.length, prefix.length + 16);
  if (!/^[0-9a-f]{16}$/.test(id) || text[prefix.length + 16] !== separator) return undefined;
  const secret = text.slice(prefix.length + 17);
  return /^[A-Za-z0-9_-]{43}$/.test(secret) ? { id, secret } : undefined;
}
