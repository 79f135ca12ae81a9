/**
 * The gateway's listening address, claimed first at start-up: before the data folder, the catalog,
 * the keys or the first admin exist, so that a port another process holds stops `aegis start` with
 * one plain line and nothing created. In a single process the claimed socket is the one the HTTP
 * server then serves on (`server.listen(claimed)`), so nothing can take the port in between; a
 * cluster's primary releases it just before it forks the workers, which share the port through it.
 *
 * The errors of `listen(2)` a user can cause are translated here, each with what to do:
 * EADDRINUSE (another process holds the port), EACCES (a privileged port), EADDRNOTAVAIL (an
 * address of another machine), ENOTFOUND / EAI_AGAIN (a host name that does not resolve).
 */
import { createServer, type Server } from 'node:net';
import { GatewayError } from '../errors.js';

/**
 * What to tell the user when listening on `host`:`port` failed with the error code `code`;
 * undefined for errors that are not the user's to fix.
 */
export function portProblem(code: string | undefined, host: string, port: number): string | undefined {
  switch (code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is in use: stop what holds it or use --port N / AEGIS_PORT`;
    case 'EACCES':
      return `port ${port} on ${host} needs privileges this account does not have (ports below 1024 do): use --port N / AEGIS_PORT with a port of 1024 or above, behind a reverse proxy if clients need ${port}`;
    case 'EADDRNOTAVAIL':
      return `${host} is not an address of this machine: use --host with one of its addresses (or 0.0.0.0 for all) / AEGIS_HOST`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${host} is neither an address nor a name this machine can resolve: use --host with one of its addresses (or 0.0.0.0 for all) / AEGIS_HOST`;
    default:
      return undefined;
  }
}

/**
 * Listens on `host`:`port` and resolves with the listening socket. Rejects with PORT_UNAVAILABLE
 * (message from {@link portProblem}, the system error as cause) when the user can fix the failure,
 * and with the system error otherwise.
 */
export function claimPort(host: string, port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      const problem = portProblem(error.code, host, port);
      reject(problem === undefined ? error : new GatewayError('PORT_UNAVAILABLE', problem, { cause: error }));
    });
    // exclusive: in a cluster's primary the socket is its own, never shared with workers.
    server.listen({ host, port, exclusive: true }, () => resolve(server));
  });
}

/** Closes a claimed socket that nothing serves on (a cluster's primary, before it forks). */
export function releasePort(claimed: Server): Promise<void> {
  return new Promise((resolve) => claimed.close(() => resolve()));
}
