/**
 * What one audit record says (docs/audit.md: an append-only, hash-chained trail of every request
 * and decision): who acted (subject and the attributes the decision used), on what
 * (study / series / instance UIDs), what they did, under which purpose and rule, whether break-glass
 * was in force, and how it ended. Events never carry secrets: the types have no place for passwords,
 * tokens or keys, and {@link normalizeAuditEvent} redacts query parameters and attributes whose
 * names say they hold one. QIDO-RS query parameters are kept: they may hold PHI (a patient name),
 * but who searched for whom is what accountability needs, and the catalog is trusted
 * (docs/architecture.md, "Trust model").
 */
import { GatewayError } from '../../errors.js';
import type { Action, AuthenticationMethod, Purpose } from '../model.js';
import { canonicalJson, type JsonValue } from '../../canonical-json.js';

/** What kind of event: a DICOMweb request, a sign-in, break-glass, a failed integrity check, an administrative change, the gateway starting or stopping. */
export type AuditEventKind = 'request' | 'authentication' | 'break-glass' | 'integrity' | 'admin' | 'application';

/** How it ended: done; refused by authentication or policy; not done for a reason of the request (4xx); not done for a reason of the gateway (5xx). */
export type AuditOutcome = 'success' | 'denied' | 'failure' | 'error';

/** An HTTP method, the action of a request that was refused or failed before it was mapped to an {@link Action}. */
export type HttpVerb = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/**
 * What happened within a kind: `login`/`logout` (authentication), `start`/`stop` (break-glass,
 * application), and for `admin` which security setting changed: `user` (a user's attributes,
 * password, enabled state), `roles`, `configuration` (policy, settings), `keys` (master keys),
 * `audit-read` (someone read the audit trail itself), `key-destruction` (the shred keys of deleted
 * instances destroyed: crypto-shredding), `migrate` (`aegis migrate` storing an instance of the
 * upstream PACS protected, or deleting the upstream's copy), and for `integrity` a `scrub` the
 * gateway ran on its schedule.
 */
export type AuditOperation = 'login' | 'logout' | 'start' | 'stop' | 'user' | 'roles' | 'configuration' | 'keys' | 'audit-read' | 'key-destruction' | 'migrate' | 'scrub';

/** Who acted. */
export interface AuditActor {
  /** User name, OIDC subject, `anonymous`, or a process (`aegis`, an operator's login name for the CLI). */
  name: string;
  role?: string;
  /** How the actor authenticated; `local` for a command run on the gateway's host. */
  method?: AuthenticationMethod | 'local';
  /** OIDC issuer of an external identity. */
  issuer?: string;
  /** Client address as the gateway saw it (IPv4 or IPv6, no port). */
  clientAddress?: string;
  /** The subject attributes the decision used (department, institution, licence, ...). */
  attributes?: Readonly<Record<string, string>>;
}

/** A study, or a series of it, or an instance of that series. */
export interface AuditResource {
  study: string;
  series?: string;
  instance?: string;
}

/** The HTTP exchange behind a request event. */
export interface AuditHttp {
  method: string;
  /** Path without the query string; a query string given here is moved to `query`. */
  path: string;
  /** Query parameters (QIDO-RS keys included); parameters named like secrets are redacted. */
  query?: Readonly<Record<string, string | readonly string[]>>;
  status?: number;
}

/** An event to record. */
export interface AuditEvent {
  /** When it happened; the time of recording when left out. */
  time?: Date;
  /** The request id of the HTTP request (also in the request log), to correlate. */
  requestId?: string;
  kind: AuditEventKind;
  operation?: AuditOperation;
  actor: AuditActor;
  action: Action | HttpVerb;
  resources?: readonly AuditResource[];
  outcome: AuditOutcome;
  /** Why, in words (the refusal, the error code and message, the break-glass reason). Never a secret. */
  reason?: string;
  /** Id of the policy rule that decided. */
  policyRule?: string;
  purpose?: Purpose;
  /** The break-glass grant in force, if any: the stored event then carries `emergency: true`. */
  breakGlass?: { id: string; reason: string };
  http?: AuditHttp;
}

