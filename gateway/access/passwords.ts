/**
 * Password hashing for local users: argon2id (RFC 9106) through `@node-rs/argon2` with
 * the library's defaults (m=19456 KiB, t=2, p=1: the OWASP recommendation), stored as a PHC string
 * (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`). Hashing runs on libuv's thread pool.
 */
import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { GatewayError } from '../errors.js';
import { MAX_PASSWORD_BYTES, normalizePassword } from './user-rules.js';

/** The PHC prefix of every hash this module writes. */
export const ARGON2ID_PREFIX = '$argon2id$';

/** Hashes a (validated) password to an argon2id PHC string. */
export async function hashPassword(password: string): Promise<string> {
  const phc = await hash(normalizePassword(password));
  // The library's default algorithm is argon2id; refuse to store anything weaker should it change.
  if (!phc.startsWith(ARGON2ID_PREFIX)) throw new GatewayError('INTERNAL', 'the password hash is not argon2id');
  return phc;
}

/**
 * True when `password` matches the PHC string `phc`. Passwords longer than the limit never match
 * (and are not hashed: bounded work). A malformed stored hash is an internal error.
 */
export async function passwordMatches(phc: string, password: string): Promise<boolean> {
  const normalized = normalizePassword(password);
  if (Buffer.byteLength(normalized, 'utf8') > MAX_PASSWORD_BYTES) return false;
  try {
    return await verify(phc, normalized);
  } catch (error) {
    throw new GatewayError('INTERNAL', 'a stored password hash cannot be read', { cause: error });
  }
}

let dummy: Promise<string> | undefined;

/**
 * A hash of a random secret with the same parameters as real ones: verifying a password against
 * it costs what verifying a real user does, so that timing does not tell whether a user exists.
 */
export function dummyPasswordHash(): Promise<string> {
  dummy ??= hash(randomBytes(32).toString('base64'));
  return dummy;
}
