/**
 * deidentifyInstance and deidentifyJson on small synthetic instances: each action of PS3.15
 * Table E.1-1 on the bytes, in every transfer syntax encoding (explicit and implicit VR, little
 * and big endian, deflated), at every depth (defined and undefined length sequences and items,
 * sequences inside UN values), the length fix-ups (sequences, items, group lengths, File Meta
 * Information), the inserted De-identification Method attributes and their place, the options,
 * and the refusals. Every case also checks that the JSON of the de-identified bytes equals the
 * de-identified JSON (deid-support.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isGatewayError } from '../../../gateway/errors.js';
import { DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN } from '../../../gateway/dicom/transfer-syntax.js';
import { AEGIS_IMPLEMENTATION_CLASS_UID, AEGIS_IMPLEMENTATION_VERSION_NAME, deidentifyInstance } from '../../../gateway/deidentify/deidentify.js';
import { deidentifyJson } from '../../../gateway/deidentify/deidentify-json.js';
import { parseInstance, readMetaHeader } from '../../../gateway/dicom/parse.js';
import type { DicomJson } from '../../../gateway/dicom/types.js';
import type { DeidentifyOptions } from '../../../gateway/deidentify/deid-plan.js';
import { pydicomWalk } from '../../support/pydicom-walk.js';
import { buildInstance, encodeDataSet, imagePixel, ramp, type Spec } from '../dicom/instance-builder.js';
import { contains, deflateDataSet, deidentifyAndCompare, groupLength, rawElements, viewOf, withTrueGroupLengths } from './deid-support.js';

const EXPLICIT_LE = EXPLICIT_VR_LITTLE_ENDIAN;
const IMPLICIT_LE = IMPLICIT_VR_LITTLE_ENDIAN;
const EXPLICIT_BE = EXPLICIT_VR_BIG_ENDIAN;
const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';
const KEY = 'test key';

/** A small image with the usual identity attributes, a private block and native pixel data; `extra` adds or replaces. */
function patientSpecs(extra: Spec[] = []): Spec[] {
  const base: Spec[] = [
    ['00080005', 'CS', 'ISO_IR 100'],
    ['00080016', 'UI', '1.2.840.10008.5.1.4.1.1.7'],
    ['00080018', 'UI', '1.2.3.4.5.6'],
    ['00080020', 'DA', '20240115'],
    ['00080030', 'TM', '101500'],
    ['00080050', 'SH', 'ACC-77812'],
    ['00080060', 'CS', 'OT'],
    ['00080080', 'LO', 'Saint Elsewhere Hospital'],
    ['00080090', 'PN', 'Referrer^Rita'],
    ['00081030', 'LO', 'Chest study for Doe'],
    ['00100010', 'PN', 'Doe^Jane'],
    ['00100020', 'LO', 'PID-0042'],
    ['00100030', 'DA', '19700304'],
    ['00100040', 'CS', 'F'],
    ['00101000', 'LO', 'OTHER-991'],
    ['00110010', 'LO', 'ACME PRIVATE'],
    ['00111001', 'LO', 'Secret Jane Doe'],
    ['0020000D', 'UI', '1.2.3.4'],
    ['0020000E', 'UI', '1.2.3.4.1'],
    ['00200010', 'SH', 'STUDY-9'],
    ...imagePixel(2, 2, 8),
    ['7FE00010', 'OB', ramp(4)],
  ];
  const replaced = new Set(extra.map(([tag]) => tag));
  return [...base.filter(([tag]) => !replaced.has(tag)), ...extra].sort(([a], [b]) => a.localeCompare(b));
}

const IDENTITY_TEXTS = ['ACC-77812', 'Saint Elsewhere', 'Referrer^Rita', 'Doe^Jane', 'PID-0042', '19700304', 'OTHER-991', 'ACME PRIVATE', 'Secret Jane', 'STUDY-9', 'Chest study'];

function assertNoIdentity(bytes: Uint8Array, texts = IDENTITY_TEXTS): void {
  const view = viewOf(bytes);
  const found = texts.filter((t) => contains(view, Buffer.from(t, 'latin1')));
  assert.deepEqual(found, [], 'original identity values remain in the bytes');
}

