/**
 * The `s3` adapter: the shared FragmentStore contract against a real S3 server (s3rver, started
 * once for this file), a fresh key prefix per case; plus what only S3 shows: the exact bytes of a
 * streamed upload stored in the bucket (no aws-chunked framing), multipart uploads, objects outside
 * the key alphabet, and errors translated at the edge.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { FragmentStoreError } from '../../../../adapters/fragment-store.js';
import { S3_CAPABILITIES, S3FragmentStore } from '../../../../adapters/s3/s3-store.js';
import { runFragmentStoreSuite } from '../../../contract/fragment-store.suite.js';
import { collect, expectCode } from '../../../support/fragment-stores.js';
import { freePort } from '../../../support/ports.js';
import { startS3rver, type TestS3Server } from '../../../support/s3rver.js';

const BUCKET = 'aegis-test';
let s3: TestS3Server;
let cases = 0;

before(async () => {
  s3 = await startS3rver([BUCKET, 'other']);
});
after(async () => {
  await s3.stop();
});

function s3Store(options: { prefix?: string; bucket?: string; endpoint?: string; timeoutMs?: number; partBytes?: number } = {}): S3FragmentStore {
  return new S3FragmentStore({
    name: 'bucket',
    endpoint: options.endpoint ?? s3.endpoint,
    region: 'us-east-1',
    bucket: options.bucket ?? BUCKET,
    prefix: options.prefix,
    forcePathStyle: true,
    credentials: s3.credentials,
    timeoutMs: options.timeoutMs,
    partBytes: options.partBytes,
  });
}

runFragmentStoreSuite('s3', {
  capabilities: S3_CAPABILITIES,
  async create() {
    // Each case its own prefix in the one bucket: cases that list see only their own objects.
    const store = s3Store({ prefix: `case-${++cases}-${randomBytes(3).toString('hex')}/` });
    return { store, cleanup: async () => undefined };
  },
  unresponsive(endpoint, timeoutMs) {
    return s3Store({ endpoint: endpoint.url, timeoutMs });
  },
});

describe('S3FragmentStore (s3-specific)', () => {
  it('a streamed body is stored as exactly its bytes (no aws-chunked framing in the object)', async () => {
    const store = s3Store({ prefix: 'framing/' });
    const data = randomBytes(10);
    await store.put('f/ab/x.0', {
      stream: (async function* () {
        yield data;
      })(),
      length: 10,
    });
    const onDisk = await readFile(join(s3.directory, BUCKET, 'framing/f/ab/x.0._S3rver_object'));
    assert.deepEqual(onDisk, data);
    await store.close();
  });

  it('a streamed body larger than the part size goes up in parts and reads back exactly', async () => {
    const store = s3Store({ prefix: 'multipart/', partBytes: 5 * 1024 * 1024 });
    const data = randomBytes(11 * 1024 * 1024 + 5);
    async function* chunks() {
      for (let i = 0; i < data.length; i += 1 << 20) yield data.subarray(i, i + (1 << 20));
    }
    const ref = await store.put('big', { stream: chunks(), length: data.length });
    assert.deepEqual(ref, { locator: 'big', length: data.length });
    assert.deepEqual(await store.get('big'), data);
    assert.deepEqual(await store.get('big', { range: { start: 5 * 1024 * 1024 - 2, end: 5 * 1024 * 1024 + 2 } }), data.subarray(5 * 1024 * 1024 - 2, 5 * 1024 * 1024 + 2));
    await store.close();
  });

  it('keys carry the prefix in the bucket; objects outside the key alphabet and the probe are not listed', async () => {
    const store = s3Store({ prefix: 'listing/' });
    await store.put('a/b', Buffer.from('b'));
    const raw = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials });
    await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'listing/has space', Body: 'x' }));
    await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'listing/~probe-1', Body: 'x' }));
    raw.destroy();
    await store.check();
    assert.deepEqual(await collect(store.list()), ['a/b']);
    assert.deepEqual(await readFile(join(s3.directory, BUCKET, 'listing/a/b._S3rver_object'), 'utf8'), 'b');
    await store.close();
  });

  it('an invalid prefix is refused when the store is made', () => {
    for (const prefix of ['no-slash', '/abs/', 'a//', 'sp ace/']) {
      assert.throws(
        () => s3Store({ prefix }),
        (error: unknown) => error instanceof FragmentStoreError && error.code === 'BAD_REQUEST',
        prefix,
      );
    }
  });

  it('a missing bucket is BACKEND_UNAVAILABLE, with the SDK error as cause', async () => {
    const store = s3Store({ bucket: 'no-such-bucket' });
    const error = await expectCode(store.put('k', Buffer.from('x')), 'BACKEND_UNAVAILABLE');
    assert.equal((error.cause as Error).name, 'NoSuchBucket');
    await expectCode(store.check(), 'BACKEND_UNAVAILABLE');
    await store.close();
  });

  it('a refused connection is BACKEND_UNAVAILABLE from every call', async () => {
    const store = s3Store({ endpoint: `http://127.0.0.1:${await freePort()}`, timeoutMs: 10_000 });
    const error = await expectCode(store.get('k'), 'BACKEND_UNAVAILABLE');
    assert.match(String((error.cause as { code?: string }).code ?? (error.cause as Error).message), /ECONNREFUSED/);
    await expectCode(store.put('k', Buffer.from('x')), 'BACKEND_UNAVAILABLE');
    await expectCode(store.has('k'), 'BACKEND_UNAVAILABLE');
    await expectCode(store.delete('k'), 'BACKEND_UNAVAILABLE');
    await expectCode(collect(store.list()), 'BACKEND_UNAVAILABLE');
    await store.close();
  });

  it('a missing key is NOT_FOUND with NoSuchKey as cause', async () => {
    const store = s3Store({ prefix: 'missing/' });
    const error = await expectCode(store.get('nothing'), 'NOT_FOUND');
    assert.equal((error.cause as Error).name, 'NoSuchKey');
    await store.close();
  });
});
