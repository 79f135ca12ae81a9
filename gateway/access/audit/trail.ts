/**
 * The audit trail as the gateway writes it: events are buffered and appended to the chain in one
 * transaction per flush, every {@link AuditTrailOptions.flushIntervalMs} (50 ms) or as soon as
 * {@link AuditTrailOptions.flushBatchSize} (200) are waiting. {@link AuditTrail.recordNow} flushes
 * on the next turn of the event loop and resolves once the event is durable (committed, with every
 * event buffered before it).
 *
 * Durability design: a security-relevant record must never be lost silently when a process dies
 * (SIGKILL, a crash): the loss of a buffered batch is invisible to `aegis audit verify`, since a
 * chain that was never written verifies. So the records of requests are durable before their
 * responses complete: the HTTP layer records every request with `recordNow` and holds the end of the
 * response until the write has committed (`http/audit-requests.ts`), and refusals made before the
 * app (`http/client-errors.ts`) are answered only once recorded. Reads, exports, searches, stores and
 * deletes are covered alike, and so are security events (failed sign-ins, lockouts, break-glass,
 * integrity failures, denials). Events buffered with {@link AuditTrail.record} (a successful
 * sign-in, for example) are written with the next `recordNow` at the latest, so before the response
 * of their request completes. Responses share writes: every event recorded in one turn of the event
 * loop goes into one transaction. The cost, measured on QIDO-RS and frame requests (2 cores, one
 * process): about 0.1 to 0.5 ms more per request in sequence, and about 20% fewer frames per second
 * with 6 requests at once. What a crash can still lose: the records of responses that never
 * completed (the client saw them cut short) and of requests the client abandoned (status 499),
 * which are buffered. The application's start and stop records mark each process's life: a start
 * without a stop is a process that died.
 *
 * When the trail cannot be written (database busy or down, no key, broken head), the error is
 * logged loudly, events stay buffered and are retried with back-off (1 s doubling to 30 s), and
 * `recordNow` rejects at once: the HTTP layer then withholds responses (fails closed) rather than
 * complete them unrecorded. The buffer is bounded ({@link AuditTrailOptions.maxBuffered}, 10 000):
 * beyond it new events are dropped, counted, and the count is itself recorded as an integrity event
 * as soon as the trail can be written again.
 */
import type { Kysely } from 'kysely';
import type { CatalogDatabase } from '../../catalog/schema.js';
import { GatewayError, isGatewayError } from '../../errors.js';
import type { Keyring } from '../../keys/keyring.js';
import { appendAuditRecords, type NewAuditRecord } from './append.js';
import { normalizeAuditEvent, type AuditEvent } from './event.js';

