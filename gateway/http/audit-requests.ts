/**
 * Every request lands in the audit trail: who (subject, attributes, client), what action
 * on which study / series / instance, the policy decisions and their rules, the purpose of use,
 * break-glass, and the outcome with the HTTP status. Health probes are not requests for data and
 * are not recorded.
 *
 * The record is durable before the response completes: `res.end` is held until the trail has
 * written the event (`AuditTrail.recordNow`), so the last bytes of a response (all of it when it
 * is sent in one piece, as JSON and errors are) reach the client only once its record is in the
 * database. A worker that dies (SIGKILL, a crash) has recorded every response that completed; what
 * it loses are responses it had not finished, which the client sees cut short. When the record
 * cannot be written the response is withheld: the connection is closed instead of being ended,
 * and the event stays buffered in the trail and is retried (it names the status the response
 * would have had). A response the client abandons before the gateway ends it is recorded with 499,
 * buffered. An integrity failure (502) of stored data is also written as an integrity event.
 * A response a route marks `res.locals.unaudited` (a metrics scrape with the scrape token) is not
 * recorded.
 */
import type { NextFunction, Request, Response } from 'express';
import type { AuditEvent, AuditOutcome, AuditResource } from '../access/audit/event.js';
import type { AuditTrail } from '../access/audit/trail.js';
import type { Action } from '../access/model.js';
import { clientAddress } from './authenticate.js';
import { recordedTarget } from './request-target.js';
import { onResponseDone, type HookLogger } from './response-hooks.js';

const PROBES = new Set(['/healthz', '/readyz']);
const UID = /^(?:0|[1-9][0-9]*)(?:\.(?:0|[1-9][0-9]*))*$/;
/** Longest path kept in a record, in characters; the rest is counted. */
const MAX_PATH = 2048;

/**
 * Middleware: records each request durably before its response completes (see the module
 * header). Nothing it does can throw out of `res.end` or the response hooks: a failure is logged
 * on `logger`.
 */
export function auditRequests(audit: AuditTrail, logger: HookLogger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const { path } = splitTarget(recordedTarget(req));
    if (PROBES.has(path)) {
      next();
      return;
    }
    let state: 'open' | 'holding' | 'recorded' = 'open';
    const end = res.end;
    (res as { end: (...args: unknown[]) => Response }).end = (...args: unknown[]) => {
      if (state === 'holding') return res; // a second end while the first waits: the first wins
      if (state === 'recorded') return end.apply(res, args as Parameters<Response['end']>);
      if (res.locals?.unaudited === true) {
        // A route that keeps its successful answers out of the trail (metrics scrapes with the scrape token).
        state = 'recorded';
        return end.apply(res, args as Parameters<Response['end']>);
      }
      state = 'holding';
      recordDurably(audit, req, res.statusCode).then(
        () => end.apply(res, args as Parameters<Response['end']>),
        (error: unknown) => {
          logger.error({ err: error, reqId: req.id }, 'RESPONSE WITHHELD: its audit record could not be made durable; the connection is closed');
          res.destroy();
        },
      );
      return res;
    };
    onResponseDone(res, logger, 'audit', () => {
      if (state !== 'open') return;
      state = 'recorded';
      // The connection closed before the gateway ended the response.
      const event = requestEvent(req, 499);
      audit.record(event);
    });
    next();
  };
}

/** Writes the record of a request ended with `status` (and an integrity event for 502); resolves once durable. */
async function recordDurably(audit: AuditTrail, req: Request, status: number): Promise<void> {
  const event = requestEvent(req, status);
  const writes = [audit.recordNow(event)];
  // Stored data that failed verification: a security event of its own (see docs/audit.md).
  // (An unreachable upstream PACS in proxy mode is a 502 too, but no stored data failed.)
  if (status === 502 && req.res?.locals.errorCode !== 'UPSTREAM_UNAVAILABLE') writes.push(audit.recordNow({ ...event, kind: 'integrity', outcome: 'error', reason: 'stored data failed verification; nothing of it was sent' }));
  await Promise.all(writes);
}

