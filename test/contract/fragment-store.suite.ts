/**
 * The contract every {@link FragmentStore} adapter runs (CONVENTIONS.md, after hono's
 * `src/router/common.case.test.ts`): fs, s3, ipfs and dicomweb register these same cases against a
 * real store. Every case has a name; an adapter that cannot honour one lists it in `skip` with the
 * reason, and the case shows up as skipped with that reason. Cases assert exact bytes, values and
 * error codes, never just "some error".
 *
 * Each case gets a fresh store from `create()`; afterwards the suite calls `store.close()` and then
 * `cleanup()`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { FragmentStoreError, type ByteRange, type FragmentRef, type FragmentStore, type FragmentStoreErrorCode } from '../../adapters/fragment-store.js';

/** What an adapter's test file passes to {@link runFragmentStoreSuite}. */
export interface FragmentStoreSuiteOptions {
  /** A fresh, empty store for one case, and how to remove whatever it left behind. */
  create(): Promise<{ store: FragmentStore; cleanup(): Promise<void> }>;
  /** Case name -> why this adapter cannot pass it. Unknown names are an error. */
  skip?: Record<string, string>;
}

type Case = (store: FragmentStore) => Promise<void>;

/** Keys the contract says are invalid, with the name of their case. */
const INVALID_KEYS: string[] = [
  '../x',
  '/abs',
  'a//b',
  'a/./b',
  '',
  'a'.repeat(600),
  'a\\b',
  '.',
  '..',
  'a/..',
  'a/',
  'a b',
  'a\u0000b',
  'caf\u00e9',
];

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
    assert.deepEqual(await collect(store.list()), [...refs.values()].map((r) => r.locator).sort());
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
    assert.deepEqual(await store.get(locator, { start: 0, end: 10 }), data.subarray(0, 10));
    assert.deepEqual(await store.get(locator, { start: 0, end: 1 }), data.subarray(0, 1));
  },
  'range read: middle': async (store) => {
    const data = randomBytes(1000);
    const { locator } = await store.put('r', data);
    assert.deepEqual(await store.get(locator, { start: 123, end: 877 }), data.subarray(123, 877));
  },
  'range read: end': async (store) => {
    const data = randomBytes(1000);
    const { locator } = await store.put('r', data);
    assert.deepEqual(await store.get(locator, { start: 990, end: 1000 }), data.subarray(990));
    assert.deepEqual(await store.get(locator, { start: 0, end: 1000 }), data);
  },
  'range read: beyond the end returns what exists': async (store) => {
    const data = randomBytes(1000);
    const { locator } = await store.put('r', data);
    assert.deepEqual(await store.get(locator, { start: 900, end: 5000 }), data.subarray(900));
    assert.deepEqual(await store.get(locator, { start: 1000, end: 1001 }), Buffer.alloc(0));
    assert.deepEqual(await store.get(locator, { start: 2000, end: 3000 }), Buffer.alloc(0));
  },
  'range read: empty range': async (store) => {
    const data = randomBytes(1000);
    const { locator } = await store.put('r', data);
    assert.deepEqual(await store.get(locator, { start: 0, end: 0 }), Buffer.alloc(0));
    assert.deepEqual(await store.get(locator, { start: 500, end: 500 }), Buffer.alloc(0));
    const empty = await store.put('e', new Uint8Array(0));
    assert.deepEqual(await store.get(empty.locator, { start: 0, end: 10 }), Buffer.alloc(0));
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
      await expectCode(store.get(locator, range), 'BAD_REQUEST', `get ${JSON.stringify(range)}`);
      await expectCode(store.stream(locator, range), 'BAD_REQUEST', `stream ${JSON.stringify(range)}`);
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
      const got = await readAll(await store.stream(locator, { start, end }));
      assert.deepEqual(got, data.subarray(Math.min(start, data.length), Math.min(end, data.length)), `range ${start}-${end}`);
    }
  },
  'get of a missing locator is NOT_FOUND': async (store) => {
    await expectCode(store.get(await missingLocator(store)), 'NOT_FOUND');
    await expectCode(store.get(await missingLocator(store), { start: 0, end: 10 }), 'NOT_FOUND');
  },
  'stream of a missing locator rejects with NOT_FOUND': async (store) => {
    await expectCode(store.stream(await missingLocator(store)), 'NOT_FOUND');
    await expectCode(store.stream(await missingLocator(store), { start: 0, end: 10 }), 'NOT_FOUND');
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
    assert.deepEqual(await collect(store.list()), [keep.locator]);
    assert.equal(await store.delete(gone.locator), false);
    assert.deepEqual(await store.get(keep.locator), Buffer.from('keep'));
  },
  'list: empty store yields nothing': async (store) => {
    assert.deepEqual(await collect(store.list()), []);
    assert.deepEqual(await collect(store.list('a/')), []);
  },
  'list: all fragments, nested, in sorted order': async (store) => {
    const keys = ['b', 'a/x', 'a-b', 'a.b', 'a/b/c', 'a/b/a', 'z/y/x/w', 'A', '0', 'a/bc'];
    const locators: string[] = [];
    for (const key of keys) locators.push((await store.put(key, Buffer.from(key))).locator);
    assert.deepEqual(await collect(store.list()), [...locators].sort());
    assert.deepEqual(await collect(store.list('')), [...locators].sort());
  },
  'list: with a prefix': async (store) => {
    const keys = ['a/b/c', 'a/b/d', 'a/bc', 'a/x', 'ab', 'b/a'];
    for (const key of keys) await store.put(key, Buffer.from(key));
    const expect = async (prefix: string, keys: string[]): Promise<void> => {
      assert.deepEqual(await collect(store.list(prefix)), keys, `prefix ${JSON.stringify(prefix)}`);
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
        assert.deepEqual(await collect(store.list()), []);
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
    assert.deepEqual(await collect(store.list('c/')), refs.map((r) => r.locator).sort());
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
    assert.ok(values.some((v) => v.equals(final)), 'the final content is none of the values put concurrently');
    assert.equal(final.length, values.find((v) => v.equals(final))?.length);
    assert.deepEqual(await collect(store.list()), [locator]);
  },
  'check() resolves on a writable store': async (store) => {
    await store.check();
    assert.deepEqual(await collect(store.list()), []);
  },
};

