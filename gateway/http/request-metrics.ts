/**
 * Request metrics: when a response is done, its method, route pattern, status, duration and bytes
 * go to the process's {@link GatewayMetrics}, and a refusal for stored data that failed
 * verification (INTEGRITY_FAILURE) is counted as an integrity failure.
 *
 * The route is the pattern of the route that handled the request (`/dicom-web/studies/:study`),
 * looked up from the route object Express leaves on the request, never the path: a path carries
 * UIDs. A request refused before routing (401, 404, 405, 414) is `unmatched`.
 *
 * Bytes are read off the connection: what it received and sent since the previous response on it
 * was done (headers included). HTTP/1.1 answers the requests of a connection in order, so each
 * request is charged with its own bytes.
 */
import type { Socket } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { UNMATCHED_ROUTE, type GatewayMetrics } from '../services/metrics.js';
import { onResponseDone, type HookLogger } from './response-hooks.js';

/** What each connection had received and sent when its previous response was done. */
const MARKS = new WeakMap<Socket, { read: number; written: number }>();

/**
 * Middleware: records each request in `metrics` when its response is done; `routeOf` names the
 * pattern of a route object (undefined for none). Never throws out of a response hook.
 */
export function requestMetrics(metrics: GatewayMetrics, routeOf: (route: unknown) => string | undefined, logger: HookLogger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    onResponseDone(res, logger, 'metrics', (finished) => {
      const { read, written } = bytesSincePreviousResponse(req.socket);
      metrics.request({
        method: req.method,
        route: (req.route && routeOf(req.route)) ?? UNMATCHED_ROUTE,
        status: finished ? res.statusCode : 499,
        seconds: (performance.now() - started) / 1000,
        bytesIn: read,
        bytesOut: written,
      });
      if (res.locals.errorCode === 'INTEGRITY_FAILURE') metrics.integrityFailures('read');
    });
    next();
  };
}

function bytesSincePreviousResponse(socket: Socket | null | undefined): { read: number; written: number } {
  if (!socket) return { read: 0, written: 0 };
  const now = { read: socket.bytesRead ?? 0, written: socket.bytesWritten ?? 0 };
  const before = MARKS.get(socket) ?? { read: 0, written: 0 };
  MARKS.set(socket, now);
  return { read: Math.max(0, now.read - before.read), written: Math.max(0, now.written - before.written) };
}
