/**
 * A bound on the backend calls one use case has in flight at once (the shards of one instance are
 * read and written in parallel, but not all at the same moment). A task whose signal fired while it
 * waited never starts: it rejects with the signal's reason.
 */

/** Runs at most `max` tasks at once, the others in the order they came. */
export class Limiter {
  readonly #max: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`a limiter needs a whole bound of at least 1, not ${max}`);
    this.#max = max;
  }

  /** Runs `task` once a place is free, unless `signal` fired first. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#running >= this.#max) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#running++;
    try {
      signal?.throwIfAborted();
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
