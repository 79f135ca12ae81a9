/**
 * The pieces of the protection statistics that need no gateway: the size of a manifest copy
 * computed without reading it equals what `sealManifestCopy` writes (hardened and paper, every
 * base64 padding, non-ASCII text), and the short keys reasons are counted under.
 */
import assert from 'node:assert/strict';
import { createSecretKey, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Keyring } from '../../../../gateway/keys/keyring.js';
import type { MasterKey } from '../../../../gateway/keys/master-key.js';
import { MANIFEST_VERSION, signManifest, type ManifestBody } from '../../../../gateway/protection/manifest.js';
import { manifestCopyLength, sealManifestCopy } from '../../../../gateway/protection/manifest-copy.js';
import { reasonKey } from '../../../../gateway/services/admin/stats.js';

function keyring(): Keyring {
  const key = { id: 'k7', secret: createSecretKey(randomBytes(32)), createdAt: new Date(), source: 'file', development: false } as MasterKey;
  return new Keyring([key], key);
}

function body(mode: ManifestBody['mode'], gatewayId: string): ManifestBody {
  return {
    version: MANIFEST_VERSION,
    sopInstanceUid: '1.2.3.4',
    studyInstanceUid: '1.2.3',
    seriesInstanceUid: '1.2.3.5',
    sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    length: 1000,
    sha256: '0'.repeat(64),
    createdAt: new Date(0).toISOString(),
    gatewayId,
    mode,
    cuts: { identity: [] },
    identity: { status: 'split' },
    pixels: { kind: 'none', reason: 'no pixel data', watermark: { applied: false, reason: 'no pixel data' } },
    fragments: [{ role: 'skeleton', index: 0, backend: 'local', locator: 'f/x/0', length: 10, sha256: '1'.repeat(64) }],
  };
}

describe('protection statistics', () => {
  it('computes the bytes of a manifest copy exactly as sealManifestCopy writes it', () => {
    const ring = keyring();
    const id = randomBytes(16).toString('hex');
    for (const mode of ['hardened', 'paper'] as const) {
      // Gateway ids of growing length walk through every base64 padding; one is not ASCII.
      for (const gatewayId of ['a', 'ab', 'abc', 'abcd', 'aegis@hôpital-Ünité', 'x'.repeat(100)]) {
        const manifest = signManifest(body(mode, gatewayId), ring);
        const written = sealManifestCopy(manifest, ring, id).length;
        assert.equal(manifestCopyLength(JSON.stringify(manifest), manifest, id), written, `${mode}, gateway id ${gatewayId}`);
      }
    }
  });

  it('counts reasons under short keys', () => {
    assert.equal(reasonKey('insufficient capacity: only 12 of 256 bits fit'), 'insufficient capacity');
    assert.equal(reasonKey('not segmented (bit-packed): BitsAllocated 1: pixels are bits'), 'bit-packed');
    assert.equal(reasonKey('deflated data set: the pixel data stays in the (sealed) skeleton'), 'deflated data set');
    assert.equal(reasonKey('no pixel data'), 'no pixel data');
    assert.equal(reasonKey(undefined), 'unspecified');
    assert.equal(reasonKey('y'.repeat(100)).length, 60, 'long reasons are cut');
  });
});
