/**
 * Frame layouts of native and encapsulated pixel data (PS3.5 §8, Annex A.4) on synthetic
 * instances: every frame from `frameRanges` must be exactly the bytes that were written for it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isGatewayError } from '../../../gateway/errors.js';
import { frameRanges } from '../../../gateway/dicom/pixel-data.js';
import { parseInstance } from '../../../gateway/dicom/parse.js';
import type { ParsedInstance } from '../../../gateway/dicom/types.js';
import { buildInstance, identity, imagePixel, ramp, type Spec } from './instance-builder.js';

function frameBytes(bytes: Uint8Array, parsed: ParsedInstance, n: number): Uint8Array {
  assert.ok(parsed.pixelData !== undefined, 'no pixel data layout');
  return Buffer.concat(frameRanges(parsed.pixelData, n).map(([offset, length]) => bytes.subarray(offset, offset + length)));
}

describe('native pixel data', () => {
  const cases: Array<{ name: string; rows: number; columns: number; bits: number; samples: number; frames: number; ts?: string }> = [
    { name: '8-bit, 3 frames', rows: 4, columns: 5, bits: 8, samples: 1, frames: 3 },
    { name: '16-bit, 2 frames', rows: 3, columns: 3, bits: 16, samples: 1, frames: 2 },
    { name: '8-bit RGB, 2 frames', rows: 2, columns: 2, bits: 8, samples: 3, frames: 2 },
    { name: '32-bit, 1 frame (no Number of Frames)', rows: 2, columns: 3, bits: 32, samples: 1, frames: 1 },
    { name: '16-bit, implicit VR', rows: 3, columns: 2, bits: 16, samples: 1, frames: 4, ts: '1.2.840.10008.1.2' },
    { name: '16-bit, explicit VR big endian', rows: 3, columns: 2, bits: 16, samples: 1, frames: 2, ts: '1.2.840.10008.1.2.2' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const frameLength = (c.rows * c.columns * c.samples * c.bits) / 8;
      const pixels = ramp(frameLength * c.frames, 7);
      const bytes = buildInstance([...identity(), ...imagePixel(c.rows, c.columns, c.bits, c.samples, c.frames === 1 ? undefined : c.frames), ['7FE00010', c.bits > 8 ? 'OW' : 'OB', pixels]], { transferSyntax: c.ts });
      const parsed = parseInstance(bytes);
      const layout = parsed.pixelData;
      assert.ok(layout !== undefined && !layout.encapsulated);
      assert.equal(layout.frameLength, frameLength);
      assert.equal(layout.numberOfFrames, c.frames);
      assert.equal(layout.bigEndian, c.ts === '1.2.840.10008.1.2.2');
      assert.equal(layout.bitsPerFrame, undefined);
      for (let n = 1; n <= c.frames; n++) {
        assert.deepEqual(frameBytes(bytes, parsed, n), Buffer.from(pixels.subarray((n - 1) * frameLength, n * frameLength)));
      }
      assert.deepEqual(parsed.metadata['7FE00010'], { vr: c.bits > 8 ? 'OW' : 'OB', BulkDataURI: 'bulkdata/7FE00010' });
      assert.deepEqual(
        parsed.bulkData.find((b) => b.path === '7FE00010'),
        {
          path: '7FE00010',
          vr: c.bits > 8 ? 'OW' : 'OB',
          offset: layout.offset,
          length: pixels.length,
        },
      );
    });
  }

  it('BitsAllocated 1: frames are bit-packed back to back', () => {
    // 3 frames of 3 x 3 pixels: 9 bits each, 27 bits in 4 bytes.
    const pixels = new Uint8Array([0b10110011, 0b01010101, 0b11110000, 0b00000111]);
    const bytes = buildInstance([...identity(), ...imagePixel(3, 3, 1, 1, 3), ['7FE00010', 'OB', pixels]]);
    const parsed = parseInstance(bytes);
    const layout = parsed.pixelData;
    assert.ok(layout !== undefined && !layout.encapsulated);
    assert.equal(layout.bitsPerFrame, 9);
    assert.equal(layout.frameLength, 2);
    assert.deepEqual(frameRanges(layout, 1), [[layout.offset, 2]]); // bits 0-8
    assert.deepEqual(frameRanges(layout, 2), [[layout.offset + 1, 2]]); // bits 9-17
    assert.deepEqual(frameRanges(layout, 3), [[layout.offset + 2, 2]]); // bits 18-26
  });

  it('YBR_FULL_422: two samples per pixel on average', () => {
    const specs: Spec[] = [...identity(), ...imagePixel(2, 4, 8, 3)];
    specs[specs.findIndex(([tag]) => tag === '00280004')] = ['00280004', 'CS', 'YBR_FULL_422'];
    const bytes = buildInstance([...specs, ['7FE00010', 'OB', ramp(16)]]);
    const layout = parseInstance(bytes).pixelData;
    assert.ok(layout !== undefined && !layout.encapsulated);
    assert.equal(layout.frameLength, 16);
  });

  it('frames outside 1..n are NOT_FOUND', () => {
    const bytes = buildInstance([...identity(), ...imagePixel(2, 2, 8, 1, 2), ['7FE00010', 'OB', ramp(8)]]);
    const layout = parseInstance(bytes).pixelData;
    assert.ok(layout !== undefined);
    for (const n of [0, 3, 1.5, -1]) {
      assert.throws(
        () => frameRanges(layout, n),
        (e: unknown) => isGatewayError(e, 'NOT_FOUND') && /has 2 frames/.test(e.message),
      );
    }
  });

  it('keeps pixel data shorter than its frames as opaque bytes, saying why', () => {
    const bytes = buildInstance([...identity(), ...imagePixel(4, 4, 16, 1, 2), ['7FE00010', 'OW', ramp(40)]]);
    assertOpaquePixels(bytes, /Pixel Data \(7FE0,0010\) holds 40 bytes but 2 frame\(s\) of 4 x 4 x 1 samples x 16 bits need 64/);
  });

  it('keeps pixel data without Rows as opaque bytes, saying why', () => {
    const specs = [...identity(), ...imagePixel(4, 4, 8)].filter(([tag]) => tag !== '00280010');
    assertOpaquePixels(buildInstance([...specs, ['7FE00010', 'OB', ramp(16)]]), /Rows \(0028,0010\) is missing/);
  });
});

describe('encapsulated pixel data', () => {
  const JPEG = '1.2.840.10008.1.2.4.50';
  const soi = (n: number, fill: number): Uint8Array => Uint8Array.from([0xff, 0xd8, ...new Array<number>(n - 2).fill(fill)]);
  const tail = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

  function build(fragments: Uint8Array[], frames: number, options: { bot?: number[]; ts?: string; extra?: Spec[] } = {}): Uint8Array {
    return buildInstance([...identity(), ...imagePixel(8, 8, 8, 1, frames), ...(options.extra ?? []), ['7FE00010', 'OB', { fragments, basicOffsetTable: options.bot }]], { transferSyntax: options.ts ?? JPEG });
  }

  it('one fragment per frame', () => {
    const fragments = [soi(10, 1), soi(12, 2), soi(14, 3)];
    const bytes = build(fragments, 3);
    const parsed = parseInstance(bytes);
    assert.ok(parsed.pixelData?.encapsulated);
    assert.equal(parsed.pixelData.mediaType, 'image/jpeg');
    fragments.forEach((f, i) => assert.deepEqual(frameBytes(bytes, parsed, i + 1), Buffer.from(f)));
  });

  it('empty Basic Offset Table, JPEG: frames start at SOI markers', () => {
    const fragments = [soi(10, 1), tail(6, 1), soi(8, 2), soi(12, 3), tail(4, 3), tail(2, 3)];
    const bytes = build(fragments, 3);
    const parsed = parseInstance(bytes);
    assert.equal(parsed.pixelData?.encapsulated && parsed.pixelData.frames.length, 3);
    assert.deepEqual(frameBytes(bytes, parsed, 1), Buffer.concat([fragments[0], fragments[1]]));
    assert.deepEqual(frameBytes(bytes, parsed, 2), Buffer.from(fragments[2]));
    assert.deepEqual(frameBytes(bytes, parsed, 3), Buffer.concat([fragments[3], fragments[4], fragments[5]]));
  });

  it('Basic Offset Table', () => {
    // No SOI markers at all: only the offset table can tell the frames apart.
    const fragments = [tail(10, 1), tail(6, 1), tail(8, 2), tail(12, 3), tail(4, 3)];
    const bot = [0, 10 + 8 + 6 + 8, 10 + 8 + 6 + 8 + 8 + 8];
    const bytes = build(fragments, 3, { bot });
    const parsed = parseInstance(bytes);
    assert.deepEqual(frameBytes(bytes, parsed, 1), Buffer.concat([fragments[0], fragments[1]]));
    assert.deepEqual(frameBytes(bytes, parsed, 2), Buffer.from(fragments[2]));
    assert.deepEqual(frameBytes(bytes, parsed, 3), Buffer.concat([fragments[3], fragments[4]]));
  });

  it('Extended Offset Table comes first', () => {
    const fragments = [tail(10, 1), tail(6, 2), tail(8, 2)];
    const offsets = new Uint8Array(16);
    const lengths = new Uint8Array(16);
    new DataView(offsets.buffer).setBigUint64(8, 18n, true);
    new DataView(lengths.buffer).setBigUint64(0, 10n, true);
    new DataView(lengths.buffer).setBigUint64(8, 22n, true);
    const bytes = build(fragments, 2, {
      bot: [0, 42], // a wrong BOT: the EOT wins
      extra: [
        ['7FE00001', 'OV', offsets],
        ['7FE00002', 'OV', lengths],
      ],
    });
    const parsed = parseInstance(bytes);
    assert.deepEqual(frameBytes(bytes, parsed, 1), Buffer.from(fragments[0]));
    assert.deepEqual(frameBytes(bytes, parsed, 2), Buffer.concat([fragments[1], fragments[2]]));
  });

  it('a single frame is all fragments', () => {
    const fragments = [tail(10, 1), tail(6, 2), tail(8, 3)];
    const bytes = build(fragments, 1, { ts: '1.2.840.10008.1.2.5' });
    const parsed = parseInstance(bytes);
    assert.equal(parsed.pixelData?.encapsulated && parsed.pixelData.mediaType, 'image/dicom-rle');
    assert.deepEqual(frameBytes(bytes, parsed, 1), Buffer.concat(fragments));
  });

  it('media types follow the transfer syntax', () => {
    const expected: Record<string, string> = {
      '1.2.840.10008.1.2.4.51': 'image/jpeg',
      '1.2.840.10008.1.2.4.57': 'image/jpeg',
      '1.2.840.10008.1.2.4.70': 'image/jpeg',
      '1.2.840.10008.1.2.4.80': 'image/jls',
      '1.2.840.10008.1.2.4.81': 'image/jls',
      '1.2.840.10008.1.2.4.90': 'image/jp2',
      '1.2.840.10008.1.2.4.91': 'image/jp2',
      '1.2.840.10008.1.2.4.92': 'image/jpx',
      '1.2.840.10008.1.2.4.93': 'image/jpx',
      '1.2.840.10008.1.2.4.201': 'image/jphc',
      '1.2.840.10008.1.2.4.202': 'image/jphc',
      '1.2.840.10008.1.2.4.203': 'image/jphc',
      '1.2.840.10008.1.2.4.100': 'video/mpeg',
      '1.2.840.10008.1.2.4.102': 'video/mp4',
      '1.2.840.10008.1.2.5': 'image/dicom-rle',
      '1.2.999.1': 'application/octet-stream',
    };
    for (const [ts, mediaType] of Object.entries(expected)) {
      const parsed = parseInstance(build([tail(10, 1)], 1, { ts }));
      assert.equal(parsed.pixelData?.encapsulated && parsed.pixelData.mediaType, mediaType, ts);
    }
  });

  it('keeps fragments that cannot be assigned to frames as opaque bytes, saying why', () => {
    assertOpaquePixels(build([tail(10, 1), tail(6, 2), tail(8, 3)], 2), /cannot tell which of the 3 Pixel Data fragments belong to which of the 2 frames/);
    assertOpaquePixels(build([soi(10, 1)], 2), /cannot tell which of the 1 Pixel Data fragments/);
  });

  it('keeps encapsulated pixel data under a native transfer syntax, and the reverse, as opaque bytes, saying why', () => {
    assertOpaquePixels(build([tail(10, 1)], 1, { ts: '1.2.840.10008.1.2.1' }), /encapsulated \(undefined length\) but transfer syntax 1\.2\.840\.10008\.1\.2\.1/);
    const native = buildInstance([...identity(), ...imagePixel(2, 2, 8), ['7FE00010', 'OB', ramp(4)]], { transferSyntax: JPEG });
    assertOpaquePixels(native, /requires encapsulated pixel data/);
  });

  it('implicit VR little endian with encapsulated pixel data (a writer error pydicom tolerates) is read', () => {
    const fragments = [soi(10, 1), soi(12, 2)];
    const bytes = buildInstance([...identity(), ...imagePixel(8, 8, 8, 1, 2), ['7FE00010', 'OB', { fragments }], ['FFFCFFFC', 'OB', new Uint8Array(4)]], { transferSyntax: JPEG, explicitVR: false });
    const parsed = parseInstance(bytes);
    assert.deepEqual(frameBytes(bytes, parsed, 2), Buffer.from(fragments[1]));
    assert.deepEqual(parsed.metadata.FFFCFFFC, { vr: 'OB', InlineBinary: 'AAAAAA==' });
  });
});

/** Parses `bytes`: the instance is read, its pixel data left without a frame layout, for a reason matching `reason`. */
function assertOpaquePixels(bytes: Uint8Array, reason: RegExp): void {
  const parsed = parseInstance(bytes);
  assert.equal(parsed.pixelData, undefined, 'no frame layout');
  assert.match(parsed.unreadablePixelData ?? '', reason);
}