/** The logger the trail reports to (a pino logger fits). */
export interface AuditLogger {
  error(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

/** Tuning of an {@link AuditTrail}; the defaults suit the gateway. */
export interface AuditTrailOptions {
  /** Longest time an event waits in the buffer; default 50 ms. */
  flushIntervalMs?: number;
  /** Buffered events that trigger a flush at once; default 200. */
  flushBatchSize?: number;
  /** Most events written per transaction; default 1000. */
  maxBatch?: number;
  /** Most events held while the trail cannot be written; default 10 000. */
  maxBuffered?: number;
  /** First retry delay after a failed write, doubled up to `maxRetryDelayMs`; default 1000 ms. */
  retryDelayMs?: number;
  /** Longest retry delay; default 30 000 ms. */
  maxRetryDelayMs?: number;
  /**
   * Loads the keyring again; called when the head is signed with a key this process does not know
   * (another process, started after `aegis keys generate`, moved the trail to a newer key).
   */
  reloadKeyring?: () => Promise<Keyring>;
}

interface Pending {
  record: NewAuditRecord;
  written: boolean;
  waiter?: { resolve(): void; reject(error: unknown): void };
}

/** The gateway's audit trail over the catalog's `audit_events` and `audit_head` tables. */
export class AuditTrail {
  readonly #db: Kysely<CatalogDatabase>;
  #keyring: Keyring;
  readonly #logger: AuditLogger;
  readonly #options: Required<Omit<AuditTrailOptions, 'reloadKeyring'>> & Pick<AuditTrailOptions, 'reloadKeyring'>;
  readonly #buffer: Pending[] = [];
  #writing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelay: number;
  #failing = false;
  #dropped = 0;
  #closed = false;

  constructor(db: Kysely<CatalogDatabase>, keyring: Keyring, logger: AuditLogger, options: AuditTrailOptions = {}) {
    this.#db = db;
    this.#keyring = keyring;
    this.#logger = logger;
    this.#options = {
      flushIntervalMs: options.flushIntervalMs ?? 50,
      flushBatchSize: options.flushBatchSize ?? 200,
      maxBatch: options.maxBatch ?? 1000,
      maxBuffered: options.maxBuffered ?? 10_000,
      retryDelayMs: options.retryDelayMs ?? 1000,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 30_000,
      reloadKeyring: options.reloadKeyring,
    };
    this.#retryDelay = this.#options.retryDelayMs;
  }

  /** Events waiting to be written. */
  get pending(): number {
    return this.#buffer.length;
  }

  /** Events dropped because the buffer was full, not yet recorded as lost. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Buffers an event; it is written within the flush interval. Never throws. */
  record(event: AuditEvent): void {
    this.#enqueue(event);
  }

  /**
   * Buffers an event and flushes at once; resolves when it is durable. Rejects (`BACKEND_UNAVAILABLE`
   * or the write's error) when it cannot be written now (at once while earlier writes are failing);
   * the event then stays buffered and is retried, so a caller that refuses the action because of
   * that (for example break-glass, which should fail closed) must record the refusal as well.
   */
  recordNow(event: AuditEvent): Promise<void> {
    const pending = this.#enqueue(event);
    if (pending === undefined) return Promise.reject(new GatewayError('BACKEND_UNAVAILABLE', 'the audit event could not be buffered (see the log)'));
    // While writes fail, answer at once rather than wait for the next retry (up to 30 s).
    if (this.#failing) return Promise.reject(new GatewayError('BACKEND_UNAVAILABLE', 'the audit trail cannot be written at the moment; the event stays buffered'));
    const durable = new Promise<void>((resolve, reject) => (pending.waiter = { resolve, reject }));
    this.#schedule(0);
    return durable;
  }

  /** Writes every event buffered so far; rejects when that fails (the events stay buffered). */
  async flush(): Promise<void> {
    const last = this.#buffer.at(-1);
    while (last !== undefined && !last.written) {
      if (this.#writing !== undefined) {
        await this.#writing;
        continue;
      }
      await this.#writeBatch();
    }
  }

  /** Stops the timers and writes what is buffered; logs (never throws) what could not be written. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cancelTimers();
    clearTimeout(this.#retryTimer);
    try {
      await this.flush();
    } catch {
      // #writeBatch has logged the error.
    }
    if (this.#buffer.length > 0 || this.#dropped > 0) {
      this.#logger.error({ event: 'audit-events-lost', unwritten: this.#buffer.length, dropped: this.#dropped }, `AUDIT EVENTS LOST: ${this.#buffer.length + this.#dropped} audit events could not be written before shutdown`);
    }
  }

  #enqueue(event: AuditEvent): Pending | undefined {
    let normalized;
    try {
      normalized = normalizeAuditEvent(event);
    } catch (error) {
      this.#logger.error({ event: 'audit-event-invalid', err: error }, 'AUDIT EVENT NOT RECORDED: the event is invalid');
      return undefined;
    }
    if (this.#closed) {
      this.#logger.error({ event: 'audit-event-after-close', kind: event.kind }, 'AUDIT EVENT NOT RECORDED: the audit trail is closed');
      return undefined;
    }
    if (this.#buffer.length >= this.#options.maxBuffered) {
      if (this.#dropped === 0) this.#logger.error({ event: 'audit-buffer-full', buffered: this.#buffer.length }, 'AUDIT BUFFER FULL: audit events are being dropped until the trail can be written');
      this.#dropped += 1;
      return undefined;
    }
    if (normalized.event.emergency) {
      this.#logger.warn(
        // The grant's reason stays out of the log: free text may name a patient.
        { event: 'audit-break-glass', actor: normalized.event.actor.name, breakGlassId: normalized.event.breakGlass?.id, action: normalized.event.action, requestId: normalized.event.requestId },
        'BREAK-GLASS ACCESS: emergency override in force; this access must be reviewed',
      );
    }
    const pending: Pending = { record: { at: normalized.at, event: normalized.json }, written: false };
    this.#buffer.push(pending);
    if (!this.#failing) this.#schedule(this.#buffer.length >= this.#options.flushBatchSize ? 0 : this.#options.flushIntervalMs);
    return pending;
  }

  /**
   * Starts the flush timer unless one is due sooner. A flush due at once runs on the next turn of
   * the event loop (setImmediate, not a timer of at least 1 ms): every event recorded in this turn
   * joins it, and a response waiting for its record waits no longer than the write.
   */
  #schedule(delay: number): void {
    if (this.#closed || this.#immediate !== undefined) return;
    if (delay === 0) {
      this.#cancelTimers();
      this.#immediate = setImmediate(() => {
        this.#immediate = undefined;
        this.flush().catch(() => {});
      });
      return;
    }
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch(() => {});
    }, delay);
  }

  #cancelTimers(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }

  /** Writes the oldest buffered events (and a record of dropped ones) in one transaction. */
  #writeBatch(): Promise<void> {
    const batch = this.#buffer.slice(0, this.#options.maxBatch);
    const dropped = this.#dropped;
    const records = dropped > 0 ? [lostEventsRecord(dropped), ...batch.map((p) => p.record)] : batch.map((p) => p.record);
    const write = (async () => {
      try {
        await this.#append(records);
      } catch (error) {
        this.#onFailure(error);
        throw error;
      }
      this.#buffer.splice(0, batch.length);
      this.#dropped -= dropped;
      for (const pending of batch) {
        pending.written = true;
        pending.waiter?.resolve();
      }
      if (this.#failing) {
        this.#failing = false;
        clearTimeout(this.#retryTimer);
        this.#retryTimer = undefined;
        this.#retryDelay = this.#options.retryDelayMs;
        this.#logger.warn({ event: 'audit-trail-resumed', pending: this.#buffer.length }, 'audit trail writes resumed');
      }
      if (this.#buffer.length > 0) this.#schedule(this.#buffer.length >= this.#options.flushBatchSize ? 0 : this.#options.flushIntervalMs);
    })();
    // Settled either way, so that no rejection goes unhandled; callers of flush() get `write`.
    this.#writing = write.then(
      () => {
        this.#writing = undefined;
      },
      () => {
        this.#writing = undefined;
      },
    );
    return write;
  }

  /** Appends, reloading the keyring once when the head names a key this process does not know. */
  async #append(records: NewAuditRecord[]): Promise<void> {
    try {
      await appendAuditRecords(this.#db, this.#keyring, records);
    } catch (error) {
      if (!isGatewayError(error, 'KEY_NOT_FOUND') || this.#options.reloadKeyring === undefined) throw error;
      this.#keyring = await this.#options.reloadKeyring();
      await appendAuditRecords(this.#db, this.#keyring, records);
    }
  }

  #onFailure(error: unknown): void {
    this.#logger.error(
      { event: 'audit-write-failed', err: error, pending: this.#buffer.length, retryInMs: this.#closed ? null : this.#retryDelay },
      'AUDIT TRAIL WRITE FAILED: events stay buffered and are retried; responses waiting for their records are withheld',
    );
    for (const pending of this.#buffer) {
      pending.waiter?.reject(error);
      pending.waiter = undefined;
    }
    this.#failing = true;
    this.#cancelTimers();
    if (this.#closed) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.flush().catch(() => {});
    }, this.#retryDelay);
    // A failing database must not keep the process alive.
    this.#retryTimer.unref();
    this.#retryDelay = Math.min(this.#retryDelay * 2, this.#options.maxRetryDelayMs);
  }
}

/** The record saying that `count` events were dropped while the buffer was full. */
function lostEventsRecord(count: number): NewAuditRecord {
  const { at, json } = normalizeAuditEvent({
    kind: 'integrity',
    actor: { name: 'aegis' },
    action: 'admin',
    outcome: 'failure',
    reason: `${count} audit events were dropped: the audit buffer was full while the trail could not be written`,
  });
  return { at, event: json };
}
