/** The canonical associated data: exact bytes, length prefixes, no two tuples alike. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { isGatewayError } from '../../../gateway/errors.js';
import { dataKeyAad, fragmentAad } from '../../../gateway/keys/associated-data.js';

it('encodes a fragment binding as label, version, UID, role and index, length-prefixed', () => {
  const aad = fragmentAad({ sopInstanceUid: '1.2', role: 'identity', index: 3, manifestVersion: 1 });
  const expected = Buffer.concat([
    Buffer.from([0, 0, 0, 14]),
    Buffer.from('aegis/fragment'),
    Buffer.from([0, 0, 0, 1]),
    Buffer.from([0, 0, 0, 3]),
    Buffer.from('1.2'),
    Buffer.from([0, 0, 0, 8]),
    Buffer.from('identity'),
    Buffer.from([0, 0, 0, 3]),
  ]);
  assert.equal(aad.toString('hex'), expected.toString('hex'));
});

it('is unambiguous where plain concatenation would not be', () => {
  const a = fragmentAad({ sopInstanceUid: '1.2.3', role: 'region-1', index: 0, manifestVersion: 1 });
  const b = fragmentAad({ sopInstanceUid: '1.2.3r', role: 'egion-1', index: 0, manifestVersion: 1 });
  assert.equal(a.equals(b), false, 'moving a character between fields changes the encoding');
  assert.equal(dataKeyAad('k1').equals(fragmentAad({ sopInstanceUid: 'k1', role: 'x', index: 0, manifestVersion: 0 })), false, 'labels separate the purposes');
});

it('refuses indexes and versions outside 32 bits, and empty fields', () => {
  for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) {
    assert.throws(
      () => fragmentAad({ sopInstanceUid: '1.2', role: 'skeleton', index: bad, manifestVersion: 1 }),
      (e) => isGatewayError(e, 'INTERNAL'),
      `index ${bad}`,
    );
    assert.throws(
      () => fragmentAad({ sopInstanceUid: '1.2', role: 'skeleton', index: 0, manifestVersion: bad }),
      (e) => isGatewayError(e, 'INTERNAL'),
      `manifestVersion ${bad}`,
    );
  }
  assert.throws(
    () => fragmentAad({ sopInstanceUid: '', role: 'skeleton', index: 0, manifestVersion: 1 }),
    (e) => isGatewayError(e, 'INTERNAL'),
    'empty UID',
  );
  assert.throws(
    () => fragmentAad({ sopInstanceUid: '1.2', role: '', index: 0, manifestVersion: 1 }),
    (e) => isGatewayError(e, 'INTERNAL'),
    'empty role',
  );
  assert.throws(
    () => dataKeyAad(''),
    (e) => isGatewayError(e, 'INTERNAL'),
    'empty key id',
  );
});
