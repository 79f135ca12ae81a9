/**
 * The contract every {@link FragmentStore} adapter runs (after hono's shared router cases): fs, s3,
 * ipfs and dicomweb register these same cases against a real store. An adapter does not choose what
 * to skip: it declares its {@link FragmentStoreCapabilities}, and {@link CAPABILITY_SKIPS} says
 * which cases each missing capability rules out and why; those cases show up as skipped with that
 * reason, every other case runs. A name in that table that is not a case is an error at
 * registration. Cases assert exact bytes, values and error codes, never just "some error"; checks
 * that need `list` (nothing else was written) are made where the store can list.
 *
 * Each case gets a fresh store from `create()`; afterwards the suite calls `store.close()` and then
 * `cleanup()`. The timeout case points a store of the adapter's kind at a TCP server that accepts
 * connections and never answers (`unresponsive`, required of network stores).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ByteRange, FragmentRef, FragmentStore, FragmentStoreCapabilities } from '../../adapters/fragment-store.js';
import { collect, expectCode } from '../support/fragment-stores.js';

/** What an adapter's test file passes to {@link runFragmentStoreSuite}. */
export interface FragmentStoreSuiteOptions {
  /** What the adapter's stores declare; every store `create()` makes must declare exactly this. */
  capabilities: FragmentStoreCapabilities;
  /** A fresh, empty store for one case, and how to remove whatever it left behind. */
  create(): Promise<{ store: FragmentStore; cleanup(): Promise<void> }>;
  /**
   * A store of this kind whose server is `endpoint` (it accepts connections and never answers),
   * with a per-call timeout of `timeoutMs`. Required when `capabilities.network`.
   */
  unresponsive?(endpoint: { host: string; port: number; url: string }, timeoutMs: number): FragmentStore;
  /**
   * A locator of this store's form that it never handed out, for calls that must time out before
   * anything is asked; default a CID for content-addressed stores, a key for the others.
   */
  unusedLocator?: string;
}

/** What a case gets: the fresh store, and the suite's options. */
type Case = (store: FragmentStore, options: FragmentStoreSuiteOptions) => Promise<void>;

/**
 * The cases a missing capability rules out, with the reason the skip carries. Only these skips
 * exist; each names the capability it follows from.
 */
export const CAPABILITY_SKIPS: ReadonlyArray<{ applies(c: FragmentStoreCapabilities): boolean; reason: string; cases: readonly string[] }> = [
  {
    applies: (c) => !c.overwrite,
    reason: 'capabilities.overwrite is false: a put under a used key stores a new fragment with its own locator, nothing is replaced',
    cases: ['overwrite replaces (longer, then shorter)', '10 concurrent puts to the same key leave exactly one value, readers never see a mix', 'stream body: a wrong length leaves the previous fragment whole'],
  },
  {
    applies: (c) => !c.list,
    reason: 'capabilities.list is false: the store cannot enumerate its fragments by key',
    cases: ['list: empty store yields nothing', 'list: all fragments, nested, each once', 'list: with a prefix'],
  },
  {
    applies: (c) => c.list,
    reason: 'capabilities.list is true: the store lists, so it never answers UNSUPPORTED to a listing',
    cases: ['list: a store that cannot list says UNSUPPORTED'],
  },
  {
    applies: (c) => !c.contentAddressed,
    reason: 'capabilities.contentAddressed is false: the locator is not derived from the bytes alone',
    cases: ['content-addressed: equal bytes under two keys share a locator'],
  },
  {
    applies: (c) => c.overwrite,
    reason: 'capabilities.overwrite is true: a rewrite replaces the fragment under its locator',
    cases: ['content-addressed: the locator is not the key; a rewrite gets a new locator and the old one stays readable until deleted'],
  },
  {
    applies: (c) => !c.overwrite,
    reason: 'capabilities.overwrite is false: every fragment put under a key has its own locator, so the locator cannot be the key',
    cases: ['key-addressed: the locator is the key'],
  },
  {
    applies: (c) => !c.network,
    reason: 'capabilities.network is false: a local store has no connection that can hang without an answer',
    cases: ['timeout: against a server that never answers, every call fails with BACKEND_TIMEOUT within the timeout'],
  },
];

