/**
 * The authentication step of every protected route: credentials -> subject, plus the environment
 * of the request (time, client address, purpose of use, break-glass) that the policy reads. A
 * request without valid credentials ends here with 401 and `WWW-Authenticate`.
 */
import type { NextFunction, Request, Response } from 'express';
import { readCredentials } from '../access/authn/credentials.js';
import { PURPOSES, type Purpose } from '../access/model.js';
import type { AccessControl } from '../access/access-control.js';
import { GatewayError } from '../errors.js';
import type { RequestAccess } from '../services/authorization.js';
import { knownForwardedView } from './forwarded.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** Who is asking, in what environment, what they may do; set by {@link authenticate}. */
    access?: RequestAccess;
  }
}

/** The header a client declares its purpose of use in (HL7 PurposeOfUse codes). */
export const PURPOSE_HEADER = 'x-purpose-of-use';

/** The access of a request that passed {@link authenticate} (routes behind it only). */
export function accessOf(req: Request): RequestAccess {
  if (!req.access) throw new GatewayError('INTERNAL', 'a protected route was reached without authentication');
  return req.access;
}

/** Middleware: authenticates the request, describes its environment and builds its ability. */
export function authenticate(access: AccessControl) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const client = clientAddress(req);
    const declared = declaredPurpose(req);
    const { subject, purpose } = await access.authenticator.authenticate(readCredentials(req.headers), client);
    const grant = subject.method === 'anonymous' ? undefined : await access.breakGlass.active(subject);
    const effectivePurpose = declared ?? purpose ?? 'TREAT';
    const environment = {
      time: new Date(),
      clientAddress: client,
      purpose: effectivePurpose,
      // A grant serves only the requests that declare emergency treatment; the others stay ordinary.
      breakGlass: effectivePurpose === 'ETREAT' ? grant : undefined,
    };
    req.access = { subject, environment, ability: access.policy.abilityFor(subject, environment), decisions: [] };
    next();
  };
}

/**
 * The client's address: the TCP peer, or the client a trusted proxy names in its forwarded headers
 * (`forwarded.ts`; read for every request by the app's first middleware).
 */
export function clientAddress(req: Request): string {
  return knownForwardedView(req)?.clientAddress ?? req.socket?.remoteAddress ?? 'unknown';
}

function declaredPurpose(req: Request): Purpose | undefined {
  const value = req.headers[PURPOSE_HEADER];
  if (value === undefined) return undefined;
  const text = (Array.isArray(value) ? value[0] : value).trim().toUpperCase();
  if (!(PURPOSES as readonly string[]).includes(text)) {
    throw new GatewayError('BAD_REQUEST', `${PURPOSE_HEADER} must be one of ${PURPOSES.join(', ')}`);
  }
  return text as Purpose;
}
