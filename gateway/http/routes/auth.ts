/**
 * `POST /auth/token` (RFC 6749 §4.3 password grant, §6 refresh): scripts and viewers trade a user
 * name and password, or a refresh token, for a short-lived access token (Bearer) and a new refresh
 * token. Form-encoded (as RFC 6749 requires) or JSON bodies of at most 8 KiB. Errors use the OAuth
 * error body (§5.2); a locked-out user gets 429 with Retry-After. The password goes through the
 * same throttle and audit as HTTP Basic; a refresh is recorded as a sign-in of the token's user, a
 * refused one (reused, revoked, expired, unknown) as a denied one.
 */
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import type { AccessControl } from '../../access/access-control.js';
import { GatewayError, isGatewayError } from '../../errors.js';
import { accessOf, clientAddress } from '../authenticate.js';
import { sendJsonText } from '../json-response.js';

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
        // A redemption signs the user in again: the trail names them, as for a password.
        const signIn = { requestId: req.id, kind: 'authentication', operation: 'login', action: 'POST', actor: { name: redeemed.user ?? '(unknown)', method: 'token', clientAddress: clientAddress(req) } } as const;
        if (!redeemed.ok || !owner || owner.disabled) {
          const reason = redeemed.ok ? 'user disabled or removed' : redeemed.reason === 'reused' ? 'reused: every token of its sign-in is revoked' : redeemed.reason;
          req.log.warn({ reason }, 'refresh token refused');
          // A security event (a reused token may be a stolen one), written at once like a failed sign-in.
          access.audit.recordNow({ ...signIn, outcome: 'denied', reason: `refresh token refused (${reason})` }).catch(() => undefined);
          return oauthError(res, 'invalid_grant', 'the refresh token is not valid');
        }
        access.audit.record({ ...signIn, outcome: 'success', reason: 'refresh token redeemed' });
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
  sendJsonText(res, 400, 'application/json', JSON.stringify({ error, error_description: description }));
}

/** Longest break-glass reason kept, in characters. */
const MAX_REASON = 1000;

/**
 * The body of `POST /auth/break-glass`, nothing else: `reason`, `purpose` ETREAT (any case) and
 * optional `minutes`, a whole number from 1 to the policy's maximum: a JSON number in a JSON body,
 * digits in a form (where every value is text).
 */
function breakGlassRequest(limit: number, form: boolean) {
  const minutes = form
    ? z
        .string()
        .regex(/^[0-9]{1,6}$/)
        .transform(Number)
    : z.number();
  return z.strictObject({
    reason: z
      .string()
      .trim()
      .min(10)
      .max(MAX_REASON)
      .refine((text) => !/\p{Cc}/u.test(text)),
    purpose: z.string().refine((text) => text.toUpperCase() === 'ETREAT'),
    minutes: minutes.pipe(z.number().int().min(1).max(limit)).optional(),
  });
}

/** What is wrong with a break-glass body, one clause per field, in words a client can act on. */
function bodyProblems(issues: readonly z.core.$ZodIssue[], limit: number): string {
  const field: Record<string, string> = {
    reason: `reason must be a text of 10 to ${MAX_REASON} characters, without control characters`,
    purpose: 'purpose must be ETREAT (emergency treatment)',
    minutes: `minutes must be a whole number from 1 to ${limit} (the policy's maximum)`,
  };
  const problems = issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return `unknown field(s) ${issue.keys.join(', ')} (the body has reason, purpose and minutes only)`;
    if (issue.path.length === 0) return 'the body must be a JSON object or a form';
    return field[String(issue.path[0])] ?? issue.message;
  });
  return [...new Set(problems)].join('; ');
}

/**
 * The authenticated part of `/auth`: `GET /auth/whoami` (the subject and environment the gateway
 * sees), `POST /auth/break-glass` (declare an emergency: a JSON or form body of `reason`
 * (mandatory, at least 10 characters), `purpose` (must be ETREAT), `minutes` (a whole number, at
 * most the policy's maximum), anything else refused with 400) and `DELETE /auth/break-glass` (end
 * it early). Only subjects the policy's `breakGlass.subjects` allow may declare one; the grant serves
 * their requests that declare purpose ETREAT; every start and stop is a security event in the audit
 * trail.
 */
export function sessionRoutes(access: AccessControl): express.Router {
  const router = express.Router();
  const bodies = [express.urlencoded({ extended: false, limit: '8kb' }), express.json({ limit: '8kb' })];

  router.get('/whoami', (req: Request, res: Response) => {
    const { subject, environment } = accessOf(req);
    res.json({
      name: subject.name,
      role: subject.role,
      attributes: subject.attributes,
      method: subject.method,
      purpose: environment.purpose,
      clientAddress: environment.clientAddress,
      breakGlass: environment.breakGlass ? { id: environment.breakGlass.id, reason: environment.breakGlass.reason, expiresAt: environment.breakGlass.expiresAt.toISOString() } : null,
    });
  });

  router.post('/break-glass', ...bodies, async (req: Request, res: Response) => {
    const { subject, environment } = accessOf(req);
    const body: unknown = req.body ?? {};
    const given = typeof (body as { reason?: unknown }).reason === 'string' ? (body as { reason: string }).reason.trim() : '';
    const limit = access.policy.breakGlass?.maxMinutes ?? 0;
    const actor = { name: subject.name, role: subject.role, method: subject.method, clientAddress: environment.clientAddress, attributes: subject.attributes };
    const refuse = async (code: 'BAD_REQUEST' | 'FORBIDDEN', message: string): Promise<never> => {
      await access.audit.recordNow({
        requestId: req.id,
        kind: 'break-glass',
        operation: 'start',
        actor,
        action: 'read',
        outcome: 'denied',
        reason: `${message}${given ? ` (reason given: ${given.slice(0, 200)})` : ''}`,
        purpose: environment.purpose,
      });
      throw new GatewayError(code, message);
    };
    if (subject.method === 'anonymous' || !access.policy.mayBreakGlass(subject)) await refuse('FORBIDDEN', 'the policy does not allow you to declare an emergency');
    const parsed = breakGlassRequest(limit, Boolean(req.is('application/x-www-form-urlencoded'))).safeParse(body);
    if (!parsed.success) return refuse('BAD_REQUEST', `break-glass refused: ${bodyProblems(parsed.error.issues, limit)}`);
    const { reason, minutes = limit } = parsed.data;
    const grant = await access.breakGlass.grant(subject, reason, minutes);
    // Fail closed: no emergency access unless the audit trail has it.
    await access.audit.recordNow({
      requestId: req.id,
      kind: 'break-glass',
      operation: 'start',
      actor,
      action: 'read',
      outcome: 'success',
      reason,
      purpose: 'ETREAT',
      breakGlass: { id: grant.id, reason },
    });
    req.log.warn({ user: subject.name, grant: grant.id, expiresAt: grant.expiresAt.toISOString(), event: 'break-glass' }, 'BREAK-GLASS: emergency access granted');
    res.status(201).json({ id: grant.id, reason, purpose: 'ETREAT', expiresAt: grant.expiresAt.toISOString() });
  });

  router.delete('/break-glass', async (req: Request, res: Response) => {
    const { subject, environment } = accessOf(req);
    const ended = await access.breakGlass.end(subject);
    await access.audit.recordNow({
      requestId: req.id,
      kind: 'break-glass',
      operation: 'stop',
      actor: { name: subject.name, role: subject.role, method: subject.method, clientAddress: environment.clientAddress },
      action: 'read',
      outcome: 'success',
      reason: `${ended} grant(s) ended`,
    });
    res.status(204).end();
  });
  return router;
}