/** An event as stored (the JSON text of `audit_events.event`): the time is the record's `at`. */
export interface StoredAuditEvent {
  requestId?: string;
  kind: AuditEventKind;
  operation?: AuditOperation;
  actor: AuditActor;
  action: Action | HttpVerb;
  resources: AuditResource[];
  /** How many resources were left out beyond {@link MAX_RESOURCES}. */
  resourcesOmitted?: number;
  outcome: AuditOutcome;
  reason?: string;
  policyRule?: string;
  purpose?: Purpose;
  /** True when the actor acted under break-glass: an emergency override to review. */
  emergency?: true;
  breakGlass?: { id: string; reason: string };
  http?: { method: string; path: string; query?: Record<string, string | string[]>; status?: number };
}

/** Most resources one event lists (a study retrieve may touch thousands of instances); the rest are counted. */
export const MAX_RESOURCES = 1000;

/** Names of query parameters and attributes whose values are never recorded. */
const SECRET_NAME = /pass(word)?|secret|token|api[-_]?key|authori[sz]ation|cookie|credential|session/i;
const REDACTED = '[redacted]';

/**
 * The record of an event: its time as ISO 8601 (the record's `at`) and its canonical JSON.
 * Throws a GatewayError `BAD_REQUEST` for an event the trail cannot hold (invalid time, no actor name).
 */
export function normalizeAuditEvent(event: AuditEvent, now: Date = new Date()): { at: string; event: StoredAuditEvent; json: string } {
  const time = event.time ?? now;
  if (Number.isNaN(time.getTime())) throw new GatewayError('BAD_REQUEST', 'an audit event has an invalid time');
  if (typeof event.actor?.name !== 'string' || event.actor.name === '') throw new GatewayError('BAD_REQUEST', 'an audit event has no actor name');
  const resources = (event.resources ?? []).slice(0, MAX_RESOURCES).map((r) => ({ study: r.study, series: r.series, instance: r.instance }));
  const omitted = (event.resources?.length ?? 0) - resources.length;
  const stored: StoredAuditEvent = {
    requestId: event.requestId,
    kind: event.kind,
    operation: event.operation,
    actor: {
      name: event.actor.name,
      role: event.actor.role,
      method: event.actor.method,
      issuer: event.actor.issuer,
      clientAddress: event.actor.clientAddress,
      attributes: event.actor.attributes === undefined ? undefined : redactRecord(event.actor.attributes),
    },
    action: event.action,
    resources,
    resourcesOmitted: omitted > 0 ? omitted : undefined,
    outcome: event.outcome,
    reason: event.reason,
    policyRule: event.policyRule,
    purpose: event.purpose,
    emergency: event.breakGlass === undefined ? undefined : true,
    breakGlass: event.breakGlass === undefined ? undefined : { id: event.breakGlass.id, reason: event.breakGlass.reason },
    http: event.http === undefined ? undefined : normalizeHttp(event.http),
  };
  return { at: time.toISOString(), event: stored, json: canonicalJson(stored as unknown as JsonValue) };
}

function normalizeHttp(http: AuditHttp): NonNullable<StoredAuditEvent['http']> {
  const mark = http.path.indexOf('?');
  const query: Record<string, string | string[]> = {};
  if (mark >= 0) {
    for (const [name, value] of new URLSearchParams(http.path.slice(mark + 1))) {
      const seen = query[name];
      query[name] = seen === undefined ? value : ([] as string[]).concat(seen, value);
    }
  }
  for (const [name, value] of Object.entries(http.query ?? {})) query[name] = typeof value === 'string' ? value : [...value];
  for (const name of Object.keys(query)) if (SECRET_NAME.test(name)) query[name] = REDACTED;
  return {
    method: http.method,
    path: mark >= 0 ? http.path.slice(0, mark) : http.path,
    query: Object.keys(query).length > 0 ? query : undefined,
    status: http.status,
  };
}

function redactRecord(values: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, SECRET_NAME.test(name) ? REDACTED : value]));
}