function value(json: DicomJson, tag: string): unknown[] | undefined {
  return json[tag]?.Value;
}

/** The top-level tags of an instance, in the order of the bytes. */
function topLevelTags(bytes: Uint8Array): string[] {
  return rawElements(bytes)
    .filter((e) => e.depth === 0)
    .map((e) => e.tag);
}

function pixelBytes(bytes: Uint8Array): Uint8Array {
  const parsed = parseInstance(bytes);
  const location = parsed.bulkData.find((l) => l.path === '7FE00010');
  assert.ok(location !== undefined, 'no pixel data');
  return viewOf(bytes).subarray(location.offset, location.offset + location.length);
}

describe('deidentifyInstance: the Basic Profile on the bytes', () => {
  for (const [name, transferSyntax] of [
    ['Explicit VR Little Endian', EXPLICIT_LE],
    ['Implicit VR Little Endian', IMPLICIT_LE],
    ['Explicit VR Big Endian', EXPLICIT_BE],
  ]) {
    it(`${name}: empties, removes and inserts, and copies the rest byte for byte`, () => {
      const bytes = buildInstance(patientSpecs(), { transferSyntax });
      const { bytes: out, parsed, report } = deidentifyAndCompare(bytes);
      const json = parsed.metadata;
      assert.deepEqual(json['00100010'], { vr: 'PN' }, 'Patient Name: Z');
      assert.deepEqual(json['00100020'], { vr: 'LO' }, 'Patient ID: Z');
      assert.deepEqual(json['00100030'], { vr: 'DA' }, 'Patient Birth Date: Z');
      assert.deepEqual(json['00080080'], { vr: 'LO' }, 'Institution Name: X/Z/D read as Z');
      assert.equal(json['00101000'], undefined, 'Other Patient IDs: X');
      assert.equal(json['00081030'], undefined, 'Study Description: X');
      assert.equal(json['00110010'], undefined, 'private creator removed');
      assert.equal(json['00111001'], undefined, 'private attribute removed');
      assert.deepEqual(value(json, '00080018'), ['1.2.3.4.5.6'], 'UIDs retained by default');
      assert.deepEqual(value(json, '00080060'), ['OT'], 'Modality kept');
      assert.deepEqual(value(json, '00120062'), ['YES']);
      assert.deepEqual(value(json, '00120063'), ['Basic Application Confidentiality Profile', 'Retain UIDs Option']);
      const codes = (value(json, '00120064') as DicomJson[]).map((item) => value(item, '00080100')?.[0]);
      assert.deepEqual(codes, ['113100', '113110']);
      assert.deepEqual(pixelBytes(out), pixelBytes(bytes), 'Pixel Data byte-identical');
      assertNoIdentity(out);
      assert.equal(report.counts.privateRemoved, 2);
      assert.equal(report.counts.removed, 2);
      assert.equal(report.counts.emptied, 10, 'accession, institution, referrer, name, id, birth date, sex, study id, date and time');
      assert.equal(report.counts.retained, 3, 'SOP Instance, Study and Series Instance UIDs (the meta header is not counted)');
      assert.equal(out.length % 2, 0);
    });
  }

  it('inserts the 0012 attributes between group 0010 and later groups, and replaces old ones', () => {
    const bytes = buildInstance(
      patientSpecs([
        ['00120062', 'CS', 'NO'],
        ['00120063', 'LO', 'something else'],
        ['00180015', 'CS', 'CHEST'],
      ]),
      {},
    );
    const { bytes: out, parsed } = deidentifyAndCompare(bytes);
    const tags = topLevelTags(out);
    assert.deepEqual(tags, [...tags].sort(), 'top-level elements in ascending order');
    const at = tags.indexOf('00120062');
    assert.deepEqual(tags.slice(at - 1, at + 4), ['00100040', '00120062', '00120063', '00120064', '00180015']);
    assert.deepEqual(value(parsed.metadata, '00120062'), ['YES']);
    assert.equal(tags.filter((t) => t === '00120063').length, 1);
  });

  it('keeps Pixel Data and every attribute the table does not list byte-identical', () => {
    const bytes = buildInstance(patientSpecs(), { transferSyntax: EXPLICIT_LE });
    const out = deidentifyInstance(bytes).bytes;
    const before = new Map(rawElements(bytes).map((e) => [e.path, Buffer.from(e.raw).toString('hex')]));
    const after = new Map(rawElements(out).map((e) => [e.path, Buffer.from(e.raw).toString('hex')]));
    for (const path of ['00080005', '00080016', '00080060', '00280010', '00280100', '7FE00010', '0020000D']) {
      assert.equal(after.get(path), before.get(path), `${path} changed`);
    }
  });
});

