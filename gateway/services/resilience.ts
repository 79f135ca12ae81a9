/**
 * Resilience of one backend, on the gateway's side of the adapter seam: every call of a store runs
 * under an overall deadline (the backend's `timeoutSeconds`), is retried with exponential backoff
 * and jitter while that deadline lasts when it is idempotent, and passes a circuit breaker that
 * fails calls at once while the backend is known to be down. Built on cockatiel's retry and
 * circuit breaker policies; the breaker is outermost, so one call that failed after its retries is
 * one failure.
 *
 * What is retried: BACKEND_UNAVAILABLE and BACKEND_TIMEOUT, never NOT_FOUND, BAD_REQUEST, CONFLICT
 * or a call its caller aborted. Idempotent calls only: get, stream (until it opens), has, delete,
 * check, list (until its first locator) and put of a byte array. A put is idempotent here because
 * the gateway writes every key once, with bytes fixed before the first attempt; a put of a stream
 * cannot be replayed and runs once.
 *
 * What opens the breaker: `failures` consecutive calls that failed with BACKEND_UNAVAILABLE or
 * BACKEND_TIMEOUT. While it is open, calls fail with BACKEND_UNAVAILABLE (503) and a Retry-After of
 * the seconds left; after `halfOpenAfterSeconds` one call probes the backend (others wait for its
 * outcome), and its success closes the breaker. Opening and closing are logged with the backend's
 * name and the error code, never its address or credentials.
 *
 * Every call is also reported, once it settles, to an optional observer (the metrics): its
 * operation, its duration with retries and backoff, and the code of its failure.
 */
import type { Readable } from 'node:stream';
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleWhen, retry, type CircuitBreakerPolicy, type RetryPolicy } from 'cockatiel';
import type { Logger } from 'pino';
import type { CallOptions, FragmentBody, FragmentRef, FragmentStore, FragmentStoreCapabilities, PutOptions, ReadOptions } from '../../adapters/fragment-store.js';
import type { BackendConfig } from '../config.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { BackendCallObservation } from './metrics.js';

/** A backend's resilience settings, as configured. */
export type ResilienceSettings = Pick<BackendConfig, 'timeoutSeconds' | 'retries' | 'breaker'>;

/** How a backend's breaker stands: `closed` (calls pass), `open` (calls fail at once), `half-open` (one call probes). */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** The outcome of one probe of a backend, for `/readyz` and `aegis status`. */
export interface ProbeResult {
  state: 'ok' | 'failing' | 'breaker-open';
  /** Milliseconds the probe's check took; null when none ran (breaker open). */
  latencyMs: number | null;
  /** The catalogue code of the failure (BACKEND_TIMEOUT, ...); null when ok. */
  error: string | null;
}

/** Told of every call of a store once it settled (the metrics); must not throw. */
export type BackendCallObserver = (call: BackendCallObservation) => void;

/** `store` (already translating adapter errors) with a deadline, retries and a circuit breaker; `observe` is told of each call. */
export function withResilience(store: FragmentStore, settings: ResilienceSettings, logger: Logger, observe?: BackendCallObserver): ResilientFragmentStore {
  return new ResilientFragmentStore(store, settings, logger, observe);
}

/** True for the failures that are worth retrying and that count against the breaker. */
function isBackendFailure(error: unknown): boolean {
  return isGatewayError(error, 'BACKEND_UNAVAILABLE') || isGatewayError(error, 'BACKEND_TIMEOUT');
}

/** A store whose calls pass a deadline, retries and a circuit breaker. */
export class ResilientFragmentStore implements FragmentStore {
  private readonly breaker: CircuitBreakerPolicy;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly halfOpenAfterMs: number;
  private openedAt = 0;

  constructor(
    private readonly store: FragmentStore,
    settings: ResilienceSettings,
    private readonly logger: Logger,
    private readonly observe?: BackendCallObserver,
  ) {
    this.timeoutMs = settings.timeoutSeconds * 1000;
    this.halfOpenAfterMs = settings.breaker.halfOpenAfterSeconds * 1000;
    this.breaker = circuitBreaker(
      handleWhen((error) => isBackendFailure(error)),
      { halfOpenAfter: this.halfOpenAfterMs, breaker: new ConsecutiveBreaker(settings.breaker.failures) },
    );
    this.retry = retry(
      handleWhen((error) => isBackendFailure(error)),
      { maxAttempts: settings.retries.attempts, backoff: new ExponentialBackoff({ initialDelay: settings.retries.initialDelayMs, maxDelay: settings.retries.maxDelayMs }) },
    );
    this.breaker.onBreak((reason) => {
      this.openedAt = Date.now();
      const code = 'error' in reason && isGatewayError(reason.error) ? reason.error.code : 'isolated';
      this.logger.warn({ backend: store.name, kind: store.kind, error: code, failures: settings.breaker.failures, halfOpenAfterSeconds: settings.breaker.halfOpenAfterSeconds }, 'circuit breaker opened');
    });
    this.breaker.onReset(() => this.logger.info({ backend: store.name, kind: store.kind }, 'circuit breaker closed'));
    this.breaker.onHalfOpen(() => this.logger.info({ backend: store.name, kind: store.kind }, 'circuit breaker half-open: probing the backend'));
  }

  get name(): string {
    return this.store.name;
  }

  get kind(): string {
    return this.store.kind;
  }

  get capabilities(): FragmentStoreCapabilities {
    return this.store.capabilities;
  }

  /** How the breaker stands now. */
  get breakerState(): BreakerState {
    const state = this.breaker.state;
    return state === CircuitState.Closed ? 'closed' : state === CircuitState.HalfOpen ? 'half-open' : 'open';
  }

