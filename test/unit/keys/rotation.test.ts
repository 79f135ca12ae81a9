/**
 * Rotation: every data key is rewrapped under the active master key, fragments are untouched and
 * still decrypt; unknown or altered records are reported and left as they are.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isGatewayError } from '../../../gateway/errors.js';
import { fragmentAad } from '../../../gateway/keys/associated-data.js';
import { decryptFragment, encryptFragment, generateDataKey } from '../../../gateway/keys/envelope.js';
import { createKeyFile, keyDirectory } from '../../../gateway/keys/key-directory.js';
import { Keyring } from '../../../gateway/keys/keyring.js';
import { MemoryWrappedKeyStore } from '../../../gateway/keys/memory-wrapped-key-store.js';
import { rewrapDataKeys, type WrappedDataKey, type WrappedKeyStore } from '../../../gateway/keys/rotation.js';

const UIDS = ['1.2.3.1', '1.2.3.2', '1.2.3.3', '1.2.3.4'];
const aad = (uid: string) => fragmentAad({ sopInstanceUid: uid, role: 'skeleton', index: 0, manifestVersion: 1 });

describe('rewrapDataKeys', () => {
  let dataDir: string;
  const load = () => Keyring.load({ dataDir, env: {} });
  const newKey = () => createKeyFile(keyDirectory(dataDir), { development: false });
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'aegis-rotation-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('rewraps every data key under the new active key; the fragments still decrypt', async () => {
    await newKey();
    const k1 = await load();
    const store = new MemoryWrappedKeyStore();
    const fragments = new Map<string, Buffer>();
    for (const [i, uid] of UIDS.entries()) {
      if (i === 2) {
        await newKey(); // later instances under k2
      }
      const keyring = await load();
      const dataKey = generateDataKey();
      store.put({ id: uid, ...keyring.wrap(dataKey) });
      fragments.set(uid, encryptFragment(dataKey, Buffer.from(`fragment of ${uid}`), aad(uid)));
    }
    assert.deepEqual(
      UIDS.map((uid) => store.get(uid)?.keyId),
      ['k1', 'k1', 'k2', 'k2'],
    );
    const fragmentsBefore = new Map([...fragments].map(([uid, bytes]) => [uid, Buffer.from(bytes)]));

    await newKey();
    const k3 = await load();
    const report = await rewrapDataKeys(k3, store);
    assert.deepEqual(report, { activeKeyId: 'k3', examined: 4, rewrapped: 4, alreadyActive: 0, skipped: 0, failed: [] });
    for (const uid of UIDS) {
      const record = store.get(uid)!;
      assert.equal(record.keyId, 'k3', `${uid} under k3`);
      const dataKey = k3.unwrap(record);
      assert.equal(decryptFragment(dataKey, fragments.get(uid)!, aad(uid)).toString(), `fragment of ${uid}`, `${uid} decrypts`);
      assert.equal(fragments.get(uid)!.equals(fragmentsBefore.get(uid)!), true, 'fragment bytes untouched');
    }
    // Only k3 is needed now: a keyring of k3 alone unwraps everything; k1 alone nothing.
    assert.throws(
      () => k1.unwrap(store.get(UIDS[0])!),
      (e) => isGatewayError(e, 'KEY_NOT_FOUND'),
      'k1 no longer needed',
    );

    const again = await rewrapDataKeys(k3, store);
    assert.deepEqual(again, { activeKeyId: 'k3', examined: 4, rewrapped: 0, alreadyActive: 4, skipped: 0, failed: [] }, 'idempotent');
  });

  it('reports and leaves records it cannot unwrap, and carries on with the others', async () => {
    await newKey();
    const k1 = await load();
    const good = { id: '1.2.3.1', ...k1.wrap(generateDataKey()) };
    const altered = { id: '1.2.3.2', ...k1.wrap(generateDataKey()) };
    altered.wrapped[20] ^= 0x01;
    const orphan: WrappedDataKey = { id: '1.2.3.3', keyId: 'k0-lost', wrapped: k1.wrap(generateDataKey()).wrapped };
    const store = new MemoryWrappedKeyStore([good, altered, orphan]);
    await newKey();
    const report = await rewrapDataKeys(await load(), store);
    assert.equal(report.rewrapped, 1, 'the good one');
    assert.deepEqual(
      report.failed.map((f) => [f.id, f.keyId]),
      [
        ['1.2.3.2', 'k1'],
        ['1.2.3.3', 'k0-lost'],
      ],
    );
    assert.equal(store.get('1.2.3.2')!.wrapped.equals(altered.wrapped), true, 'altered record left as it is');
    assert.equal(store.get('1.2.3.3')!.keyId, 'k0-lost', 'orphan left as it is');
  });

  it('does not overwrite a record changed meanwhile (compare and set)', async () => {
    await newKey();
    const k1 = await load();
    const inner = new MemoryWrappedKeyStore([{ id: '1.2.3.1', ...k1.wrap(generateDataKey()) }]);
    const racing: WrappedKeyStore = {
      list: () => inner.list(),
      replace: async (next, expected) => {
        inner.put({ ...inner.get(next.id)!, keyId: 'someone-else' });
        return inner.replace(next, expected);
      },
    };
    await newKey();
    const report = await rewrapDataKeys(await load(), racing);
    assert.equal(report.skipped, 1, 'skipped');
    assert.equal(inner.get('1.2.3.1')!.keyId, 'someone-else', 'the concurrent change stays');
  });

  it('fails with KEY_NOT_FOUND without an active key, and lets store errors through', async () => {
    await assert.rejects(rewrapDataKeys(await load(), new MemoryWrappedKeyStore()), (e) => isGatewayError(e, 'KEY_NOT_FOUND'), 'no key');
    await newKey();
    const keyring = await load();
    const failing: WrappedKeyStore = {
      async *list() {
        yield { id: '1', ...keyring.wrap(generateDataKey()), keyId: 'k0' };
        throw new Error('catalog gone');
      },
      replace: async () => true,
    };
    await assert.rejects(rewrapDataKeys(keyring, failing), /catalog gone/, 'store error');
  });
});