describe('deidentifyInstance: sequences and items at every depth', () => {
  const nested = (undefinedLength: boolean): Spec[] => [
    [
      '00081110',
      'SQ',
      {
        undefinedLength,
        items: [
          [
            ['00081150', 'UI', '1.2.840.10008.3.1.2.3.1'],
            ['00081155', 'UI', '1.2.3.99'],
          ],
        ],
      },
    ],
    [
      '00081250',
      'SQ',
      {
        undefinedLength,
        items: [
          [
            ['00100010', 'PN', 'Doe^Jane'],
            ['0040A730', 'SQ', { undefinedLength, items: [[['0040A160', 'UT', 'Secret Jane Doe note']]] }],
            ['00400275', 'SQ', { undefinedLength: !undefinedLength, items: [[['00080050', 'SH', 'ACC-77812']]] }],
            [
              '00540016',
              'SQ',
              {
                undefinedLength,
                items: [
                  [
                    ['00181072', 'TM', '101500'],
                    ['00101000', 'LO', 'OTHER-991'],
                  ],
                ],
              },
            ],
          ],
          [
            ['00100020', 'LO', 'PID-0042'],
            ['00080060', 'CS', 'OT'],
          ],
        ],
      },
    ],
  ];

  for (const undefinedLength of [false, true]) {
    for (const transferSyntax of [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE]) {
      it(`${undefinedLength ? 'undefined' : 'defined'} lengths, ${transferSyntax}: nested attributes are treated and lengths fixed`, () => {
        const bytes = buildInstance(patientSpecs(nested(undefinedLength)), { transferSyntax });
        const { bytes: out, parsed } = deidentifyAndCompare(bytes);
        const items = value(parsed.metadata, '00081250') as DicomJson[];
        assert.equal(items.length, 2, 'items are never dropped from kept sequences');
        assert.deepEqual(items[0]['00100010'], { vr: 'PN' }, 'nested Patient Name emptied');
        assert.deepEqual(items[0]['0040A730'], { vr: 'SQ', Value: [{}] }, 'Content Sequence (D): one empty item');
        assert.equal(items[0]['00400275'], undefined, 'Request Attributes Sequence (X) removed with its items');
        const deep = value(items[0], '00540016') as DicomJson[];
        assert.equal(deep[0]['00101000'], undefined, 'two levels down: removed');
        assert.equal(deep[0]['00181072'], undefined, 'Radiopharmaceutical Start Time removed');
        assert.deepEqual(items[1]['00100020'], { vr: 'LO' });
        assert.deepEqual(value(items[1], '00080060'), ['OT']);
        const study = value(parsed.metadata, '00081110') as DicomJson[];
        assert.deepEqual(value(study[0], '00081155'), ['1.2.3.99'], 'Referenced Study Sequence retained (Retain UIDs)');
        assertNoIdentity(out);
        const sequence = rawElements(out).find((e) => e.path === '00081250');
        assert.ok(sequence !== undefined, 'sequence present');
        if (!undefinedLength) {
          const declared = new DataView(sequence.raw.buffer, sequence.raw.byteOffset).getUint32(transferSyntax === IMPLICIT_LE ? 4 : 8, transferSyntax !== EXPLICIT_BE);
          assert.equal(declared, sequence.raw.length - (transferSyntax === IMPLICIT_LE ? 8 : 12), 'sequence length rewritten');
        }
      });
    }
  }

  it('treats a sequence encoded as UN (implicit VR little endian items) in a big endian data set', () => {
    const implicitItems = encodeImplicitItem([
      ['00100010', 'Doe^Jane'],
      ['00080100', 'CODE'],
    ]);
    const bytes = buildInstance(patientSpecs([['00081250', 'UN', implicitItems]]), { transferSyntax: EXPLICIT_BE });
    const { bytes: out, parsed } = deidentifyAndCompare(bytes);
    const nestedItems = value(parsed.metadata, '00081250') as DicomJson[];
    assert.deepEqual(nestedItems[0]['00100010'], { vr: 'PN' });
    assert.deepEqual(value(nestedItems[0], '00080100'), ['CODE']);
    assertNoIdentity(out);
  });
});

