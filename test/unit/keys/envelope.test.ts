/**
 * AES-256-GCM envelope (NIST SP 800-38D): fragments and wrapped data keys round-trip, and every
 * alteration (any single bit of the sealed bytes, any bound field, the key, the key id) fails with
 * INTEGRITY_FAILURE and returns nothing.
 */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { isGatewayError } from '../../../gateway/errors.js';
import { fragmentAad, type FragmentBinding } from '../../../gateway/keys/associated-data.js';
import { decryptFragment, encryptFragment, generateDataKey, NONCE_BYTES, SEALED_OVERHEAD, SEALED_VERSION, TAG_BYTES, unwrapDataKey, wrapDataKey, WRAPPED_KEY_BYTES } from '../../../gateway/keys/envelope.js';

const BINDING: FragmentBinding = { sopInstanceUid: '1.2.826.0.1.3680043.8.498.1', role: 'region-1', index: 0, manifestVersion: 1 };

/** The error code `run` throws, or 'none'. */
function codeOf(run: () => unknown): string {
  try {
    run();
    return 'none';
  } catch (error) {
    return isGatewayError(error) ? error.code : `foreign ${String(error)}`;
  }
}

/** Every position of `sealed` whose single-bit flip `open` does not reject with INTEGRITY_FAILURE. */
function undetectedFlips(sealed: Buffer, open: (altered: Buffer) => unknown): string[] {
  const missed: string[] = [];
  for (let byte = 0; byte < sealed.length; byte++) {
    for (let bit = 0; bit < 8; bit++) {
      const altered = Buffer.from(sealed);
      altered[byte] ^= 1 << bit;
      const code = codeOf(() => open(altered));
      if (code !== 'INTEGRITY_FAILURE') missed.push(`byte ${byte} bit ${bit}: ${code}`);
    }
  }
  return missed;
}

describe('fragment encryption', () => {
  for (const [name, size] of [
    ['empty', 0],
    ['1 byte', 1],
    ['8 MB', 8 * 1024 * 1024],
  ] as const) {
    it(`round-trips a ${name} fragment with the documented layout`, () => {
      const key = generateDataKey();
      const plaintext = randomBytes(size);
      const aad = fragmentAad(BINDING);
      const sealed = encryptFragment(key, plaintext, aad);
      assert.equal(sealed.length, size + SEALED_OVERHEAD, 'version | nonce | ciphertext | tag');
      assert.equal(sealed[0], SEALED_VERSION, 'version byte first');
      if (size > 16) assert.equal(sealed.subarray(1 + NONCE_BYTES, 1 + NONCE_BYTES + 16).equals(plaintext.subarray(0, 16)), false, 'the ciphertext is not the plaintext');
      assert.equal(decryptFragment(key, sealed, aad).equals(plaintext), true, 'decrypts to the plaintext');
    });
  }

  it('uses a fresh nonce each time', () => {
    const key = generateDataKey();
    const a = encryptFragment(key, Buffer.from('same bytes'), fragmentAad(BINDING));
    const b = encryptFragment(key, Buffer.from('same bytes'), fragmentAad(BINDING));
    assert.equal(a.subarray(1, 1 + NONCE_BYTES).equals(b.subarray(1, 1 + NONCE_BYTES)), false, 'nonces differ');
    assert.equal(a.equals(b), false, 'ciphertexts differ');
  });

  it('accepts a Uint8Array view into a larger buffer', () => {
    const key = generateDataKey();
    const sealed = encryptFragment(key, Buffer.from('pixels'), fragmentAad(BINDING));
    const padded = Buffer.concat([Buffer.from('xx'), sealed, Buffer.from('yy')]);
    const view = new Uint8Array(padded.buffer, padded.byteOffset + 2, sealed.length);
    assert.equal(decryptFragment(key, view, fragmentAad(BINDING)).toString(), 'pixels', 'decrypts the view');
  });

  it('rejects every single-bit flip of version, nonce, ciphertext and tag', () => {
    const key = generateDataKey();
    const aad = fragmentAad(BINDING);
    const sealed = encryptFragment(key, randomBytes(24), aad);
    assert.equal(sealed.length, 24 + 1 + NONCE_BYTES + TAG_BYTES, 'layout length');
    assert.deepEqual(
      undetectedFlips(sealed, (altered) => decryptFragment(key, altered, aad)),
      [],
    );
  });

  it('rejects truncation, extension and an empty input', () => {
    const key = generateDataKey();
    const aad = fragmentAad(BINDING);
    const sealed = encryptFragment(key, Buffer.from('abcdef'), aad);
    assert.equal(
      codeOf(() => decryptFragment(key, sealed.subarray(0, sealed.length - 1), aad)),
      'INTEGRITY_FAILURE',
      'one byte short',
    );
    assert.equal(
      codeOf(() => decryptFragment(key, Buffer.concat([sealed, Buffer.of(0)]), aad)),
      'INTEGRITY_FAILURE',
      'one byte more',
    );
    assert.equal(
      codeOf(() => decryptFragment(key, sealed.subarray(0, SEALED_OVERHEAD - 1), aad)),
      'INTEGRITY_FAILURE',
      'shorter than the overhead',
    );
    assert.equal(
      codeOf(() => decryptFragment(key, Buffer.alloc(0), aad)),
      'INTEGRITY_FAILURE',
      'empty',
    );
  });

  it('rejects any change of instance UID, role, index or manifest version', () => {
    const key = generateDataKey();
    const sealed = encryptFragment(key, Buffer.from('region pixels'), fragmentAad(BINDING));
    const changes: Array<Partial<FragmentBinding>> = [{ sopInstanceUid: '1.2.826.0.1.3680043.8.498.2' }, { sopInstanceUid: `${BINDING.sopInstanceUid}.1` }, { role: 'region-2' }, { role: 'skeleton' }, { index: 1 }, { manifestVersion: 2 }];
    for (const change of changes) {
      assert.equal(
        codeOf(() => decryptFragment(key, sealed, fragmentAad({ ...BINDING, ...change }))),
        'INTEGRITY_FAILURE',
        JSON.stringify(change),
      );
    }
  });

  it('rejects the wrong data key', () => {
    const sealed = encryptFragment(generateDataKey(), Buffer.from('x'), fragmentAad(BINDING));
    assert.equal(
      codeOf(() => decryptFragment(generateDataKey(), sealed, fragmentAad(BINDING))),
      'INTEGRITY_FAILURE',
      'another key',
    );
  });

  it('refuses keys that are not 256 bits', () => {
    assert.equal(
      codeOf(() => encryptFragment(randomBytes(16), Buffer.from('x'), fragmentAad(BINDING))),
      'INTERNAL',
      'AES-128 key',
    );
  });
});

