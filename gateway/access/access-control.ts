/**
 * Assembles access control for one gateway process from the configuration, the catalog and the
 * keyring: the authenticator with its stores, token issuers and break-glass grants. One object
 * passed to `buildApp`, no singletons.
 */
import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.js';
import type { GatewayConfig } from '../config.js';
import type { Keyring } from '../keys/keyring.js';
import { AccessTokens } from './authn/access-tokens.js';
import { ApiKeyStore } from './authn/api-keys.js';
import { Authenticator, type AuthenticationEvent } from './authn/authenticator.js';
import { LoginThrottle, type Lockout } from './authn/login-throttle.js';
import { OidcVerifier } from './authn/oidc.js';
import { RefreshTokens } from './authn/refresh-tokens.js';
import type { AuditTrail } from './audit/trail.js';
import { BreakGlassGrants } from './break-glass.js';
import type { Policy } from './policy/policy.js';
import { UserStore } from './users.js';

/** Everything the HTTP layer needs to authenticate. */
export interface AccessControl {
  users: UserStore;
  authenticator: Authenticator;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokens;
  breakGlass: BreakGlassGrants;
  policy: Policy;
  audit: AuditTrail;
}

/**
 * Builds access control; authentication events go to the audit trail, and to `observe` (the
 * metrics) when given: an observer that throws is logged, never the sign-in's failure.
 */
export function createAccessControl(options: { config: GatewayConfig; catalog: Catalog; keyring: Keyring; logger: Logger; policy: Policy; audit: AuditTrail; observe?: (event: AuthenticationEvent) => void }): AccessControl {
  const { config, catalog, keyring, audit } = options;
  const users = new UserStore(catalog.db);
  const accessTokens = new AccessTokens(keyring, Math.round(config.auth.accessTokenMinutes * 60));
  const authenticator = new Authenticator({
    config: config.auth,
    users,
    apiKeys: new ApiKeyStore(catalog.db),
    tokens: accessTokens,
    throttle: new LoginThrottle(catalog.db, config.auth.lockout),
    oidc: new OidcVerifier(config.auth.oidc),
    onEvent: (event) => {
      recordAuthentication(audit, options.logger, event);
      try {
        options.observe?.(event);
      } catch (error) {
        options.logger.error({ err: error }, 'recording an authentication event in the metrics failed');
      }
    },
  });
  return {
    users,
    authenticator,
    accessTokens,
    refreshTokens: new RefreshTokens(catalog.db, Math.round(config.auth.refreshTokenHours * 3600), Math.round(config.auth.refreshTokenAbsoluteHours * 3600)),
    breakGlass: new BreakGlassGrants(catalog.db),
    policy: options.policy,
    audit,
  };
}

/**
 * Sign-ins and credential checks in the audit trail; failures and lockouts are security events,
 * written at once. A lockout starting is also logged at warn level (never with the password).
 */
function recordAuthentication(audit: AuditTrail, logger: Logger, event: AuthenticationEvent): void {
  for (const lockout of event.lockedNow ?? []) {
    try {
      logger.warn(
        { event: 'sign-in-lockout', scope: lockout.scope, user: event.user, client: event.client, seconds: lockout.seconds },
        lockout.scope === 'user' ? 'sign-ins of a user name from one client delayed after repeated wrong passwords' : 'client locked out after repeated failed sign-ins',
      );
    } catch {
      // A logger failure must not turn a refused sign-in into an error.
    }
  }
  const entry = {
    kind: 'authentication' as const,
    operation: 'login' as const,
    // An empty name (HTTP Basic `:password`) is no actor name: the trail would refuse the event.
    actor: { name: event.user || '(unknown)', method: event.method, clientAddress: event.client },
    action: 'POST' as const,
    outcome: event.outcome === 'success' ? ('success' as const) : ('denied' as const),
    reason: event.lockedNow ? `${event.reason}; now locked: ${event.lockedNow.map(describeLockout).join(', ')}` : event.outcome === 'locked' ? `locked out: ${event.reason}` : event.reason,
  };
  if (event.outcome === 'success') audit.record(entry);
  else audit.recordNow(entry).catch(() => undefined); // the trail logs its own failures
}

function describeLockout(lockout: Lockout): string {
  return `${lockout.scope === 'user' ? 'user name from this client' : 'client'} for ${lockout.seconds} s`;
}
