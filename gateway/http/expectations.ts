/**
 * The `Expect` request header (RFC 9110 §10.1.1). Node answers `100-continue` itself and hands
 * every other value to a `checkExpectation` listener, or answers 417 without one. Clients built
 * on libcurl and httplib send an empty `Expect:` (to turn `100-continue` off): that expects
 * nothing and is served like a request without the header. Any other expectation is one the
 * gateway cannot meet: it reaches the app marked, and {@link refuseUnmetExpectation} answers 417
 * EXPECTATION_FAILED after the request was logged and audited.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { GatewayError } from '../errors.js';

const UNMET = Symbol('aegis.unmetExpectation');

type Marked = IncomingMessage & { [UNMET]?: string };

/** The `checkExpectation` listener: every request goes on to `handle`, an unmet expectation marked. */
export function checkExpectation(handle: (req: IncomingMessage, res: ServerResponse) => void): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const expectation = String(req.headers.expect ?? '').trim();
    if (expectation !== '') (req as Marked)[UNMET] = expectation;
    handle(req, res);
  };
}

/** Answers 417 to a request whose expectation was marked unmet. */
export function refuseUnmetExpectation(req: Request, _res: Response, next: NextFunction): void {
  const expectation = (req as Marked)[UNMET];
  next(expectation === undefined ? undefined : new GatewayError('EXPECTATION_FAILED', `the expectation '${expectation.slice(0, 64)}' cannot be met (only 100-continue is supported)`));
}
