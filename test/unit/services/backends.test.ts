/**
 * Where adapter errors arrive in the gateway: a wrapped store answers every FragmentStoreError
 * with the GatewayError of the same code and message (so the HTTP status follows the catalogue),
 * the adapter's error as its cause, and passes results and other errors through unchanged.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FragmentStoreError, type FragmentStore } from '../../../adapters/fragment-store.js';
import { FsFragmentStore } from '../../../adapters/fs/fs-store.js';
import { GatewayError, type ErrorCode } from '../../../gateway/errors.js';
import { fromStoreError, withGatewayErrors } from '../../../gateway/services/backends.js';

describe('backends: adapter errors become gateway errors', () => {
  let base: string;
  let store: FragmentStore;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'aegis-backends-'));
    store = withGatewayErrors(new FsFragmentStore({ name: 'local', path: join(base, 'store') }));
  });

  afterEach(async () => {
    await store.close();
    await rm(base, { recursive: true, force: true });
  });

  it('keeps name and kind, and passes results through', async () => {
    assert.equal(store.name, 'local');
    assert.equal(store.kind, 'fs');
    const ref = await store.put('f/ab/x.0', Buffer.from('fragment'));
    assert.deepEqual(ref, { locator: 'f/ab/x.0', length: 8 });
    assert.deepEqual(await store.get(ref.locator, { range: { start: 1, end: 4 } }), Buffer.from('rag'));
    assert.equal(await store.has(ref.locator), true);
    const listed: string[] = [];
    for await (const locator of store.list('f/')) listed.push(locator);
    assert.deepEqual(listed, ['f/ab/x.0']);
    assert.equal(await store.delete(ref.locator), true);
  });

  it('a missing fragment is NOT_FOUND (404), an invalid key or range BAD_REQUEST (400), from every method', async () => {
    await expectGatewayError(store.get('f/ab/none.0'), 'NOT_FOUND', 404);
    await expectGatewayError(store.stream('f/ab/none.0'), 'NOT_FOUND', 404);
    await expectGatewayError(store.put('../escape', Buffer.from('x')), 'BAD_REQUEST', 400);
    await expectGatewayError(store.has('../escape'), 'BAD_REQUEST', 400);
    await expectGatewayError(store.delete('../escape'), 'BAD_REQUEST', 400);
    await store.put('k', Buffer.from('k'));
    await expectGatewayError(store.get('k', { range: { start: 2, end: 1 } }), 'BAD_REQUEST', 400);
  });

  it('a key the store cannot hold is CONFLICT (409); a store it cannot write BACKEND_UNAVAILABLE (503), in check and list too', async () => {
    await store.put('a', Buffer.from('file'));
    await expectGatewayError(store.put('a/b', Buffer.from('below a file')), 'CONFLICT', 409);
    const file = join(base, 'plain-file');
    await writeFile(file, 'not a directory');
    const broken = withGatewayErrors(new FsFragmentStore({ name: 'broken', path: join(file, 'store') }));
    await expectGatewayError(broken.check(), 'BACKEND_UNAVAILABLE', 503);
    await expectGatewayError(
      (async () => {
        for await (const locator of broken.list()) assert.fail(`nothing to list, got ${locator}`);
      })(),
      'BACKEND_UNAVAILABLE',
      503,
    );
    await broken.close();
  });

  it('fromStoreError keeps the message and cause, and leaves other errors alone', () => {
    const adapterError = new FragmentStoreError('BACKEND_TIMEOUT', 'no answer in 5 s', { cause: new Error('socket') });
    const translated = fromStoreError(adapterError);
    assert.ok(translated instanceof GatewayError, 'a GatewayError');
    assert.equal(translated.code, 'BACKEND_TIMEOUT');
    assert.equal(translated.status, 504);
    assert.equal(translated.message, 'no answer in 5 s');
    assert.equal(translated.cause, adapterError);
    const other = new TypeError('not a store error');
    assert.equal(fromStoreError(other), other);
  });
});

async function expectGatewayError(promise: Promise<unknown>, code: ErrorCode, status: number): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof GatewayError, `expected a GatewayError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.status, status);
    assert.ok(error.cause instanceof FragmentStoreError, 'the adapter error is the cause');
    assert.equal((error.cause as FragmentStoreError).code, code);
    return true;
  });
}