/** One defined-length item (FFFE,E000) of implicit VR little endian text elements. */
function encodeImplicitItem(elements: Array<[string, string]>): Uint8Array {
  const parts: Buffer[] = [];
  for (const [tag, text] of elements) {
    const value = Buffer.from(text.length % 2 ? `${text} ` : text, 'latin1');
    const header = Buffer.alloc(8);
    header.writeUInt16LE(parseInt(tag.slice(0, 4), 16), 0);
    header.writeUInt16LE(parseInt(tag.slice(4), 16), 2);
    header.writeUInt32LE(value.length, 4);
    parts.push(header, value);
  }
  const content = Buffer.concat(parts);
  const item = Buffer.alloc(8);
  item.writeUInt16LE(0xfffe, 0);
  item.writeUInt16LE(0xe000, 2);
  item.writeUInt32LE(content.length, 4);
  return new Uint8Array(Buffer.concat([item, content]));
}

describe('deidentifyInstance: lengths outside sequences', () => {
  it('rewrites group lengths of the groups that change, and leaves the others as they are', () => {
    for (const transferSyntax of [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE]) {
      const bytes = withTrueGroupLengths(
        buildInstance(
          patientSpecs([
            ['00100000', 'UL', [0]],
            ['00120000', 'UL', [0]],
            ['00120010', 'LO', 'Sponsor'],
            ['00280000', 'UL', [0]],
          ]),
          { transferSyntax },
        ),
      );
      const { bytes: out } = deidentifyAndCompare(bytes);
      for (const group of ['0010', '0012', '0028']) {
        const { declared, actual } = groupLength(out, group);
        assert.equal(declared, actual, `${transferSyntax}: group ${group} length`);
      }
      assert.deepEqual(groupLength(out, '0028'), groupLength(bytes, '0028'), 'an untouched group keeps its length');
    }
  });

  it('replaces UIDs with keyed 2.25 UIDs, in the File Meta Information too, and fixes its group length', () => {
    const bytes = buildInstance(
      patientSpecs([
        [
          '00082112',
          'SQ',
          {
            items: [
              [
                ['00081150', 'UI', '1.2.840.10008.5.1.4.1.1.7'],
                ['00081155', 'UI', '1.2.3.4.5.6'],
              ],
            ],
          },
        ],
      ]),
      {},
    );
    const options: DeidentifyOptions = { retainUids: false, key: KEY };
    const { bytes: out, parsed, report } = deidentifyAndCompare(bytes, options);
    const sop = value(parsed.metadata, '00080018')?.[0] as string;
    assert.match(sop, /^2\.25\.\d{1,39}$/);
    assert.ok(sop.length <= 64, 'a UID has at most 64 characters');
    assert.notEqual(value(parsed.metadata, '0020000D')?.[0], '1.2.3.4');
    const source = value(parsed.metadata, '00082112') as DicomJson[];
    assert.equal(value(source[0], '00081155')?.[0], sop, 'the same UID is replaced the same way everywhere');
    assert.equal(value(source[0], '00081150')?.[0], '1.2.840.10008.5.1.4.1.1.7', 'SOP Class UIDs are not identifying');
    const header = readMetaHeader(out);
    const metaGroup = Buffer.from(out.subarray(132, header.position));
    assert.equal(metaGroup.readUInt32LE(8), header.position - 132 - 12, 'File Meta Information Group Length');
    assert.ok(metaGroup.includes(Buffer.from(sop, 'latin1')), 'Media Storage SOP Instance UID equals the new SOP Instance UID');
    assert.ok(!contains(out, Buffer.from('1.2.3.4.5.6', 'latin1')), 'no original SOP Instance UID');
    assert.deepEqual(
      report.methods.map((m) => m.code),
      ['113100'],
    );
    assert.equal(deidentifyInstance(bytes, options).bytes.length, out.length, 'deterministic');
    const other = deidentifyInstance(bytes, { retainUids: false, key: 'another key' });
    assert.notEqual(parseInstance(other.bytes).sopInstanceUID, sop, 'another key, other UIDs');
  });

  it('keeps the bytes of encapsulated pixel data and their fragments', () => {
    const fragments = [ramp(10, 1), ramp(6, 50)];
    const bytes = buildInstance(
      patientSpecs()
        .filter(([t]) => t !== '7FE00010')
        .concat([['7FE00010', 'OB', { fragments, basicOffsetTable: [0] }]]),
      { transferSyntax: JPEG_BASELINE },
    );
    const { bytes: out } = deidentifyAndCompare(bytes);
    assert.deepEqual(pixelBytes(out), pixelBytes(bytes));
    assert.equal(parseInstance(out).pixelData?.encapsulated, true);
    assertNoIdentity(out);
  });

  it('inflates, edits and deflates a Deflated Explicit VR Little Endian instance', () => {
    const bytes = deflateDataSet(buildInstance(patientSpecs(), { transferSyntax: DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, explicitVR: true, littleEndian: true }));
    const { bytes: out, parsed } = deidentifyAndCompare(bytes);
    assert.equal(parsed.transferSyntaxUID, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN);
    assert.equal(parsed.deflated, true);
    assertNoIdentity(out);
    assert.deepEqual(pixelBytes(out), pixelBytes(bytes));
  });
});