/**
 * The path and query parameters of a request target as sent. Never throws: the target may be
 * anything the HTTP parser let through (`//`, `//x:99999/...`, broken percent-encoding), and
 * URLSearchParams keeps escapes it cannot decode as they are.
 */
function splitTarget(target: string): { path: string; query: URLSearchParams } {
  const mark = target.indexOf('?');
  return mark < 0 ? { path: target, query: new URLSearchParams() } : { path: target.slice(0, mark), query: new URLSearchParams(target.slice(mark + 1)) };
}

function requestEvent(req: Request, status: number): AuditEvent {
  const access = req.access;
  const decisions = access?.decisions ?? [];
  const refused = decisions.find((d) => !d.allowed);
  const outcome: AuditOutcome = status === 401 || status === 403 || status === 429 || (refused && status === 404) ? 'denied' : status < 400 ? 'success' : status < 500 ? 'failure' : 'error';
  const rules = [...new Set(decisions.map((d) => d.rule).filter((r): r is string => r !== undefined))];
  const { path, query } = splitTarget(recordedTarget(req));
  return {
    requestId: req.id,
    kind: 'request',
    actor: access
      ? { name: access.subject.name, role: access.subject.role, method: access.subject.method, issuer: access.subject.issuer, clientAddress: access.environment.clientAddress, attributes: access.subject.attributes }
      : { name: '(unauthenticated)', clientAddress: clientAddress(req) },
    action: decisions[0]?.action ?? actionOf(req),
    resources: resourcesOf(
      req,
      decisions.map((d) => d.study),
    ),
    outcome,
    reason: refused?.reason ?? (outcome === 'success' ? undefined : `HTTP ${status}`),
    policyRule: rules.length > 0 ? rules.join(',') : undefined,
    purpose: access?.environment.purpose,
    breakGlass: access?.environment.breakGlass ? { id: access.environment.breakGlass.id, reason: access.environment.breakGlass.reason } : undefined,
    http: {
      method: req.method,
      path: path.length > MAX_PATH ? `${path.slice(0, MAX_PATH)}...(${path.length - MAX_PATH} more characters)` : path,
      query: query.size > 0 ? Object.fromEntries([...query.keys()].map((k) => [k, query.getAll(k)])) : undefined,
      status,
    },
  };
}

/** The DICOMweb action a request asks for, from its method and path. */
function actionOf(req: Request): Action | AuditEvent['action'] {
  const path = req.path.toLowerCase(); // the router ignores case
  if (!path.startsWith('/dicom-web/')) return req.method as AuditEvent['action'];
  if (req.method === 'POST') return 'create';
  if (req.method === 'DELETE') return 'delete';
  return /\/(studies|series|instances)$/.test(path) ? 'search' : 'read';
}

function resourcesOf(req: Request, studies: Array<string | undefined>): AuditResource[] {
  const named = resourceInPath(req.path);
  const resources: AuditResource[] = named ? [named] : [];
  for (const study of new Set(studies)) if (study !== undefined && study !== named?.study) resources.push({ study });
  return resources;
}

/**
 * The study, series and instance a path names, read as the router reads it: each segment
 * percent-decoded, the words `studies`, `series` and `instances` in any case, and only whole UIDs.
 * (Matching the raw text would let `.../instances/1.2.3.4%35` (the instance 1.2.3.45) be recorded as
 * the instance 1.2.3.4, and `.../INSTANCES/...` as no instance at all.)
 */
function resourceInPath(path: string): AuditResource | undefined {
  const segments = path.split('/').map(decodeSegment);
  const start = segments.findIndex((segment) => segment.toLowerCase() === 'studies');
  const uidAfter = (index: number, word: string) => (segments[index]?.toLowerCase() === word && UID.test(segments[index + 1] ?? '') ? segments[index + 1] : undefined);
  const study = start < 0 ? undefined : uidAfter(start, 'studies');
  if (study === undefined) return undefined;
  const series = uidAfter(start + 2, 'series');
  const instance = series === undefined ? undefined : uidAfter(start + 4, 'instances');
  return { study, ...(series !== undefined && { series }), ...(instance !== undefined && { instance }) };
}

/** A path segment percent-decoded; as it is when its escapes are broken (the router then refuses the request). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
