/**
 * The `fs` adapter: the shared FragmentStore contract on a fresh temp directory per case, plus what
 * only a file system can show (temp files, the root boundary, directories, durability plumbing).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { FS_CAPABILITIES, FS_TEMP_PREFIX, FsFragmentStore } from '../../../../adapters/fs/fs-store.js';
import { runFragmentStoreSuite } from '../../../contract/fragment-store.suite.js';
import { collect, expectCode } from '../../../support/fragment-stores.js';

runFragmentStoreSuite('fs', {
  capabilities: FS_CAPABILITIES,
  async create() {
    const base = await mkdtemp(join(tmpdir(), 'aegis-fs-contract-'));
    const store = new FsFragmentStore({ name: 'local', path: join(base, 'store') });
    return { store, cleanup: () => rm(base, { recursive: true, force: true }) };
  },
});

describe('FsFragmentStore (fs-specific)', () => {
  let base: string;
  let root: string;
  let store: FsFragmentStore;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'aegis-fs-'));
    root = join(base, 'store');
    store = new FsFragmentStore({ name: 'local', path: root });
  });

  afterEach(async () => {
    await store.close();
    await rm(base, { recursive: true, force: true });
  });

  it('has kind fs, the configured name and an absolute root', () => {
    assert.equal(store.kind, 'fs');
    assert.equal(store.name, 'local');
    assert.equal(store.root, root);
  });

  it('creates its root on first use, not at construction', async () => {
    assert.equal(existsSync(root), false);
    await store.put('a', Buffer.from('x'));
    assert.equal((await stat(root)).isDirectory(), true);
  });

  it('stores a fragment as the file root/key, with no temp file left behind', async () => {
    const data = Buffer.from('fragment bytes');
    const ref = await store.put('s1/se1/i1/region-0', data);
    assert.deepEqual(ref, { locator: 's1/se1/i1/region-0', length: data.length });
    assert.deepEqual(await readFile(join(root, 's1/se1/i1/region-0')), data);
    assert.deepEqual(await readdir(join(root, 's1/se1/i1')), ['region-0']);
  });

  it('a crash-left temp file is not listed, and a sweep removes it', async () => {
    await store.put('a/b', Buffer.from('b'));
    const stale = join(root, 'a', `${FS_TEMP_PREFIX}deadbeef`);
    await writeFile(stale, 'half a fragment');
    assert.deepEqual(await collect(store.list()), ['a/b']);
    assert.deepEqual(await collect(store.list('a/')), ['a/b']);
    assert.equal(await store.sweepTempFiles({ olderThanMs: 0 }), 1);
    assert.equal(existsSync(stale), false);
    assert.deepEqual(await readdir(join(root, 'a')), ['b']);
  });

  it('the automatic sweep on first use removes old temp files and spares young ones', async () => {
    await mkdir(join(root, 'x'), { recursive: true });
    const old = join(root, 'x', `${FS_TEMP_PREFIX}old`);
    const young = join(root, `${FS_TEMP_PREFIX}young`);
    await writeFile(old, 'old');
    await writeFile(young, 'young');
    const hourAgo = new Date(Date.now() - 3_600_000);
    await utimes(old, hourAgo, hourAgo);
    const fresh = new FsFragmentStore({ name: 'again', path: root });
    assert.deepEqual(await collect(fresh.list()), []);
    await fresh.close(); // waits for the background sweep
    assert.equal(existsSync(old), false);
    assert.equal(existsSync(young), true);
  });

  it('a key cannot escape the root (checked on the file system)', async () => {
    const outside = join(base, 'outside');
    await mkdir(root, { recursive: true });
    const escapes = ['../outside', '../outside/x', `/${outside.slice(1)}`, `${outside}`, 'a/../../outside', '..'];
    for (const key of escapes) {
      await expectCode(store.put(key, Buffer.from('escaped')), 'BAD_REQUEST');
      await expectCode(store.get(key), 'BAD_REQUEST');
      await expectCode(store.stream(key), 'BAD_REQUEST');
      await expectCode(store.has(key), 'BAD_REQUEST');
      await expectCode(store.delete(key), 'BAD_REQUEST');
    }
    assert.deepEqual((await readdir(base)).sort(), ['store']);
    assert.deepEqual(await readdir(root), []);
  });

  it('reads and deletes of invalid locators never touch files outside the root', async () => {
    const secret = join(base, 'secret');
    await writeFile(secret, 'do not read');
    await expectCode(store.get('../secret'), 'BAD_REQUEST');
    await expectCode(store.delete('../secret'), 'BAD_REQUEST');
    assert.deepEqual(await readFile(secret, 'utf8'), 'do not read');
  });

  it('delete removes the directories it leaves empty, up to but not including the root', async () => {
    await store.put('a/b/c/d', Buffer.from('d'));
    await store.put('a/x', Buffer.from('x'));
    assert.equal(await store.delete('a/b/c/d'), true);
    assert.equal(existsSync(join(root, 'a/b')), false);
    assert.deepEqual(await readdir(join(root, 'a')), ['x']);
    assert.equal(await store.delete('a/x'), true);
    assert.deepEqual(await readdir(root), []);
    assert.equal((await stat(root)).isDirectory(), true);
  });

  it('a directory of other keys is not a fragment: has false, get NOT_FOUND, delete false', async () => {
    await store.put('dir/inner', Buffer.from('inner'));
    assert.equal(await store.has('dir'), false);
    await expectCode(store.get('dir'), 'NOT_FOUND');
    await expectCode(store.stream('dir'), 'NOT_FOUND');
    assert.equal(await store.delete('dir'), false);
    assert.deepEqual(await store.get('dir/inner'), Buffer.from('inner'));
  });

  it('a key that collides with a file or a directory is CONFLICT and leaves the data intact', async () => {
    await store.put('a', Buffer.from('file a'));
    await expectCode(store.put('a/b', Buffer.from('below a file')), 'CONFLICT');
    await store.put('d/e', Buffer.from('file d/e'));
    await expectCode(store.put('d', Buffer.from('over a directory')), 'CONFLICT');
    assert.deepEqual(await store.get('a'), Buffer.from('file a'));
    assert.deepEqual(await store.get('d/e'), Buffer.from('file d/e'));
    assert.deepEqual(await collect(store.list()), ['a', 'd/e']);
    assert.deepEqual(await readdir(join(root, 'd')), ['e']);
  });

  it('a segment longer than the file system allows is BAD_REQUEST', async () => {
    await expectCode(store.put('x'.repeat(300), Buffer.from('x')), 'BAD_REQUEST');
    assert.deepEqual(await readdir(root), []);
  });

  it('files that are not keys (foreign names, symlinks) are not listed', async () => {
    await store.put('k', Buffer.from('k'));
    await writeFile(join(root, 'has space'), 'x');
    await writeFile(join(root, '~probe-1234'), 'x');
    await writeFile(join(base, 'outside'), 'outside the root');
    await symlink(join(base, 'outside'), join(root, 'link'));
    assert.deepEqual(await collect(store.list()), ['k']);
  });

  it('a symlink in place of a fragment is not followed', async () => {
    await mkdir(root, { recursive: true });
    await writeFile(join(base, 'outside'), 'outside the root');
    await symlink(join(base, 'outside'), join(root, 'link'));
    assert.equal(await store.has('link'), false);
    await expectCode(store.get('link'), 'NOT_FOUND');
    await expectCode(store.stream('link'), 'NOT_FOUND');
  });

  it('check() rejects with BACKEND_UNAVAILABLE when the root lies under a regular file', async () => {
    const file = join(base, 'plain-file');
    await writeFile(file, 'not a directory');
    const broken = new FsFragmentStore({ name: 'broken', path: join(file, 'store') });
    const error = await expectCode(broken.check(), 'BACKEND_UNAVAILABLE');
    assert.equal((error.cause as NodeJS.ErrnoException).code, 'ENOTDIR');
    await expectCode(broken.put('k', Buffer.from('k')), 'BACKEND_UNAVAILABLE');
    await broken.close();
  });

  it('check() leaves no probe file behind', async () => {
    await store.check();
    assert.deepEqual(await readdir(root), []);
  });

  it('a failed root creation is retried on the next call', async () => {
    const blocker = join(base, 'later');
    await writeFile(blocker, 'in the way');
    const retrying = new FsFragmentStore({ name: 'retry', path: blocker });
    await expectCode(retrying.check(), 'BACKEND_UNAVAILABLE');
    await rm(blocker);
    await retrying.check();
    await retrying.put('k', Buffer.from('now it works'));
    assert.deepEqual(await readFile(join(blocker, 'k'), 'utf8'), 'now it works');
    await retrying.close();
  });

  it('puts and deletes racing in one directory never fail', async () => {
    const rounds = Array.from({ length: 50 }, (_, i) => i);
    await Promise.all(
      rounds.map(async (i) => {
        await store.put(`race/${i}`, Buffer.from(String(i)));
        assert.equal(await store.delete(`race/${i}`), true);
      }),
    );
    assert.deepEqual(await collect(store.list()), []);
  });
});
