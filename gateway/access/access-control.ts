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
import { LoginThrottle } from './authn/login-throttle.js';
import { OidcVerifier } from './authn/oidc.js';
import { RefreshTokens } from './authn/refresh-tokens.js';
import { BreakGlassGrants } from './break-glass.js';
import { UserStore } from './users.js';

/** Everything the HTTP layer needs to authenticate. */
export interface AccessControl {
  users: UserStore;
  authenticator: Authenticator;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokens;
  breakGlass: BreakGlassGrants;
}

/** Builds access control; `onEvent` receives authentication events (for the audit trail). */
export function createAccessControl(options: {
  config: GatewayConfig;
  catalog: Catalog;
  keyring: Keyring;
  logger: Logger;
  onEvent(event: AuthenticationEvent): void;
}): AccessControl {
  const { config, catalog, keyring } = options;
  const users = new UserStore(catalog.db);
  const accessTokens = new AccessTokens(keyring, Math.round(config.auth.accessTokenMinutes * 60));
  const authenticator = new Authenticator({
    config: config.auth,
    users,
    apiKeys: new ApiKeyStore(catalog.db),
    tokens: accessTokens,
    throttle: new LoginThrottle(catalog.db, config.auth.lockout),
    oidc: new OidcVerifier(config.auth.oidc),
    onEvent: options.onEvent,
  });
  return {
    users,
    authenticator,
    accessTokens,
    refreshTokens: new RefreshTokens(catalog.db, Math.round(config.auth.refreshTokenHours * 3600)),
    breakGlass: new BreakGlassGrants(catalog.db),
  };
}
