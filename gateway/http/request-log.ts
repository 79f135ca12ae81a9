/**
 * Request ids and one structured log line per request: id (from a sane `X-Request-Id` or new),
 * method, path without the query string (query strings can carry patient names), status and
 * duration. `req.log` is a child logger carrying the id for everything logged while serving.
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { recordedTarget } from './request-target.js';
import { onResponseDone } from './response-hooks.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The request id, also sent back as `X-Request-Id`. */
    id: string;
    /** A logger bound to this request's id. */
    log: Logger;
  }
}

/** Middleware that assigns the request id and logs the request when its response is done. */
export function requestLog(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && /^[\w.-]{1,64}$/.test(incoming) ? incoming : randomUUID();
    const started = performance.now();
    req.id = id;
    req.log = logger.child({ reqId: id });
    res.setHeader('X-Request-Id', id);
    onResponseDone(res, logger, 'request-log', (finished) => {
      const status = finished ? res.statusCode : 499; // 499: the client went away first
      const entry = { reqId: id, method: req.method, path: recordedTarget(req).split('?')[0], status, ms: Math.round((performance.now() - started) * 10) / 10 };
      if (status >= 500) logger.error(entry, 'request');
      else logger.info(entry, 'request');
    });
    next();
  };
}
