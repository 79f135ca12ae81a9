/**
 * Response hooks that cannot end the process. A listener on a response or socket ('finish',
 * 'close', 'clientError', ...) runs outside any promise chain: an exception thrown there is
 * uncaught and ends the worker, with every request in flight on it. Every hook the HTTP layer
 * installs goes through {@link guarded} or {@link onResponseDone}, which catch, log and go on.
 */
import type { ServerResponse } from 'node:http';

/** What a hook reports a failure to (a pino logger fits). */
export interface HookLogger {
  error(details: Record<string, unknown>, message: string): void;
}

/**
 * `hook` wrapped so that an exception (or a rejected promise it returns) is logged under `name`
 * and never propagates to the event emitter that called it.
 */
export function guarded<A extends unknown[]>(logger: HookLogger, name: string, hook: (...args: A) => unknown): (...args: A) => void {
  const report = (error: unknown) => {
    try {
      logger.error({ err: error, hook: name }, `a response hook failed (${name}); the process goes on`);
    } catch {
      // A logger that throws has nothing left to tell.
    }
  };
  return (...args: A) => {
    try {
      const result = hook(...args);
      if (result instanceof Promise) result.catch(report);
    } catch (error) {
      report(error);
    }
  };
}

/**
 * Runs `hook` once when the response is done: `finished` is true when it was sent completely
 * ('finish'), false when the connection closed first ('close'). Exceptions are logged, not thrown.
 */
export function onResponseDone(res: ServerResponse, logger: HookLogger, name: string, hook: (finished: boolean) => unknown): void {
  const run = guarded(logger, name, hook);
  const done = () => {
    res.off('finish', done);
    res.off('close', done);
    run(res.writableFinished);
  };
  res.on('finish', done);
  res.on('close', done);
}
