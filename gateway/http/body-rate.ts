/**
 * The minimum rate of request bodies: once `limits.bodyRateGraceSeconds` have passed, a body that
 * is not whole must have arrived at `limits.minBodyBytesPerSecond` on average, or the request gets
 * 408 (when its response has not started) and its connection is closed. This holds for every body,
 * also one the gateway no longer wants (after a 401 Node reads the rest of it to keep the connection
 * alive). Bytes are counted on the socket, so a body the app does not read (which Node discards)
 * counts too; time in which the body waits for the gateway (data received but not yet consumed,
 * when a STOW-RS is busy storing earlier parts) is not held against the client.
 */
import type { NextFunction, Request, Response } from 'express';
import { endInProgress } from './client-errors.js';
import { guarded, type HookLogger } from './response-hooks.js';

/** The limits {@link minimumBodyRate} enforces. */
export interface BodyRateLimits {
  minBodyBytesPerSecond: number;
  bodyRateGraceSeconds: number;
}

/** Middleware enforcing {@link BodyRateLimits} on every request that has a body. */
export function minimumBodyRate(limits: BodyRateLimits, logger: HookLogger) {
  const graceMs = limits.bodyRateGraceSeconds * 1000;
  const periodMs = Math.min(1000, graceMs / 2);
  return (req: Request, res: Response, next: NextFunction) => {
    const declared = req.headers['content-length'];
    if (req.complete || (req.headers['transfer-encoding'] === undefined && (declared === undefined || declared === '0'))) {
      next();
      return;
    }
    const socket = req.socket;
    const firstByte = socket.bytesRead;
    let last = performance.now();
    let counted = 0; // ms in which the body waited on the client
    const check = (): void => {
      const now = performance.now();
      // Data received but not consumed: the gateway is the one waiting.
      if (req.readableLength === 0) counted += now - last;
      last = now;
      if (req.complete || socket.destroyed) {
        stop();
        return;
      }
      if (counted < graceMs) return;
      const rate = ((socket.bytesRead - firstByte) * 1000) / counted;
      if (rate >= limits.minBodyBytesPerSecond) return;
      stop();
      req.log.info({ bytesPerSecond: Math.round(rate), minimum: limits.minBodyBytesPerSecond }, 'request body too slow: closing the connection');
      if (res.headersSent) socket.destroy();
      else endInProgress(res, { status: 408, code: 'REQUEST_TIMEOUT', message: `the request body arrived at ${Math.round(rate)} bytes per second, below the minimum of ${limits.minBodyBytesPerSecond}` });
    };
    const timer: NodeJS.Timeout = setInterval(guarded(logger, 'body-rate', check), periodMs);
    timer.unref();
    // Listeners come off when the request ends: a keep-alive socket serves many requests.
    const stop = (): void => {
      clearInterval(timer);
      req.removeListener('end', stop);
      socket.removeListener('close', stop);
    };
    req.once('end', stop);
    socket.once('close', stop);
    next();
  };
}
