/**
 * The primary's watch over the workers of a cluster. It forks one worker first, which migrates the
 * catalog as it opens it, and the others once that one listens, so the schema is never raced on.
 * The primary never exits because a worker died, whatever the phase (the first start, a
 * replacement starting, serving, draining): a worker that dies is replaced after a backoff
 * (`restart-backoff.ts`) that grows while workers keep dying soon after their start, and the log
 * says so. One exception, before the gateway has ever listened: a worker whose start-up threw (a
 * configuration only workers read, a catalog that cannot be opened) reports the error over IPC and
 * the start-up stops with it, since every replacement would fail the same way. A worker killed by
 * a signal is always replaced.
 */
import type { Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { RestartBackoff, type BackoffOptions } from './restart-backoff.js';

/** What a worker tells the primary: it listens, or its start-up failed (and it is about to exit). */
export type WorkerMessage = { type: 'listening'; url: string } | { type: 'start-failed'; reason: string };

/** Sent by the primary to a listening worker: finish the in-flight requests and exit. */
export const SHUTDOWN = 'shutdown';

/** The cluster as the supervisor sees it (Node's `cluster` module in production). */
export interface ClusterLike {
  on(event: 'exit', listener: (worker: Worker, code: number | null, signal: string | null) => void): unknown;
  on(event: 'message', listener: (worker: Worker, message: unknown) => void): unknown;
  readonly workers?: NodeJS.Dict<Worker>;
}

/** What a {@link WorkerSupervisor} needs. */
export interface SupervisorOptions {
  cluster: ClusterLike;
  /** Forks one worker. */
  fork(): Worker;
  /** Workers to keep running. */
  workers: number;
  logger: Logger;
  backoff?: BackoffOptions;
}

/** Forks, watches, replaces and finally drains the workers of a cluster. */
export class WorkerSupervisor {
  /** The ids of the workers that listen (a reload signal is passed on to them). */
  readonly listening = new Set<number>();
  private readonly startedAt = new Map<number, number>();
  private readonly startFailures = new Map<number, string>();
  private readonly pendingForks = new Set<NodeJS.Timeout>();
  private readonly backoff: RestartBackoff;
  private firstUrl: string | undefined;
  private started = false;
  private stopping = false;
  private settleStart: { resolve(url: string): void; reject(error: Error): void } | undefined;

  constructor(private readonly options: SupervisorOptions) {
    this.backoff = new RestartBackoff(options.backoff);
    options.cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
    options.cluster.on('message', (worker, message) => this.onMessage(worker, message as WorkerMessage));
  }

  /** Forks the first worker; resolves with its URL once all workers listen, rejects when the start-up failed. */
  start(): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.settleStart = { resolve, reject };
      this.fork();
    });
  }

  private fork(): void {
    const worker = this.options.fork();
    this.startedAt.set(worker.id, Date.now());
  }

  private onMessage(worker: Worker, message: WorkerMessage): void {
    if (message?.type === 'start-failed') {
      this.startFailures.set(worker.id, String(message.reason));
      return;
    }
    if (message?.type !== 'listening') return;
    this.listening.add(worker.id);
    if (this.started) this.options.logger.info({ worker: worker.id, workerPid: worker.process.pid }, 'a replacement worker is listening');
    if (this.firstUrl === undefined) {
      // The first worker has migrated the catalog: the others start on a current schema.
      this.firstUrl = message.url;
      for (let i = 1; i < this.options.workers; i++) this.fork();
    }
    if (!this.started && this.listening.size >= this.options.workers) {
      this.started = true;
      this.settleStart?.resolve(this.firstUrl);
    }
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    this.listening.delete(worker.id);
    const upMs = Date.now() - (this.startedAt.get(worker.id) ?? Date.now());
    this.startedAt.delete(worker.id);
    const startFailure = this.startFailures.get(worker.id);
    this.startFailures.delete(worker.id);
    if (this.stopping) return;
    const { logger } = this.options;
    if (startFailure !== undefined && this.firstUrl === undefined) {
      logger.error({ worker: worker.id, workerPid: worker.process.pid, code, reason: startFailure }, 'a worker could not start; stopping the gateway');
      void this.stop().then(() => this.settleStart?.reject(new Error(`a worker could not start: ${startFailure}`)));
      return;
    }
    const { crashesInARow, longestUpMs, delayMs } = this.backoff.exited(upMs);
    const fields = { worker: worker.id, workerPid: worker.process.pid, code, signal, upMs, crashesInARow, retryInMs: delayMs, ...(startFailure && { reason: startFailure }) };
    const cause = startFailure ?? (signal === null ? `exit code ${code}` : `signal ${signal}`);
    if (crashesInARow === 1) logger.error(fields, `a worker exited (${cause}); starting another in ${delayMs / 1000} s`);
    else logger.error(fields, `worker crashed ${crashesInARow} times in a row within ${(longestUpMs / 1000).toFixed(1)} s of its start (${cause}); retrying in ${delayMs / 1000} s`);
    const timer = setTimeout(() => {
      this.pendingForks.delete(timer);
      if (!this.stopping) this.fork();
    }, delayMs);
    this.pendingForks.add(timer);
  }

  /** Stops forking and asks every worker to finish its in-flight requests; resolves once all exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const timer of this.pendingForks) clearTimeout(timer);
    this.pendingForks.clear();
    const workers = Object.values(this.options.cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            // A worker still starting has no requests and no handler for the message yet; one whose
            // channel has closed cannot take it (sending would emit an error that ends this process).
            try {
              if (this.listening.has(worker.id) && worker.isConnected()) worker.send(SHUTDOWN);
              else worker.kill('SIGTERM');
            } catch {
              // Its channel closed as it died: the 'exit' follows.
            }
          }),
      ),
    );
  }
}
