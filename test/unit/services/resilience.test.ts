/**
 * The resilience of a backend (`gateway/services/resilience.ts`) over a real folder store whose
 * calls fail as each test scripts: what is retried and what never is, the overall deadline, the
 * circuit breaker (opens after consecutive failures, fails fast with 503 and Retry-After, a probe
 * closes it, both logged), and readiness (`gateway/services/readiness.ts`): bounded probes, the
 * short cache, the backends a write needs.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { CallOptions, FragmentBody, FragmentStore, ReadOptions } from '../../../adapters/fragment-store.js';
import { FsFragmentStore } from '../../../adapters/fs/fs-store.js';
import { GatewayError, isGatewayError, type ErrorCode } from '../../../gateway/errors.js';
import { createLogger } from '../../../gateway/logger.js';
import { withGatewayErrors } from '../../../gateway/services/backends.js';
import { backendsNeededToWrite, Readiness } from '../../../gateway/services/readiness.js';
import { withResilience, type ResilienceSettings } from '../../../gateway/services/resilience.js';

/** What the next calls do before reaching the real store: fail with a code, hang, or pass. */
type Fault = ErrorCode | 'hang' | 'pass';

/** A real folder store whose calls first take the next scripted fault; counts the calls per operation. */
class ScriptedStore implements FragmentStore {
  readonly faults: Fault[] = [];
  readonly calls: Record<string, number> = {};
  constructor(private readonly inner: FragmentStore) {}
  get name() {
    return this.inner.name;
  }
  get kind() {
    return this.inner.kind;
  }
  get capabilities() {
    return this.inner.capabilities;
  }
  private async fault(op: string, signal?: AbortSignal): Promise<void> {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
    const fault = this.faults.shift() ?? 'pass';
    if (fault === 'pass') return;
    if (fault === 'hang') {
      await new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason), { once: true }));
    }
    throw new GatewayError(fault as ErrorCode, `scripted ${fault}`);
  }
  async put(key: string, data: FragmentBody, options?: CallOptions) {
    await this.fault('put', options?.signal);
    return this.inner.put(key, data, options);
  }
  async get(locator: string, options?: ReadOptions) {
    await this.fault('get', options?.signal);
    return this.inner.get(locator, options);
  }
  async stream(locator: string, options?: ReadOptions) {
    await this.fault('stream', options?.signal);
    return this.inner.stream(locator, options);
  }
  async delete(locator: string, options?: CallOptions) {
    await this.fault('delete', options?.signal);
    return this.inner.delete(locator, options);
  }
  async has(locator: string, options?: CallOptions) {
    await this.fault('has', options?.signal);
    return this.inner.has(locator, options);
  }
  async *list(prefix?: string, options?: CallOptions) {
    await this.fault('list', options?.signal);
    yield* this.inner.list(prefix, options);
  }
  async check(options?: CallOptions) {
    await this.fault('check', options?.signal);
    return this.inner.check(options);
  }
  close() {
    return this.inner.close();
  }
}

const SETTINGS: ResilienceSettings = { timeoutSeconds: 1, retries: { attempts: 2, initialDelayMs: 5, maxDelayMs: 20 }, breaker: { failures: 3, halfOpenAfterSeconds: 0.3 } };

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<GatewayError> {
  const error = await promise.then(
    () => assert.fail(`expected ${code}`),
    (e: unknown) => e,
  );
  assert.ok(isGatewayError(error, code), `expected ${code}, got ${String(error)}`);
  return error;
}