/** Keys the contract says are invalid, with the name of their case. */
const INVALID_KEYS: string[] = ['../x', '/abs', 'a//b', 'a/./b', '', 'a'.repeat(600), 'a\\b', '.', '..', 'a/..', 'a/', 'a b', 'a\u0000b', 'caf\u00e9'];

/** The longest valid key: 512 bytes, in segments short enough for any file system. */
const LONGEST_KEY = `${'k'.repeat(200)}/${'l'.repeat(200)}/${'m'.repeat(110)}`;

const cases: Record<string, Case> = {
  'put/get round trip: empty': async (store) => {
    await roundTrip(store, 'empty', new Uint8Array(0));
  },
  'put/get round trip: 1 byte': async (store) => {
    await roundTrip(store, 'one', Uint8Array.of(0x5a));
  },
  'put/get round trip: 5 MB random': async (store) => {
    await roundTrip(store, 'big/5mb', randomBytes(5 * 1024 * 1024));
  },
  'binary content with all 256 byte values round-trips': async (store) => {
    const data = Buffer.alloc(1024);
    for (let i = 0; i < data.length; i++) data[i] = i < 512 ? i % 256 : 255 - (i % 256);
    await roundTrip(store, 'bytes', data);
  },
  'put stores only the bytes of a Uint8Array view': async (store) => {
    const backing = randomBytes(300);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 100, 50);
    const ref = await store.put('view', view);
    assert.equal(ref.length, 50);
    assert.deepEqual(await store.get(ref.locator), Buffer.from(backing.subarray(100, 150)));
  },
  'the returned ref reads back and its length is exact': async (store) => {
    const data = randomBytes(12345);
    const ref = await store.put('study/series/instance/skeleton', data);
    assert.equal(typeof ref.locator, 'string');
    assert.notEqual(ref.locator, '');
    assert.equal(ref.length, 12345);
    assert.deepEqual(await store.get(ref.locator), data);
    assert.equal(await store.has(ref.locator), true);
  },
  'keys of every allowed character, dotfile-like segments included, round-trip': async (store) => {
    // '.tmp-abc' and '.hidden' look like the temp or hidden files an adapter might use itself.
    const keys = ['AZaz09._-', '.hidden', '..x/.y/z..', '-/_/a', '.tmp-abc', 'a.b/c-d/e_f', '...'];
    const refs = new Map<string, FragmentRef>();
    for (const key of keys) {
      const data = Buffer.from(`content of ${key}`);
      const ref = await store.put(key, data);
      refs.set(key, ref);
      assert.deepEqual(await store.get(ref.locator), data);
    }
    await expectListed(store, '', [...refs.values()].map((r) => r.locator).sort());
  },
  'the longest valid key (512 bytes) round-trips': async (store) => {
    assert.equal(Buffer.byteLength(LONGEST_KEY), 512);
    await roundTrip(store, LONGEST_KEY, randomBytes(64));
  },
  'overwrite replaces (longer, then shorter)': async (store) => {
    await store.put('k', randomBytes(1000));
    const longer = randomBytes(5000);
    await store.put('k', longer);
    assert.deepEqual(await store.get('k'), longer);
    const shorter = randomBytes(10);
    const ref = await store.put('k', shorter);
    assert.equal(ref.length, 10);
    assert.deepEqual(await store.get(ref.locator), shorter);
    assert.deepEqual(await collect(store.list()), [ref.locator]);
  },
  'range read: start': async (store) => {
    const data = randomBytes(1000);
    const { locator } = await store.put('r', data);
    assert.deepEqual(await store.get(locator, { range: { start: 0, end: 10 } }), data.subarray(0, 10));
    assert.deepEqual(await store.get(locator, { range: { start: 0, end: 1 } }), data.subarray(0, 1));
  },
  'range read: middle': async (store) => {
    const data = randomBytes(1000);
    const { locator } = await store.put('r', data);
    assert.deepEqual(await store.get(locator, { range: { start: 123, end: 877 } }), data.subarray(123, 877));
  },
  'range read: end': async (store) => {
    const data = randomBytes(1000);
    const { locator } = await store.put('r', data);
    assert.deepEqual(await store.get(locator, { range: { start: 990, end: 1000 } }), data.subarray(990));
    assert.deepEqual(await store.get(locator, { range: { start: 0, end: 1000 } }), data);
  },
  'range read: beyond the end returns what exists': async (store) => {
    const data = randomBytes(1000);
    const { locator } = await store.put('r', data);
    assert.deepEqual(await store.get(locator, { range: { start: 900, end: 5000 } }), data.subarray(900));
    assert.deepEqual(await store.get(locator, { range: { start: 1000, end: 1001 } }), Buffer.alloc(0));
    assert.deepEqual(await store.get(locator, { range: { start: 2000, end: 3000 } }), Buffer.alloc(0));
  },
  'range read: empty range': async (store) => {
    const data = randomBytes(1000);
    const { locator } = await store.put('r', data);
    assert.deepEqual(await store.get(locator, { range: { start: 0, end: 0 } }), Buffer.alloc(0));
    assert.deepEqual(await store.get(locator, { range: { start: 500, end: 500 } }), Buffer.alloc(0));
    const empty = await store.put('e', new Uint8Array(0));
    assert.deepEqual(await store.get(empty.locator, { range: { start: 0, end: 10 } }), Buffer.alloc(0));
  },
  'range read: an invalid range is BAD_REQUEST': async (store) => {
    const { locator } = await store.put('r', randomBytes(100));
    const bad: ByteRange[] = [
      { start: 10, end: 5 },
      { start: -1, end: 5 },
      { start: 0.5, end: 5 },
      { start: 0, end: Number.NaN },
    ];
    for (const range of bad) {
      await expectCode(store.get(locator, { range: range }), 'BAD_REQUEST', `get ${JSON.stringify(range)}`);
      await expectCode(store.stream(locator, { range: range }), 'BAD_REQUEST', `stream ${JSON.stringify(range)}`);
    }
  },
  'stream: whole fragment equals the bytes': async (store) => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const { locator } = await store.put('s', data);
    assert.deepEqual(await readAll(await store.stream(locator)), data);
    const empty = await store.put('e', new Uint8Array(0));
    assert.deepEqual(await readAll(await store.stream(empty.locator)), Buffer.alloc(0));
  },
  'stream: ranges equal the bytes': async (store) => {
    const data = randomBytes(200_000);
    const { locator } = await store.put('s', data);
    const ranges: Array<[number, number]> = [
      [0, 1],
      [0, 65_536],
      [65_535, 131_073],
      [199_999, 200_000],
      [150_000, 999_999],
      [200_000, 200_001],
      [300_000, 300_100],
      [42, 42],
    ];
    for (const [start, end] of ranges) {
      const got = await readAll(await store.stream(locator, { range: { start, end } }));
      assert.deepEqual(got, data.subarray(Math.min(start, data.length), Math.min(end, data.length)), `range ${start}-${end}`);
    }
  },
  'get of a missing locator is NOT_FOUND': async (store) => {
    await expectCode(store.get(await missingLocator(store)), 'NOT_FOUND');
    await expectCode(store.get(await missingLocator(store), { range: { start: 0, end: 10 } }), 'NOT_FOUND');
  },
  'stream of a missing locator rejects with NOT_FOUND': async (store) => {
    await expectCode(store.stream(await missingLocator(store)), 'NOT_FOUND');
    await expectCode(store.stream(await missingLocator(store), { range: { start: 0, end: 10 } }), 'NOT_FOUND');
  },
  'delete of a missing locator returns false': async (store) => {
    assert.equal(await store.delete(await missingLocator(store)), false);
  },
  'has: true after put, false for a missing locator': async (store) => {
    const ref = await store.put('present', Buffer.from('x'));
    assert.equal(await store.has(ref.locator), true);
    assert.equal(await store.has(await missingLocator(store)), false);
  },
  'delete frees the fragment': async (store) => {
    const keep = await store.put('d/keep', Buffer.from('keep'));
    const gone = await store.put('d/gone', randomBytes(4096));
    assert.equal(await store.delete(gone.locator), true);
    assert.equal(await store.has(gone.locator), false);
    await expectCode(store.get(gone.locator), 'NOT_FOUND');
    await expectCode(store.stream(gone.locator), 'NOT_FOUND');
    await expectListed(store, '', [keep.locator]);
    assert.equal(await store.delete(gone.locator), false);
    assert.deepEqual(await store.get(keep.locator), Buffer.from('keep'));
  },
  'list: empty store yields nothing': async (store) => {
    assert.deepEqual(await collect(store.list()), []);
    assert.deepEqual(await collect(store.list('a/')), []);
  },
  'list: all fragments, nested, each once': async (store) => {
    const keys = ['b', 'a/x', 'a-b', 'a.b', 'a/b/c', 'a/b/a', 'z/y/x/w', 'A', '0', 'a/bc'];
    const locators: string[] = [];
    for (const key of keys) locators.push((await store.put(key, Buffer.from(key))).locator);
    assert.deepEqual((await collect(store.list())).sort(), [...locators].sort());
    assert.deepEqual((await collect(store.list(''))).sort(), [...locators].sort());
  },
  'list: with a prefix': async (store) => {
    const keys = ['a/b/c', 'a/b/d', 'a/bc', 'a/x', 'ab', 'b/a'];
    for (const key of keys) await store.put(key, Buffer.from(key));
    const expect = async (prefix: string, keys: string[]): Promise<void> => {
      assert.deepEqual((await collect(store.list(prefix))).sort(), keys, `prefix ${JSON.stringify(prefix)}`);
    };
    await expect('a/', ['a/b/c', 'a/b/d', 'a/bc', 'a/x']);
    await expect('a/b/', ['a/b/c', 'a/b/d']);
    await expect('a/b', ['a/b/c', 'a/b/d', 'a/bc']);
    await expect('a', ['a/b/c', 'a/b/d', 'a/bc', 'a/x', 'ab']);
    await expect('a/b/c', ['a/b/c']);
    await expect('b/', ['b/a']);
    await expect('c', []);
    await expect('a/b/c/d', []);
  },
  ...Object.fromEntries(
    INVALID_KEYS.map((key): [string, Case] => [
      `invalid key ${describeKey(key)} is BAD_REQUEST and writes nothing`,
      async (store) => {
        await expectCode(store.put(key, Buffer.from('x')), 'BAD_REQUEST');
        await expectListed(store, '', []);
      },
    ]),
  ),
  '20 concurrent puts to distinct keys all land': async (store) => {
    const values = Array.from({ length: 20 }, (_, i) => randomBytes(1000 + i * 997));
    const refs = await Promise.all(values.map((v, i) => store.put(`c/${String(i).padStart(2, '0')}`, v)));
    for (let i = 0; i < 20; i++) {
      assert.equal(refs[i].length, values[i].length);
      assert.deepEqual(await store.get(refs[i].locator), values[i]);
    }
    await expectListed(store, 'c/', refs.map((r) => r.locator).sort());
  },
  '10 concurrent puts to the same key leave exactly one value, readers never see a mix': async (store) => {
    const first = randomBytes(100_000);
    const values = Array.from({ length: 10 }, (_, i) => randomBytes(100_000 + i * 4099));
    const { locator } = await store.put('same', first);
    const known = [first, ...values];
    const isKnown = (b: Buffer): boolean => known.some((v) => v.equals(b));
    let writing = true;
    const reader = (async () => {
      let reads = 0;
      while (writing || reads === 0) {
        const got = await store.get(locator);
        assert.ok(isKnown(got), `a reader saw ${got.length} bytes that are none of the written values`);
        reads++;
      }
    })();
    const refs = await Promise.all(values.map((v) => store.put('same', v)));
    writing = false;
    await reader;
    const final = await store.get(refs[0].locator);
    assert.ok(
      values.some((v) => v.equals(final)),
      'the final content is none of the values put concurrently',
    );
    assert.equal(final.length, values.find((v) => v.equals(final))?.length);
    assert.deepEqual(await collect(store.list()), [locator]);
  },
  'check() resolves on a writable store': async (store) => {
    await store.check();
    await expectListed(store, '', []);
  },
  'list: a store that cannot list says UNSUPPORTED': async (store) => {
    await expectCode(collect(store.list()), 'UNSUPPORTED');
    await expectCode(collect(store.list('m/')), 'UNSUPPORTED');
  },
  'key-addressed: the locator is the key': async (store) => {
    assert.deepEqual(await store.put('a/b.1', Buffer.from('x')), { locator: 'a/b.1', length: 1 });
    assert.deepEqual(await store.get('a/b.1'), Buffer.from('x'));
  },
  'content-addressed: the locator is not the key; a rewrite gets a new locator and the old one stays readable until deleted': async (store) => {
    const first = randomBytes(2000);
    const second = randomBytes(3000);
    const a = await store.put('m/ab/copy', first);
    assert.notEqual(a.locator, 'm/ab/copy');
    assert.equal(await store.has('m/ab/copy').catch(() => false), false, 'the key is not a locator');
    const b = await store.put('m/ab/copy', second);
    assert.notEqual(b.locator, a.locator);
    assert.equal(b.length, 3000);
    assert.deepEqual(await store.get(a.locator), first);
    assert.deepEqual(await store.get(b.locator), second);
    assert.equal(await store.delete(a.locator), true);
    await expectCode(store.get(a.locator), 'NOT_FOUND');
    assert.deepEqual(await store.get(b.locator), second);
  },
  'content-addressed: equal bytes under two keys share a locator': async (store) => {
    const data = randomBytes(500);
    const a = await store.put('f/ab/one.0', data);
    const b = await store.put('f/cd/two.0', Buffer.from(data));
    assert.equal(a.locator, b.locator);
    assert.deepEqual(await store.get(b.locator), data);
  },
  'stream body: { stream, length } round-trips, 5 MB in 64 KiB chunks': async (store) => {
    const data = randomBytes(5 * 1024 * 1024 + 3);
    const ref = await store.put('streamed/5mb', { stream: chunked(data, 64 * 1024), length: data.length });
    assert.equal(ref.length, data.length);
    assert.deepEqual(await store.get(ref.locator), data);
    assert.deepEqual(await store.get(ref.locator, { range: { start: 4_000_000, end: 4_000_100 } }), data.subarray(4_000_000, 4_000_100));
    await expectListed(store, 'streamed/', [ref.locator]);
  },
  'stream body: a Readable of one chunk, and an empty stream, round-trip': async (store) => {
    const data = randomBytes(1000);
    const one = await store.put('one', { stream: Readable.from([data]), length: 1000 });
    assert.deepEqual(await store.get(one.locator), data);
    const empty = await store.put('empty', { stream: Readable.from([]), length: 0 });
    assert.equal(empty.length, 0);
    assert.deepEqual(await store.get(empty.locator), Buffer.alloc(0));
  },
  'stream body: longer or shorter than its length is BAD_REQUEST and stores nothing': async (store) => {
    const data = randomBytes(200_000);
    await expectCode(store.put('long', { stream: chunked(data, 65_536), length: 199_999 }), 'BAD_REQUEST', 'longer');
    await expectCode(store.put('short', { stream: chunked(data, 65_536), length: 200_001 }), 'BAD_REQUEST', 'shorter');
    await expectCode(store.put('bad', { stream: chunked(data, 65_536), length: -1 }), 'BAD_REQUEST', 'negative length');
    await expectListed(store, '', []);
    if (locatorIsKey(store)) {
      assert.equal(await store.has('long'), false);
      assert.equal(await store.has('short'), false);
    }
  },
  'stream body: a wrong length leaves the previous fragment whole': async (store) => {
    const old = randomBytes(100_000);
    const ref = await store.put('k', old);
    await expectCode(store.put('k', { stream: chunked(randomBytes(150_000), 65_536), length: 100_000 }), 'BAD_REQUEST');
    assert.deepEqual(await store.get(ref.locator), old);
    await expectListed(store, '', ['k']);
  },
  'abort: an aborted signal rejects every call with its reason, and nothing is written': async (store) => {
    const ref = await store.put('kept', Buffer.from('kept'));
    const controller = new AbortController();
    const reason = new Error('the caller gave up');
    controller.abort(reason);
    const signal = controller.signal;
    const calls: Array<[string, Promise<unknown>]> = [
      ['put', store.put('new', Buffer.from('never'), { signal })],
      ['put stream', store.put('new2', { stream: chunked(randomBytes(10_000), 1000), length: 10_000 }, { signal })],
      ['get', store.get(ref.locator, { signal })],
      ['get range', store.get(ref.locator, { range: { start: 0, end: 2 }, signal })],
      ['stream', store.stream(ref.locator, { signal })],
      ['has', store.has(ref.locator, { signal })],
      ['delete', store.delete(ref.locator, { signal })],
      ['check', store.check({ signal })],
    ];
    if (store.capabilities.list) calls.push(['list', collect(store.list('', { signal }))]);
    for (const [what, call] of calls) await assert.rejects(call, (error) => error === reason, `${what} rejects with the caller's reason`);
    assert.deepEqual(await store.get(ref.locator), Buffer.from('kept'));
    await expectListed(store, '', [ref.locator]);
    if (locatorIsKey(store)) assert.equal(await store.has('new'), false);
  },
  'abort: a put aborted while its stream flows rejects promptly, stops reading it, and nothing half-written is visible': async (store) => {
    const old = randomBytes(50_000);
    const ref = await store.put('k', old);
    const controller = new AbortController();
    let sent = 0;
    // A body that trickles: 64 KiB, then more every 50 ms, never reaching its 64 MiB length.
    async function* trickle(): AsyncGenerator<Uint8Array> {
      for (;;) {
        const chunk = randomBytes(65_536);
        sent += chunk.length;
        yield chunk;
        if (sent >= 4 * 65_536) controller.abort(new Error('aborted mid-stream'));
        await sleep(50);
      }
    }
    const started = Date.now();
    await assert.rejects(store.put('k', { stream: trickle(), length: 64 * 1024 * 1024 }, { signal: controller.signal }), /aborted mid-stream/);
    assert.ok(Date.now() - started < 5000, `the aborted put settled after ${Date.now() - started} ms`);
    const sentAtAbort = sent;
    await sleep(300);
    assert.ok(sent - sentAtAbort <= 65_536, `the aborted put went on reading its body: ${sent - sentAtAbort} bytes more`);
    assert.deepEqual(await store.get(ref.locator), old);
    await expectListed(store, '', [ref.locator]);
  },
  'timeout: against a server that never answers, every call fails with BACKEND_TIMEOUT within the timeout': async (_store, options) => {
    assert.ok(options.unresponsive, 'a network store must give the suite `unresponsive` to test its timeout');
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const timeoutMs = 400;
    const store = options.unresponsive({ host: '127.0.0.1', port, url: `http://127.0.0.1:${port}` }, timeoutMs);
    try {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['put', () => store.put('k', randomBytes(1000))],
        ['put stream', () => store.put('k', { stream: chunked(randomBytes(100_000), 10_000), length: 100_000 })],
        ['get', () => store.get(plausibleLocator(store, options))],
        ['get range', () => store.get(plausibleLocator(store, options), { range: { start: 0, end: 10 } })],
        ['stream', () => store.stream(plausibleLocator(store, options))],
        ['has', () => store.has(plausibleLocator(store, options))],
        ['delete', () => store.delete(plausibleLocator(store, options))],
        ['check', () => store.check()],
      ];
      if (store.capabilities.list) calls.push(['list', () => collect(store.list())]);
      await Promise.all(
        calls.map(async ([what, call]) => {
          const started = Date.now();
          await expectCode(call(), 'BACKEND_TIMEOUT', what);
          const took = Date.now() - started;
          assert.ok(took >= timeoutMs - 50 && took < timeoutMs + 1500, `${what} failed after ${took} ms, timeout ${timeoutMs} ms`);
        }),
      );
      assert.ok(sockets.size > 0 || server.listening, 'the calls reached the server');
    } finally {
      await store.close().catch(() => undefined);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  },
};

