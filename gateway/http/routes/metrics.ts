/**
 * `GET /metrics`: the gateway's metrics in the Prometheus text format (`docs/metrics.md`), for
 * the whole gateway (in a cluster, every worker's merged by the primary). Who may scrape:
 *
 * - a Prometheus server with the scrape token (`Authorization: Bearer <token>`, the token from
 *   `metrics.tokenFile` or `AEGIS_METRICS_TOKEN`), compared in constant time (as SHA-256 digests,
 *   so that neither its content nor its length shows in the timing); it is never logged;
 * - a subject the policy allows the `admin` action (the built-in admin role), with any credentials
 *   the gateway takes;
 * - nobody else: 401 with `WWW-Authenticate` without valid credentials, 403 for others.
 *
 * Scrapes with the token are not recorded in the audit trail one by one: a Prometheus server
 * scrapes every few seconds, forever, and the trail would become mostly scrapes. Scrapes refused
 * and scrapes by a person (an admin's credentials) are recorded like every other request.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AccessControl } from '../../access/access-control.js';
import { authorizeAdmin } from '../../services/authorization.js';
import { METRICS_CONTENT_TYPE } from '../../services/metrics.js';
import { accessOf, authenticate } from '../authenticate.js';

/** The path of the metrics endpoint. */
export const METRICS_PATH = '/metrics';

/** What the metrics endpoint needs. */
export interface MetricsEndpointDeps {
  access: AccessControl;
  /** The scrape token; undefined: only admins scrape. */
  token?: string;
  /** The metrics of the whole gateway, in the Prometheus text format. */
  scrape(): Promise<string>;
}

/** The handlers of `GET /metrics`, in order: the scrape token, else authentication and the admin check. */
export function metricsEndpoint(deps: MetricsEndpointDeps): RequestHandler[] {
  const expected = deps.token === undefined ? undefined : digest(deps.token);
  const serve = async (res: Response, unaudited: boolean) => {
    const text = await deps.scrape();
    if (unaudited) res.locals.unaudited = true;
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).type(METRICS_CONTENT_TYPE).send(text);
  };
  const byToken = async (req: Request, res: Response, next: NextFunction) => {
    const presented = bearerToken(req.headers.authorization);
    if (expected === undefined || presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      next();
      return;
    }
    await serve(res, true);
  };
  const byAdmin = async (req: Request, res: Response) => {
    authorizeAdmin(accessOf(req));
    await serve(res, false);
  };
  return [byToken, authenticate(deps.access), byAdmin];
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The token of an `Authorization: Bearer` header; undefined for any other header. */
function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header ?? '');
  return match?.[1];
}
