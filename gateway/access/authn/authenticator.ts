/**
 * Who is asking (authentication): turns the credentials of a request into a
 * {@link Subject} — local users by password (HTTP Basic), API key or our own access token; external
 * identities by OIDC bearer token; or the configured anonymous subject when the config opens the
 * routes. Verified credentials are cached briefly (config `auth.credentialCacheSeconds`) under an
 * HMAC of the credential with a per-process random key, so argon2id does not run for every frame
 * and the cache never holds a usable secret. Password failures go through the login throttle.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { GatewayConfig } from '../../config.js';
import { GatewayError } from '../../errors.js';
import type { AuthenticationMethod, Purpose, Subject } from '../model.js';
import type { User, UserStore } from '../users.js';
import type { AccessTokens } from './access-tokens.js';
import type { ApiKeyStore } from './api-keys.js';
import type { Credentials } from './credentials.js';
import type { Lockout, LoginThrottle } from './login-throttle.js';
import type { OidcVerifier } from './oidc.js';

/** The challenge sent with every 401 (RFC 9110 §11.6.1): Basic for modalities, Bearer for tokens. */
export const CHALLENGE = 'Basic realm="aegis", charset="UTF-8", Bearer realm="aegis"';

/** A sign-in attempt or credential check, for the audit trail (never carries a secret). */
export interface AuthenticationEvent {
  outcome: 'success' | 'failure' | 'locked';
  method: AuthenticationMethod;
  /** The user name presented (Basic, password grant) or resolved (key, token). */
  user?: string;
  client: string;
  reason: string;
  /** Set when this failure started a delay of the user name from this client, or locked the client out. */
  lockedNow?: Lockout[];
}

/** The outcome of authentication. */
export interface Authenticated {
  subject: Subject;
  /** Purpose of use carried by the credential (OIDC claim), if any. */
  purpose?: Purpose;
  /** When the credential itself expires (tokens): it is not trusted from the cache beyond that. */
  expiresAt?: Date;
}

/** What the authenticator works with. */
export interface AuthenticatorDeps {
  config: GatewayConfig['auth'];
  users: UserStore;
  apiKeys: ApiKeyStore;
  tokens: AccessTokens;
  throttle: LoginThrottle;
  oidc: OidcVerifier;
  /** Told of every failure and every uncached success. */
  onEvent(event: AuthenticationEvent): void;
}

/** Authenticates requests. */
export class Authenticator {
  readonly #cacheKey = randomBytes(32);
  readonly #cache: LRUCache<string, Authenticated>;
  readonly #users: LRUCache<string, User>;

  constructor(private readonly deps: AuthenticatorDeps) {
    const ttl = Math.max(1, deps.config.credentialCacheSeconds * 1000);
    this.#cache = new LRUCache({ max: 10_000, ttl });
    this.#users = new LRUCache({ max: 10_000, ttl });
  }

  /** The subject of a request with these credentials from `client`. Throws UNAUTHENTICATED or TOO_MANY_REQUESTS. */
  async authenticate(credentials: Credentials, client: string): Promise<Authenticated> {
    switch (credentials.kind) {
      case 'none': {
        const anonymous = this.deps.config.anonymous;
        if (anonymous) return { subject: { name: 'anonymous', role: anonymous.role, attributes: anonymous.attributes, method: 'anonymous' } };
        throw unauthenticated('credentials are required');
      }
      case 'malformed':
        this.deps.onEvent({ outcome: 'failure', method: 'basic', client, reason: `malformed ${credentials.scheme} credentials: ${credentials.problem}` });
        throw unauthenticated(`malformed credentials (${credentials.problem})`);
      case 'basic': {
        // The throttle comes before the cache: a delayed client must not learn, from a cached
        // success, that a guess is right.
        const { counted } = await this.admit(credentials.user, client, 'basic');
        const authenticated = await this.cached(`b\0${credentials.user}\0${credentials.password}`, async () => ({
          subject: await this.checkPassword(credentials.user, credentials.password, client, 'basic'),
        }));
        if (counted) await this.deps.throttle.recordSuccess(credentials.user, client);
        return authenticated;
      }
      case 'api-key':
        return this.cached(`k\0${credentials.key}`, async () => {
          const name = await this.deps.apiKeys.verify(credentials.key);
          const user = name === undefined ? undefined : await this.deps.users.get(name);
          if (!user || user.disabled) {
            this.deps.onEvent({ outcome: 'failure', method: 'api-key', user: name, client, reason: name === undefined ? 'unknown, revoked or expired API key' : "the key's user is disabled" });
            throw unauthenticated('the API key is not valid');
          }
          this.deps.onEvent({ outcome: 'success', method: 'api-key', user: user.name, client, reason: 'API key' });
          return { subject: toSubject(user, 'api-key') };
        });
      case 'bearer':
        return this.bearer(credentials.token, client);
    }
  }

