/**
 * The DICOM JSON Model (PS3.18 F.2) produced by parseInstance, value by value, and the reasons
 * given for instances that are not understandable Part 10 files.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { isGatewayError } from '../../../gateway/errors.js';
import { datasetView, parseInstance } from '../../../gateway/dicom/parse.js';
import type { DicomJson } from '../../../gateway/dicom/types.js';
import { buildInstance, encodeDataSet, identity, imagePixel, ramp, type Spec } from './instance-builder.js';

function metadataOf(specs: Spec[], transferSyntax?: string): DicomJson {
  return parseInstance(buildInstance([...identity(), ...specs], { transferSyntax })).metadata;
}

function assertInvalid(bytes: Uint8Array, reason: RegExp): void {
  assert.throws(
    () => parseInstance(bytes),
    (error: unknown) => {
      assert.ok(isGatewayError(error, 'INVALID_DICOM'), `not INVALID_DICOM: ${String(error)}`);
      assert.match(error.message, reason);
      return true;
    },
  );
}

describe('DICOM JSON model', () => {
  for (const [name, ts] of [
    ['explicit VR little endian', '1.2.840.10008.1.2.1'],
    ['implicit VR little endian', '1.2.840.10008.1.2'],
    ['explicit VR big endian', '1.2.840.10008.1.2.2'],
  ] as const) {
    it(`values of every kind (${name})`, () => {
      const m = metadataOf(
        [
          ['00080008', 'CS', 'ORIGINAL\\PRIMARY \\\\AXIAL'],
          ['00080020', 'DA', ' 20240131'],
          ['00080030', 'TM', '101010.5 '],
          ['00080090', 'PN', 'Doe^John==Pho^Netic\\^Jane'],
          ['00081030', 'LO', '  Leading spaces kept  '],
          ['00081090', 'LO', ''],
          ['00102180', 'SH', 'A\\B'],
          ['00104000', 'LT', 'line one\\still one\r\nline two  '],
          ['00180050', 'DS', ' 2.50 \\-1e3\\.5'],
          ['00181063', 'DS', 'abc'],
          ['00200013', 'IS', '+12 '],
          ['00280010', 'US', [512]],
          ['00280106', 'US', [65535]],
          ['00189219', 'SS', [-3, 4]],
          ['00209241', 'FL', [0.5, -2]],
          ['00186050', 'UL', [4294967295]],
          ['00186020', 'SL', [-7]],
          ['00400302', 'US', [1, 2, 3]],
          ['00189327', 'FD', [1.25]],
          ['00209165', 'AT', [0x00100010, 0x7fe00010]],
          ['00080301', 'US', [7]],
        ],
        ts,
      );
      assert.deepEqual(m['00080008'], { vr: 'CS', Value: ['ORIGINAL', 'PRIMARY', null, 'AXIAL'] });
      assert.deepEqual(m['00080020'], { vr: 'DA', Value: ['20240131'] });
      assert.deepEqual(m['00080030'], { vr: 'TM', Value: ['101010.5'] });
      assert.deepEqual(m['00080090'], { vr: 'PN', Value: [{ Alphabetic: 'Doe^John', Phonetic: 'Pho^Netic' }, { Alphabetic: '^Jane' }] });
      assert.deepEqual(m['00081030'], { vr: 'LO', Value: ['  Leading spaces kept'] });
      assert.deepEqual(m['00081090'], { vr: 'LO' });
      assert.deepEqual(m['00102180'], { vr: 'SH', Value: ['A', 'B'] });
      assert.deepEqual(m['00104000'], { vr: 'LT', Value: ['line one\\still one\r\nline two'] });
      assert.deepEqual(m['00180050'], { vr: 'DS', Value: [2.5, -1000, 0.5] });
      assert.deepEqual(m['00181063'], { vr: 'DS', Value: ['abc'] });
      assert.deepEqual(m['00200013'], { vr: 'IS', Value: [12] });
      assert.deepEqual(m['00280010'], { vr: 'US', Value: [512] });
      assert.deepEqual(m['00189219'], { vr: 'SS', Value: [-3, 4] });
      assert.deepEqual(m['00209241'], { vr: 'FL', Value: [0.5, -2] });
      assert.deepEqual(m['00186050'], { vr: 'UL', Value: [4294967295] });
      assert.deepEqual(m['00186020'], { vr: 'SL', Value: [-7] });
      assert.deepEqual(m['00189327'], { vr: 'FD', Value: [1.25] });
      assert.deepEqual(m['00209165'], { vr: 'AT', Value: ['00100010', '7FE00010'] });
      assert.ok(!('00020010' in m), 'group 0002 is left out');
    });
  }

  it('UV and SV: numbers when safe integers, else strings', () => {
    const m = metadataOf([
      ['0008040C', 'UV', [42n, 2n ** 63n]],
      ['00720082', 'SV', [-(2n ** 60n), -5n]],
    ]);
    assert.deepEqual(m['0008040C'], { vr: 'UV', Value: [42, '9223372036854775808'] });
    assert.deepEqual(m['00720082'], { vr: 'SV', Value: ['-1152921504606846976', -5] });
  });

  it('binary values: InlineBinary up to 1024 bytes, BulkDataURI above, pixel data always', () => {
    const small = ramp(1024);
    const large = ramp(1026);
    const m = parseInstance(buildInstance([...identity(), ['00091010', 'OB', small], ['00091011', 'OB', large], ...imagePixel(1, 2, 8), ['7FE00010', 'OB', ramp(2)]]));
    assert.deepEqual(m.metadata['00091010'], { vr: 'OB', InlineBinary: Buffer.from(small).toString('base64') });
    assert.deepEqual(m.metadata['00091011'], { vr: 'OB', BulkDataURI: 'bulkdata/00091011' });
    assert.deepEqual(m.metadata['7FE00010'], { vr: 'OB', BulkDataURI: 'bulkdata/7FE00010' });
    assert.deepEqual(
      m.bulkData.map((b) => [b.path, b.vr, b.length]),
      [
        ['00091011', 'OB', 1026],
        ['7FE00010', 'OB', 2],
      ],
    );
  });

  it('sequences: items recursively, nested bulk data paths, empty sequences without Value', () => {
    for (const undefinedLength of [false, true]) {
      const parsed = parseInstance(
        buildInstance([
          ...identity(),
          ['00081115', 'SQ', { items: [], undefinedLength }],
          [
            '00540016',
            'SQ',
            {
              undefinedLength,
              items: [
                [['00181072', 'TM', '120000']],
                [
                  ['00181072', 'TM', '130000'],
                  ['00189999', 'OB', ramp(2000)],
                  ['00540300', 'SQ', { items: [[['00080100', 'SH', 'C-111A1']]], undefinedLength }],
                ],
              ],
            },
          ],
        ]),
      );
      assert.deepEqual(parsed.metadata['00081115'], { vr: 'SQ' });
      assert.deepEqual(parsed.metadata['00540016'], {
        vr: 'SQ',
        Value: [
          { '00181072': { vr: 'TM', Value: ['120000'] } },
          {
            '00181072': { vr: 'TM', Value: ['130000'] },
            '00189999': { vr: 'OB', BulkDataURI: 'bulkdata/00540016/1/00189999' },
            '00540300': { vr: 'SQ', Value: [{ '00080100': { vr: 'SH', Value: ['C-111A1'] } }] },
          },
        ],
      });
      assert.equal(parsed.bulkData[0].path, '00540016/1/00189999');
      assert.equal(parsed.bulkData[0].length, 2000);
    }
  });

  it('implicit VR: dictionary VRs, US or SS by Pixel Representation, private tags UN, private creators LO', () => {
    const m = metadataOf(
      [
        ['00091010', 'UN', 'PRIVATE VALUE'],
        ['00090010', 'LO', 'ACME 1.1'],
        ['00280103', 'US', [1]],
        ['00280106', 'SS', [-2]],
        ['60003000', 'OW', ramp(4)],
      ],
      '1.2.840.10008.1.2',
    );
    assert.deepEqual(m['00090010'], { vr: 'LO', Value: ['ACME 1.1'] });
    assert.deepEqual(m['00091010'], { vr: 'UN', InlineBinary: Buffer.from('PRIVATE VALUE ').toString('base64') });
    assert.deepEqual(m['00280106'], { vr: 'SS', Value: [-2] });
    assert.deepEqual(m['60003000'], { vr: 'OW', InlineBinary: Buffer.from(ramp(4)).toString('base64') });
  });

  it('explicit VR: a UN value of a known attribute is read with its dictionary VR (PS3.5 §6.2.2)', () => {
    const item = encodeDataSet([['00080100', 'SH', 'CODE']], false, true);
    const itemBytes = Buffer.concat([Buffer.from([0xfe, 0xff, 0x00, 0xe0]), Buffer.from(Uint32Array.of(item.length).buffer), item]);
    const m = metadataOf([
      ['00100010', 'UN', 'Doe^Jane'],
      ['00280010', 'UN', new Uint8Array([0x00, 0x02])],
      ['00400260', 'UN', new Uint8Array(itemBytes)],
    ]);
    assert.deepEqual(m['00100010'], { vr: 'PN', Value: [{ Alphabetic: 'Doe^Jane' }] });
    assert.deepEqual(m['00280010'], { vr: 'US', Value: [512] });
    assert.deepEqual(m['00400260'], { vr: 'SQ', Value: [{ '00080100': { vr: 'SH', Value: ['CODE'] } }] });
  });

  it('identifying UIDs; missing study and series UIDs are empty strings', () => {
    const bytes = buildInstance([
      ['00080016', 'UI', '1.2.840.10008.5.1.4.1.1.7'],
      ['00080018', 'UI', '1.2.3.4.5'],
    ]);
    const parsed = parseInstance(bytes);
    assert.equal(parsed.sopClassUID, '1.2.840.10008.5.1.4.1.1.7');
    assert.equal(parsed.sopInstanceUID, '1.2.3.4.5');
    assert.equal(parsed.studyInstanceUID, '');
    assert.equal(parsed.seriesInstanceUID, '');
    assert.equal(parsed.transferSyntaxUID, '1.2.840.10008.1.2.1');
    assert.equal(parsed.deflated, false);
    assert.equal(parsed.pixelData, undefined);
  });

  it('deflated explicit VR little endian: offsets refer to datasetView()', () => {
    const specs: Spec[] = [...identity(), ...imagePixel(2, 2, 8), ['7FE00010', 'OB', ramp(4, 9)]];
    const headerOnly = buildInstance([], { transferSyntax: '1.2.840.10008.1.2.1.99' });
    const deflated = Buffer.concat([headerOnly, deflateRawSync(encodeDataSet(specs, true, true))]);
    const parsed = parseInstance(deflated);
    assert.equal(parsed.deflated, true);
    assert.equal(parsed.sopInstanceUID, '1.2.3.4.5');
    const view = datasetView(deflated, parsed);
    assert.equal(datasetView(deflated, parsed), view, 'the inflated view is computed once');
    const layout = parsed.pixelData;
    assert.ok(layout !== undefined && !layout.encapsulated);
    assert.deepEqual([...view.subarray(layout.offset, layout.offset + 4)], [9, 10, 11, 12]);
  });
});

describe('rejections', () => {
  const valid = buildInstance([...identity(), ['00100010', 'PN', 'Doe^John']]);

  it('no preamble and DICM prefix', () => {
    assertInvalid(valid.subarray(132), /^no DICOM Part 10 meta header \(missing 'DICM' prefix at offset 128\)$/);
    assertInvalid(new Uint8Array(0), /missing 'DICM' prefix/);
  });

  it('a meta header without transfer syntax', () => {
    const preamble = new Uint8Array(132);
    preamble.set(Buffer.from('DICM'), 128);
    const meta = encodeDataSet([['00020001', 'OB', new Uint8Array([0, 1])]], true, true);
    assertInvalid(Buffer.concat([preamble, meta, encodeDataSet(identity(), true, true)]), /^the meta header has no Transfer Syntax UID \(0002,0010\)$/);
  });

  it('a meta header only', () => {
    assertInvalid(buildInstance([]), /meta header but no data set/);
  });

  it('missing SOP Class or SOP Instance UID', () => {
    assertInvalid(buildInstance([['00080018', 'UI', '1.2.3']]), /^the data set has no SOP Class UID \(0008,0016\)$/);
    assertInvalid(buildInstance([['00080016', 'UI', '1.2.3']]), /^the data set has no SOP Instance UID \(0008,0018\)$/);
  });

  it('truncations name the element', () => {
    const bytes = buildInstance([...identity(), ...imagePixel(16, 16, 16), ['7FE00010', 'OW', ramp(512)]]);
    assertInvalid(bytes.subarray(0, bytes.length - 100), /^truncated: element \(7FE0,0010\) declares 512 bytes but only 412 remain$/);
    const implicit = buildInstance([...identity(), ...imagePixel(16, 16, 16), ['7FE00010', 'OW', ramp(512)]], { transferSyntax: '1.2.840.10008.1.2' });
    assertInvalid(implicit.subarray(0, implicit.length - 100), /^truncated: element \(7FE0,0010\) declares 512 bytes but only 412 remain$/);
  });

  it('an unknown VR', () => {
    const bytes = buildInstance([...identity(), ['00100010', 'PN', 'Doe']]);
    const at = bytes.length - 4 - 8 + 4; // VR of the last element (8-byte header, 4-byte value)
    bytes[at] = 0x51;
    bytes[at + 1] = 0x51;
    assertInvalid(bytes, /element \(0010,0010\) at offset \d+ has an unknown VR 'QQ'/);
  });

  it('a deflated data set that does not inflate', () => {
    const header = buildInstance([], { transferSyntax: '1.2.840.10008.1.2.1.99' });
    assertInvalid(Buffer.concat([header, Buffer.from([0xff, 0xff, 0xff, 0xff])]), /the deflated data set cannot be inflated/);
  });

  it('a deflated data set over the inflation limit', () => {
    const header = buildInstance([], { transferSyntax: '1.2.840.10008.1.2.1.99' });
    const bomb = deflateRawSync(encodeDataSet([...identity(), ['00091010', 'OB', new Uint8Array(1 << 20)]], true, true));
    assert.throws(
      () => parseInstance(Buffer.concat([header, bomb]), { maxInflatedBytes: 1 << 16 }),
      (e: unknown) => isGatewayError(e, 'PAYLOAD_TOO_LARGE') && /inflates to more than 65536 bytes/.test(e.message),
    );
  });
});
