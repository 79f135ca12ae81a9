/**
 * Bearer tokens from external OpenID Connect identity providers (config `auth.oidc`): verified
 * against the provider's JWKS (`jose` fetches and caches the key set, refetching when an unknown
 * `kid` appears), with issuer, audience, lifetime and algorithm checked, then mapped to a subject:
 * name, role and attributes from configured claims (dot paths). The subject is identified by issuer
 * and `sub`, never by its name alone, which may equal a local user's.
 */
import { createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import type { GatewayConfig } from '../../config.js';
import type { Purpose, Subject } from '../model.js';
import { PURPOSES } from '../model.js';

type ProviderConfig = GatewayConfig['auth']['oidc'][number];

/** A verified external identity. */
export interface OidcIdentity {
  subject: Subject;
  purpose?: Purpose;
  expiresAt: Date;
}

/** The outcome of checking a bearer token against the configured providers. */
export type OidcResult = { ok: true; identity: OidcIdentity } | { ok: false; reason: string } | undefined;

/** Verifies bearer tokens of the configured providers. */
export class OidcVerifier {
  private readonly providers: Array<{ config: ProviderConfig; keys: ReturnType<typeof createRemoteJWKSet> }>;

  constructor(providers: readonly ProviderConfig[]) {
    this.providers = providers.map((config) => ({
      config,
      keys: createRemoteJWKSet(new URL(config.jwksUri), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 }),
    }));
  }

  /** Undefined when no provider issued `token` (by its `iss`); otherwise the verified identity or why not. */
  async verify(token: string): Promise<OidcResult> {
    let issuer: string | undefined;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      return undefined;
    }
    const provider = this.providers.find((p) => p.config.issuer === issuer);
    if (!provider) return undefined;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, provider.keys, {
        issuer: provider.config.issuer,
        audience: provider.config.audience,
        algorithms: [...provider.config.algorithms],
        requiredClaims: ['exp', 'sub'],
        clockTolerance: 30,
      }));
    } catch (error) {
      if (error instanceof errors.JOSEError) return { ok: false, reason: `${error.code}: ${error.message}` };
      throw error;
    }
    return mapClaims(provider.config, payload);
  }
}

/** The subject a provider's verified claims describe. */
export function mapClaims(config: ProviderConfig, payload: JWTPayload): OidcResult {
  // The configured claim or nothing: no other claim stands in for a missing name.
  const name = claimString(payload, config.claims.name);
  const rawRole = claimString(payload, config.claims.role);
  const role = rawRole === undefined ? undefined : config.roles ? (Object.hasOwn(config.roles, rawRole) ? config.roles[rawRole] : undefined) : rawRole;
  if (name === undefined || !/^[^\p{Cc}]{1,256}$/u.test(name)) return { ok: false, reason: `claim '${config.claims.name}' gives no usable name` };
  if (typeof payload.exp !== 'number') return { ok: false, reason: 'the token has no expiry (exp)' };
  if (typeof payload.sub !== 'string' || payload.sub === '') return { ok: false, reason: 'the token names no subject (sub)' };
  if (role === undefined || !/^[a-z][a-z0-9._-]{0,63}$/.test(role)) return { ok: false, reason: `claim '${config.claims.role}' gives no role this gateway knows` };
  const attributes: Record<string, string> = {};
  for (const [attribute, path] of Object.entries(config.claims.attributes)) {
    const value = claimString(payload, path);
    if (value !== undefined) attributes[attribute] = value;
  }
  const purposeClaim = config.claims.purpose === undefined ? undefined : claimString(payload, config.claims.purpose);
  const purpose = (PURPOSES as readonly string[]).includes(purposeClaim ?? '') ? (purposeClaim as Purpose) : undefined;
  return {
    ok: true,
    identity: {
      subject: { name, role, attributes, method: 'oidc', issuer: config.issuer, externalId: payload.sub },
      purpose,
      expiresAt: new Date(payload.exp * 1000),
    },
  };
}

/** A claim at a dot path as a string; the first element of an array claim. */
function claimString(payload: JWTPayload, path: string): string | undefined {
  let value: unknown = payload;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  if (Array.isArray(value)) value = value[0];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}
