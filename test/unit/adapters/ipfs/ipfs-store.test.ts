/**
 * The `ipfs` adapter: the shared FragmentStore contract against a real Kubo RPC endpoint (the
 * js-ipfs daemon, started once for this file), plus what only IPFS shows: CIDv1 raw-leaf locators,
 * delete as unpinning, locators that are not CIDs, and errors translated at the edge.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { IPFS_CAPABILITIES, IpfsFragmentStore } from '../../../../adapters/ipfs/ipfs-store.js';
import { runFragmentStoreSuite } from '../../../contract/fragment-store.suite.js';
import { expectCode } from '../../../support/fragment-stores.js';
import { startIpfsDaemon, type TestIpfsDaemon } from '../../../support/ipfs-daemon.js';
import { freePort } from '../../../support/ports.js';

let daemon: TestIpfsDaemon;

before(async () => {
  daemon = await startIpfsDaemon();
});
after(async () => {
  await daemon?.stop();
});

runFragmentStoreSuite('ipfs', {
  capabilities: IPFS_CAPABILITIES,
  async create() {
    return { store: new IpfsFragmentStore({ name: 'ipfs', url: daemon.url }), cleanup: async () => undefined };
  },
  unresponsive(endpoint, timeoutMs) {
    return new IpfsFragmentStore({ name: 'ipfs', url: `${endpoint.url}/api/v0`, timeoutMs });
  },
});

describe('IpfsFragmentStore (ipfs-specific)', () => {
  it('a locator is a CIDv1 of raw leaves: a small fragment is one raw block (bafkrei...)', async () => {
    const store = new IpfsFragmentStore({ name: 'ipfs', url: daemon.url });
    const small = await store.put('f/ab/x.0', randomBytes(1000));
    assert.match(small.locator, /^bafkrei[a-z2-7]{52}$/);
    const large = await store.put('f/ab/x.1', randomBytes(600_000));
    assert.match(large.locator, /^bafybei[a-z2-7]{52}$/, 'several raw leaves under a dag-pb node');
    await store.close();
  });

  it('delete unpins: has false, get NOT_FOUND at once (no search of the network), a second delete false', async () => {
    const store = new IpfsFragmentStore({ name: 'ipfs', url: daemon.url, timeoutMs: 5000 });
    const ref = await store.put('k', randomBytes(5000));
    assert.equal(await store.delete(ref.locator), true);
    assert.equal(await store.has(ref.locator), false);
    const started = Date.now();
    const error = await expectCode(store.get(ref.locator), 'NOT_FOUND');
    assert.ok(Date.now() - started < 2000);
    assert.match(String((error.cause as Error).message), /not pinned/);
    assert.equal(await store.delete(ref.locator), false);
    await store.close();
  });

  it('a locator that is not a CID is BAD_REQUEST from every call, before the node is asked', async () => {
    const store = new IpfsFragmentStore({ name: 'ipfs', url: daemon.url });
    for (const locator of ['f/ab/x.0', '../etc/passwd', 'bafy', '/ipfs/bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', '']) {
      await expectCode(store.get(locator), 'BAD_REQUEST');
      await expectCode(store.stream(locator), 'BAD_REQUEST');
      await expectCode(store.has(locator), 'BAD_REQUEST');
      await expectCode(store.delete(locator), 'BAD_REQUEST');
    }
    await store.close();
  });

  it('a refused connection is BACKEND_UNAVAILABLE, with the client error as cause', async () => {
    const store = new IpfsFragmentStore({ name: 'ipfs', url: `http://127.0.0.1:${await freePort()}/api/v0` });
    const error = await expectCode(store.put('k', Buffer.from('x')), 'BACKEND_UNAVAILABLE');
    assert.match(error.message, /ECONNREFUSED|fetch failed/);
    await expectCode(store.get('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'), 'BACKEND_UNAVAILABLE');
    await expectCode(store.check(), 'BACKEND_UNAVAILABLE');
    await store.close();
  });
});
