/**
 * Metrics of a cluster (`cluster.ts`): each worker counts in its own registry, and a scrape that
 * one worker answers covers the whole gateway. The worker asks the primary over IPC; the primary
 * asks every listening worker for its registry (as JSON), adds its own process metrics, merges
 * them with prom-client's aggregation (counters and histograms summed, memory summed, event-loop
 * lag averaged) and answers. Nothing here waits without a bound: a worker that does not answer
 * within {@link COLLECT_TIMEOUT_MS} fails the scrape (503 METRICS_UNAVAILABLE) rather than leave
 * its counts out of the sum, which Prometheus would read as counters going back; a worker that
 * exits meanwhile is left out. A malformed message is ignored: nothing here can end the primary.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, collectDefaultMetrics, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import { GatewayMetrics } from '../services/metrics.js';
import type { AppMetrics } from '../http/context.js';

const SCRAPE = 'aegis:metrics-scrape';
const SCRAPED = 'aegis:metrics-scraped';
const COLLECT = 'aegis:metrics-collect';
const COLLECTED = 'aegis:metrics-collected';

/** One process's registry as JSON (`Registry.getMetricsAsJSON`). */
type RegistryJson = Array<MetricObjectWithValues<MetricValue<string>>>;

/** How long the primary waits for every worker's registry, in ms. */
export const COLLECT_TIMEOUT_MS = 3000;
/** How long a worker waits for the primary's answer, in ms. */
export const SCRAPE_TIMEOUT_MS = 5000;

type Message =
  { type: typeof SCRAPE; id: number } | { type: typeof SCRAPED; id: number; text?: string; error?: string } | { type: typeof COLLECT; id: number } | { type: typeof COLLECTED; id: number; metrics?: RegistryJson; error?: string };

function isMessage<T extends Message['type']>(message: unknown, type: T): message is Extract<Message, { type: T }> {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === type && Number.isSafeInteger((message as { id?: unknown }).id);
}

/**
 * The metrics of a worker process: its registry answers the primary's collections, and its
 * scrape asks the primary for the whole gateway's.
 */
export function workerMetrics(): Pick<AppMetrics, 'recorder' | 'scrape'> {
  const recorder = new GatewayMetrics();
  const waiting = new Map<number, (answer: { text?: string; error?: string }) => void>();
  let next = 0;
  process.on('message', (message: unknown) => {
    if (isMessage(message, COLLECT)) {
      recorder.registry.getMetricsAsJSON().then(
        (metrics) => send({ type: COLLECTED, id: message.id, metrics }),
        (error: unknown) => send({ type: COLLECTED, id: message.id, error: String(error) }),
      );
    } else if (isMessage(message, SCRAPED)) {
      waiting.get(message.id)?.(message);
    }
  });
  const scrape = () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => answer({ error: `the primary did not answer within ${SCRAPE_TIMEOUT_MS} ms` }), SCRAPE_TIMEOUT_MS);
      const answer = ({ text, error }: { text?: string; error?: string }) => {
        clearTimeout(timer);
        waiting.delete(id);
        if (typeof text === 'string') resolve(text);
        else reject(new GatewayError('METRICS_UNAVAILABLE', `the metrics of the other workers could not be gathered: ${error ?? 'no answer'}`, { headers: { 'Retry-After': '5' } }));
      };
      waiting.set(id, answer);
      if (!send({ type: SCRAPE, id })) answer({ error: 'the primary cannot be reached' });
    });
  return { recorder, scrape };
}

function send(message: Message): boolean {
  try {
    return process.send?.(message) ?? false;
  } catch {
    return false; // the channel to the primary is closing: the scrape fails
  }
}

/** A collection in progress: the workers yet to answer, the registries received. */
interface Collection {
  waiting: Set<number>;
  received: RegistryJson[];
  finish(error?: string): void;
}

/**
 * In the primary: answers the workers' scrapes with the metrics of the workers whose ids are in
 * `listening` (the supervisor's, `WorkerSupervisor.listening`) merged, plus the primary's own
 * process metrics.
 */
export function serveClusterMetrics(logger: Logger, listening: ReadonlySet<number>): void {
  const own = new Registry();
  collectDefaultMetrics({ register: own });
  const collections = new Map<number, Collection>();
  let next = 0;
  const settle = (collection: Collection) => {
    if (collection.waiting.size === 0) collection.finish();
  };
  cluster.on('exit', (worker: Worker) => {
    for (const collection of collections.values()) if (collection.waiting.delete(worker.id)) settle(collection);
  });
  cluster.on('message', (worker: Worker, message: unknown) => {
    try {
      if (isMessage(message, COLLECTED)) {
        const collection = collections.get(message.id);
        if (collection === undefined || !collection.waiting.delete(worker.id)) return;
        if (message.error !== undefined || !Array.isArray(message.metrics)) collection.finish(`worker ${worker.id}: ${message.error ?? 'no metrics'}`);
        else {
          collection.received.push(message.metrics);
          settle(collection);
        }
      } else if (isMessage(message, SCRAPE)) {
        collect(message.id, worker);
      }
    } catch (error) {
      logger.error({ err: error }, 'answering a metrics scrape failed');
    }
  });

  const collect = (scrapeId: number, asking: Worker) => {
    const id = next++;
    const reply = (answer: { text?: string; error?: string }) => {
      try {
        if (asking.isConnected()) asking.send({ type: SCRAPED, id: scrapeId, ...answer } satisfies Message);
      } catch (error) {
        logger.warn({ err: error, worker: asking.id }, 'a metrics scrape could not be answered: the worker is gone');
      }
    };
    const timer = setTimeout(() => collection.finish(`workers ${[...collection.waiting].join(', ')} did not answer within ${COLLECT_TIMEOUT_MS} ms`), COLLECT_TIMEOUT_MS);
    const collection: Collection = {
      waiting: new Set(),
      received: [],
      finish: (error) => {
        if (!collections.delete(id)) return;
        clearTimeout(timer);
        if (error !== undefined) return reply({ error });
        own
          .getMetricsAsJSON()
          .then((mine) => AggregatorRegistry.aggregate([mine, ...collection.received]).metrics())
          .then((text) => reply({ text }))
          .catch((failure: unknown) => reply({ error: String(failure) }));
      },
    };
    collections.set(id, collection);
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (worker === undefined || !listening.has(worker.id) || !worker.isConnected()) continue;
      collection.waiting.add(worker.id);
      worker.send({ type: COLLECT, id } satisfies Message);
    }
    settle(collection);
  };
}
