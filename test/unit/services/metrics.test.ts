/**
 * The metrics of one process (`gateway/services/metrics.ts`) and their cluster merge: the
 * exposition parses with the strict text-format parser of the tests (which is shown to refuse
 * what the format forbids), label values stay in their closed sets, every backend call passing the
 * resilience wrapper is timed and its failure counted by code, and two workers' registries merged
 * the way the primary merges them add up.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AggregatorRegistry } from 'prom-client';
import { FsFragmentStore } from '../../../adapters/fs/fs-store.js';
import { createLogger } from '../../../gateway/logger.js';
import { withGatewayErrors } from '../../../gateway/services/backends.js';
import { GatewayMetrics, UNMATCHED_ROUTE } from '../../../gateway/services/metrics.js';
import { withResilience } from '../../../gateway/services/resilience.js';
import { parsePrometheusText, sampleValue } from '../../support/prometheus-text.js';

const request = { method: 'GET', route: '/dicom-web/studies', status: 200, seconds: 0.012, bytesIn: 120, bytesOut: 4000 };

describe('the strict Prometheus text parser of the tests', () => {
  it('reads counters, gauges and histograms with escaped label values', () => {
    const text = [
      '# HELP a_total Things.',
      '# TYPE a_total counter',
      'a_total{x="q\\"uote\\\\slash\\nline"} 3',
      '# TYPE g gauge',
      'g -1.5e3',
      '# TYPE lag gauge',
      'lag Nan',
      '# TYPE h histogram',
      'h_bucket{le="0.1"} 1',
      'h_bucket{le="+Inf"} 2',
      'h_sum 0.3',
      'h_count 2',
      '',
    ].join('\n');
    const families = parsePrometheusText(text);
    assert.equal(sampleValue(families, 'a_total', { x: 'q"uote\\slash\nline' }), 3);
    assert.equal(sampleValue(families, 'g'), -1500);
    assert.ok(Number.isNaN(sampleValue(families, 'lag'))); // prom-client writes NaN so; Go's ParseFloat takes any case
    assert.equal(families.get('h')?.type, 'histogram');
  });

  it('refuses what the format forbids', () => {
    const cases: Array<[string, RegExp]> = [
      ['# TYPE a counter\na 1', /does not end with a newline/],
      ['a 1\n', /before the TYPE/],
      ['# TYPE a counter\na{x="\\t"} 1\n', /bad escape/],
      ['# TYPE a counter\na{x="1"} 1\na{x="1"} 2\n', /the same sample twice/],
      ['# TYPE a counter\na -1\n', /negative/],
      ['# TYPE a counter\na  1\n', /one space/],
      ['# TYPE a counter\na{x="1",x="2"} 1\n', /label x twice/],
      ['# TYPE a counter\na 1\n# TYPE b gauge\nb 1\na 2\n', /two places/],
      ['# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n', /not cumulative/],
      ['# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3\n', /not the _count/],
      ['# TYPE a gauge\na one\n', /bad value/],
    ];
    for (const [text, problem] of cases) assert.throws(() => parsePrometheusText(text), problem, JSON.stringify(text));
  });
});

describe('GatewayMetrics', () => {
  it('exposes every metric in valid text format, with methods outside the standard ones as OTHER', async () => {
    const metrics = new GatewayMetrics();
    metrics.request(request);
    metrics.request({ ...request, method: 'BREW', route: UNMATCHED_ROUTE, status: 405 });
    metrics.instancesStored(2);
    metrics.instancesDeleted(1);
    metrics.integrityFailures('read');
    metrics.authentication({ outcome: 'failure', method: 'basic', lockedNow: [{ scope: 'user' }, { scope: 'client' }] });
    metrics.authentication({ outcome: 'success', method: 'basic' });
    const families = parsePrometheusText(await metrics.exposition());
    assert.equal(sampleValue(families, 'aegis_http_requests_total', { method: 'GET', route: '/dicom-web/studies', status: '200' }), 1);
    assert.equal(sampleValue(families, 'aegis_http_requests_total', { method: 'OTHER', route: 'unmatched', status: '405' }), 1);
    assert.equal(sampleValue(families, 'aegis_http_request_bytes_total', { method: 'GET' }), 120);
    assert.equal(sampleValue(families, 'aegis_http_response_bytes_total', { method: 'GET' }), 4000);
    assert.equal(sampleValue(families, 'aegis_http_request_duration_seconds_bucket', { method: 'GET', le: '0.025' }), 1);
    assert.equal(sampleValue(families, 'aegis_http_request_duration_seconds_bucket', { method: 'GET', le: '0.01' }), 0);
    assert.equal(sampleValue(families, 'aegis_instances_stored_total'), 2);
    assert.equal(sampleValue(families, 'aegis_instances_deleted_total'), 1);
    assert.equal(sampleValue(families, 'aegis_integrity_failures_total', { source: 'read' }), 1);
    assert.equal(sampleValue(families, 'aegis_integrity_failures_total', { source: 'scrub' }), 0);
    assert.equal(sampleValue(families, 'aegis_authentication_failures_total', { method: 'basic', outcome: 'failure' }), 1);
    assert.equal(sampleValue(families, 'aegis_lockouts_total', { scope: 'user' }), 1);
    assert.equal(sampleValue(families, 'aegis_lockouts_total', { scope: 'client' }), 1);
    for (const name of ['process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) assert.ok(families.has(name), name);
  });

  it('are the metrics docs/metrics.md lists, no more and no fewer', async () => {
    const doc = readFileSync(new URL('../../../docs/metrics.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `(aegis_[a-z_]+)` +\| (\w+) /gm)].map((m) => `${m[1]} ${m[2]}`);
    const families = parsePrometheusText(await new GatewayMetrics({ processMetrics: false }).exposition());
    assert.deepEqual(documented.sort(), [...families.values()].map((f) => `${f.name} ${f.type}`).sort());
  });

  it('times every backend call through the resilience wrapper and counts its failures by code', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aegis-metrics-store-'));
    try {
      const metrics = new GatewayMetrics({ processMetrics: false });
      const settings = { timeoutSeconds: 5, retries: { attempts: 0, initialDelayMs: 1, maxDelayMs: 1 }, breaker: { failures: 100, halfOpenAfterSeconds: 1 } };
      const store = withResilience(withGatewayErrors(new FsFragmentStore({ name: 'local', path: dir })), settings, createLogger('silent'), (call) => metrics.backendCall(call));
      const ref = await store.put('a/fragment', Buffer.from('bytes'));
      assert.deepEqual(await store.get(ref.locator), Buffer.from('bytes'));
      await assert.rejects(store.get('a/missing'), { code: 'NOT_FOUND' });
      const families = parsePrometheusText(await metrics.exposition());
      assert.equal(sampleValue(families, 'aegis_backend_call_duration_seconds_count', { backend: 'local', kind: 'fs', operation: 'put', outcome: 'ok' }), 1);
      assert.equal(sampleValue(families, 'aegis_backend_call_duration_seconds_count', { backend: 'local', kind: 'fs', operation: 'get', outcome: 'ok' }), 1);
      assert.equal(sampleValue(families, 'aegis_backend_call_duration_seconds_count', { backend: 'local', kind: 'fs', operation: 'get', outcome: 'error' }), 1);
      assert.equal(sampleValue(families, 'aegis_backend_errors_total', { backend: 'local', operation: 'get', code: 'NOT_FOUND' }), 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('merges two processes the way the primary of a cluster does: counters and histograms add up', async () => {
    const [one, two] = [new GatewayMetrics(), new GatewayMetrics()];
    one.request(request);
    two.request(request);
    two.request({ ...request, status: 500 });
    one.instancesStored(3);
    two.instancesStored(4);
    const merged = AggregatorRegistry.aggregate([await one.registry.getMetricsAsJSON(), await two.registry.getMetricsAsJSON()]);
    const families = parsePrometheusText(await merged.metrics());
    assert.equal(sampleValue(families, 'aegis_instances_stored_total'), 7);
    assert.equal(sampleValue(families, 'aegis_http_requests_total', { status: '200' }), 2);
    assert.equal(sampleValue(families, 'aegis_http_requests_total', { status: '500' }), 1);
    assert.equal(sampleValue(families, 'aegis_http_request_duration_seconds_count', { method: 'GET' }), 3);
  });
});
