/**
 * Readiness: whether the gateway can take writes now, and how each backend is doing. Ready means
 * the catalog answers and every backend a write needs (the placement's instances and region
 * backends) answers its check. Each probe is bounded by a short timeout, so that the report never
 * waits for a backend that hangs, and the report is kept for a moment and shared by concurrent
 * callers, so that the probe cannot be used to hammer the backends. A backend whose circuit
 * breaker is open is reported without being contacted. Failures are reported by catalogue code
 * only: no message, address, path or credential. Used by `GET /readyz` and `aegis status`.
 */
import type { FragmentStore } from '../../adapters/fragment-store.js';
import type { GatewayConfig } from '../config.js';
import { isGatewayError } from '../errors.js';
import { ResilientFragmentStore, type ProbeResult } from './resilience.js';
import { targetOf } from '../config-placement.js';

/** The health of one backend. */
export interface BackendHealth extends ProbeResult {
  name: string;
  kind: string;
  /** A write needs this backend: when it fails, the gateway is not ready. */
  required: boolean;
}

/** The catalog's health. */
export interface CatalogHealth {
  state: 'ok' | 'failing';
  latencyMs: number;
  error: string | null;
}

/** What `/readyz` answers and `aegis status` prints. */
export interface ReadinessReport {
  status: 'ready' | 'unavailable';
  /** When the probes ran (ISO 8601). */
  checkedAt: string;
  catalog: CatalogHealth;
  backends: BackendHealth[];
  /** `ok` or the failure's code, by `catalog` and `backend:<name>` (the short form). */
  checks: Record<string, string>;
}

/** What readiness looks at. */
export interface ReadinessDeps {
  catalog: { check(): Promise<void> };
  stores: ReadonlyMap<string, FragmentStore>;
  /** Names of the backends a write needs. */
  required: readonly string[];
}

/** How readiness probes. */
export interface ReadinessOptions {
  /** Longest a probe of the catalog or of one backend may take (default 2000 ms). */
  probeTimeoutMs?: number;
  /** How long a report is answered again without probing (default 2000 ms; 0: never). */
  cacheMs?: number;
}

/** The backends a write needs under `config`'s placement: the instances backend and the region backends. */
export function backendsNeededToWrite(config: { placement: Pick<GatewayConfig['placement'], 'instances' | 'regions'> & Partial<Pick<GatewayConfig['placement'], 'groups'>> }): string[] {
  // A redundancy group needs every one of its backends: a write stores all n shards.
  const { instances, regions, groups = {} } = config.placement;
  return [...new Set([instances, ...(regions ?? [])].flatMap((name) => targetOf({ groups }, name).backends))];
}

/** Probes the catalog and the backends, at most once per `cacheMs`. */
export class Readiness {
  private readonly probeTimeoutMs: number;
  private readonly cacheMs: number;
  private last: { at: number; report: Promise<ReadinessReport> } | undefined;

  constructor(
    private readonly deps: ReadinessDeps,
    options: ReadinessOptions = {},
  ) {
    this.probeTimeoutMs = options.probeTimeoutMs ?? 2000;
    this.cacheMs = options.cacheMs ?? 2000;
  }

  /** The current report: a recent one, the one being made, or a fresh one. */
  report(): Promise<ReadinessReport> {
    const now = Date.now();
    if (this.last === undefined || now - this.last.at >= this.cacheMs) {
      const report = this.probe();
      this.last = { at: now, report };
      // The moment counts from when the probes finished, so that slow probes do not run back to back.
      void report.then(() => {
        if (this.last?.report === report) this.last.at = Date.now();
      });
    }
    return this.last.report;
  }

  private async probe(): Promise<ReadinessReport> {
    const checkedAt = new Date().toISOString();
    const [catalog, ...backends] = await Promise.all([
      probeCatalog(this.deps.catalog, this.probeTimeoutMs),
      ...[...this.deps.stores.values()].map(async (store): Promise<BackendHealth> => ({
        name: store.name,
        kind: store.kind,
        required: this.deps.required.includes(store.name),
        ...(await probeStore(store, this.probeTimeoutMs)),
      })),
    ]);
    const ready = catalog.state === 'ok' && backends.every((b) => !b.required || b.state === 'ok');
    const checks: Record<string, string> = { catalog: catalog.error ?? 'ok' };
    for (const b of backends) checks[`backend:${b.name}`] = b.error ?? 'ok';
    return { status: ready ? 'ready' : 'unavailable', checkedAt, catalog, backends, checks };
  }
}

/** One probe of a store: through its breaker when it has one. */
async function probeStore(store: FragmentStore, timeoutMs: number): Promise<ProbeResult> {
  if (store instanceof ResilientFragmentStore) return store.probe(timeoutMs);
  const start = performance.now();
  const outcome = await bounded(store.check({ signal: AbortSignal.timeout(timeoutMs) }), timeoutMs);
  const latencyMs = Math.round(performance.now() - start);
  return outcome === null ? { state: 'ok', latencyMs, error: null } : { state: 'failing', latencyMs, error: outcome };
}

async function probeCatalog(catalog: { check(): Promise<void> }, timeoutMs: number): Promise<CatalogHealth> {
  const start = performance.now();
  const outcome = await bounded(catalog.check(), timeoutMs);
  const latencyMs = Math.round(performance.now() - start);
  return outcome === null ? { state: 'ok', latencyMs, error: null } : { state: 'failing', latencyMs, error: outcome };
}

/** Null when `work` resolved within `timeoutMs`, else the failure's code (BACKEND_TIMEOUT when it took too long). */
async function bounded(work: Promise<void>, timeoutMs: number): Promise<string | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('BACKEND_TIMEOUT'), timeoutMs)));
  try {
    return await Promise.race([
      work.then(
        () => null,
        (error: unknown) => (isGatewayError(error) ? error.code : error instanceof DOMException && error.name === 'TimeoutError' ? 'BACKEND_TIMEOUT' : 'INTERNAL'),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