describe('deidentifyInstance: values and options', () => {
  it('writes dummy values valid for their VR, ASCII in any character set', () => {
    const bytes = buildInstance(
      patientSpecs([
        ['00080005', 'CS', 'ISO_IR 192'],
        ['00120010', 'LO', 'Sponsor Inc'],
        ['0040A075', 'PN', 'Observer^Otto'],
        ['0040A030', 'DT', '20240115101500'],
        ['0072005F', 'AS', '045Y'],
        ['00720065', 'OB', ramp(6)],
      ]),
      {},
    );
    const { parsed } = deidentifyAndCompare(bytes);
    const json = parsed.metadata;
    assert.deepEqual(value(json, '00120010'), ['ANONYMOUS'], 'LO');
    assert.deepEqual(value(json, '0040A075'), [{ Alphabetic: 'ANONYMOUS' }], 'PN');
    assert.deepEqual(value(json, '0040A030'), ['19000101'], 'DT');
    assert.deepEqual(value(json, '0072005F'), ['000Y'], 'AS');
    assert.equal(json['00720065'].InlineBinary, 'AAA=', 'OB: two zero bytes');
  });

  it('shifts dates by a per-patient number of days with the Modified Dates option, and keeps times', () => {
    const specs = patientSpecs([
      ['00080021', 'DA', '20240116'],
      ['0008002A', 'DT', '20240115101500.25+0100'],
    ]);
    const options: DeidentifyOptions = { dates: 'shift', key: KEY };
    const { parsed, report } = deidentifyAndCompare(buildInstance(specs, {}), options);
    const json = parsed.metadata;
    const study = value(json, '00080020')?.[0] as string;
    const series = value(json, '00080021')?.[0] as string;
    const days = (a: string, b: string): number => (Date.UTC(+a.slice(0, 4), +a.slice(4, 6) - 1, +a.slice(6, 8)) - Date.UTC(+b.slice(0, 4), +b.slice(4, 6) - 1, +b.slice(6, 8))) / 86_400_000;
    const shift = days(study, '20240115');
    assert.ok(shift <= -1 && shift >= -3650, `shift ${shift}`);
    assert.equal(days(series, '20240116'), shift, 'the same shift for every date of the patient');
    assert.equal((value(json, '0008002A')?.[0] as string).slice(8), '101500.25+0100', 'DT keeps its time');
    assert.deepEqual(value(json, '00080030'), ['101500'], 'Study Time kept');
    assert.deepEqual(json['00100030'], { vr: 'DA' }, 'the birth date is not longitudinal: emptied');
    assert.equal(report.counts.datesShifted, 3);
    assert.deepEqual(
      report.methods.map((m) => m.code),
      ['113100', '113107', '113110'],
    );
    const other = deidentifyJson({ ...parseInstance(buildInstance(specs, {})).metadata, '00100020': { vr: 'LO', Value: ['ANOTHER'] } }, options);
    assert.notDeepEqual(value(other.json, '00080020'), [study], 'another patient, another shift (for this key)');
  });

  it('keeps dates with the Full Dates option', () => {
    const { parsed, report } = deidentifyAndCompare(buildInstance(patientSpecs(), {}), { dates: 'keep' });
    assert.deepEqual(value(parsed.metadata, '00080020'), ['20240115']);
    assert.deepEqual(
      report.methods.map((m) => m.code),
      ['113100', '113106', '113110'],
    );
  });

  it('reports Burned In Annotation', () => {
    const { report } = deidentifyAndCompare(buildInstance(patientSpecs([['00280301', 'CS', 'YES']]), {}));
    assert.equal(report.burnedInAnnotation, true);
    assert.match(report.warnings.join('\n'), /Burned In Annotation/);
    assert.equal(deidentifyInstance(buildInstance(patientSpecs([['00280301', 'CS', 'NO']]), {})).report.burnedInAnnotation, false);
  });

  it('warns about kept values of unknown VR, which it cannot inspect', () => {
    const { parsed, report } = deidentifyAndCompare(buildInstance(patientSpecs([['00980010', 'UN', new Uint8Array(Buffer.from('opaque'))]]), {}));
    assert.equal(parsed.metadata['00980010']?.InlineBinary, Buffer.from('opaque').toString('base64'), 'kept');
    assert.match(report.warnings.join('\n'), /\(0098,0010\) has a value of unknown VR/);
  });

  it('applies only the mask with profile none, at every depth, by keyword or tag', () => {
    const bytes = buildInstance(patientSpecs([['00081250', 'SQ', { items: [[['00100010', 'PN', 'Doe^Jane']]] }]]), {});
    const { parsed, report } = deidentifyAndCompare(bytes, { profile: 'none', mask: ['PatientName', '(0008,1030)'] });
    const json = parsed.metadata;
    assert.equal(json['00100010'], undefined);
    assert.equal(json['00081030'], undefined);
    assert.equal((value(json, '00081250') as DicomJson[])[0]['00100010'], undefined, 'nested');
    assert.deepEqual(value(json, '00100020'), ['PID-0042'], 'not masked, no profile');
    assert.equal(json['00120062'], undefined, 'no de-identification claim');
    assert.equal(report.counts.masked, 3);
    assert.deepEqual(report.methods, []);
  });

  it('refuses unusable options with INTERNAL', () => {
    const bytes = buildInstance(patientSpecs(), {});
    assert.throws(
      () => deidentifyInstance(bytes, { mask: ['NoSuchKeyword'] }),
      (e: unknown) => isGatewayError(e, 'INTERNAL') && /NoSuchKeyword/.test(e.message),
    );
    assert.throws(
      () => deidentifyInstance(bytes, { retainUids: false }),
      (e: unknown) => isGatewayError(e, 'INTERNAL') && /key/.test(e.message),
    );
    assert.throws(
      () => deidentifyJson({}, { dates: 'shift', key: '' }),
      (e: unknown) => isGatewayError(e, 'INTERNAL'),
    );
  });

  it('refuses with DEIDENTIFICATION_FAILED bytes the parser did not account for (a repeated tag)', () => {
    const specs = patientSpecs();
    const bytes = buildInstance([...specs.slice(0, 12), ['00100010', 'PN', 'Doe^Jane'], ...specs.slice(12)], {});
    assert.throws(
      () => deidentifyInstance(bytes),
      (e: unknown) => isGatewayError(e, 'DEIDENTIFICATION_FAILED'),
    );
  });

  it('rejects what is not DICOM with INVALID_DICOM', () => {
    assert.throws(
      () => deidentifyInstance(new Uint8Array(200)),
      (e: unknown) => isGatewayError(e, 'INVALID_DICOM'),
    );
  });

  it('is idempotent on its own output (Basic Profile, UIDs and dates as configured)', () => {
    const once = deidentifyInstance(buildInstance(patientSpecs(), {})).bytes;
    const twice = deidentifyInstance(once).bytes;
    assert.deepEqual(Buffer.from(twice), Buffer.from(once));
  });
});

