/**
 * Short-lived access tokens (RFC 7519 JWTs, `jose`) that `POST /auth/token` issues and every
 * route accepts as `Authorization: Bearer`. Signed with HMAC-SHA-256 under a key derived (HKDF,
 * RFC 5869) from a master key of the keyring; the JWT `kid` names that master key, so tokens stay
 * verifiable across `aegis keys rotate` and every worker process derives the same key. Claims: `sub`
 * (user name), `iat`, `exp`, `jti`, issuer and audience `aegis`. Role and attributes are NOT in the
 * token: they are read from the users table (cached briefly), so disabling a user takes effect.
 */
import { randomUUID } from 'node:crypto';
import { deriveKey } from '../../keys/derive.js';
import { errors, jwtVerify, SignJWT } from 'jose';
import type { Keyring } from '../../keys/keyring.js';

const ISSUER = 'aegis';
const AUDIENCE = 'aegis';
const ALGORITHM = 'HS256';

/** What a verified access token says. */
export interface AccessTokenClaims {
  user: string;
  issuedAt: Date;
  expiresAt: Date;
}

/** Issues and verifies access tokens. */
export class AccessTokens {
  readonly #keys = new Map<string, Uint8Array>();

  constructor(
    private readonly keyring: Keyring,
    private readonly lifetimeSeconds: number,
  ) {}

  /** A signed token for `user`, valid for the configured lifetime. */
  async issue(user: string, now = new Date()): Promise<{ token: string; expiresIn: number }> {
    const active = this.keyring.active;
    if (active === undefined) throw new Error('no active master key to sign tokens with');
    const iat = Math.floor(now.getTime() / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: ALGORITHM, kid: active.id, typ: 'at+jwt' })
      .setSubject(user)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + this.lifetimeSeconds)
      .setJti(randomUUID())
      .sign(this.signingKey(active.id)!);
    return { token, expiresIn: this.lifetimeSeconds };
  }

  /**
   * The claims of a genuine, unexpired token of ours; undefined for anything else. A token whose
   * `kid` names no master key of the keyring (or that has no `kid`) is refused: there is no key to
   * check it against, and no other key stands in for the missing one.
   */
  async verify(token: string, now = new Date()): Promise<AccessTokenClaims | undefined> {
    const kid = headerOf(token)?.kid;
    // A token signed by another process under a key generated since this one loaded its keyring.
    if (typeof kid === 'string' && this.keyring.find(kid) === undefined) await this.keyring.refresh();
    try {
      const { payload } = await jwtVerify(token, (header) => this.verificationKey(header.kid), {
        algorithms: [ALGORITHM],
        issuer: ISSUER,
        audience: AUDIENCE,
        typ: 'at+jwt',
        currentDate: now,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      return { user: payload.sub!, issuedAt: new Date(payload.iat! * 1000), expiresAt: new Date(payload.exp! * 1000) };
    } catch (error) {
      if (error instanceof errors.JOSEError) return undefined;
      throw error;
    }
  }

  /** True when `token` looks like one of ours: a JWT of our algorithm and type naming a key id. */
  isOurs(token: string): boolean {
    const header = headerOf(token);
    return header?.alg === ALGORITHM && header.typ === 'at+jwt' && typeof header.kid === 'string';
  }

  /** The key of the master key `kid` names; throws (a JOSE error, so the token is refused) when there is none. */
  private verificationKey(kid: unknown): Uint8Array {
    const key = typeof kid === 'string' ? this.signingKey(kid) : undefined;
    if (key === undefined) throw new errors.JWKSNoMatchingKey(typeof kid === 'string' ? `no master key '${kid}' in the keyring` : 'the token names no key (kid)');
    return key;
  }

  private signingKey(keyId: string): Uint8Array | undefined {
    let key = this.#keys.get(keyId);
    if (key === undefined) {
      const master = this.keyring.find(keyId);
      if (master === undefined) return undefined;
      key = deriveKey(master.secret, 'aegis access token v1');
      this.#keys.set(keyId, key);
    }
    return key;
  }
}

/** The decoded JOSE header of a compact JWT, or undefined. */
function headerOf(token: string): { alg?: unknown; kid?: unknown; typ?: unknown } | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    return JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8')) as { alg?: unknown; kid?: unknown; typ?: unknown };
  } catch {
    return undefined;
  }
}
