/**
 * Group commit for one file: callers that need what they wrote to be durable join the next flush
 * that starts after their call, so concurrent callers share one fsync instead of queueing one
 * each. A flush already running may have started before the caller's write, so it never counts.
 */

/** Coalesces the flushes of one file (or directory). */
export class SyncBarrier {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  /** `flush` makes everything written before it started durable. */
  constructor(private readonly flush: () => Promise<void>) {}

  /** Resolves once a flush that started after this call has completed (rejects with its error). */
  sync(): Promise<void> {
    if (this.next) return this.next;
    const before = this.running ?? Promise.resolve();
    const run: Promise<void> = before
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        this.running = run;
        return this.flush();
      })
      .finally(() => {
        if (this.running === run) this.running = undefined;
      });
    this.next = run;
    return run;
  }
}