/**
 * `bytes` with `preamble` (up to 128 bytes, zero-padded) and the File Meta Information of
 * `buildInstance` plus `extra` elements, the group length true; the data set is left as it is.
 */
function withFileMeta(bytes: Uint8Array, preamble: string, extra: Spec[]): Uint8Array {
  const position = readMetaHeader(bytes).position;
  const tree = rawMeta(bytes);
  const specs: Spec[] = [...tree.filter(([tag]) => tag !== '00020000'), ...extra].sort(([a], [b]) => a.localeCompare(b));
  const body = encodeDataSet(specs, true, true);
  const length = encodeDataSet([['00020000', 'UL', [body.length]]], true, true);
  const head = Buffer.alloc(132);
  head.write(preamble, 0, 'latin1');
  head.write('DICM', 128, 'latin1');
  return new Uint8Array(Buffer.concat([head, length, body, bytes.subarray(position)]));
}

/** The File Meta Information elements of an instance as specs (text values trimmed of padding, binary as bytes). */
function rawMeta(bytes: Uint8Array): Spec[] {
  const specs: Spec[] = [];
  const end = readMetaHeader(bytes).position;
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 132; at < end;) {
    const tag = `${data.readUInt16LE(at).toString(16).padStart(4, '0')}${data
      .readUInt16LE(at + 2)
      .toString(16)
      .padStart(4, '0')}`.toUpperCase();
    const vr = data.toString('latin1', at + 4, at + 6);
    const long = ['OB', 'OW', 'UN', 'UT', 'SQ', 'UC', 'UR'].includes(vr);
    const length = long ? data.readUInt32LE(at + 8) : data.readUInt16LE(at + 6);
    const header = long ? 12 : 8;
    const value = data.subarray(at + header, at + header + length);
    specs.push([tag, vr, vr === 'UL' ? [value.readUInt32LE(0)] : long ? new Uint8Array(value) : value.toString('latin1').replace(/[\0 ]+$/, '')]);
    at += header + length;
  }
  return specs;
}

