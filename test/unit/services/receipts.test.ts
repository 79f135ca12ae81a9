/**
 * STOW receipts: a receipt verifies against the published keys, and fails after any change to it
 * (header, payload or signature, one character at a time), under another gateway's keys, with a
 * forged `alg` (none, HS256 keyed with the public key), or without the receipt's `typ`.
 */
import assert from 'node:assert/strict';
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CompactSign } from 'jose';
import { isGatewayError } from '../../../gateway/errors.js';
import { Keyring } from '../../../gateway/keys/keyring.js';
import type { MasterKey } from '../../../gateway/keys/master-key.js';
import { receiptKey } from '../../../gateway/keys/receipt-keys.js';
import { receiptKeySet, signReceipt, verifyReceipt, type Receipt } from '../../../gateway/services/receipts.js';

function masterKey(id: string): MasterKey {
  return { id, secret: createSecretKey(randomBytes(32)), createdAt: new Date(), source: 'file', development: false };
}

const RECEIPT: Receipt = {
  v: 1,
  iss: 'aegis@test',
  storedAt: '2026-12-06T10:00:00.000Z',
  studyInstanceUid: '1.2.3',
  seriesInstanceUid: '1.2.3.4',
  sopInstanceUid: '1.2.3.4.5',
  sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
  sha256: 'ab'.repeat(32),
  length: 1234,
};

async function rejected(jws: string, keys: Awaited<ReturnType<typeof receiptKeySet>>, why: string): Promise<void> {
  await assert.rejects(verifyReceipt(jws, keys), (error: unknown) => isGatewayError(error, 'RECEIPT_INVALID'), why);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('STOW receipts', () => {
  const k1 = masterKey('k1');
  const k2 = masterKey('k2');
  const keyring = new Keyring([k1], k1);

  it('verifies what it signed, against the public keys of every master key', async () => {
    const jws = await signReceipt(keyring, RECEIPT);
    const keys = await receiptKeySet(keyring);
    assert.equal(keys.keys.length, 1);
    assert.equal(keys.keys[0].d, undefined, 'no private part is published');
    assert.deepEqual((await verifyReceipt(jws, keys)).receipt, RECEIPT);
    // After a rotation the old receipt still verifies against the published set.
    const rotated = new Keyring([k1, k2], k2);
    assert.deepEqual((await verifyReceipt(jws, await receiptKeySet(rotated))).receipt, RECEIPT);
    const newer = await signReceipt(rotated, RECEIPT);
    assert.notEqual(newer.split('.')[0], jws.split('.')[0], 'signed under the new key id');
    await rejected(newer, keys, 'a receipt of the new key against the old set');
  });

  it('fails after any change to it', async () => {
    const jws = await signReceipt(keyring, RECEIPT);
    const keys = await receiptKeySet(keyring);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < jws.length; i += 3) {
      if (jws[i] === '.') continue;
      const other = alphabet[(alphabet.indexOf(jws[i]) + 1) % alphabet.length];
      const changed = jws.slice(0, i) + other + jws.slice(i + 1);
      // The last character of a part may carry unused bits: changing it can decode to the same bytes.
      if (
        Buffer.from(changed.split('.')[0], 'base64url').equals(Buffer.from(jws.split('.')[0], 'base64url')) &&
        Buffer.from(changed.split('.')[1], 'base64url').equals(Buffer.from(jws.split('.')[1], 'base64url')) &&
        Buffer.from(changed.split('.')[2], 'base64url').equals(Buffer.from(jws.split('.')[2], 'base64url'))
      )
        continue;
      await rejected(changed, keys, `character ${i} changed`);
    }
    const [header, , signature] = jws.split('.');
    await rejected(`${header}.${b64({ ...RECEIPT, sha256: 'cd'.repeat(32) })}.${signature}`, keys, 'another hash under the same signature');
    await rejected(`${header}.${b64({ ...RECEIPT, length: 1235 })}.${signature}`, keys, 'another length');
  });

  it('refuses other keys, forged algorithms and payloads that are no receipt', async () => {
    const keys = await receiptKeySet(keyring);
    const elsewhere = new Keyring([k2], k2);
    await rejected(await signReceipt(elsewhere, RECEIPT), keys, "another gateway's receipt");
    const kid = keys.keys[0].kid;
    const payload = b64(RECEIPT);
    await rejected(`${b64({ alg: 'none', kid, typ: 'aegis-receipt+jws' })}.${payload}.`, keys, 'alg none');
    const hsHeader = b64({ alg: 'HS256', kid, typ: 'aegis-receipt+jws' });
    const hs = createHmac('sha256', JSON.stringify(keys.keys[0])).update(`${hsHeader}.${payload}`).digest('base64url');
    await rejected(`${hsHeader}.${payload}.${hs}`, keys, 'HS256 keyed with the public key');
    await rejected('not a receipt', keys, 'garbage');
    const key = await receiptKey(k1);
    const untyped = await new CompactSign(new TextEncoder().encode(JSON.stringify(RECEIPT))).setProtectedHeader({ alg: 'EdDSA', kid: key.kid }).sign(key.privateKey);
    await rejected(untyped, keys, 'signed by the key, but not as a receipt (no typ)');
    const notReceipt = await new CompactSign(new TextEncoder().encode(JSON.stringify({ ...RECEIPT, v: 2 }))).setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'aegis-receipt+jws' }).sign(key.privateKey);
    await rejected(notReceipt, keys, 'a payload of another version');
  });
});
