/**
 * How long the primary of a cluster waits before it forks a replacement for a worker that died:
 * exponential backoff (100 ms doubling to 30 s by default) while workers keep dying soon after
 * they started, back to the shortest wait once a worker has stayed up for a while. A worker that
 * dies at every start is then retried a few times a minute rather than hundreds of times a second,
 * and one killed after hours of service is replaced at once.
 */

/** The bounds of the backoff. */
export interface BackoffOptions {
  /** Wait after the first crash of a run; default 100 ms. */
  initialMs?: number;
  /** Longest wait; default 30 s. */
  maxMs?: number;
  /** A worker up at least this long when it died starts a new run of crashes; default 10 s. */
  stableMs?: number;
}

/** What the primary does after a worker died. */
export interface RestartDecision {
  /** Workers that died within `stableMs` of their start in a row, this one included (at least 1). */
  crashesInARow: number;
  /** The longest a worker of this run was up, in ms. */
  longestUpMs: number;
  /** Wait this long before forking the replacement. */
  delayMs: number;
}

/** The backoff of one cluster's worker restarts. */
export class RestartBackoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly stableMs: number;
  private crashes = 0;
  private longestUpMs = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 100;
    this.maxMs = options.maxMs ?? 30_000;
    this.stableMs = options.stableMs ?? 10_000;
  }

  /** A worker that was up `upMs` died: how many crashed in a row and how long to wait. */
  exited(upMs: number): RestartDecision {
    if (upMs >= this.stableMs) {
      this.crashes = 0;
      this.longestUpMs = 0;
    }
    this.crashes++;
    this.longestUpMs = Math.max(this.longestUpMs, upMs);
    // 2 ** n overflows to Infinity for large n, which Math.min turns back into maxMs.
    const delayMs = Math.min(this.maxMs, this.initialMs * 2 ** (this.crashes - 1));
    return { crashesInARow: this.crashes, longestUpMs: this.longestUpMs, delayMs };
  }
}
