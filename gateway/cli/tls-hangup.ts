/**
 * SIGHUP reloads the TLS certificate (`server.tls`). In a cluster the primary receives it and
 * passes it on to every worker that listens (a worker still starting reads the files as it
 * starts); each worker, or the only process, reads the files again (`http/tls.ts`). Without
 * `server.tls` nothing is installed and SIGHUP keeps its default meaning.
 */
import cluster from 'node:cluster';
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { GatewayConfig } from '../config.js';
import { reloadCertificate, type TlsLogger } from '../http/tls.js';
import { guarded } from '../http/response-hooks.js';

/** The SIGHUP reloads of one process: {@link HangupReloads.serve} once its server exists, {@link HangupReloads.stop} when it closes. */
export interface HangupReloads {
  /** From now on, SIGHUP reloads `server`'s certificate. */
  serve(server: Server): void;
  /** Stops the reloads (the server closing); SIGHUP is still caught and ignored. */
  stop(): void;
}

/**
 * With `server.tls`, catches SIGHUP from now on, before anything else of the start-up, which may
 * take long (a catalog being migrated): until {@link HangupReloads.serve} names the server, a
 * SIGHUP is logged and ignored, since the files are read when the server is created. Once stopped
 * (the server closing), SIGHUP is still caught and ignored: a worker that is finishing its
 * requests is not ended by a reload signal the primary passed on.
 */
export function reloadOnHangup(config: GatewayConfig, logger: TlsLogger): HangupReloads {
  const tls = config.server.tls;
  if (tls === undefined) return { serve: () => {}, stop: () => {} };
  let server: Server | undefined;
  let stopped = false;
  const reload = guarded(logger, 'tls-reload', () => {
    if (stopped) return;
    if (server === undefined) {
      logger.info({ pid: process.pid }, 'SIGHUP while starting: the certificate files are read as the server is created');
      return;
    }
    logger.info({ pid: process.pid }, 'SIGHUP: reloading the TLS certificate');
    reloadCertificate(server as HttpsServer, tls, logger);
  });
  process.on('SIGHUP', reload);
  return { serve: (served) => void (server = served), stop: () => void (stopped = true) };
}

/**
 * In a cluster's primary: passes SIGHUP on to the workers whose ids are in `listening` (with
 * `server.tls`); installed before any worker starts, so that the signal never ends the primary.
 */
export function forwardHangup(config: GatewayConfig, listening: ReadonlySet<number>, logger: TlsLogger): void {
  if (config.server.tls === undefined) return;
  process.on(
    'SIGHUP',
    guarded(logger, 'tls-reload-forward', () => {
      const workers = [...listening].flatMap((id) => cluster.workers?.[id] ?? []).filter((worker) => !worker.isDead());
      logger.info({ workers: workers.map((w) => w.process.pid) }, 'SIGHUP: the workers reload the TLS certificate');
      for (const worker of workers) worker.process.kill('SIGHUP');
    }),
  );
}
