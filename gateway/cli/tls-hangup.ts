/**
 * SIGHUP reloads the TLS certificate (`server.tls`). In a cluster the primary receives it and
 * passes it on to every worker that listens (a worker still starting reads the files as it
 * starts); each worker, or the only process, reads the files again (`http/tls.ts`). Without
 * `server.tls` nothing is installed and SIGHUP keeps its default meaning.
 */
import type { Worker } from 'node:cluster';
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { GatewayConfig } from '../config.js';
import { reloadCertificate, type TlsLogger } from '../http/tls.js';
import { guarded } from '../http/response-hooks.js';

/** Reloads `server`'s certificate on SIGHUP (with `server.tls`); returns what removes the handler. */
export function reloadOnHangup(server: Server, config: GatewayConfig, logger: TlsLogger): () => void {
  const tls = config.server.tls;
  if (tls === undefined) return () => {};
  const reload = guarded(logger, 'tls-reload', () => {
    logger.info({ pid: process.pid }, 'SIGHUP: reloading the TLS certificate');
    reloadCertificate(server as HttpsServer, tls, logger);
  });
  process.on('SIGHUP', reload);
  return () => process.off('SIGHUP', reload);
}

/** In a cluster's primary: passes SIGHUP on to the `listening()` workers (with `server.tls`); returns what removes the handler. */
export function forwardHangup(config: GatewayConfig, listening: () => Worker[], logger: TlsLogger): () => void {
  if (config.server.tls === undefined) return () => {};
  const forward = guarded(logger, 'tls-reload-forward', () => {
    const workers = listening();
    logger.info({ workers: workers.map((w) => w.process.pid) }, 'SIGHUP: the workers reload the TLS certificate');
    for (const worker of workers) if (!worker.isDead()) worker.process.kill('SIGHUP');
  });
  process.on('SIGHUP', forward);
  return () => process.off('SIGHUP', forward);
}