  /**
   * Checks a user name and password (HTTP Basic, the password grant): throttled, audited. Throws
   * UNAUTHENTICATED (any failure, the same message) or TOO_MANY_REQUESTS while the name is delayed
   * from this client or the client is locked out.
   */
  async signIn(name: string, password: string, client: string, method: 'basic' | 'password'): Promise<Subject> {
    await this.admit(name, client, method);
    return this.checkPassword(name, password, client, method);
  }

  /** Refuses (TOO_MANY_REQUESTS, audited) while the name is delayed from this client or the client is locked out. */
  private async admit(name: string, client: string, method: 'basic' | 'password'): Promise<{ counted: boolean }> {
    const state = await this.deps.throttle.check(name, client);
    if (state.locked) {
      this.deps.onEvent({ outcome: 'locked', method, user: name, client, reason: `${state.scope === 'user' ? 'user name from this client' : 'client'} locked out for ${state.retryAfterSeconds} s more` });
      throw new GatewayError('TOO_MANY_REQUESTS', 'too many failed sign-ins; try again later', { headers: { 'Retry-After': String(state.retryAfterSeconds) } });
    }
    return { counted: state.counted };
  }

  /** Verifies a password once admitted: a failure is counted and audited, a success clears the count. */
  private async checkPassword(name: string, password: string, client: string, method: 'basic' | 'password'): Promise<Subject> {
    const result = await this.deps.users.authenticate(name, password);
    if (!result.ok) {
      const lockedNow = await this.deps.throttle.recordFailure(name, client);
      this.deps.onEvent({ outcome: 'failure', method, user: name, client, reason: result.reason, lockedNow: lockedNow.length > 0 ? lockedNow : undefined });
      throw unauthenticated('the user name or password is wrong');
    }
    await this.deps.throttle.recordSuccess(name, client);
    this.deps.onEvent({ outcome: 'success', method, user: name, client, reason: 'password' });
    return toSubject(result.user, method);
  }

  /** Forgets cached credentials (tests, and after local changes such as disabling a user). */
  forget(): void {
    this.#cache.clear();
    this.#users.clear();
  }

  private async bearer(token: string, client: string): Promise<Authenticated> {
    if (this.deps.tokens.isOurs(token)) {
      return this.cached(`t\0${token}`, async () => {
        const claims = await this.deps.tokens.verify(token);
        const user = claims === undefined ? undefined : await this.user(claims.user);
        const stale = user !== undefined && claims !== undefined && claims.issuedAt.getTime() + 999 < Date.parse(user.passwordChangedAt);
        if (!claims || !user || user.disabled || stale) {
          this.deps.onEvent({ outcome: 'failure', method: 'token', user: claims?.user, client, reason: !claims ? 'invalid or expired token' : stale ? 'token issued before the last password change' : 'unknown or disabled user' });
          throw unauthenticated('the access token is not valid', 'invalid_token');
        }
        return { subject: toSubject(user, 'token'), expiresAt: claims.expiresAt };
      });
    }
    return this.cached(`o\0${token}`, async () => {
      const result = await this.deps.oidc.verify(token);
      if (!result?.ok) {
        this.deps.onEvent({ outcome: 'failure', method: 'oidc', client, reason: result === undefined ? 'bearer token of no known issuer' : result.reason });
        throw unauthenticated('the bearer token is not valid', 'invalid_token');
      }
      this.deps.onEvent({ outcome: 'success', method: 'oidc', user: result.identity.subject.name, client, reason: `OIDC ${result.identity.subject.issuer}` });
      return { subject: result.identity.subject, purpose: result.identity.purpose, expiresAt: result.identity.expiresAt };
    });
  }

  /** A local user by name, cached like credentials. */
  private async user(name: string): Promise<User | undefined> {
    let user = this.#users.get(name);
    if (user === undefined) {
      user = await this.deps.users.get(name);
      if (user) this.#users.set(name, user);
    }
    return user;
  }

  private async cached(credential: string, verify: () => Promise<Authenticated>): Promise<Authenticated> {
    const seconds = this.deps.config.credentialCacheSeconds;
    if (seconds <= 0) return verify();
    const key = createHmac('sha256', this.#cacheKey).update(credential).digest('base64');
    const hit = this.#cache.get(key);
    if (hit) return hit;
    const authenticated = await verify();
    const remaining = authenticated.expiresAt === undefined ? Infinity : authenticated.expiresAt.getTime() - Date.now();
    if (remaining > 0) this.#cache.set(key, authenticated, { ttl: Math.min(seconds * 1000, remaining) });
    return authenticated;
  }
}

/** The subject of a local user. */
export function toSubject(user: User, method: AuthenticationMethod): Subject {
  return { name: user.name, role: user.role, attributes: user.attributes, method };
}

function unauthenticated(message: string, bearerError?: 'invalid_token'): GatewayError {
  const challenge = bearerError ? `Basic realm="aegis", charset="UTF-8", Bearer realm="aegis", error="${bearerError}"` : CHALLENGE;
  return new GatewayError('UNAUTHENTICATED', message, { headers: { 'WWW-Authenticate': challenge } });
}
