/**
 * Instance keys: the key of the fragments needs both the master-wrapped data key and the shred key
 * in the vault. Once the shred key is destroyed nothing opens them (not the data key, not a master
 * key); without a vault nothing is sealed at all; manifests from before shred keys still open.
 */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isGatewayError } from '../../../gateway/errors.js';
import { decryptFragment, encryptFragment, generateDataKey } from '../../../gateway/keys/envelope.js';
import { destroyInstanceKeys, MemoryShredKeyStore, newInstanceKey, openInstanceKey } from '../../../gateway/keys/instance-keys.js';
import { Keyring } from '../../../gateway/keys/keyring.js';
import type { MasterKey } from '../../../gateway/keys/master-key.js';

function masterKey(id: string): MasterKey {
  return { id, secret: createSecretKey(randomBytes(32)), createdAt: new Date(), source: 'file', development: false } as MasterKey;
}

const AAD = Buffer.from('aad');

describe('instance keys', () => {
  it('open while the shred key is in the vault, and never again once it is destroyed', () => {
    const vault = new MemoryShredKeyStore();
    const k1 = masterKey('k1');
    const ring = new Keyring([k1], k1).useShredKeys(vault);
    const { instanceKey, record } = newInstanceKey(ring);
    assert.equal(vault.size, 1);
    assert.match(record.shredKeyId!, /^[0-9a-f]{32}$/);
    const sealed = encryptFragment(instanceKey, Buffer.from('pixels'), AAD);
    assert.deepEqual(openInstanceKey(ring, record), instanceKey, 'the same key again');
    const dataKey = ring.unwrap({ keyId: record.keyId, wrapped: Buffer.from(record.wrapped, 'base64') });
    assert.notDeepEqual(dataKey, instanceKey, 'the data key alone is not the instance key');

    assert.equal(destroyInstanceKeys(ring, [record, undefined, { keyId: 'k1', wrapped: record.wrapped }]), 1);
    assert.equal(vault.size, 0);
    assert.throws(
      () => openInstanceKey(ring, record),
      (e) => isGatewayError(e, 'KEY_NOT_FOUND') && /not in the vault/.test(e.message),
    );
    for (const candidate of [dataKey, k1.secret]) {
      assert.throws(
        () => decryptFragment(candidate, sealed, AAD),
        (e) => isGatewayError(e, 'INTEGRITY_FAILURE'),
      );
    }
    assert.throws(
      () => openInstanceKey(ring, { ...record, shredKeyId: '../x' }),
      (e) => isGatewayError(e, 'INTEGRITY_FAILURE'),
    );
  });

  it('refuses to make or open a shredded instance key without a vault', () => {
    const k1 = masterKey('k1');
    const bare = new Keyring([k1], k1);
    assert.throws(
      () => newInstanceKey(bare),
      (e) => isGatewayError(e, 'KEY_NOT_FOUND') && /no shred key vault/.test(e.message),
    );
    const { record } = newInstanceKey(new Keyring([k1], k1).useShredKeys(new MemoryShredKeyStore()));
    assert.throws(
      () => openInstanceKey(bare, record),
      (e) => isGatewayError(e, 'KEY_NOT_FOUND'),
    );
  });

  it('opens a data key recorded before shred keys as the key of its fragments', () => {
    const k1 = masterKey('k1');
    const ring = new Keyring([k1], k1);
    const dataKey = generateDataKey();
    const { keyId, wrapped } = ring.wrap(dataKey);
    assert.deepEqual(openInstanceKey(ring, { keyId, wrapped: wrapped.toString('base64') }), dataKey);
  });

  it('keeps the shred key across a master key rotation (only the data key is rewrapped)', () => {
    const vault = new MemoryShredKeyStore();
    const k1 = masterKey('k1');
    const k2 = masterKey('k2');
    const { instanceKey, record } = newInstanceKey(new Keyring([k1], k1).useShredKeys(vault));
    const ring2 = new Keyring([k1, k2], k2).useShredKeys(vault);
    const rewrapped = ring2.wrap(ring2.unwrap({ keyId: record.keyId, wrapped: Buffer.from(record.wrapped, 'base64') }));
    assert.deepEqual(openInstanceKey(ring2, { ...record, keyId: rewrapped.keyId, wrapped: rewrapped.wrapped.toString('base64') }), instanceKey);
  });
});
