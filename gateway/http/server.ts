/**
 * The HTTP server around the app (RFC 9112): the request target is normalized before the app sees
 * it, requests the parser refuses or that never become whole are answered and audited
 * (`client-errors.ts`), and slow or greedy clients are bounded by the configured timeouts and
 * per-client connection cap. `cli/start.ts` listens with it.
 *
 * - `server.headersTimeoutSeconds`: the request line and headers must arrive in time (408).
 * - `server.requestTimeoutSeconds`: the whole request, body included, must arrive in time (408);
 *   generous, for large STOW-RS bodies: the minimum body rate (`body-rate.ts`) is what catches a
 *   body sent a byte at a time.
 * - `server.idleTimeoutSeconds`: a connection with no traffic either way is closed.
 * - `server.keepAliveTimeoutSeconds`: how long an idle keep-alive connection waits for a request.
 * - `limits.maxConnectionsPerClient`: connections one address may hold open in this process; the
 *   excess gets 429 at once, before anything is read, and is closed. Trusted proxies (which carry
 *   many clients) are exempt. The count is per worker process.
 *
 * With `server.tls` it is an HTTPS server (`tls.ts`) with the same timeouts and limits; the TLS
 * handshake counts against the headers timeout, and a client's connections are counted once their
 * handshake is done, so that the 429 of the excess can be read; its handshakes in progress are
 * capped too (the excess closed at once).
 */
import { createServer as createHttpsServer } from 'node:https';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { checkExpectation } from './expectations.js';
import type { Socket } from 'node:net';
import type { Express } from 'express';
import type { AuditTrail } from '../access/audit/trail.js';
import { inNetworks, parseClientAddress, parseNetworkRange } from '../network.js';
import type { GatewayConfig } from '../config.js';
import { readTlsFiles } from '../config-tls.js';
import { handleClientErrors } from './client-errors.js';
import { normalizeRequestTarget } from './request-target.js';
import { guarded, type HookLogger } from './response-hooks.js';

/** What {@link createGatewayServer} needs besides the app. */
export interface GatewayServerDeps {
  config: GatewayConfig;
  audit: AuditTrail;
  logger: HookLogger & { warn(details: Record<string, unknown>, message: string): void };
}

/** How long a refused connection may stay open for its 429 to be read, in ms. */
const REFUSED_LINGER_MS = 1000;

/** The gateway's HTTP server serving `app`; it does not listen yet. */
export function createGatewayServer(app: Express, deps: GatewayServerDeps): Server {
  const { server: settings } = deps.config;
  const headersTimeout = settings.headersTimeoutSeconds * 1000;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    normalizeRequestTarget(req);
    app(req, res);
  };
  const options = {
    headersTimeout,
    requestTimeout: settings.requestTimeoutSeconds * 1000,
    keepAliveTimeout: settings.keepAliveTimeoutSeconds * 1000,
    // How often Node looks for requests past those timeouts: a quarter of the headers timeout.
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, headersTimeout / 4)),
  };
  const server: Server = settings.tls ? createHttpsServer({ ...options, ...readTlsFiles(settings.tls).options, handshakeTimeout: headersTimeout }, handle) : createServer(options, handle);
  server.timeout = settings.idleTimeoutSeconds * 1000;
  // A client that half-closes its side after the request (RFC 9112 §9.6) still gets the response:
  // by default Node ends the connection at once, losing any response not yet written (one held
  // for its audit record, a STOW still storing).
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.on('checkExpectation', guarded(deps.logger, 'check-expectation', checkExpectation(handle)));
  handleClientErrors(server, deps);
  limitConnectionsPerClient(server, deps);
  // An error of the listening socket once it serves (accept failing with EMFILE under a flood of
  // connections): without a listener it would be thrown and end the process.
  server.on(
    'error',
    guarded(deps.logger, 'server-error', (error: Error) => deps.logger.error({ err: error }, 'the HTTP server reported an error; it goes on serving')),
  );
  return server;
}

/**
 * Refuses connections beyond `limits.maxConnectionsPerClient` from one address (trusted proxies
 * exempt). With TLS a connection counts once its handshake is done, so that its 429 can be read;
 * handshakes in progress are capped apart, at the same number, and the excess is closed at once
 * (nothing can be answered before a handshake): otherwise connections that never finish theirs
 * would get round the cap until the handshake timeout.
 */
function limitConnectionsPerClient(server: Server, deps: GatewayServerDeps): void {
  const max = deps.config.limits.maxConnectionsPerClient;
  const proxies = deps.config.server.trustedProxies.map(parseNetworkRange);
  const open = new Map<string, number>();
  const exempt = (address: string) => proxies.length > 0 && inNetworks(parseClientAddress(address), proxies);
  let refused = 0;
  let lastReport = 0;
  const report = (address: string) => {
    refused += 1;
    if (Date.now() - lastReport > 10_000) {
      deps.logger.warn({ client: address, maxConnectionsPerClient: max, refusedSinceLastReport: refused }, 'connections refused: a client holds as many connections as allowed');
      lastReport = Date.now();
      refused = 0;
    }
  };
  if (deps.config.server.tls) {
    const connected = new Map<string, number>(); // TCP connections, handshakes in progress included
    server.on(
      'connection',
      guarded(deps.logger, 'handshake-limit', (socket: Socket) => {
        const address = socket.remoteAddress ?? 'unknown';
        if (exempt(address)) return;
        if ((connected.get(address) ?? 0) - (open.get(address) ?? 0) >= max) {
          socket.destroy();
          report(address);
          return;
        }
        countWhileOpen(connected, address, socket);
      }),
    );
  }
  server.on(
    deps.config.server.tls ? 'secureConnection' : 'connection',
    guarded(deps.logger, 'connection-limit', (socket: Socket) => {
      const address = socket.remoteAddress ?? 'unknown';
      if (exempt(address)) return;
      if ((open.get(address) ?? 0) >= max) {
        refuseConnection(socket, max);
        report(address);
        return;
      }
      countWhileOpen(open, address, socket);
    }),
  );
}

/** Counts `socket` under `address` in `counts` until it closes. */
function countWhileOpen(counts: Map<string, number>, address: string, socket: Socket): void {
  counts.set(address, (counts.get(address) ?? 0) + 1);
  socket.once('close', () => {
    const left = (counts.get(address) ?? 1) - 1;
    if (left <= 0) counts.delete(address);
    else counts.set(address, left);
  });
}

/** Answers 429 on a connection before anything of it is read, and closes it. */
function refuseConnection(socket: Socket, max: number): void {
  socket.pause(); // its request is never parsed
  const body = JSON.stringify({ error: { code: 'TOO_MANY_CONNECTIONS', message: `this client already holds ${max} connections, the most allowed; close one or wait` } });
  socket.end(`HTTP/1.1 429 ${STATUS_CODES[429]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
}