describe('data key wrapping', () => {
  it('round-trips under a master key and key id, as Buffer or KeyObject', () => {
    const master = randomBytes(32);
    const dataKey = generateDataKey();
    const wrapped = wrapDataKey(master, 'k1', dataKey);
    assert.equal(wrapped.length, WRAPPED_KEY_BYTES, 'wrapped length');
    assert.equal(wrapped.includes(dataKey.subarray(0, 8)), false, 'the data key does not show');
    assert.equal(unwrapDataKey(master, 'k1', wrapped).equals(dataKey), true, 'unwraps with a Buffer');
    assert.equal(unwrapDataKey(createSecretKey(master), 'k1', wrapped).equals(dataKey), true, 'unwraps with a KeyObject');
  });

  it('binds the key id, and fails with another master key', () => {
    const master = randomBytes(32);
    const wrapped = wrapDataKey(master, 'k1', generateDataKey());
    assert.equal(
      codeOf(() => unwrapDataKey(master, 'k2', wrapped)),
      'INTEGRITY_FAILURE',
      'another key id',
    );
    assert.equal(
      codeOf(() => unwrapDataKey(randomBytes(32), 'k1', wrapped)),
      'INTEGRITY_FAILURE',
      'another master key',
    );
  });

  it('rejects every single-bit flip of a wrapped key', () => {
    const master = randomBytes(32);
    const wrapped = wrapDataKey(master, 'k7', generateDataKey());
    assert.deepEqual(
      undetectedFlips(wrapped, (altered) => unwrapDataKey(master, 'k7', altered)),
      [],
    );
  });

  it('a sealed fragment does not pass as a wrapped key (different associated data)', () => {
    const key = randomBytes(32);
    const sealed = encryptFragment(key, generateDataKey(), fragmentAad(BINDING));
    assert.equal(sealed.length, WRAPPED_KEY_BYTES, 'same length as a wrapped key');
    assert.equal(
      codeOf(() => unwrapDataKey(key, 'k1', sealed)),
      'INTEGRITY_FAILURE',
      'domain separation',
    );
  });

  it('refuses data keys that are not 32 bytes', () => {
    assert.equal(
      codeOf(() => wrapDataKey(randomBytes(32), 'k1', randomBytes(31))),
      'INTERNAL',
      '31 bytes',
    );
  });
});
