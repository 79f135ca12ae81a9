/**
 * The watermark's payload and verification: the HMAC-SHA-256 over SOP Instance UID, pixel
 * SHA-256, gateway id and time; the MAC key derived with HKDF; watermarkPixelData and
 * verifyAndRemoveWatermark round trip, refuse, and detect a flip of any single bit of the
 * watermarked pixel data (every bit of two small images, 8-bit and 12-of-16-bit with garbage).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { isGatewayError } from '../../../../gateway/errors.js';
import { embedWatermark, extractWatermark } from '../../../../gateway/protection/watermark/watermark.js';
import { verifyAndRemoveWatermark, verifyWatermark, watermarkKey, watermarkPayload, watermarkPixelData, type WatermarkRecord } from '../../../../gateway/protection/watermark/watermark-payload.js';
import type { PixelGeometry } from '../../../../gateway/dicom/pixel-geometry.js';
import { geometryOf, pixelsFor, prng } from '../../dicom/pixel-support.js';

const KEY = watermarkKey(new Uint8Array(32).fill(7));
const CLAIMS = { sopInstanceUid: '1.2.3.4.5', gatewayId: 'gw-1', time: '2024-01-15T10:15:00.000Z' };
const SHA = createHash('sha256').update('pixels').digest();

function isIntegrityFailure(error: unknown): boolean {
  assert.ok(isGatewayError(error, 'INTEGRITY_FAILURE'), `not INTEGRITY_FAILURE: ${String(error)}`);
  return true;
}

describe('watermark payload', () => {
  it('the MAC key is HKDF-SHA-256 of the master secret, 32 bytes, one per secret', () => {
    assert.equal(KEY.length, 32);
    assert.deepEqual(watermarkKey(new Uint8Array(32).fill(7)), KEY);
    assert.notDeepEqual(watermarkKey(new Uint8Array(32).fill(8)), KEY);
  });

  it('is an HMAC-SHA-256 of length-prefixed fields, and every field counts', () => {
    const mac = watermarkPayload(KEY, { ...CLAIMS, pixelSha256: SHA });
    const field = (b: Uint8Array) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    const expected = createHmac('sha256', KEY)
      .update('aegis-watermark-mac-v1')
      .update(Buffer.concat([field(Buffer.from(CLAIMS.sopInstanceUid)), field(SHA), field(Buffer.from(CLAIMS.gatewayId)), field(Buffer.from(CLAIMS.time))]))
      .digest();
    assert.deepEqual(Buffer.from(mac), expected);
    const variants = [
      { ...CLAIMS, sopInstanceUid: '1.2.3.4.6' },
      { ...CLAIMS, gatewayId: 'gw-2' },
      { ...CLAIMS, time: '2024-01-15T10:15:00.001Z' },
      { ...CLAIMS, sopInstanceUid: '1.2.3.4.5g', gatewayId: 'w-1' },
    ];
    for (const v of variants) assert.notDeepEqual(watermarkPayload(KEY, { ...v, pixelSha256: SHA }), mac, JSON.stringify(v));
    assert.notDeepEqual(watermarkPayload(KEY, { ...CLAIMS, pixelSha256: createHash('sha256').update('other').digest() }), mac);
    assert.throws(
      () => watermarkPayload(KEY, { ...CLAIMS, pixelSha256: new Uint8Array(20) }),
      (e: unknown) => isGatewayError(e, 'INTERNAL'),
    );
  });

  it('verifyWatermark recomputes the MAC over the restored pixels', () => {
    const restored = new Uint8Array([1, 2, 3]);
    const payload = watermarkPayload(KEY, { ...CLAIMS, pixelSha256: createHash('sha256').update(restored).digest() });
    assert.equal(verifyWatermark(KEY, CLAIMS, { payload, restored }), true);
    assert.equal(verifyWatermark(KEY, CLAIMS, { payload, restored: new Uint8Array([1, 2, 4]) }), false);
    assert.equal(verifyWatermark(KEY, { ...CLAIMS, gatewayId: 'gw-2' }, { payload, restored }), false);
    assert.equal(verifyWatermark(KEY, CLAIMS, { payload: payload.subarray(1), restored }), false);
  });
});

describe('watermarkPixelData and verifyAndRemoveWatermark', () => {
  const geometry = geometryOf({ rows: 64, columns: 64, bitsStored: 12 });
  const next = prng(3);
  const pixels = pixelsFor(geometry, (i) => (i < 2000 ? 24 + (next() % 3) : 1000 + (next() % 50)), 5);
  const seal = { key: KEY, ...CLAIMS };

  it('round trip: the stored pixels differ, the returned ones are the original', () => {
    const { pixels: stored, record } = watermarkPixelData(pixels, geometry, seal);
    assert.ok(!('refused' in record), 'refused');
    assert.deepEqual([record.gatewayId, record.time], [CLAIMS.gatewayId, CLAIMS.time]);
    assert.ok(Buffer.compare(stored, pixels) !== 0, 'not watermarked');
    const restored = verifyAndRemoveWatermark(stored, geometry, JSON.parse(JSON.stringify(record)) as WatermarkRecord, { key: KEY, sopInstanceUid: CLAIMS.sopInstanceUid });
    assert.ok(Buffer.compare(restored, pixels) === 0, 'restored differs');
  });

  it('a wrong key, SOP Instance UID or recorded time fails with INTEGRITY_FAILURE', () => {
    const { pixels: stored, record } = watermarkPixelData(pixels, geometry, seal);
    assert.ok(!('refused' in record), 'refused');
    const verification = { key: KEY, sopInstanceUid: CLAIMS.sopInstanceUid };
    assert.throws(() => verifyAndRemoveWatermark(stored, geometry, record, { ...verification, key: watermarkKey(new Uint8Array(32)) }), isIntegrityFailure);
    assert.throws(() => verifyAndRemoveWatermark(stored, geometry, record, { ...verification, sopInstanceUid: '1.2.3' }), isIntegrityFailure);
    assert.throws(() => verifyAndRemoveWatermark(stored, geometry, { ...record, time: '2025-01-01T00:00:00.000Z' }, verification), isIntegrityFailure);
  });

  it('a refusal stores and returns the pixels as they are, and the record says why', () => {
    const tiny = geometryOf({ rows: 8, columns: 8 });
    const small = pixelsFor(tiny, (i) => i);
    const { pixels: stored, record } = watermarkPixelData(small, tiny, seal);
    assert.equal(stored, small);
    assert.ok('refused' in record && record.reason === 'insufficient-capacity', JSON.stringify(record));
    assert.equal(verifyAndRemoveWatermark(stored, tiny, record, { key: KEY, sopInstanceUid: CLAIMS.sopInstanceUid }), small);
  });
});

describe('fragility: every single-bit flip of the watermarked pixel data is detected', () => {
  const cases: Array<[string, PixelGeometry, (i: number) => number, number | undefined]> = [
    ['8-bit 24x24', geometryOf({ bitsAllocated: 8, rows: 24, columns: 24 }), (i) => (i % 24 < 16 ? 3 : 40 + (i % 7)), undefined],
    ['16-bit, 12 bits stored, garbage above High Bit, 20x20', geometryOf({ bitsStored: 12, rows: 20, columns: 20 }), (i) => (i % 5 === 0 ? 2000 + (i % 13) : 100), 9],
  ];
  for (const [name, geometry, value, garbage] of cases) {
    it(name, () => {
      const pixels = pixelsFor(geometry, value, garbage);
      const { pixels: stored, record } = watermarkPixelData(pixels, geometry, { key: KEY, ...CLAIMS });
      assert.ok(!('refused' in record), 'refused');
      const verification = { key: KEY, sopInstanceUid: CLAIMS.sopInstanceUid };
      let thrownByExtraction = 0;
      for (let bit = 0; bit < stored.length * 8; bit++) {
        const flipped = new Uint8Array(stored);
        flipped[bit >>> 3] ^= 1 << (bit & 7);
        try {
          verifyAndRemoveWatermark(flipped, geometry, record, verification);
        } catch (error) {
          assert.ok(isGatewayError(error, 'INTEGRITY_FAILURE'), `bit ${bit}: ${String(error)}`);
          if (!/MAC/.test(error.message)) thrownByExtraction++;
          continue;
        }
        assert.fail(`flipping bit ${bit} of the watermarked pixel data went unnoticed`);
      }
      assert.ok(thrownByExtraction < stored.length * 8, 'every flip was caught before the MAC: the MAC check is untested');
    });
  }

  it('embedWatermark alone: a flip changes the extracted payload or the restored pixels', () => {
    const geometry = geometryOf({ bitsAllocated: 8, rows: 24, columns: 24 });
    const pixels = pixelsFor(geometry, (i) => (i % 3 === 0 ? 9 : 200));
    const payload = new Uint8Array(32).fill(0xa5);
    const result = embedWatermark(pixels, geometry, payload);
    assert.ok(!('refused' in result), 'refused');
    for (let bit = 0; bit < result.watermarked.length * 8; bit++) {
      const flipped = new Uint8Array(result.watermarked);
      flipped[bit >>> 3] ^= 1 << (bit & 7);
      let same = false;
      try {
        const out = extractWatermark(flipped, geometry, result.parameters);
        same = Buffer.compare(out.payload, payload) === 0 && Buffer.compare(out.restored, pixels) === 0;
      } catch (error) {
        assert.ok(isGatewayError(error, 'INTEGRITY_FAILURE'), `bit ${bit}: ${String(error)}`);
      }
      assert.ok(!same, `flipping bit ${bit} gave back the same payload and pixels`);
    }
  });
});