  put(key: string, data: FragmentBody, options?: PutOptions): Promise<FragmentRef> {
    const replayable = data instanceof Uint8Array;
    return this.call('put', options, (signal) => this.store.put(key, data, { ...options, signal }), replayable);
  }

  get(locator: string, options?: ReadOptions): Promise<Buffer> {
    return this.call('get', options, (signal) => this.store.get(locator, { ...options, signal }));
  }

  stream(locator: string, options?: ReadOptions): Promise<Readable> {
    // The deadline covers opening the stream only (its timer is cleared once the stream is open);
    // the caller's signal also what follows.
    return this.call('stream', options, (signal) => this.store.stream(locator, { ...options, signal }));
  }

  delete(locator: string, options?: CallOptions): Promise<boolean> {
    return this.call('delete', options, (signal) => this.store.delete(locator, { signal }));
  }

  has(locator: string, options?: CallOptions): Promise<boolean> {
    return this.call('has', options, (signal) => this.store.has(locator, { signal }));
  }

  async *list(prefix?: string, options?: CallOptions): AsyncIterable<string> {
    // Retried until the first locator arrives; a failure after that ends the listing.
    let iterator!: AsyncIterator<string>;
    const first = await this.call(
      'list',
      options,
      (signal) => {
        iterator = this.store.list(prefix, { signal: options?.signal })[Symbol.asyncIterator]();
        return raceAbort(iterator.next(), signal);
      },
      true,
    );
    if (first.done) return;
    yield first.value;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }

  check(options?: CallOptions): Promise<void> {
    return this.call('check', options, (signal) => this.store.check({ signal }));
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /**
   * Checks the backend once, without retries, bounded by `timeoutMs` (a readiness probe must not
   * hang): the state, the latency and the failure's code. While the breaker is closed the probe
   * passes beside it, so that a short probe timeout never counts against a slow but working
   * backend; while it is open nothing is sent, until it may half-open: then this probe is the call
   * that tests the backend (so that a backend that recovered is seen without other traffic).
   */
  async probe(timeoutMs: number): Promise<ProbeResult> {
    const start = performance.now();
    const check = () => withTimeout(this.name, 'check', Math.min(timeoutMs, this.timeoutMs), undefined, (signal) => this.store.check({ signal }));
    try {
      await (this.breaker.state === CircuitState.Closed ? check() : this.breaker.execute(check));
      return { state: 'ok', latencyMs: Math.round(performance.now() - start), error: null };
    } catch (error) {
      if (error instanceof BrokenCircuitError) return { state: 'breaker-open', latencyMs: null, error: 'BACKEND_UNAVAILABLE' };
      return { state: 'failing', latencyMs: Math.round(performance.now() - start), error: isGatewayError(error) ? error.code : 'INTERNAL' };
    }
  }

  /**
   * Runs one call: breaker, then retries (when `retryable`), each attempt under the signal of the
   * caller and of the call's overall deadline.
   */
  private async call<T>(op: string, options: CallOptions | undefined, attempt: (signal: AbortSignal) => Promise<T>, retryable = true): Promise<T> {
    options?.signal?.throwIfAborted();
    const start = performance.now();
    try {
      const result = await this.breaker.execute(() => withTimeout(this.name, op, this.timeoutMs, options?.signal, (signal) => (retryable ? this.retry.execute(() => attempt(signal), signal) : attempt(signal))));
      this.report(op, start);
      return result;
    } catch (error) {
      const failure = error instanceof BrokenCircuitError ? this.unavailable(op, error) : error;
      // A call its caller gave up on is no failure of the backend.
      this.report(op, start, options?.signal?.aborted ? 'ABORTED' : isGatewayError(failure) ? failure.code : 'INTERNAL');
      throw failure;
    }
  }

  /** Tells the observer of a call that settled; an observer that throws is logged, never the call's failure. */
  private report(operation: string, start: number, error?: string): void {
    if (this.observe === undefined) return;
    try {
      this.observe({ backend: this.name, kind: this.kind, operation, seconds: (performance.now() - start) / 1000, error });
    } catch (failure) {
      this.logger.error({ err: failure, backend: this.name }, 'recording a backend call failed');
    }
  }

  /** BACKEND_UNAVAILABLE with a Retry-After of the seconds until the breaker lets a probe through. */
  private unavailable(op: string, cause: unknown): GatewayError {
    const seconds = Math.max(1, Math.ceil((this.openedAt + this.halfOpenAfterMs - Date.now()) / 1000));
    return new GatewayError('BACKEND_UNAVAILABLE', `backend ${this.name}: ${op} refused while its circuit breaker is open (too many consecutive failures); retry in ${seconds} s`, {
      cause,
      headers: { 'Retry-After': String(seconds) },
    });
  }
}

/**
 * Runs `work` under a signal that fires when the caller's `signal` does or when `timeoutMs` passed,
 * and settles as soon as it fires: with the caller's reason, or with BACKEND_TIMEOUT. The timer
 * is cleared once `work` settles, so that what it returned (an open stream) is not cut off.
 */
async function withTimeout<T>(store: string, op: string, timeoutMs: number, signal: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new GatewayError('BACKEND_TIMEOUT', `backend ${store}: ${op} did not finish within ${timeoutMs} ms`)), timeoutMs);
  const combined = signal === undefined ? deadline.signal : AbortSignal.any([signal, deadline.signal]);
  try {
    return await raceAbort(work(combined), combined);
  } finally {
    clearTimeout(timer);
  }
}

/** `promise`, or the reason of `signal` as soon as it fires. */
async function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    throw signal.reason;
  }
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  promise.catch(() => undefined);
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