/**
 * Registers the contract cases for one adapter under `describe(name)`. Throws at registration when
 * `skip` names a case that does not exist (a typo would otherwise silently run the case).
 */
export function runFragmentStoreSuite(name: string, options: FragmentStoreSuiteOptions): void {
  const skip = skipsFor(options.capabilities);
  if (options.capabilities.network && options.unresponsive === undefined) throw new Error(`runFragmentStoreSuite(${name}): a network store must give \`unresponsive\``);
  describe(`FragmentStore contract: ${name}`, () => {
    for (const [caseName, run] of Object.entries(cases)) {
      const reason = skip.get(caseName);
      if (reason !== undefined) {
        it(caseName, { skip: reason }, () => undefined);
        continue;
      }
      it(caseName, async () => {
        const { store, cleanup } = await options.create();
        try {
          assert.deepEqual({ ...store.capabilities }, { ...options.capabilities }, 'the store declares the capabilities the suite was given');
          await run(store, options);
        } finally {
          try {
            await store.close();
          } finally {
            await cleanup();
          }
        }
      });
    }
  });
}

/** The names of all contract cases. */
export const FRAGMENT_STORE_CASES: readonly string[] = Object.keys(cases);

/**
 * Case name -> skip reason for a store with `capabilities`, from {@link CAPABILITY_SKIPS}. Throws
 * when the table names a case that does not exist (a typo would otherwise silently run the case).
 */
