/**
 * Specific Character Set decoding (PS3.5 §6.1, PS3.3 C.12.1.1.2): the pydicom charset corpus
 * (expected names as pydicom 2.3 decodes them) and synthetic values for the ISO 2022 cases.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import dicomParser from 'dicom-parser';
import { charsetDecoder } from '../../../gateway/dicom/charset.js';
import { parseInstance } from '../../../gateway/dicom/parse.js';
import { dataSetToJson } from '../../../gateway/dicom/json-model.js';
import { PYDICOM_DATA } from '../../support/corpus.js';
import { buildInstance, identity } from './instance-builder.js';

const CHARSET_FILES = join(PYDICOM_DATA, 'charset_files');

/** Patient's Name (0010,0010) as pydicom 2.3 decodes it (`str(ds.PatientName)`), by file. */
const EXPECTED_NAMES: Record<string, string> = {
  'chrArab.dcm': 'قباني^لنزار',
  'chrFren.dcm': 'Buc^Jérôme',
  'chrFrenMulti.dcm': 'Buc^Jérôme',
  'chrGerm.dcm': 'Äneas^Rüdiger',
  'chrGreek.dcm': 'Διονυσιος',
  'chrH31.dcm': 'Yamada^Tarou=山田^太郎=やまだ^たろう',
  'chrH32.dcm': 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう',
  'chrHbrw.dcm': 'שרון^דבורה',
  'chrI2.dcm': 'Hong^Gildong=洪^吉洞=홍^길동',
  'chrJapMulti.dcm': 'やまだ^たろう',
  'chrJapMultiExplicitIR6.dcm': 'やまだ^たろう',
  'chrKoreanMulti.dcm': '김희중',
  'chrRuss.dcm': 'Люкceмбypг',
  'chrX1.dcm': 'Wang^XiaoDong=王^小東',
  'chrX2.dcm': 'Wang^XiaoDong=王^小东',
};

function joinName(value: unknown): string {
  const pn = value as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
  const groups = [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''];
  while (groups.length > 1 && groups[groups.length - 1] === '') groups.pop();
  return groups.join('=');
}

describe('Specific Character Set: pydicom charset corpus', () => {
  for (const [file, expected] of Object.entries(EXPECTED_NAMES)) {
    it(file, () => {
      const parsed = parseInstance(readFileSync(join(CHARSET_FILES, file)));
      const name = parsed.metadata['00100010'];
      assert.equal(name?.vr, 'PN');
      assert.equal(joinName(name?.Value?.[0]), expected);
    });
  }

  // These two have no SOP Class UID, so parseInstance rejects them; their data sets are converted directly.
  for (const file of ['chrSQEncoding.dcm', 'chrSQEncoding1.dcm']) {
    it(`${file}: a sequence item with its own character set, or inheriting its parent's`, () => {
      const bytes = new Uint8Array(readFileSync(join(CHARSET_FILES, file)));
      const dataSet = dicomParser.parseDicom(bytes);
      const { metadata } = dataSetToJson(dataSet, { explicitVR: true, littleEndian: true, skipMetaGroup: true });
      const item = (metadata['00321064'].Value as Array<Record<string, { Value?: unknown[] }>>)[0];
      assert.deepEqual(item['00100010'].Value, [{ Alphabetic: 'ﾔﾏﾀﾞ^ﾀﾛｳ', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }]);
      assert.deepEqual(metadata['00321032'].Value, [{ Alphabetic: 'Doctor^Who^^MD' }]);
    });
  }
});

