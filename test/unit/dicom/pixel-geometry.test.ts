/**
 * The pixel geometry of parsed instances (PS3.3 C.7.6.3 Image Pixel Module) and sample access
 * honouring Bits Stored, High Bit, Pixel Representation and byte order (PS3.5 §8.1.1).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isGatewayError } from '../../../gateway/errors.js';
import {
  frameByteLength,
  parseInstance,
  pixelGeometry,
  readSample,
  sampleOffset,
  writeSample,
  type PixelGeometry,
} from '../../../gateway/dicom/index.js';
import { syntheticInstance } from '../../fixtures/synthetic.js';

const GEOMETRY: PixelGeometry = {
  rows: 2, columns: 3, samplesPerPixel: 1, bitsAllocated: 16, bitsStored: 12, highBit: 11,
  pixelRepresentation: 1, planarConfiguration: 0, frames: 1, bigEndian: false,
};

describe('pixelGeometry', () => {
  it('reads the Image Pixel Module of a parsed instance', () => {
    const bytes = syntheticInstance({ rows: 5, columns: 7, bitsStored: 12, highBit: 11, pixelRepresentation: 1, numberOfFrames: 3 });
    const parsed = parseInstance(bytes);
    assert.ok(parsed.pixelData !== undefined, 'no pixel data');
    assert.deepEqual(pixelGeometry(parsed.metadata, parsed.pixelData), {
      rows: 5, columns: 7, samplesPerPixel: 1, bitsAllocated: 16, bitsStored: 12, highBit: 11,
      pixelRepresentation: 1, planarConfiguration: 0, frames: 3, bigEndian: false,
    });
  });

  it('reads the planar configuration of three samples, and the frames of encapsulated data', () => {
    const parsed = parseInstance(syntheticInstance({ rows: 2, columns: 2, bitsAllocated: 8, samplesPerPixel: 3, planarConfiguration: 1 }));
    assert.ok(parsed.pixelData !== undefined, 'no pixel data');
    const geometry = pixelGeometry(parsed.metadata, parsed.pixelData);
    assert.equal(geometry.planarConfiguration, 1);
    assert.equal(geometry.samplesPerPixel, 3);
    assert.equal(frameByteLength(geometry), 12);
    const encapsulated = pixelGeometry(parsed.metadata, { encapsulated: true, frames: [[[0, 2]], [[2, 2]]], mediaType: 'image/jpeg' });
    assert.equal(encapsulated.frames, 2);
    assert.equal(encapsulated.bigEndian, false);
  });

  it('refuses metadata without Rows', () => {
    assert.throws(
      () => pixelGeometry({ '00280011': { vr: 'US', Value: [2] }, '00280100': { vr: 'US', Value: [8] } }, { encapsulated: false, offset: 0, frameLength: 4, numberOfFrames: 1, bigEndian: false }),
      (error: unknown) => isGatewayError(error, 'INVALID_DICOM') && /Rows/.test(error.message),
    );
  });
});

describe('sample access', () => {
  it('finds samples of interleaved and planar pixels', () => {
    const rgb: PixelGeometry = { ...GEOMETRY, samplesPerPixel: 3, bitsAllocated: 8, bitsStored: 8, highBit: 7, frames: 2 };
    assert.equal(sampleOffset(rgb, 1, 4, 2), 18 + 4 * 3 + 2);
    assert.equal(sampleOffset({ ...rgb, planarConfiguration: 1 }, 1, 4, 2), 18 + 2 * 6 + 4);
    assert.equal(sampleOffset(GEOMETRY, 0, 5, 0), 10);
  });

  it('reads the stored bits, signed, ignoring the bits above High Bit', () => {
    const bytes = new Uint8Array([0xff, 0xf7, 0x00, 0xf8, 0xff, 0x0f]);
    assert.equal(readSample(bytes, GEOMETRY, 0), 2047);
    assert.equal(readSample(bytes, GEOMETRY, 2), -2048);
    assert.equal(readSample(bytes, GEOMETRY, 4), -1);
    assert.equal(readSample(bytes, { ...GEOMETRY, pixelRepresentation: 0 }, 4), 4095);
    // Bits Stored 12 ending at High Bit 15: the low 4 bits are not part of the value.
    assert.equal(readSample(new Uint8Array([0xf3, 0xff]), { ...GEOMETRY, highBit: 15 }, 0), -1);
    assert.equal(readSample(new Uint8Array([0x0f, 0xf3]), { ...GEOMETRY, bigEndian: true, pixelRepresentation: 0 }, 0), 0xff3);
    const int32: PixelGeometry = { ...GEOMETRY, bitsAllocated: 32, bitsStored: 32, highBit: 31 };
    assert.equal(readSample(new Uint8Array([0xfb, 0xff, 0xff, 0xff]), int32, 0), -5);
    assert.equal(readSample(new Uint8Array([0xfb, 0xff, 0xff, 0xff]), { ...int32, pixelRepresentation: 0 }, 0), 0xfffffffb);
  });

  it('writes the stored bits and keeps the others', () => {
    const bytes = new Uint8Array([0x00, 0xa0, 0x34, 0x12]);
    writeSample(bytes, GEOMETRY, 0, -1);
    assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xaf]);
    writeSample(bytes, { ...GEOMETRY, bigEndian: true, highBit: 15 }, 2, 5);
    assert.deepEqual([...bytes.subarray(2)], [0x00, 0x52]); // 5 << 4, the low nibble 2 kept
    assert.equal(readSample(bytes, { ...GEOMETRY, bigEndian: true, highBit: 15 }, 2), 5);
    assert.throws(() => writeSample(bytes, GEOMETRY, 0, 2048), RangeError);
    assert.throws(() => writeSample(bytes, GEOMETRY, 0, -2049), RangeError);
  });
});
