/**
 * `POST /auth/token` (RFC 6749 §4.3 password grant, §6 refresh): scripts and viewers trade a user
 * name and password, or a refresh token, for a short-lived access token (Bearer) and a new refresh
 * token. Form-encoded (as RFC 6749 requires) or JSON bodies of at most 8 KiB. Errors use the OAuth
 * error body (§5.2); a locked-out user gets 429 with Retry-After. The password goes through the
 * same throttle and audit as HTTP Basic.
 */
import express, { type Request, type Response } from 'express';
import type { AccessControl } from '../../access/access-control.js';
import { GatewayError, isGatewayError } from '../../errors.js';
import { clientAddress } from '../authenticate.js';

/** The auth router (mounted at `/auth`). */
export function tokenRoutes(access: AccessControl): express.Router {
  const router = express.Router();
  const bodies = [express.urlencoded({ extended: false, limit: '8kb' }), express.json({ limit: '8kb' })];
  router.post('/token', ...bodies, async (req: Request, res: Response) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const field = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : undefined);
    const grant = field('grant_type');
    let user: string;
    let refreshToken: string;
    try {
      if (grant === 'password') {
        const name = field('username');
        const password = field('password');
        if (name === undefined || password === undefined) return oauthError(res, 'invalid_request', 'username and password are required');
        user = (await access.authenticator.signIn(name, password, clientAddress(req), 'password')).name;
        refreshToken = await access.refreshTokens.issue(user);
      } else if (grant === 'refresh_token') {
        const presented = field('refresh_token');
        if (presented === undefined) return oauthError(res, 'invalid_request', 'refresh_token is required');
        const redeemed = await access.refreshTokens.redeem(presented);
        const owner = redeemed.ok ? await access.users.get(redeemed.user) : undefined;
        if (!redeemed.ok || !owner || owner.disabled) {
          req.log.warn({ reason: redeemed.ok ? 'user disabled or removed' : redeemed.reason }, 'refresh token refused');
          return oauthError(res, 'invalid_grant', 'the refresh token is not valid');
        }
        user = owner.name;
        refreshToken = redeemed.token;
      } else {
        return oauthError(res, 'unsupported_grant_type', 'grant_type must be password or refresh_token');
      }
    } catch (error) {
      if (isGatewayError(error, 'UNAUTHENTICATED')) return oauthError(res, 'invalid_grant', 'the user name or password is wrong');
      throw error;
    }
    const { token, expiresIn } = await access.accessTokens.issue(user);
    res.json({ access_token: token, token_type: 'Bearer', expires_in: expiresIn, refresh_token: refreshToken });
  });
  router.all('/token', () => {
    throw new GatewayError('METHOD_NOT_ALLOWED', 'use POST /auth/token', { headers: { Allow: 'POST' } });
  });
  return router;
}

function oauthError(res: Response, error: string, description: string): void {
  res.status(400).json({ error, error_description: description });
}
