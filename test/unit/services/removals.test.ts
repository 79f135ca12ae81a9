/**
 * The removal ledger at work: a delete that fails is recorded and retried until it succeeds; a
 * store that deletes only best-effort is recorded as such; the shred key of a removed instance is
 * destroyed before its fragments go; the stats count what awaits physical removal.
 */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FragmentStore } from '../../../adapters/fragment-store.js';
import { FsFragmentStore } from '../../../adapters/fs/fs-store.js';
import { Catalog } from '../../../gateway/catalog/catalog.js';
import { RemovalLedger } from '../../../gateway/catalog/removal-ledger.js';
import { MemoryShredKeyStore, newInstanceKey } from '../../../gateway/keys/instance-keys.js';
import { Keyring } from '../../../gateway/keys/keyring.js';
import type { MasterKey } from '../../../gateway/keys/master-key.js';
import { createLogger } from '../../../gateway/logger.js';
import { removeStoredInstance, retryRemovals } from '../../../gateway/services/removals.js';

/** A store in front of a folder whose deletes fail while `down` is set, or that deletes best-effort. */
function flaky(inner: FsFragmentStore, name: string, options: { bestEffort?: boolean } = {}): FragmentStore & { down: boolean } {
  const store = Object.create(inner) as FragmentStore & { down: boolean };
  Object.defineProperties(store, {
    name: { value: name },
    capabilities: { value: { ...inner.capabilities, delete: options.bestEffort ? 'best-effort' : 'certain' } },
    down: { value: false, writable: true },
    delete: {
      value: async (locator: string) => {
        if (store.down) throw new Error(`${name} is unreachable`);
        return inner.delete(locator);
      },
    },
  });
  return store;
}

describe('removals', () => {
  let dir: string;
  let catalog: Catalog;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aegis-removals-'));
    catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
  });
  after(async () => {
    await catalog.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('destroys the shred key, records a failed delete and a best-effort one, and retries the failed one until it succeeds', async () => {
    const folder = new FsFragmentStore({ name: 'folder', path: join(dir, 'stores') });
    const down = flaky(folder, 'down');
    const ipfsLike = flaky(folder, 'ipfs-like', { bestEffort: true });
    const stores = new Map<string, FragmentStore>([
      ['folder', folder],
      ['down', down],
      ['ipfs-like', ipfsLike],
    ]);
    for (const key of ['f/0', 'f/1', 'f/2', 'm/0']) await folder.put(key, Buffer.from(key));
    const vault = new MemoryShredKeyStore();
    const k1 = { id: 'k1', secret: createSecretKey(randomBytes(32)), createdAt: new Date(), source: 'file', development: false } as MasterKey;
    const keyring = new Keyring([k1], k1).useShredKeys(vault);
    const { record } = newInstanceKey(keyring);
    const manifest = JSON.stringify({
      dataKey: record,
      fragments: [
        { backend: 'folder', locator: 'f/0' },
        { backend: 'down', locator: 'f/1' },
        { backend: 'ipfs-like', locator: 'f/2' },
      ],
    });
    down.down = true;
    const logger = createLogger('silent');
    await removeStoredInstance({ stores, logger, keyring, catalog }, { manifest, backend: 'folder', locator: 'm/0' });
    assert.equal(vault.size, 0, 'the shred key is destroyed');
    assert.equal(await folder.has('f/0'), false);
    assert.equal(await folder.has('m/0'), false);
    assert.equal(await folder.has('f/1'), true, 'the failed delete left it');
    assert.equal(await folder.has('f/2'), false);
    const ledger = new RemovalLedger(catalog.db);
    assert.deepEqual(await ledger.totals(), { total: 2, failed: 1, bestEffort: 1, backends: { down: { failed: 1, bestEffort: 0 }, 'ipfs-like': { failed: 0, bestEffort: 1 } } });
    assert.deepEqual(
      (await ledger.failed()).map((r) => [r.backend, r.locator, r.attempts, r.detail]),
      [['down', 'f/1', 1, 'down is unreachable']],
    );

    assert.deepEqual(await retryRemovals({ catalog, stores, logger }), { retried: 1, removed: 0, bestEffort: 0, failed: 1 });
    assert.equal((await ledger.failed())[0].attempts, 2);
    down.down = false;
    assert.deepEqual(await retryRemovals({ catalog, stores, logger }), { retried: 1, removed: 1, bestEffort: 0, failed: 0 });
    assert.equal(await folder.has('f/1'), false);
    assert.deepEqual(await ledger.totals(), { total: 1, failed: 0, bestEffort: 1, backends: { 'ipfs-like': { failed: 0, bestEffort: 1 } } });
  });
});