describe('resilience: retries, deadline and circuit breaker of a backend', () => {
  let base: string;
  let scripted: ScriptedStore;
  let logs: Array<{ msg: string; backend?: string; error?: string }>;
  const build = (settings: ResilienceSettings = SETTINGS) => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as (typeof logs)[number]);
        done();
      },
    });
    return withResilience(scripted, settings, createLogger('info', sink));
  };

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'aegis-resilience-'));
    scripted = new ScriptedStore(withGatewayErrors(new FsFragmentStore({ name: 'flaky', path: join(base, 'store') })));
    logs = [];
  });
  afterEach(async () => {
    await scripted.close();
    await rm(base, { recursive: true, force: true });
  });

  it('retries BACKEND_UNAVAILABLE and BACKEND_TIMEOUT of idempotent calls, up to `attempts` times', async () => {
    const store = build();
    await store.put('f/a', Buffer.from('bytes'));
    scripted.faults.push('BACKEND_UNAVAILABLE', 'BACKEND_TIMEOUT');
    assert.deepEqual(await store.get('f/a'), Buffer.from('bytes'));
    assert.equal(scripted.calls.get, 3);
    scripted.faults.push('BACKEND_UNAVAILABLE', 'BACKEND_UNAVAILABLE', 'BACKEND_UNAVAILABLE');
    await expectCode(store.has('f/a'), 'BACKEND_UNAVAILABLE');
    assert.equal(scripted.calls.has, 3, 'the first attempt and two retries');
    scripted.faults.push('BACKEND_UNAVAILABLE');
    assert.deepEqual(await store.put('f/b', Buffer.from('again')), { locator: 'f/b', length: 5 }, 'a put of bytes is retried');
    assert.equal(scripted.calls.put, 3);
    scripted.faults.push('BACKEND_UNAVAILABLE');
    const listed: string[] = [];
    for await (const locator of store.list('f/')) listed.push(locator);
    assert.deepEqual(listed.sort(), ['f/a', 'f/b']);
    assert.equal(scripted.calls.list, 2);
  });

  it('never retries NOT_FOUND, BAD_REQUEST, CONFLICT, a put of a stream or a call its caller aborted', async () => {
    const store = build();
    for (const code of ['NOT_FOUND', 'BAD_REQUEST', 'CONFLICT'] as const) {
      scripted.faults.push(code);
      await expectCode(store.get('f/none'), code);
    }
    assert.equal(scripted.calls.get, 3, 'one attempt each');
    scripted.faults.push('BACKEND_UNAVAILABLE');
    await expectCode(store.put('f/s', { stream: Readable.from([Buffer.from('abc')]), length: 3 }), 'BACKEND_UNAVAILABLE');
    assert.equal(scripted.calls.put, 1, 'a stream cannot be replayed');
    const caller = new AbortController();
    scripted.faults.push('hang');
    const pending = store.get('f/none', { signal: caller.signal });
    setTimeout(() => caller.abort(new Error('client went away')), 20);
    await assert.rejects(pending, /client went away/);
    assert.equal(scripted.calls.get, 4);
    assert.equal(store.breakerState, 'closed', 'none of these counts against the breaker');
  });

  it('bounds a call, retries included, by the backend timeout: a hanging backend fails with BACKEND_TIMEOUT', async () => {
    const store = build();
    scripted.faults.push('hang', 'hang', 'hang');
    const start = performance.now();
    await expectCode(store.get('f/none'), 'BACKEND_TIMEOUT');
    const ms = performance.now() - start;
    assert.ok(ms >= 900 && ms < 3000, `took ${ms} ms`);
    assert.equal(scripted.calls.get, 1, 'no retry once the deadline is over');
  });

  it('does not cut off a stream that outlives the deadline of its opening', async () => {
    const store = build({ ...SETTINGS, timeoutSeconds: 0.2 });
    await store.put('f/long', Buffer.alloc(1000, 7));
    const stream = await store.stream('f/long');
    await new Promise((resolve) => setTimeout(resolve, 400));
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    assert.deepEqual(Buffer.concat(chunks), Buffer.alloc(1000, 7));
  });

  it('opens the breaker after consecutive failures, fails fast with 503 and Retry-After, and a successful probe closes it', async () => {
    const store = build({ ...SETTINGS, retries: { ...SETTINGS.retries, attempts: 0 } });
    for (let i = 0; i < 3; i++) {
      scripted.faults.push('BACKEND_UNAVAILABLE');
      await expectCode(store.has('f/x'), 'BACKEND_UNAVAILABLE');
    }
    assert.equal(store.breakerState, 'open');
    const start = performance.now();
    const refused = await expectCode(store.get('f/x'), 'BACKEND_UNAVAILABLE');
    assert.ok(performance.now() - start < 100, 'failed fast');
    assert.equal(refused.headers['Retry-After'], '1');
    assert.match(refused.message, /circuit breaker is open/);
    assert.equal(scripted.calls.get, undefined, 'the backend was not called');
    assert.deepEqual((await store.probe(500)).state, 'breaker-open');
    assert.deepEqual(
      logs.filter((l) => l.msg.startsWith('circuit breaker')).map((l) => [l.msg, l.backend, l.error]),
      [['circuit breaker opened', 'flaky', 'BACKEND_UNAVAILABLE']],
    );
    await new Promise((resolve) => setTimeout(resolve, 350));
    assert.deepEqual((await store.probe(500)).state, 'ok', 'once it may half-open, a readiness probe tests the backend');
    assert.equal(scripted.calls.check, 1);
    assert.equal(store.breakerState, 'closed');
    assert.equal(await store.has('f/x'), false);
    assert.deepEqual(
      logs.filter((l) => l.msg.startsWith('circuit breaker')).map((l) => l.msg),
      ['circuit breaker opened', 'circuit breaker half-open: probing the backend', 'circuit breaker closed'],
    );
  });

  it('a readiness probe that fails does not count against a closed breaker', async () => {
    const store = build({ ...SETTINGS, breaker: { failures: 1, halfOpenAfterSeconds: 30 } });
    scripted.faults.push('hang', 'BACKEND_UNAVAILABLE');
    const timedOut = await store.probe(100);
    assert.deepEqual([timedOut.state, timedOut.error], ['failing', 'BACKEND_TIMEOUT']);
    assert.ok(timedOut.latencyMs !== null && timedOut.latencyMs >= 90 && timedOut.latencyMs < 1000, `latency ${timedOut.latencyMs}`);
    assert.equal((await store.probe(100)).error, 'BACKEND_UNAVAILABLE');
    assert.equal(store.breakerState, 'closed');
  });

  it('a success between failures resets the count', async () => {
    const store = build({ ...SETTINGS, retries: { ...SETTINGS.retries, attempts: 0 } });
    for (const fault of ['BACKEND_TIMEOUT', 'BACKEND_TIMEOUT', 'pass', 'BACKEND_TIMEOUT', 'BACKEND_TIMEOUT'] as const) {
      scripted.faults.push(fault);
      await store.has('f/x').catch(() => undefined);
    }
    assert.equal(store.breakerState, 'closed');
  });

  it('readiness probes once per cache period, bounds a hanging backend and fails only for backends a write needs', async () => {
    const store = build();
    const other = new ScriptedStore(withGatewayErrors(new FsFragmentStore({ name: 'spare', path: join(base, 'spare') })));
    const readiness = new Readiness(
      {
        catalog: { check: () => Promise.resolve() },
        stores: new Map<string, FragmentStore>([
          ['flaky', store],
          ['spare', other],
        ]),
        required: ['flaky'],
      },
      { probeTimeoutMs: 300, cacheMs: 10_000 },
    );
    other.faults.push('hang');
    const start = performance.now();
    const [first, shared] = await Promise.all([readiness.report(), readiness.report()]);
    assert.ok(performance.now() - start < 1500, 'the hanging backend is not waited for');
    assert.equal(first, shared, 'concurrent callers share one probe');
    assert.equal(first.status, 'ready', 'spare is not needed to write');
    assert.deepEqual(
      first.backends.map((b) => [b.name, b.kind, b.required, b.state, b.error]),
      [
        ['flaky', 'fs', true, 'ok', null],
        ['spare', 'fs', false, 'failing', 'BACKEND_TIMEOUT'],
      ],
    );
    assert.equal(typeof first.backends[0].latencyMs, 'number');
    assert.deepEqual(first.checks, { catalog: 'ok', 'backend:flaky': 'ok', 'backend:spare': 'BACKEND_TIMEOUT' });
    scripted.faults.push('BACKEND_UNAVAILABLE');
    assert.equal(await readiness.report(), first, 'cached');
    assert.equal(scripted.calls.check, 1);
    const fresh = new Readiness({ catalog: { check: () => Promise.resolve() }, stores: new Map([['flaky', store]]), required: ['flaky'] }, { cacheMs: 0 });
    const failing = await fresh.report();
    assert.equal(failing.status, 'unavailable');
    assert.deepEqual([failing.backends[0].state, failing.backends[0].error], ['failing', 'BACKEND_UNAVAILABLE']);
    assert.equal(scripted.calls.check, 2, 'a probe is never retried');
    await other.close();
  });

  it('the backends a write needs are the instances backend and the region backends, or every backend of their groups', () => {
    assert.deepEqual(backendsNeededToWrite({ placement: { instances: 'local' } }), ['local']);
    assert.deepEqual(backendsNeededToWrite({ placement: { instances: 'local', regions: ['s3', 'local', 'ipfs'] } }), ['local', 's3', 'ipfs']);
    const groups = { spread: { scheme: 'erasure' as const, k: 2, backends: ['a', 'b', 'c', 'd'] } };
    assert.deepEqual(backendsNeededToWrite({ placement: { instances: 'spread', regions: ['spread'], groups } }), ['a', 'b', 'c', 'd'], 'every backend of a redundancy group');
  });
});