describe('Specific Character Set: decoders', () => {
  const bytes = (...parts: Array<string | number[]>): Uint8Array => Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : p)));
  const ESC = 0x1b;

  it('ISO_IR 100 is ISO 8859-1, not windows-1252 (0x80-0x9F are C1 controls)', () => {
    assert.equal(charsetDecoder(['ISO_IR 100']).decode(bytes([0x80, 0xe9])), '\u0080é');
  });

  it('the default repertoire keeps every byte', () => {
    assert.equal(charsetDecoder([]).decode(bytes('abc', [0xe9])), 'abcé');
    assert.equal(charsetDecoder(['']).decode(bytes('abc')), 'abc');
  });

  it('unknown defined terms fall back to ISO 8859-1 and never throw', () => {
    assert.equal(charsetDecoder(['ISO_IR 999']).decode(bytes('x', [0xe9])), 'xé');
    assert.equal(charsetDecoder(['ISO 2022 IR 999']).decode(bytes('x', [ESC, 0x24, 0x29, 0x5a], 'y')), 'x$)Zy');
  });

  it('ISO_IR 192 (UTF-8), GB18030 and GBK', () => {
    assert.equal(charsetDecoder(['ISO_IR 192']).decode(new Uint8Array(Buffer.from('Jérôme^王', 'utf8'))), 'Jérôme^王');
    assert.equal(charsetDecoder(['GB18030']).decode(bytes([0xcd, 0xf5])), '王');
    assert.equal(charsetDecoder(['GBK']).decode(bytes([0xcd, 0xf5])), '王');
  });

  it('ISO 2022 IR 149: the ESC $ ) C designation is followed, KS X 1001 decoded as EUC-KR', () => {
    const value = bytes('Hong^Gildong=', [ESC, 0x24, 0x29, 0x43, 0xfb, 0xf3], '^', [ESC, 0x24, 0x29, 0x43, 0xd1, 0xce, 0xd4, 0xd7]);
    assert.equal(charsetDecoder(['', 'ISO 2022 IR 149']).decode(value), 'Hong^Gildong=洪^吉洞');
  });

  it('ISO 2022 IR 87: JIS X 0208 between ESC $ B and ESC ( B', () => {
    const value = bytes([ESC, 0x24, 0x42, 0x3b, 0x33, 0x45, 0x44], [ESC, 0x28, 0x42], '^', [ESC, 0x24, 0x42, 0x42, 0x40, 0x4f, 0x3a], [ESC, 0x28, 0x42]);
    assert.equal(charsetDecoder(['', 'ISO 2022 IR 87']).decode(value), '山田^太郎');
  });

  it('ISO 2022 IR 13: half-width katakana in G1', () => {
    assert.equal(charsetDecoder(['ISO 2022 IR 13', 'ISO 2022 IR 87']).decode(bytes([0xd4, 0xcf, 0xc0, 0xde])), 'ﾔﾏﾀﾞ');
  });

  it('ISO 2022 IR 100 with ISO 2022 IR 144: G1 switches with ESC - L', () => {
    const value = bytes([0xe9], [ESC, 0x2d, 0x4c, 0xbb, 0xee]);
    assert.equal(charsetDecoder(['ISO 2022 IR 100', 'ISO 2022 IR 144']).decode(value), 'éЛю');
  });

  it('values of other VRs (CS, UI, DA) are not decoded with the character set', () => {
    const instance = buildInstance([
      ['00080005', 'CS', 'ISO_IR 192'],
      ...identity(),
      ['00080020', 'DA', '20240101'],
      ['00100010', 'PN', Buffer.from('Jérôme', 'utf8').toString('latin1')],
      ['00081030', 'LO', Buffer.from('Ünïcödé', 'utf8').toString('latin1')],
    ]);
    const { metadata } = parseInstance(instance);
    assert.deepEqual(metadata['00100010'].Value, [{ Alphabetic: 'Jérôme' }]);
    assert.deepEqual(metadata['00081030'].Value, ['Ünïcödé']);
    assert.deepEqual(metadata['00080005'].Value, ['ISO_IR 192']);
  });

  it('a sequence item inherits the character set of its parent unless it has its own', () => {
    const latin = Buffer.from('Jérôme', 'latin1').toString('latin1');
    const utf8 = Buffer.from('Jérôme', 'utf8').toString('latin1');
    const instance = buildInstance([
      ['00080005', 'CS', 'ISO_IR 100'],
      ...identity(),
      [
        '00081111',
        'SQ',
        {
          items: [
            [['00100010', 'PN', latin]],
            [
              ['00080005', 'CS', 'ISO_IR 192'],
              ['00100010', 'PN', utf8],
            ],
          ],
        },
      ],
      ['00100010', 'PN', latin],
    ]);
    const { metadata } = parseInstance(instance);
    const items = metadata['00081111'].Value as Array<Record<string, { Value?: unknown[] }>>;
    assert.deepEqual(items[0]['00100010'].Value, [{ Alphabetic: 'Jérôme' }]);
    assert.deepEqual(items[1]['00100010'].Value, [{ Alphabetic: 'Jérôme' }]);
    assert.deepEqual(metadata['00100010'].Value, [{ Alphabetic: 'Jérôme' }]);
  });
});