/**
 * Registers the contract cases for one adapter under `describe(name)`. Throws at registration when
 * `skip` names a case that does not exist (a typo would otherwise silently run the case).
 */
export function runFragmentStoreSuite(name: string, options: FragmentStoreSuiteOptions): void {
  const skip = options.skip ?? {};
  const unknown = Object.keys(skip).filter((k) => !(k in cases));
  if (unknown.length > 0) throw new Error(`runFragmentStoreSuite(${name}): unknown cases in skip: ${unknown.join(', ')}`);
  describe(`FragmentStore contract: ${name}`, () => {
    for (const [caseName, run] of Object.entries(cases)) {
      const reason = skip[caseName];
      if (reason !== undefined) {
        it(caseName, { skip: reason }, () => undefined);
        continue;
      }
      it(caseName, async () => {
        const { store, cleanup } = await options.create();
        try {
          await run(store);
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

/** The names of all contract cases, for adapters building their `skip` map. */
export const FRAGMENT_STORE_CASES: readonly string[] = Object.keys(cases);

async function roundTrip(store: FragmentStore, key: string, data: Uint8Array): Promise<void> {
  const ref = await store.put(key, data);
  assert.equal(ref.length, data.byteLength);
  const got = await store.get(ref.locator);
  assert.ok(Buffer.isBuffer(got), 'get resolves to a Buffer');
  assert.deepEqual(got, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  assert.deepEqual(await readAll(await store.stream(ref.locator)), Buffer.from(data));
  assert.deepEqual(await collect(store.list()), [ref.locator]);
}

/** A locator of a fragment that does not exist (the locator a deleted fragment had). */
async function missingLocator(store: FragmentStore): Promise<string> {
  const ref = await store.put(`missing-${randomBytes(4).toString('hex')}`, Buffer.from('soon gone'));
  assert.equal(await store.delete(ref.locator), true);
  return ref.locator;
}

/** Asserts that `promise` rejects with a {@link FragmentStoreError} of exactly `code`. */
async function expectCode(promise: Promise<unknown>, code: FragmentStoreErrorCode, message?: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof FragmentStoreError, `${message ?? ''} expected a FragmentStoreError, got ${String(error)}`);
    assert.equal(error.code, code, message);
    return true;
  });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

function describeKey(key: string): string {
  if (key.length > 40) return `of ${Buffer.byteLength(key)} bytes`;
  return JSON.stringify(key);
}
