/**
 * Pixel geometry (PS3.3 C.7.6.3) and sample access: the geometry derived from parsed instances,
 * rejected contradictions, hand-computed stored values for every sample format (Bits Stored below
 * Bits Allocated with garbage around it, signed, both byte orders, 32-bit), offsets of planar and
 * multi-frame data, and pydicom's sample values of every native file of the corpus.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isGatewayError } from '../../../gateway/errors.js';
import { EXPLICIT_VR_BIG_ENDIAN } from '../../../gateway/dicom/transfer-syntax.js';
import { parseInstance } from '../../../gateway/dicom/parse.js';
import { pixelGeometry, readSample, sampleCodec, sampleOffset, unsupportedSampleAccess, valueRange, writeSample } from '../../../gateway/dicom/pixel-geometry.js';
import type { DicomJson, PixelDataLayout } from '../../../gateway/dicom/types.js';
import { syntheticInstance } from '../../fixtures/synthetic.js';
import { nativePixelCorpus } from '../../support/native-pixels.js';
import { pydicomPixels } from '../../support/pydicom-pixels.js';
import { buildInstance, identity, imagePixel, type Spec } from './instance-builder.js';
import { geometryOf } from './pixel-support.js';

function us(tag: string, value: number): DicomJson {
  return { [tag]: { vr: 'US', Value: [value] } };
}

const NATIVE: PixelDataLayout = { encapsulated: false, offset: 0, frameLength: 8, numberOfFrames: 1, bigEndian: false };

describe('pixelGeometry', () => {
  it('reads the Image Pixel attributes of a synthetic CT (12 of 16 bits, signed, 3 frames)', () => {
    const bytes = syntheticInstance({ rows: 5, columns: 7, bitsStored: 12, pixelRepresentation: 1, numberOfFrames: 3 });
    const parsed = parseInstance(bytes);
    assert.ok(parsed.pixelData !== undefined, 'no pixel data');
    assert.deepEqual(pixelGeometry(parsed.metadata, parsed.pixelData), {
      rows: 5,
      columns: 7,
      samplesPerPixel: 1,
      bitsAllocated: 16,
      bitsStored: 12,
      highBit: 11,
      pixelRepresentation: 1,
      planarConfiguration: 0,
      frames: 3,
      bigEndian: false,
      photometricInterpretation: 'MONOCHROME2',
    });
  });

  it('reads planar RGB and the byte order of Explicit VR Big Endian', () => {
    const rgb = parseInstance(syntheticInstance({ bitsAllocated: 8, samplesPerPixel: 3, planarConfiguration: 1 }));
    const g = pixelGeometry(rgb.metadata, rgb.pixelData!);
    assert.deepEqual([g.samplesPerPixel, g.planarConfiguration, g.photometricInterpretation, g.bigEndian], [3, 1, 'RGB', false]);
    const specs: Spec[] = [...identity(), ...imagePixel(2, 3, 16, 1, 2), ['7FE00010', 'OW', new Uint8Array(24)]];
    const be = parseInstance(buildInstance(specs, { transferSyntax: EXPLICIT_VR_BIG_ENDIAN }));
    assert.equal(pixelGeometry(be.metadata, be.pixelData!).bigEndian, true);
  });

  it('describes Bits Allocated 1 and YBR_FULL_422, whose samples the helpers cannot address', () => {
    const bits = parseInstance(buildInstance([...identity(), ...imagePixel(3, 3, 1, 1, 3), ['7FE00010', 'OB', new Uint8Array(4)]]));
    const g1 = pixelGeometry(bits.metadata, bits.pixelData!);
    assert.equal(g1.bitsAllocated, 1);
    assert.match(unsupportedSampleAccess(g1) ?? '', /Bits Allocated is 1/);
    const ybr: Spec[] = [...identity(), ...imagePixel(2, 4, 8, 3), ['7FE00010', 'OB', new Uint8Array(16)]];
    ybr[5] = ['00280004', 'CS', 'YBR_FULL_422'];
    const parsed = parseInstance(buildInstance(ybr));
    const g2 = pixelGeometry(parsed.metadata, parsed.pixelData!);
    assert.match(unsupportedSampleAccess(g2) ?? '', /YBR_FULL_422/);
    assert.throws(() => sampleCodec(g2), RangeError);
    assert.equal(unsupportedSampleAccess(geometryOf({ bitsAllocated: 32 })), undefined);
    assert.match(unsupportedSampleAccess(geometryOf({ bitsAllocated: 24 })) ?? '', /only 8, 16 and 32/);
  });

  it('rejects contradictory attributes with INVALID_DICOM', () => {
    const base: DicomJson = { ...us('00280010', 2), ...us('00280011', 2), ...us('00280100', 16) };
    const cases: Array<[DicomJson, RegExp]> = [
      [{ ...base, ...us('00280101', 17) }, /Bits Stored \(0028,0101\) is 17/],
      [{ ...base, ...us('00280101', 12), ...us('00280102', 16) }, /High Bit \(0028,0102\) is 16/],
      [{ ...base, ...us('00280101', 12), ...us('00280102', 10) }, /High Bit \(0028,0102\) is 10/],
      [{ ...base, ...us('00280103', 2) }, /Pixel Representation .* must be 0 or 1/],
      [{ ...base, ...us('00280002', 3) }, /describe 24/],
      [{ ...us('00280010', 2), ...us('00280100', 16) }, /Columns \(0028,0011\) is missing/],
    ];
    for (const [metadata, reason] of cases) {
      assert.throws(
        () => pixelGeometry(metadata, NATIVE),
        (error: unknown) => {
          assert.ok(isGatewayError(error, 'INVALID_DICOM'), `not INVALID_DICOM: ${String(error)}`);
          assert.match(error.message, reason);
          return true;
        },
      );
    }
  });
});

describe('sample access', () => {
  it('16-bit, 12 bits stored: the stored value ignores and keeps the garbage above High Bit', () => {
    const unsigned = geometryOf({ bitsStored: 12, rows: 1, columns: 2 });
    const bytes = new Uint8Array([0x34, 0xf2, 0xff, 0xaf]);
    assert.equal(readSample(bytes, unsigned, 0, 0, 0), 0x234);
    assert.equal(readSample(bytes, unsigned, 0, 1, 0), 0xfff);
    const signed = { ...unsigned, pixelRepresentation: 1 as const };
    assert.equal(readSample(bytes, signed, 0, 0, 0), 0x234);
    assert.equal(readSample(bytes, signed, 0, 1, 0), -1);
    writeSample(bytes, signed, 0, 1, 0, -2048);
    assert.deepEqual([...bytes], [0x34, 0xf2, 0x00, 0xa8]);
    writeSample(bytes, signed, 0, 0, 0, 2047);
    assert.deepEqual([...bytes], [0xff, 0xf7, 0x00, 0xa8]);
    assert.deepEqual(valueRange(signed), { min: -2048, max: 2047 });
  });

  it('big endian, and stored bits that do not start at bit 0 (High Bit 15 of 12 stored)', () => {
    const g = geometryOf({ bitsStored: 12, highBit: 15, bigEndian: true, rows: 1, columns: 1 });
    const bytes = new Uint8Array([0xab, 0xcd]);
    assert.equal(readSample(bytes, g, 0, 0, 0), 0xabc);
    writeSample(bytes, g, 0, 0, 0, 0x123);
    assert.deepEqual([...bytes], [0x12, 0x3d]);
  });

  it('8-bit with 7 bits stored, signed', () => {
    const g = geometryOf({ bitsAllocated: 8, bitsStored: 7, pixelRepresentation: 1, rows: 1, columns: 2 });
    const bytes = new Uint8Array([0xc0, 0x3f]);
    assert.deepEqual([readSample(bytes, g, 0, 0, 0), readSample(bytes, g, 0, 1, 0)], [-64, 63]);
    writeSample(bytes, g, 0, 0, 0, -1);
    assert.equal(bytes[0], 0xff);
  });

  it('32-bit, unsigned and signed, both byte orders', () => {
    const le = geometryOf({ bitsAllocated: 32, rows: 1, columns: 2 });
    const bytes = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03, 0x84]);
    assert.equal(readSample(bytes, le, 0, 0, 0), 0xffffffff);
    assert.equal(readSample(bytes, le, 0, 1, 0), 0x84030201);
    assert.equal(readSample(bytes, { ...le, pixelRepresentation: 1 }, 0, 0, 0), -1);
    assert.equal(readSample(bytes, { ...le, pixelRepresentation: 1 }, 0, 1, 0), 0x84030201 - 2 ** 32);
    assert.equal(readSample(bytes, { ...le, bigEndian: true }, 0, 1, 0), 0x01020384);
    writeSample(bytes, { ...le, pixelRepresentation: 1, bigEndian: true }, 0, 1, 0, -2);
    assert.deepEqual([...bytes.subarray(4)], [0xff, 0xff, 0xff, 0xfe]);
    const low = { ...le, bitsStored: 31, highBit: 31 };
    writeSample(bytes, low, 0, 0, 0, 0);
    assert.deepEqual([...bytes.subarray(0, 4)], [0x01, 0x00, 0x00, 0x00], 'bit 0 below the stored bits is kept');
  });

  it('offsets: interleaved and planar samples, frames back to back', () => {
    const interleaved = geometryOf({ bitsAllocated: 8, rows: 2, columns: 3, samplesPerPixel: 3, frames: 2 });
    assert.equal(sampleOffset(interleaved, 0, 4, 2), 14);
    assert.equal(sampleOffset(interleaved, 1, 0, 1), 19);
    const planar = { ...interleaved, planarConfiguration: 1 as const, bitsAllocated: 16, bitsStored: 16, highBit: 15 };
    assert.equal(sampleOffset(planar, 0, 4, 2), (2 * 6 + 4) * 2);
    assert.equal(sampleOffset(planar, 1, 0, 1), (18 + 6) * 2);
  });

  it('refuses values outside the stored range and samples outside the data', () => {
    const g = geometryOf({ bitsStored: 12 });
    const bytes = new Uint8Array(8);
    assert.throws(() => writeSample(bytes, g, 0, 0, 0, 4096), RangeError);
    assert.throws(() => writeSample(bytes, g, 0, 0, 0, -1), RangeError);
    assert.throws(() => writeSample(bytes, g, 0, 0, 0, 1.5), RangeError);
    assert.throws(() => readSample(bytes, g, 1, 0, 0), RangeError);
    assert.throws(() => readSample(bytes, g, 0, 4, 0), RangeError);
    assert.throws(() => readSample(bytes.subarray(0, 7), g, 0, 3, 0), RangeError);
  });
});

describe('sample values of the pydicom corpus', () => {
  const natives = nativePixelCorpus().filter((n) => unsupportedSampleAccess(n.geometry) === undefined);
  const reference = pydicomPixels(natives.map((n) => n.file));

  it('covers 8, 16 and 32-bit, signed, big endian and multi-frame files', () => {
    const g = natives.map((n) => n.geometry);
    assert.ok(natives.length >= 20, `only ${natives.length} native files with addressable samples`);
    for (const [what, found] of [
      ['8-bit', g.some((x) => x.bitsAllocated === 8)],
      ['32-bit', g.some((x) => x.bitsAllocated === 32)],
      ['signed', g.some((x) => x.pixelRepresentation === 1)],
      ['big endian 16-bit', g.some((x) => x.bigEndian && x.bitsAllocated === 16)],
      ['multi-frame', g.some((x) => x.frames > 1)],
      ['3 samples', g.some((x) => x.samplesPerPixel === 3)],
    ] as const) {
      assert.ok(found, `no ${what} file in the corpus`);
    }
  });

  for (const { file, name, pixels, geometry } of natives) {
    it(name, () => {
      const expected = reference[file];
      assert.ok(expected !== undefined && !('error' in expected), `pydicom cannot read the samples: ${JSON.stringify(expected)}`);
      const { frames, rows, columns, samplesPerPixel } = geometry;
      assert.deepEqual(expected.shape, [frames, rows, columns, samplesPerPixel]);
      const codec = sampleCodec(geometry);
      const values = new Float64Array(frames * rows * columns * samplesPerPixel);
      let i = 0;
      for (let f = 0; f < frames; f++) {
        for (let p = 0; p < rows * columns; p++) {
          for (let k = 0; k < samplesPerPixel; k++) values[i++] = codec.read(pixels, sampleOffset(geometry, f, p, k));
        }
      }
      assert.deepEqual([...values.subarray(0, 8)], expected.first);
      const view = new Uint8Array(values.buffer);
      assert.equal(createHash('sha256').update(view).digest('hex'), expected.sha256, 'sample values differ from pydicom');
    });
  }
});
