import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FS_CAPABILITIES, FsFragmentStore } from '../../../adapters/fs/fs-store.js';
import type { FragmentStore } from '../../../adapters/fragment-store.js';
import { LazyFragmentStore } from '../../../adapters/lazy-store.js';
import { openFragmentStore } from '../../../adapters/registry.js';
import { S3_CAPABILITIES } from '../../../adapters/capabilities.js';

const IDENTITY = { name: 'lazy', kind: 'fs', capabilities: FS_CAPABILITIES };

describe('LazyFragmentStore', () => {
  it('opens the real store once, on the first call, and delegates every call to it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aegis-lazy-'));
    let opened = 0;
    const store = new LazyFragmentStore(IDENTITY, async () => {
      opened++;
      return new FsFragmentStore({ name: 'lazy', path: dir });
    });
    assert.equal(opened, 0, 'nothing is opened before the first call');
    assert.deepEqual([store.name, store.kind, store.capabilities], ['lazy', 'fs', FS_CAPABILITIES]);
    const [a, b] = await Promise.all([store.put('a/1', Buffer.from('one')), store.put('a/2', Buffer.from('two'))]);
    assert.equal(opened, 1);
    assert.deepEqual(await store.get(a.locator), Buffer.from('one'));
    assert.equal(await store.has(b.locator), true);
    const listed: string[] = [];
    for await (const locator of store.list('a/')) listed.push(locator);
    assert.deepEqual(listed.sort(), [a.locator, b.locator].sort());
    assert.equal(await store.delete(b.locator), true);
    assert.equal(await store.has(b.locator), false);
    await store.check();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('tries the load again after a failed one, and closes nothing it never opened', async () => {
    let attempts = 0;
    const closed: string[] = [];
    const store = new LazyFragmentStore(IDENTITY, async () => {
      if (++attempts === 1) throw new Error('module failed to load');
      return { has: async () => true, close: async () => void closed.push('real') } as unknown as FragmentStore;
    });
    await assert.rejects(store.has('x'), /module failed to load/);
    assert.equal(await store.has('x'), true);
    assert.equal(attempts, 2);
    await store.close();
    assert.deepEqual(closed, ['real']);
    const never = new LazyFragmentStore(IDENTITY, async () => assert.fail('opened by close'));
    await never.close();
  });

  it('is what the registry hands out for a network kind, with its capabilities known unopened', () => {
    const store = openFragmentStore('s3', { name: 'cold', endpoint: 'http://127.0.0.1:9', region: 'us-east-1', bucket: 'b', credentials: { accessKeyId: 'a', secretAccessKey: 's' } });
    assert.ok(store instanceof LazyFragmentStore);
    assert.deepEqual([store.name, store.kind, store.capabilities], ['cold', 's3', S3_CAPABILITIES]);
  });
});
