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

/** The hooks waiting for each response to be done, run by one 'finish' and one 'close' listener. */
const pendingHooks = new WeakMap<ServerResponse, Array<(finished: boolean) => void>>();

/**
 * Runs `hook` once when the response is done: `finished` is true when it was sent completely
 * ('finish'), false when the connection closed first ('close'). Exceptions are logged, not thrown.
 * Every hook of a response shares one listener per event, in the order they were added: a response
 * with a listener per hook, plus the several that `stream.pipeline` adds, passes Node's limit of
 * ten and costs a MaxListenersExceededWarning (a stack trace and a line on stderr) every time.
 */
export function onResponseDone(res: ServerResponse, logger: HookLogger, name: string, hook: (finished: boolean) => unknown): void {
  const run = guarded(logger, name, hook);
  const hooks = pendingHooks.get(res);
  if (hooks !== undefined) {
    hooks.push(run);
    return;
  }
  const all = [run];
  pendingHooks.set(res, all);
  const done = () => {
    res.off('finish', done);
    res.off('close', done);
    pendingHooks.delete(res);
    const finished = res.writableFinished;
    for (const each of all) each(finished);
  };
  res.on('finish', done);
  res.on('close', done);
}
