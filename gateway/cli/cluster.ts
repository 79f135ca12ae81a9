/**
 * Runs the gateway on every core (Node's cluster module): a primary process forks one worker,
 * which migrates the catalog as it opens it, and the others once that one listens, so the schema
 * is never raced on. Workers serve HTTP on the shared port; the primary replaces a worker that
 * dies and, on SIGTERM/SIGINT, asks every worker to finish its in-flight requests before it exits.
 * With one worker the gateway runs in this process, without a primary.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Server } from 'node:net';
import type { GatewayConfig } from '../config.js';
import { createLogger } from '../logger.js';
import type { RunningServer } from './start.js';

type WorkerMessage = { type: 'listening'; url: string };
const SHUTDOWN = 'shutdown';

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
  const server = await startServer(config, { announce: false });
  process.send?.({ type: 'listening', url: server.url } satisfies WorkerMessage);
  process.on('message', (message) => {
    if (message === SHUTDOWN) void server.close().then(() => process.exit(0));
  });
  return server;
}

async function startPrimary(config: GatewayConfig): Promise<RunningServer> {
  const logger = createLogger(config.log.level);

  let stopping = false;
  let started = false;
  const listening = new Set<number>();
  // Instance bytes live outside the V8 heap: a small young generation keeps each worker's resident
  // memory ~30 MB lower at no measurable cost in throughput. The garbage collector runs on the
  // worker's own thread: there is one worker per core, and V8's helper threads (four per worker)
  // only competed with the other workers for the cores; on 2 cores that cost about 10% of STOW
  // and 15% of WADO throughput, protected or not (npm run bench).
  cluster.setupPrimary({ execArgv: [...process.execArgv, '--max-semi-space-size=2', '--single-threaded-gc'] });
  // glibc gives each thread that allocates (libuv's pool does, for file I/O) an arena of its own
  // and rarely returns their free memory: after one 256 MB STOW part a worker kept ~390 MB
  // resident once everything was collected, ~130 MB with two arenas (idle: ~160 MB). An operator's
  // own MALLOC_ARENA_MAX wins.
  const fork = () => cluster.fork({ AEGIS_WORKER: '1', MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' });
  cluster.on('exit', (worker: Worker, code, signal) => {
    listening.delete(worker.id);
    if (stopping) return;
    logger.error({ worker: worker.id, code, signal }, 'a worker exited; starting another');
    fork();
  });
  cluster.on('message', (worker: Worker, message: WorkerMessage) => {
    if (message?.type !== 'listening') return;
    listening.add(worker.id);
    if (started) logger.info({ worker: worker.id, workerPid: worker.process.pid }, 'a replacement worker is listening');
  });

  const url = await new Promise<string>((resolve, reject) => {
    let first: string | undefined;
    const onMessage = (_worker: Worker, message: WorkerMessage) => {
      if (message?.type !== 'listening') return;
      if (first === undefined) {
        // The first worker has migrated the catalog: the others start on a current schema and
        // never race on it, and the primary never loads the catalog code.
        first = message.url;
        for (let i = 1; i < config.server.workers; i++) fork();
      }
      if (listening.size === config.server.workers) done(() => resolve(first!));
    };
    const onExit = (_worker: Worker, code: number) => done(() => reject(new Error(`a worker exited with ${code} before listening`)));
    const done = (settle: () => void) => {
      cluster.off('message', onMessage);
      cluster.off('exit', onExit);
      settle();
    };
    cluster.on('message', onMessage);
    cluster.on('exit', onExit);
    fork();
  });
  started = true;
  logger.info({ url, dataDir: config.dataDir, workers: config.server.workers, backends: config.backends.map((b) => b.name) }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closing ??= (async () => {
        stopping = true;
        logger.info('shutting down: workers finish their in-flight requests');
        const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
        await Promise.all(
          workers.map(
            (worker) =>
              new Promise<void>((resolve) => {
                if (worker.isDead()) return resolve();
                worker.once('exit', () => resolve());
                // A worker still starting has no requests and no handler for the message yet.
                if (listening.has(worker.id)) worker.send(SHUTDOWN);
                else worker.kill('SIGTERM');
              }),
          ),
        );
        logger.info('stopped');
        logger.flush();
      })()),
  };
}
