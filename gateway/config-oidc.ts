/**
 * The OpenID Connect section of the configuration (`auth.oidc`): the identity providers whose
 * bearer tokens the gateway accepts, and how their claims map to a subject. Part of the
 * configuration module (`config.ts`), which validates it at start-up with everything else.
 */
import { z } from 'zod';

/** A role or user name: lower-case letters, digits, `.`, `_` and `-`. */
export const NAME = /^[a-z][a-z0-9._-]{0,63}$/;

/** An external OpenID Connect identity provider whose bearer tokens the gateway accepts. */
export const OidcProvider = z.strictObject({
  /** Expected `iss` claim. */
  issuer: z.string().min(1),
  /** Expected `aud` claim (the client id the provider issues tokens for). */
  audience: z.string().min(1),
  /** Where the provider publishes its signing keys (JWKS). */
  jwksUri: z.url(),
  /** Claims (dot paths) that give the subject's name, role, attributes and purpose of use. */
  claims: z
    .strictObject({
      name: z.string().min(1).default('preferred_username'),
      role: z.string().min(1).default('role'),
      /** Subject attribute -> claim path, e.g. `{ institution: hospital, department: dept }`. */
      attributes: z.record(z.string().regex(/^[a-z][a-zA-Z0-9_-]{0,63}$/), z.string().min(1)).default({}),
      /** Claim holding the purpose of use (TREAT, ETREAT, HRESCH), e.g. `purpose_of_use`. */
      purpose: z.string().min(1).optional(),
    })
    .prefault({}),
  /** Claim value -> gateway role (when the provider's role names differ); unmapped values are refused. */
  roles: z.record(z.string(), z.string().regex(NAME)).optional(),
  /** Algorithms accepted (never `none`). */
  algorithms: z.array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'])).default(['RS256', 'ES256', 'EdDSA']),
});
