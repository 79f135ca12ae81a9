/**
 * The HTTP server around the app (RFC 9112): the request target is normalized before the app sees
 * it, and requests the parser refuses or that never become whole are answered and audited
 * (`client-errors.ts`). `cli/start.ts` listens with it.
 */
import { createServer, type Server } from 'node:http';
import type { Express } from 'express';
import type { AuditTrail } from '../access/audit/index.js';
import type { GatewayConfig } from '../config.js';
import { handleClientErrors } from './client-errors.js';
import { normalizeRequestTarget } from './request-target.js';
import type { HookLogger } from './response-hooks.js';

/** What {@link createGatewayServer} needs besides the app. */
export interface GatewayServerDeps {
  config: GatewayConfig;
  audit: AuditTrail;
  logger: HookLogger;
}

/** The gateway's HTTP server serving `app`; it does not listen yet. */
export function createGatewayServer(app: Express, deps: GatewayServerDeps): Server {
  const server = createServer((req, res) => {
    normalizeRequestTarget(req);
    app(req, res);
  });
  // A client that half-closes its side after the request (RFC 9112 §9.6) still gets the response:
  // by default Node ends the connection at once, losing any response not yet written (one held
  // for its audit record, a STOW still storing).
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.requestTimeout = 0; // large STOW bodies may take long; idle sockets still time out
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  handleClientErrors(server, deps);
  return server;
}
