/**
 * Every request lands in the audit trail (issue 4): who (subject, attributes, client), what action
 * on which study / series / instance, the policy decisions and their rules, the purpose of use,
 * break-glass, and the outcome with the HTTP status. Refusals and break-glass requests are
 * security events, written at once, and so is an integrity failure (502) of stored data; the rest
 * are batched by the trail. Health probes are not
 * requests for data and are not recorded.
 */
import type { NextFunction, Request, Response } from 'express';
import type { AuditEvent, AuditOutcome, AuditResource } from '../access/audit/event.js';
import type { AuditTrail } from '../access/audit/trail.js';
import type { Action } from '../access/model.js';
import { clientAddress } from './authenticate.js';

const PROBES = new Set(['/healthz', '/readyz']);
const UID_PATH = /\/studies\/([0-9.]+)(?:\/series\/([0-9.]+)(?:\/instances\/([0-9.]+))?)?/;

/** Middleware: records each request when its response is done. */
export function auditRequests(audit: AuditTrail) {
  return (req: Request, res: Response, next: NextFunction) => {
    const path = req.originalUrl.split('?')[0];
    if (PROBES.has(path)) {
      next();
      return;
    }
    const done = () => {
      res.off('finish', done);
      res.off('close', done);
      const event = requestEvent(req, res.writableFinished ? res.statusCode : 499);
      if (event.outcome === 'denied' || event.breakGlass) audit.recordNow(event).catch(() => undefined);
      else audit.record(event);
      // Stored data that failed verification: a security event of its own (DESIGN.md "Data flow").
      if (res.statusCode === 502) {
        audit.recordNow({ ...event, kind: 'integrity', outcome: 'error', reason: 'stored data failed verification; nothing of it was sent' }).catch(() => undefined);
      }
    };
    res.on('finish', done);
    res.on('close', done);
    next();
  };
}

function requestEvent(req: Request, status: number): AuditEvent {
  const access = req.access;
  const decisions = access?.decisions ?? [];
  const refused = decisions.find((d) => !d.allowed);
  const outcome: AuditOutcome =
    status === 401 || status === 403 || status === 429 || (refused && status === 404) ? 'denied' : status < 400 ? 'success' : status < 500 ? 'failure' : 'error';
  const rules = [...new Set(decisions.map((d) => d.rule).filter((r): r is string => r !== undefined))];
  const query = new URL(req.originalUrl, 'http://x').searchParams;
  return {
    requestId: req.id,
    kind: 'request',
    actor: access
      ? { name: access.subject.name, role: access.subject.role, method: access.subject.method, issuer: access.subject.issuer, clientAddress: access.environment.clientAddress, attributes: access.subject.attributes }
      : { name: '(unauthenticated)', clientAddress: clientAddress(req) },
    action: decisions[0]?.action ?? actionOf(req),
    resources: resourcesOf(req, decisions.map((d) => d.study)),
    outcome,
    reason: refused?.reason ?? (outcome === 'success' ? undefined : `HTTP ${status}`),
    policyRule: rules.length > 0 ? rules.join(',') : undefined,
    purpose: access?.environment.purpose,
    breakGlass: access?.environment.breakGlass ? { id: access.environment.breakGlass.id, reason: access.environment.breakGlass.reason } : undefined,
    http: { method: req.method, path: req.originalUrl.split('?')[0], query: query.size > 0 ? Object.fromEntries([...query.keys()].map((k) => [k, query.getAll(k)])) : undefined, status },
  };
}

/** The DICOMweb action a request asks for, from its method and path. */
function actionOf(req: Request): Action | AuditEvent['action'] {
  const path = req.path;
  if (!path.startsWith('/dicom-web/')) return req.method as AuditEvent['action'];
  if (req.method === 'POST') return 'create';
  if (req.method === 'DELETE') return 'delete';
  return /\/(studies|series|instances)$/.test(path) ? 'search' : 'read';
}

function resourcesOf(req: Request, studies: Array<string | undefined>): AuditResource[] {
  const match = UID_PATH.exec(req.path);
  const resources: AuditResource[] = [];
  if (match) resources.push({ study: match[1], ...(match[2] && { series: match[2] }), ...(match[3] && { instance: match[3] }) });
  for (const study of new Set(studies)) if (study !== undefined && study !== match?.[1]) resources.push({ study });
  return resources;
}
