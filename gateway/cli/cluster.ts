/**
 * Runs the gateway on every core (Node's cluster module): a primary process forks the workers,
 * which serve HTTP on the shared port, and watches over them (`worker-supervisor.ts`: the first
 * one migrates the catalog before the others start; a worker that dies is replaced, with backoff);
 * on SIGTERM/SIGINT it asks every worker to finish its in-flight requests before it exits.
 * With one worker the gateway runs in this process, without a primary.
 */
import cluster from 'node:cluster';
import type { Server } from 'node:net';
import type { GatewayConfig } from '../config.js';
import { createLogger } from '../logger.js';
import type { RunningServer } from './start.js';
import { announceTransport } from './transport-notice.js';
import { forwardHangup } from './tls-hangup.js';
import { serveClusterMetrics, workerMetrics } from './cluster-metrics.js';
import { SHUTDOWN, WorkerSupervisor, type WorkerMessage } from './worker-supervisor.js';

/**
 * Starts the gateway: in this process (one worker) or as a primary with worker processes.
 * `claimed`: the socket a single process serves on, already listening (`start-up.ts`).
 */
export async function startGateway(config: GatewayConfig, options: { claimed?: Server } = {}): Promise<RunningServer> {
  if (cluster.isWorker) return startWorker(config);
  if (config.server.workers <= 1) return (await import('./start.js')).startServer(config, { claimed: options.claimed });
  return startPrimary(config);
}

async function startWorker(config: GatewayConfig): Promise<RunningServer> {
  // Imported here: the primary never loads the HTTP app, only the catalog for migrations.
  const { startServer } = await import('./start.js');
  let server: RunningServer;
  try {
    server = await startServer(config, { announce: false, metrics: workerMetrics() });
  } catch (error) {
    // The primary stops a first start-up that fails this way instead of forking again and again.
    process.send?.({ type: 'start-failed', reason: error instanceof Error ? error.message : String(error) } satisfies WorkerMessage);
    throw error;
  }
  process.send?.({ type: 'listening', url: server.url } satisfies WorkerMessage);
  process.on('message', (message) => {
    if (message === SHUTDOWN) void server.close().then(() => process.exit(0));
  });
  return server;
}

async function startPrimary(config: GatewayConfig): Promise<RunningServer> {
  const logger = createLogger(config.log.level);
  // Instance bytes live outside the V8 heap: a small young generation keeps each worker's resident
  // memory ~30 MB lower at no measurable cost in throughput. The garbage collector runs on the
  // worker's own thread: there is one worker per core, and V8's helper threads (four per worker)
  // only competed with the other workers for the cores; on 2 cores that cost about 10% of STOW
  // and 15% of WADO throughput, protected or not (npm run bench).
  cluster.setupPrimary({ execArgv: [...process.execArgv, '--max-semi-space-size=2', '--single-threaded-gc'] });
  // glibc gives each thread that allocates (libuv's pool does, for file I/O) an arena of its own
  // and rarely returns their free memory: after one 256 MB STOW part a worker kept ~390 MB
  // resident once collected, ~130 MB with two arenas (idle: ~160 MB). The operator's own wins.
  const fork = () => cluster.fork({ AEGIS_WORKER: '1', MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' });
  const supervisor = new WorkerSupervisor({ cluster, fork, workers: config.server.workers, logger });
  forwardHangup(config, supervisor.listening, logger);
  serveClusterMetrics(logger, supervisor.listening); // a scrape answered by one worker covers them all
  const url = await supervisor.start();
  announceTransport(config, logger);
  logger.info({ url, dataDir: config.dataDir, workers: config.server.workers, backends: config.backends.map((b) => b.name) }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closing ??= (async () => {
        logger.info('shutting down: workers finish their in-flight requests');
        await supervisor.stop();
        logger.info('stopped');
        logger.flush();
      })()),
  };
}
