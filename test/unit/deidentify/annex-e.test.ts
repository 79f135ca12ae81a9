/**
 * Table E.1-1 of PS3.15 as gateway/deidentify/annex-e.ts exposes it: the transcription agrees with the
 * data dictionary (a mistyped tag would carry another attribute's keyword), the patterns (curves,
 * overlays, private attributes) resolve, and the option columns are where the standard puts them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { annexEAction, annexERows, DEIDENTIFICATION_METHODS, identityAttributes, isIdentityAttribute } from '../../../gateway/deidentify/annex-e.js';
import { keywordForTag } from '../../../gateway/dicom/dictionary.js';

const PATTERNS = new Set(['50xxxxxx', '60xx3000', '60xx4000', 'ggggeeee']);

describe('Table E.1-1 (annex-e.ts)', () => {
  it('has one row per attribute, and every exact tag carries the keyword of the data dictionary', () => {
    const tags = annexERows.map((r) => r.tag);
    assert.equal(new Set(tags).size, tags.length, 'a tag is listed twice');
    assert.ok(annexERows.length > 600, `only ${annexERows.length} rows`);
    const wrong = annexERows.filter((r) => !PATTERNS.has(r.tag) && keywordForTag(r.tag) !== r.keyword).map((r) => `${r.tag} ${r.keyword} (dictionary: ${keywordForTag(r.tag)})`);
    assert.deepEqual(wrong, []);
    assert.deepEqual(tags.filter((t) => !/^[0-9A-F]{8}$/.test(t)).sort(), [...PATTERNS].sort());
  });

  it('gives the Basic Profile action of well-known attributes, in any tag notation', () => {
    assert.equal(annexEAction('00100010')?.basic, 'Z');
    assert.equal(annexEAction('(0010,0020)')?.keyword, 'PatientID');
    assert.equal(annexEAction('x00100030')?.basic, 'Z');
    assert.equal(annexEAction('00101000')?.basic, 'X');
    assert.equal(annexEAction('00080080')?.basic, 'X/Z/D');
    assert.equal(annexEAction('00081140')?.basic, 'X/Z/U*');
    assert.equal(annexEAction('0040A730')?.basic, 'D');
    assert.equal(annexEAction('0020000D')?.basic, 'U');
    assert.equal(annexEAction('7FE00010'), undefined, 'Pixel Data is not in the table');
    assert.equal(annexEAction('00280010'), undefined);
    assert.equal(annexEAction('not a tag'), undefined);
  });

  it('resolves curves, overlay data and comments, and private attributes through their patterns', () => {
    assert.equal(annexEAction('50023000')?.tag, '50xxxxxx');
    assert.equal(annexEAction('60003000')?.tag, '60xx3000');
    assert.equal(annexEAction('601E4000')?.tag, '60xx4000');
    assert.equal(annexEAction('60000010'), undefined, 'Overlay Rows is kept');
    assert.equal(annexEAction('00091001')?.tag, 'ggggeeee');
    assert.equal(annexEAction('00290010')?.basic, 'X', 'private creators are private attributes');
    assert.ok(isIdentityAttribute('00191010'), 'private');
    assert.ok(!isIdentityAttribute('00080060'), 'Modality');
  });

  it('marks the Retain UIDs column on every U row but Digital Signature UID and UID (0040,A124)', () => {
    const notRetained = annexERows.filter((r) => r.basic === 'U' && r.retainUids === undefined).map((r) => r.keyword);
    assert.deepEqual(notRetained.sort(), ['DigitalSignatureUID', 'UID']);
    assert.equal(annexEAction('00081110')?.retainUids, 'K', 'Referenced Study Sequence');
    assert.equal(annexEAction('00082112')?.retainUids, 'K', 'Source Image Sequence');
    assert.equal(annexERows.filter((r) => r.retainUids === 'K').length, 60);
  });

  it('marks the longitudinal temporal columns on dates and times, not on the birth date', () => {
    const study = annexEAction('00080020');
    assert.equal(study?.retainLongFullDates, 'K');
    assert.equal(study?.retainLongModifiedDates, 'C');
    assert.equal(annexEAction('00100030')?.retainLongFullDates, undefined, 'Patient Birth Date');
    assert.equal(annexEAction('00100032')?.retainLongModifiedDates, undefined, 'Patient Birth Time');
    const temporal = annexERows.filter((r) => r.retainLongFullDates === 'K');
    assert.equal(temporal.length, 165);
    assert.ok(
      temporal.every((r) => r.retainLongModifiedDates === 'C'),
      'Full Dates K goes with Modified Dates C',
    );
  });

  it('lists the identity attributes as exact tags and the method codes of CID 7050', () => {
    assert.ok(identityAttributes.has('00100010'), 'Patient Name');
    assert.ok(identityAttributes.has('00080050'), 'Accession Number');
    assert.ok(!identityAttributes.has('7FE00010'), 'Pixel Data');
    assert.equal(identityAttributes.size, annexERows.length - PATTERNS.size);
    assert.equal(DEIDENTIFICATION_METHODS.basic.code, '113100');
    assert.equal(DEIDENTIFICATION_METHODS.retainUids.code, '113110');
    assert.equal(DEIDENTIFICATION_METHODS.retainLongModifiedDates.code, '113107');
  });
});
