import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsFragmentStore } from '../../../../adapters/fs/fs-store.js';
import type { FragmentStore } from '../../../../adapters/fragment-store.js';
import { sweepOrphans } from '../../../../gateway/services/admin/orphans.js';

type Row = { backend: string; locator: string; manifest: string | null };

/** A catalog holding `rows` (the sweep reads nothing else of it). */
function catalogOf(rows: Row[]) {
  return {
    async *storedInstances() {
      yield* rows;
    },
  };
}

const manifest = (fragments: unknown[]) => JSON.stringify({ fragments });

describe('sweepOrphans', () => {
  let dir: string;
  let a: FsFragmentStore;
  let b: FsFragmentStore;
  let stores: Map<string, FragmentStore>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aegis-orphans-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function freshStores() {
    const base = await mkdtemp(join(dir, 's-'));
    a = new FsFragmentStore({ name: 'a', path: join(base, 'a') });
    b = new FsFragmentStore({ name: 'b', path: join(base, 'b') });
    stores = new Map<string, FragmentStore>([
      ['a', a],
      ['b', b],
    ]);
    for (const key of ['copies/m1', 'f/1', 'f/2', 'instances/x.dcm', 'f/orphan-a']) await a.put(key, new Uint8Array([1, 2, 3]));
    for (const key of ['shards/s0', 'shards/s1', 'shards/orphan-b']) await b.put(key, new Uint8Array([4]));
  }

  const rows: Row[] = [
    {
      backend: 'a',
      locator: 'copies/m1',
      manifest: manifest([
        { backend: 'a', locator: 'f/1' },
        { backend: 'a', locator: 'f/2' },
        {
          shards: [
            { backend: 'b', locator: 'shards/s0' },
            { backend: 'b', locator: 'shards/s1' },
          ],
        },
      ]),
    },
    { backend: 'a', locator: 'instances/x.dcm', manifest: null },
  ];

  async function keys(store: FsFragmentStore): Promise<string[]> {
    const out: string[] = [];
    for await (const k of store.list()) out.push(k);
    return out.sort();
  }

  it('removes exactly the pieces no record references, after the grace', async () => {
    await freshStores();
    const waited: number[] = [];
    const report = await sweepOrphans({ catalog: catalogOf(rows), stores }, { graceMs: 600_000, sleep: async (ms) => void waited.push(ms) });
    assert.deepEqual(waited, [600_000]);
    assert.deepEqual(report, {
      backends: {
        a: { listed: 5, unreferenced: 1, adopted: 0, removed: 1, failed: [] },
        b: { listed: 3, unreferenced: 1, adopted: 0, removed: 1, failed: [] },
      },
      unlistable: [],
    });
    assert.deepEqual(await keys(a), ['copies/m1', 'f/1', 'f/2', 'instances/x.dcm']);
    assert.deepEqual(await keys(b), ['shards/s0', 'shards/s1']);
    assert.deepEqual(await readdir(join(a.root, 'f')), ['1', '2']);
  });

  it('keeps a piece that a commit referenced during the grace (an in-flight STOW)', async () => {
    await freshStores();
    const live = [...rows];
    const report = await sweepOrphans({ catalog: catalogOf(live), stores }, { graceMs: 1, sleep: async () => void live.push({ backend: 'a', locator: 'f/orphan-a', manifest: null }) });
    assert.deepEqual(report.backends.a, { listed: 5, unreferenced: 1, adopted: 1, removed: 0, failed: [] });
    assert.deepEqual(report.backends.b, { listed: 3, unreferenced: 1, adopted: 0, removed: 1, failed: [] });
    assert.deepEqual(await keys(a), ['copies/m1', 'f/1', 'f/2', 'f/orphan-a', 'instances/x.dcm']);
  });

  it('removes nothing on a dry run, and names the backends it cannot list', async () => {
    await freshStores();
    const unlistable = { name: 'pacs', capabilities: { ...a.capabilities, list: false } } as FragmentStore;
    stores.set('pacs', unlistable);
    const report = await sweepOrphans({ catalog: catalogOf(rows), stores }, { graceMs: 0, dryRun: true });
    assert.deepEqual(report.unlistable, ['pacs']);
    assert.equal(report.backends.a.unreferenced, 1);
    assert.equal(report.backends.a.removed, 0);
    assert.deepEqual(await keys(a), ['copies/m1', 'f/1', 'f/2', 'f/orphan-a', 'instances/x.dcm']);
  });
});