describe('deidentifyInstance: preamble and File Meta Information', () => {
  // Values found only in the preamble and the File Meta Information, not in the data set.
  const PREAMBLE = 'Roe^Richard MRN-55731 Hopital Nord: scanned 2024-01-15';
  const EXTRA: Spec[] = [
    ['00020013', 'SH', 'MODALITY_V9'],
    ['00020016', 'AE', 'ROE_RICHARD_AE'],
    ['00020017', 'AE', 'SENDER_NORD'],
    ['00020100', 'UI', '1.2.826.0.1.3680043.9.4242'],
    ['00020102', 'OB', new Uint8Array(Buffer.from('Private: Richard Roe MRN-55731\0', 'latin1'))],
  ];
  const LEAKS = ['Roe^Richard', 'Richard Roe', 'MRN-55731', 'Hopital Nord', 'ROE_RICHARD_AE', 'SENDER_NORD', '1.2.826.0.1.3680043.9.4242', 'MODALITY_V9', '1.2.826.0.1.3680043.9.9999'];

  it('writes a zero preamble and a File Meta Information of what a valid file needs, naming Aegis, in every encoding', () => {
    const scratch = mkdtempSync(join(tmpdir(), 'aegis-deid-meta-'));
    try {
      const files: string[] = [];
      const cases = [EXPLICIT_LE, IMPLICIT_LE, EXPLICIT_BE, DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN].flatMap((transferSyntax) => (['basic', 'none'] as const).map((profile) => ({ transferSyntax, profile })));
      for (const { transferSyntax, profile } of cases) {
        const what = `${transferSyntax} ${profile}`;
        const plain = transferSyntax === DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN ? deflateDataSet(buildInstance(patientSpecs(), { transferSyntax, explicitVR: true, littleEndian: true })) : buildInstance(patientSpecs(), { transferSyntax });
        const bytes = withFileMeta(plain, PREAMBLE, EXTRA);
        const options: DeidentifyOptions = profile === 'basic' ? {} : { profile: 'none', mask: ['PatientName'] };
        const { bytes: out } = deidentifyInstance(bytes, options);
        assert.deepEqual(Buffer.from(out.subarray(0, 128)), Buffer.alloc(128), `${what}: the preamble is zeros`);
        assert.equal(Buffer.from(out.subarray(128, 132)).toString('latin1'), 'DICM');
        const meta = rawMeta(out);
        assert.deepEqual(
          meta.map(([tag]) => tag),
          ['00020000', '00020001', '00020002', '00020003', '00020010', '00020012', '00020013'],
          `${what}: only the elements a valid file needs`,
        );
        const values = Object.fromEntries(meta.map(([tag, , v]) => [tag, v]));
        const end = readMetaHeader(out).position;
        assert.deepEqual(values['00020000'], [end - 132 - 12], `${what}: the group length is recomputed`);
        assert.deepEqual(values['00020001'], new Uint8Array([0, 1]));
        assert.equal(values['00020002'], '1.2.840.10008.5.1.4.1.1.7');
        assert.equal(values['00020003'], '1.2.3.4.5.6');
        assert.equal(values['00020010'], transferSyntax);
        assert.equal(values['00020012'], AEGIS_IMPLEMENTATION_CLASS_UID);
        assert.equal(values['00020013'], AEGIS_IMPLEMENTATION_VERSION_NAME);
        const found = LEAKS.filter((text) => contains(out, Buffer.from(text, 'latin1')));
        assert.deepEqual(found, [], `${what}: nothing of the original preamble or File Meta Information remains`);
        // The data set is spliced as before: the same bytes whatever the original File Meta Information held.
        const reference = deidentifyInstance(plain, options).bytes;
        assert.deepEqual(Buffer.from(out.subarray(end)), Buffer.from(reference.subarray(readMetaHeader(reference).position)), `${what}: the data set does not depend on the meta`);
        const file = join(scratch, `${files.length}.dcm`);
        writeFileSync(file, out);
        files.push(file);
      }
      const read = pydicomWalk(files);
      for (const [i, file] of files.entries()) {
        const result = read[file];
        assert.ok(!('error' in result), `${cases[i].transferSyntax} ${cases[i].profile}: pydicom reads it (${'error' in result ? result.error : ''})`);
        assert.equal(result.mediaStorageSOPInstanceUID, result.sopInstanceUID);
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe('deidentifyJson', () => {
  it('does not change its input and leaves out group lengths and bulk data of removed attributes', () => {
    const input: DicomJson = {
      '00100000': { vr: 'UL', Value: [40] },
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^Jane' }] },
      '00111010': { vr: 'OB', BulkDataURI: 'bulkdata/00111010' },
      '00880200': { vr: 'SQ', Value: [{ '7FE00010': { vr: 'OB', BulkDataURI: 'bulkdata/00880200/0/7FE00010' } }] },
    };
    const copy = structuredClone(input);
    const { json } = deidentifyJson(input);
    assert.deepEqual(input, copy, 'input unchanged');
    assert.deepEqual(Object.keys(json), ['00100010', '00120062', '00120063', '00120064']);
    assert.ok(!JSON.stringify(json).includes('bulkdata'), 'no BulkDataURI left');
  });
});
