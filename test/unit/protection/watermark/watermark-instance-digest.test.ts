/**
 * A watermark bound to the whole instance's digest (the gateway's watermarks: the manifest signs
 * that digest and the read path checks the reassembled instance against it, so the pixels need no
 * hash of their own): the record names the digest and no pixel digest; it verifies with that
 * digest only; its MAC differs from a pixel-bound one over the same 32 bytes (domain separation);
 * every single-bit flip of the watermarked pixels fails the MAC or changes the restored pixels
 * (which the caller's instance hash then refuses). Pixel-bound records verify as before.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { isGatewayError } from '../../../../gateway/errors.js';
import { writeWatermarkChanges } from '../../../../gateway/protection/watermark/watermark.js';
import { planPixelWatermark, verifyAndRemoveWatermark, verifyAndRemoveWatermarkInPlace, watermarkKey, watermarkPayload, watermarkPixelData } from '../../../../gateway/protection/watermark/watermark-payload.js';
import { parseInstance } from '../../../../gateway/dicom/parse.js';
import { MemoryShredKeyStore } from '../../../../gateway/keys/instance-keys.js';
import { Keyring } from '../../../../gateway/keys/keyring.js';
import { protectInstance } from '../../../../gateway/protection/protect.js';
import { syntheticInstance } from '../../../fixtures/synthetic.js';
import { geometryOf, pixelsFor, prng } from '../../dicom/pixel-support.js';
import { memoryKey } from '../../../support/audit.js';

const KEY = watermarkKey(new Uint8Array(32).fill(7));
const CLAIMS = { sopInstanceUid: '1.2.3.4.5', gatewayId: 'gw-1', time: '2024-01-15T10:15:00.000Z' };
const INSTANCE = createHash('sha256').update('the whole instance').digest();

function isIntegrityFailure(error: unknown): boolean {
  assert.ok(isGatewayError(error, 'INTEGRITY_FAILURE'), `not INTEGRITY_FAILURE: ${String(error)}`);
  return true;
}

describe('watermark bound to the instance digest', () => {
  const geometry = geometryOf({ rows: 32, columns: 32, bitsStored: 12 });
  const next = prng(11);
  const pixels = pixelsFor(geometry, (i) => (i < 500 ? 24 + (next() % 3) : 1000 + (next() % 50)), 5);
  const marked = () => {
    const { changes, record } = planPixelWatermark(pixels, geometry, { key: KEY, ...CLAIMS }, {}, INSTANCE);
    assert.ok(changes !== undefined && !('refused' in record), 'refused');
    const stored = new Uint8Array(pixels);
    writeWatermarkChanges(stored, geometry, changes);
    return { stored, record };
  };

  it('records the instance digest, not a pixel digest, and verifies with it', () => {
    const { stored, record } = marked();
    assert.ok(!('refused' in record));
    assert.equal(record.instanceSha256, INSTANCE.toString('hex'));
    assert.equal(record.pixelSha256, undefined);
    assert.ok(Buffer.compare(stored, pixels) !== 0, 'not watermarked');
    const restored = verifyAndRemoveWatermark(stored, geometry, JSON.parse(JSON.stringify(record)) as typeof record, { key: KEY, sopInstanceUid: CLAIMS.sopInstanceUid, instanceSha256: INSTANCE });
    assert.ok(Buffer.compare(restored, pixels) === 0, 'restored differs');
  });

  it('refuses another or a missing instance digest, another key, instance or time', () => {
    const { stored, record } = marked();
    assert.ok(!('refused' in record));
    const ok = { key: KEY, sopInstanceUid: CLAIMS.sopInstanceUid, instanceSha256: INSTANCE };
    const other = createHash('sha256').update('another instance').digest();
    assert.throws(() => verifyAndRemoveWatermark(stored, geometry, record, { ...ok, instanceSha256: other }), isIntegrityFailure);
    assert.throws(() => verifyAndRemoveWatermark(stored, geometry, record, { key: KEY, sopInstanceUid: CLAIMS.sopInstanceUid }), isIntegrityFailure);
    // The record and the caller agree on another digest: the MAC in the pixels does not.
    assert.throws(() => verifyAndRemoveWatermark(stored, geometry, { ...record, instanceSha256: other.toString('hex') }, { ...ok, instanceSha256: other }), isIntegrityFailure);
    assert.throws(() => verifyAndRemoveWatermark(stored, geometry, record, { ...ok, key: watermarkKey(new Uint8Array(32)) }), isIntegrityFailure);
    assert.throws(() => verifyAndRemoveWatermark(stored, geometry, record, { ...ok, sopInstanceUid: '1.2.3' }), isIntegrityFailure);
    assert.throws(() => verifyAndRemoveWatermark(stored, geometry, { ...record, time: '2025-01-01T00:00:00.000Z' }, ok), isIntegrityFailure);
  });

  it('its MAC is not the MAC of a pixel digest of the same 32 bytes', () => {
    assert.notDeepEqual(watermarkPayload(KEY, { ...CLAIMS, instanceSha256: INSTANCE }), watermarkPayload(KEY, { ...CLAIMS, pixelSha256: INSTANCE }));
  });

  it('every single-bit flip of the watermarked pixels fails the MAC or changes the restored pixels', () => {
    const { stored, record } = marked();
    let refused = 0;
    let changed = 0;
    for (let bit = 0; bit < stored.length * 8; bit++) {
      const flipped = new Uint8Array(stored);
      flipped[bit >> 3] ^= 1 << (bit & 7);
      try {
        verifyAndRemoveWatermarkInPlace(flipped, geometry, record, { key: KEY, sopInstanceUid: CLAIMS.sopInstanceUid, instanceSha256: INSTANCE });
      } catch (error) {
        assert.ok(isIntegrityFailure(error));
        refused++;
        continue;
      }
      // Verified: then the restored pixels must differ, which the caller's instance hash refuses.
      assert.ok(Buffer.compare(flipped, pixels) !== 0, `bit ${bit}: flipped pixels restored to the original`);
      changed++;
    }
    assert.equal(refused + changed, stored.length * 8);
    assert.ok(refused > 0, 'no flip touched the payload');
  });

  it('a pixel-bound watermark still verifies as before', () => {
    const { pixels: stored, record } = watermarkPixelData(pixels, geometry, { key: KEY, ...CLAIMS });
    assert.ok(!('refused' in record) && record.pixelSha256 === createHash('sha256').update(pixels).digest('hex') && record.instanceSha256 === undefined);
    const restored = verifyAndRemoveWatermark(stored, geometry, record, { key: KEY, sopInstanceUid: CLAIMS.sopInstanceUid, instanceSha256: INSTANCE });
    assert.ok(Buffer.compare(restored, pixels) === 0);
  });

  it('the gateway binds its watermarks to the digest of the instance, which the manifest signs', () => {
    const bytes = syntheticInstance({ rows: 128, columns: 128 });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const master = memoryKey('k1');
    const keyring = new Keyring([master], master).useShredKeys(new MemoryShredKeyStore());
    const { body } = protectInstance(bytes, parseInstance(bytes), sha256, { mode: 'hardened', regions: 2, gatewayId: 'gw', keyring });
    assert.equal(body.pixels.kind, 'segmented');
    const watermark = body.pixels.watermark as { applied: boolean; parameters?: Record<string, unknown> };
    assert.ok(watermark.applied, JSON.stringify(watermark));
    assert.equal(watermark.parameters?.instanceSha256, sha256);
    assert.equal(watermark.parameters?.pixelSha256, undefined);
  });
});
