/**
 * The metrics of a cluster (`gateway/cli/cluster-metrics.ts`) with real worker processes, this
 * test acting as the primary: a scrape that one worker answers sums every listening worker's
 * counts; a worker that never answers fails the scrape with METRICS_UNAVAILABLE (after the
 * collection timeout) instead of leaving its counts out; once that worker is gone, scrapes cover
 * the others again.
 */
import assert from 'node:assert/strict';
import cluster, { type Worker } from 'node:cluster';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { serveClusterMetrics } from '../../../gateway/cli/cluster-metrics.js';
import { createLogger } from '../../../gateway/logger.js';
import { parsePrometheusText, sampleValue } from '../../support/prometheus-text.js';

const WORKER = fileURLToPath(new URL('../../support/cluster-metrics-worker.ts', import.meta.url));

/** The workers that listen, kept as the supervisor keeps its own (`WorkerSupervisor.listening`). */
const listening = new Set<number>();

function fork(env: Record<string, string>): Promise<Worker> {
  const worker = cluster.fork(env);
  worker.once('exit', () => listening.delete(worker.id));
  return new Promise((resolve, reject) => {
    worker.on('message', function onMessage(message: { type?: string }) {
      if (message?.type !== 'listening') return;
      worker.off('message', onMessage);
      listening.add(worker.id);
      resolve(worker);
    });
    worker.once('exit', (code) => reject(new Error(`the worker exited with ${code} before listening`)));
  });
}

function scrapeThrough(worker: Worker): Promise<{ text?: string; code?: string }> {
  return new Promise((resolve) => {
    worker.on('message', function onMessage(message: { type?: string; text?: string; code?: string }) {
      if (message?.type !== 'test-result') return;
      worker.off('message', onMessage);
      resolve(message);
    });
    worker.send({ type: 'test-scrape' });
  });
}

describe('cluster metrics', { timeout: 120_000 }, () => {
  cluster.setupPrimary({ exec: WORKER, execArgv: ['--import', 'tsx'], silent: false });
  serveClusterMetrics(createLogger('silent'), listening);
  after(() => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGKILL');
  });

  it('sums every worker; a worker that does not answer fails the scrape with METRICS_UNAVAILABLE; once it is gone, scrapes sum the others', async () => {
    const [one, two] = await Promise.all([fork({ AEGIS_TEST_STORED: '2' }), fork({ AEGIS_TEST_STORED: '3' })]);
    for (const worker of [one, two]) {
      const { text } = await scrapeThrough(worker);
      assert.equal(sampleValue(parsePrometheusText(text!), 'aegis_instances_stored_total'), 5);
    }
    const mute = await fork({ AEGIS_TEST_MUTE: '1' });
    assert.deepEqual(await scrapeThrough(one), { type: 'test-result', code: 'METRICS_UNAVAILABLE' });
    const gone = new Promise((resolve) => mute.once('exit', resolve));
    mute.kill('SIGKILL');
    await gone;
    const { text } = await scrapeThrough(two);
    assert.equal(sampleValue(parsePrometheusText(text!), 'aegis_instances_stored_total'), 5);
  });
});