export function skipsFor(capabilities: FragmentStoreCapabilities): Map<string, string> {
  const skips = new Map<string, string>();
  for (const rule of CAPABILITY_SKIPS) {
    const unknown = rule.cases.filter((c) => !(c in cases));
    if (unknown.length > 0) throw new Error(`CAPABILITY_SKIPS names unknown cases: ${unknown.join(', ')}`);
    if (rule.applies(capabilities)) for (const c of rule.cases) skips.set(c, rule.reason);
  }
  return skips;
}

/** Where the store can list: asserts that the fragments under `prefix` are exactly `locators`. */
async function expectListed(store: FragmentStore, prefix: string, locators: string[]): Promise<void> {
  if (store.capabilities.list) assert.deepEqual((await collect(store.list(prefix))).sort(), [...locators].sort(), `list(${JSON.stringify(prefix)})`);
}

/** True when the locator a put returns is its key: neither derived from the bytes nor one locator per put. */
function locatorIsKey(store: FragmentStore): boolean {
  return !store.capabilities.contentAddressed && store.capabilities.overwrite;
}

/** A locator of the store's form that it never handed out (for calls that must time out first). */
function plausibleLocator(store: FragmentStore, options: FragmentStoreSuiteOptions): string {
  if (options.unusedLocator !== undefined) return options.unusedLocator;
  return store.capabilities.contentAddressed ? 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy' : 'f/ab/never-written.0';
}

/** `data` as an async stream of `size`-byte chunks (copies, so the caller's buffer is not shared). */
async function* chunked(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    yield Buffer.from(data.subarray(i, i + size));
  }
}

async function roundTrip(store: FragmentStore, key: string, data: Uint8Array): Promise<void> {
  const ref = await store.put(key, data);
  assert.equal(ref.length, data.byteLength);
  const got = await store.get(ref.locator);
  assert.ok(Buffer.isBuffer(got), 'get resolves to a Buffer');
  assert.deepEqual(got, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  assert.deepEqual(await readAll(await store.stream(ref.locator)), Buffer.from(data));
  await expectListed(store, '', [ref.locator]);
}

/** A locator of a fragment that does not exist (the locator a deleted fragment had). */
async function missingLocator(store: FragmentStore): Promise<string> {
  const ref = await store.put(`missing-${randomBytes(4).toString('hex')}`, Buffer.from('soon gone'));
  assert.equal(await store.delete(ref.locator), true);
  return ref.locator;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

function describeKey(key: string): string {
  if (key.length > 40) return `of ${Buffer.byteLength(key)} bytes`;
  return JSON.stringify(key);
}
