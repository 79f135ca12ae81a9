/**
 * The request target as the gateway accepts it (RFC 9112 §3.2). Node's parser lets through the
 * origin-form (`/path?query`), the asterisk-form (`*`) and the absolute-form
 * (`http://host/path`); Express's router cannot read some absolute-form targets (an authority such
 * as `[::1` or a port beyond 65535) and then answers 404 without running any middleware, so the
 * request would be neither logged nor audited. {@link normalizeRequestTarget} runs before the app:
 * an absolute-form target of http or https becomes the origin-form, its authority replacing the Host
 * header (RFC 9112 §3.2.2); anything else that is not origin-form (the asterisk-form outside OPTIONS,
 * other schemes, user information, an authority that is not a host and port) is marked refused and
 * reaches the app as `/`, where {@link refuseMalformedTarget} answers 400 after the request was
 * logged and audited under the target as it was sent.
 */
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { GatewayError } from '../errors.js';

const REFUSED = Symbol('aegis.refusedTarget');

/** A target the gateway refused: why, and the target as sent (without user information). */
interface RefusedTarget {
  reason: string;
  target: string;
}

type Marked = IncomingMessage & { [REFUSED]?: RefusedTarget };

const ABSOLUTE_FORM = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s;

/**
 * Rewrites `req.url` to the origin-form, or marks the request refused (see the module header).
 * Never throws.
 */
export function normalizeRequestTarget(req: IncomingMessage): void {
  const target = req.url ?? '';
  if (target.startsWith('/')) return;
  if (target === '*') {
    if (req.method !== 'OPTIONS') refuse(req, target, 'the asterisk-form request target is only for OPTIONS');
    return;
  }
  const absolute = ABSOLUTE_FORM.exec(target);
  if (absolute === null) return refuse(req, target, 'the request target is not a path, an absolute URI or *');
  const [, scheme, authority, rest] = absolute;
  if (authority.includes('@')) return refuse(req, `${scheme}://${authority.slice(authority.lastIndexOf('@') + 1)}${rest}`, 'user information in the request target is not accepted');
  if (!/^https?$/i.test(scheme)) return refuse(req, target, `the request target's scheme must be http or https, not ${scheme}`);
  const host = hostAndPort(authority);
  if (host === undefined) return refuse(req, target, "the request target's authority is not a host and port");
  req.headers.host = host;
  req.url = rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}`;
}

/** `authority` as a normalized host (name, IPv4 or bracketed IPv6) and optional port up to 65535; undefined when it is not one. */
function hostAndPort(authority: string): string | undefined {
  if (authority === '') return undefined;
  try {
    return new URL(`http://${authority}/`).host || undefined;
  } catch {
    return undefined;
  }
}

function refuse(req: IncomingMessage, target: string, reason: string): void {
  (req as Marked)[REFUSED] = { reason, target };
  req.url = '/';
}

/** The target to log and audit: as sent when it was refused, else the (origin-form) URL. */
export function recordedTarget(req: Request): string {
  return (req as Marked)[REFUSED]?.target ?? req.originalUrl;
}

/** Middleware: answers 400 to a request whose target {@link normalizeRequestTarget} refused. */
export function refuseMalformedTarget(req: Request, _res: Response, next: NextFunction): void {
  const refused = (req as Marked)[REFUSED];
  next(refused === undefined ? undefined : new GatewayError('BAD_REQUEST', refused.reason));
}
