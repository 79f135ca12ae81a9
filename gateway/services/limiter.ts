/**
 * A bound on the tasks one use case has in flight at once (the shards of one instance are read
 * and written in parallel, but not all at the same moment; a few renders at a time). The queue
 * behind the running tasks may be bounded too: a task that finds it full is refused at once. A task
 * whose signal fires while it waits leaves the queue then and never starts: it rejects with the
 * signal's reason.
 */

/** Options of a {@link Limiter}. */
export interface LimiterOptions {
  /** Most tasks waiting for a place; unbounded when absent. */
  maxWaiting?: number;
  /** The error a task gets when `maxWaiting` tasks already wait. */
  full?: () => Error;
}

/** Runs at most `max` tasks at once, the others in the order they came. */
export class Limiter {
  readonly #max: number;
  readonly #maxWaiting: number;
  readonly #full: () => Error;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(max: number, options: LimiterOptions = {}) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`a limiter needs a whole bound of at least 1, not ${max}`);
    const maxWaiting = options.maxWaiting ?? Number.POSITIVE_INFINITY;
    if (maxWaiting !== Number.POSITIVE_INFINITY && (!Number.isInteger(maxWaiting) || maxWaiting < 0)) {
      throw new RangeError(`a limiter's queue needs a whole bound of at least 0, not ${maxWaiting}`);
    }
    this.#max = max;
    this.#maxWaiting = maxWaiting;
    this.#full = options.full ?? (() => new Error(`${maxWaiting} tasks already wait`));
  }

  /** Runs `task` once a place is free, unless `signal` fired first or the queue is full. */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    if (this.#running >= this.#max) await this.#wait(signal);
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

  /** Waits for a place handed over by a finishing task; leaves the queue when `signal` fires. */
  #wait(signal: AbortSignal | undefined): Promise<void> {
    if (this.#waiting.length >= this.#maxWaiting) return Promise.reject(this.#full());
    return new Promise<void>((resolve, reject) => {
      const turn = () => {
        signal?.removeEventListener('abort', leave);
        resolve();
      };
      const leave = () => {
        const at = this.#waiting.indexOf(turn);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal?.reason);
      };
      this.#waiting.push(turn);
      signal?.addEventListener('abort', leave, { once: true });
    });
  }
}
