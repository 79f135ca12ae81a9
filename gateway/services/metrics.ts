/**
 * The gateway's Prometheus metrics (prom-client), one registry per process, passed in like the
 * logger: HTTP requests by route pattern and status, their latency and bytes, instances stored and
 * deleted, integrity failures, authentication failures and lockouts, the latency and errors of
 * every backend call, and prom-client's process metrics (memory, CPU, event-loop lag, handles).
 * The names and labels are listed in `docs/metrics.md`.
 *
 * Every label value comes from a small closed set: a route is the Express pattern
 * (`/dicom-web/studies/:study`), never the path, so that no UID, patient or user name reaches a
 * label (they would leak identifiers to whoever reads the metrics, and make series without end);
 * methods outside the standard ones are `OTHER`; backend names come from the configuration and
 * error codes from the catalogue. The recording methods never throw: a metric must not fail a
 * request.
 */
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** The route label of a request that matched no route (refused before routing, unknown path). */
export const UNMATCHED_ROUTE = 'unmatched';

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);

/** One HTTP request, once its response is done. */
export interface RequestObservation {
  method: string;
  /** The route pattern, or {@link UNMATCHED_ROUTE}. */
  route: string;
  /** The status sent; 499 when the client went away first. */
  status: number;
  seconds: number;
  bytesIn: number;
  bytesOut: number;
}

/** One call of a backend, as its resilience wrapper saw it (retries included). */
export interface BackendCallObservation {
  backend: string;
  kind: string;
  operation: string;
  seconds: number;
  /** The catalogue code of the failure; undefined when the call succeeded. */
  error?: string;
}

/** Where stored data failed verification: a read (WADO, frames, rendered) or a scrub. */
export type IntegritySource = 'read' | 'scrub';

/** The metrics of one gateway process. */
export class GatewayMetrics {
  /** The process's registry: `/metrics` serves it (in a cluster, the primary merges every worker's). */
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route'>;
  private readonly bytesIn: Counter<'method' | 'route'>;
  private readonly bytesOut: Counter<'method' | 'route'>;
  private readonly stored: Counter;
  private readonly deleted: Counter;
  private readonly integrity: Counter<'source'>;
  private readonly authFailures: Counter<'method' | 'outcome'>;
  private readonly lockouts: Counter<'scope'>;
  private readonly backendDuration: Histogram<'backend' | 'kind' | 'operation' | 'outcome'>;
  private readonly backendErrors: Counter<'backend' | 'kind' | 'operation' | 'code'>;

  /** `processMetrics: false` leaves out prom-client's process metrics (their timers), for short-lived uses. */
  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: 'aegis_http_requests_total', help: 'HTTP requests by method, route pattern and status (499: the client went away first).', labelNames: ['method', 'route', 'status'], registers });
    this.duration = new Histogram({
      name: 'aegis_http_request_duration_seconds',
      help: 'Time from a request to its response being done, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.bytesIn = new Counter({ name: 'aegis_http_request_bytes_total', help: 'Bytes received on the connection for requests (headers and body), by method and route pattern.', labelNames: ['method', 'route'], registers });
    this.bytesOut = new Counter({ name: 'aegis_http_response_bytes_total', help: 'Bytes sent on the connection for responses (headers and body), by method and route pattern.', labelNames: ['method', 'route'], registers });
    this.stored = new Counter({ name: 'aegis_instances_stored_total', help: 'Instances stored by STOW-RS.', registers });
    this.deleted = new Counter({ name: 'aegis_instances_deleted_total', help: 'Instances deleted (DELETE requests).', registers });
    this.integrity = new Counter({ name: 'aegis_integrity_failures_total', help: 'Stored data that failed verification: reads refused with 502, faults found by scheduled scrubs.', labelNames: ['source'], registers });
    this.authFailures = new Counter({
      name: 'aegis_authentication_failures_total',
      help: 'Failed sign-ins and credential checks by method; outcome locked: refused while delayed or locked out.',
      labelNames: ['method', 'outcome'],
      registers,
    });
    this.lockouts = new Counter({ name: 'aegis_lockouts_total', help: 'Delays (a user name from one client) and client lockouts started by repeated failed sign-ins.', labelNames: ['scope'], registers });
    this.backendDuration = new Histogram({
      name: 'aegis_backend_call_duration_seconds',
      help: 'Time of a backend call (retries included; a stream until it opens), by backend, operation and outcome.',
      labelNames: ['backend', 'kind', 'operation', 'outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.backendErrors = new Counter({ name: 'aegis_backend_errors_total', help: 'Failed backend calls by backend, operation and error code.', labelNames: ['backend', 'kind', 'operation', 'code'], registers });
    for (const source of ['read', 'scrub'] as const) this.integrity.inc({ source }, 0);
  }

  /** Counts an HTTP request whose response is done. */
  request(observed: RequestObservation): void {
    const labels = { method: METHODS.has(observed.method) ? observed.method : 'OTHER', route: observed.route };
    this.requests.inc({ ...labels, status: String(observed.status) });
    this.duration.observe(labels, observed.seconds);
    if (observed.bytesIn > 0) this.bytesIn.inc(labels, observed.bytesIn);
    if (observed.bytesOut > 0) this.bytesOut.inc(labels, observed.bytesOut);
  }

  /** Counts instances a STOW-RS request stored. */
  instancesStored(count: number): void {
    if (count > 0) this.stored.inc(count);
  }

  /** Counts instances a DELETE removed. */
  instancesDeleted(count: number): void {
    if (count > 0) this.deleted.inc(count);
  }

  /** Counts stored data that failed verification. */
  integrityFailures(source: IntegritySource, count = 1): void {
    if (count > 0) this.integrity.inc({ source }, count);
  }

  /** Counts a failed sign-in or credential check (`locked`: refused while delayed or locked out). */
  authenticationFailure(method: string, outcome: 'failure' | 'locked'): void {
    this.authFailures.inc({ method, outcome });
  }

  /** Counts a delay or lockout that a failed sign-in has just started. */
  lockout(scope: 'user' | 'client'): void {
    this.lockouts.inc({ scope });
  }

  /** Counts an authentication event: a failure, a refusal while locked out, and the lockouts it started. */
  authentication(event: { outcome: 'success' | 'failure' | 'locked'; method: string; lockedNow?: ReadonlyArray<{ scope: 'user' | 'client' }> }): void {
    if (event.outcome !== 'success') this.authenticationFailure(event.method, event.outcome);
    for (const lockout of event.lockedNow ?? []) this.lockout(lockout.scope);
  }

  /** Times a backend call and counts its failure. */
  backendCall(observed: BackendCallObservation): void {
    const { backend, kind, operation } = observed;
    this.backendDuration.observe({ backend, kind, operation, outcome: observed.error === undefined ? 'ok' : 'error' }, observed.seconds);
    if (observed.error !== undefined) this.backendErrors.inc({ backend, kind, operation, code: observed.error });
  }

  /** The registry in Prometheus text format. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }
}

/** The media type of the Prometheus text format that `/metrics` answers with. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
