/**
 * The data dictionary helpers (PS3.6) and the transfer syntax table (PS3.6 Annex A, PS3.18 media types).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { dictionaryVR, keywordForTag, normalizeTag, tagForKeyword, vrForTag } from '../../../gateway/dicom/dictionary.js';
import { frameMediaType, isEncapsulated, isKnownTransferSyntax, knownTransferSyntaxes, transferSyntax } from '../../../gateway/dicom/transfer-syntax.js';

describe('data dictionary', () => {
  it('keyword <-> tag', () => {
    assert.equal(tagForKeyword('PatientName'), '00100010');
    assert.equal(tagForKeyword('StudyInstanceUID'), '0020000D');
    assert.equal(tagForKeyword('PixelData'), '7FE00010');
    assert.equal(tagForKeyword('OverlayData'), '60003000');
    assert.equal(tagForKeyword('NotAKeyword'), undefined);
    assert.equal(keywordForTag('00100010'), 'PatientName');
    assert.equal(keywordForTag('(0008,0020)'), 'StudyDate');
    assert.equal(keywordForTag('x0020000d'), 'StudyInstanceUID');
    assert.equal(keywordForTag('60023000'), 'OverlayData');
    assert.equal(keywordForTag('00091010'), undefined);
    assert.equal(keywordForTag('nonsense'), undefined);
  });

  it('retired keywords without the RETIRED_ prefix', () => {
    const tag = tagForKeyword('CurveData');
    assert.equal(tag, '50003000');
    assert.equal(keywordForTag('50023000'), 'CurveData');
  });

  it('VRs, with repeating groups, group lengths, private creators and choices', () => {
    assert.equal(vrForTag('00100010'), 'PN');
    assert.equal(vrForTag('00280010'), 'US');
    assert.equal(vrForTag('00080000'), 'UL');
    assert.equal(vrForTag('00090010'), 'LO');
    assert.equal(vrForTag('00091010'), undefined);
    assert.equal(vrForTag('60043000'), 'OW');
    assert.equal(vrForTag('60040010'), 'US');
    assert.equal(dictionaryVR('7FE00010'), 'OB or OW');
    assert.equal(dictionaryVR('00280106'), 'US or SS');
    assert.equal(dictionaryVR('00283006'), 'US or OW');
    assert.equal(vrForTag('00280106'), 'US');
    assert.equal(vrForTag('7FE00001'), 'OV');
  });

  it('normalizes tag spellings', () => {
    for (const spelling of ['00100010', '(0010,0010)', '0010,0010', 'x00100010', '(0010, 0010)']) {
      assert.equal(normalizeTag(spelling), '00100010', spelling);
    }
    assert.equal(normalizeTag('0010001'), undefined);
    assert.equal(normalizeTag('PatientName'), undefined);
  });
});

describe('transfer syntaxes', () => {
  it('describes the native ones', () => {
    assert.deepEqual(transferSyntax('1.2.840.10008.1.2'), {
      uid: '1.2.840.10008.1.2',
      name: 'Implicit VR Little Endian',
      explicitVR: false,
      littleEndian: true,
      deflated: false,
      encapsulated: false,
      mediaType: 'application/octet-stream',
    });
    assert.equal(transferSyntax('1.2.840.10008.1.2.2').littleEndian, false);
    assert.equal(transferSyntax('1.2.840.10008.1.2.1.99').deflated, true);
    assert.equal(isEncapsulated('1.2.840.10008.1.2.1'), false);
  });

  it('encapsulated ones have frame media types', () => {
    assert.equal(isEncapsulated('1.2.840.10008.1.2.4.50'), true);
    assert.equal(frameMediaType('1.2.840.10008.1.2.4.50'), 'image/jpeg');
    assert.equal(frameMediaType('1.2.840.10008.1.2.4.80'), 'image/jls');
    assert.equal(frameMediaType('1.2.840.10008.1.2.4.90'), 'image/jp2');
    assert.equal(frameMediaType('1.2.840.10008.1.2.4.92'), 'image/jpx');
    assert.equal(frameMediaType('1.2.840.10008.1.2.4.201'), 'image/jphc');
    assert.equal(frameMediaType('1.2.840.10008.1.2.5'), 'image/dicom-rle');
    assert.equal(frameMediaType('1.2.840.10008.1.2.4.100'), 'video/mpeg');
    assert.equal(frameMediaType('1.2.840.10008.1.2.4.102'), 'video/mp4');
  });

  it('unknown ones are explicit VR little endian, encapsulated, octet-stream', () => {
    assert.equal(isKnownTransferSyntax('1.2.3.4'), false);
    assert.deepEqual({ ...transferSyntax('1.2.3.4'), name: '' }, { uid: '1.2.3.4', name: '', explicitVR: true, littleEndian: true, deflated: false, encapsulated: true, mediaType: 'application/octet-stream' });
  });

  it('the table has unique UIDs', () => {
    const uids = knownTransferSyntaxes().map((t) => t.uid);
    assert.equal(new Set(uids).size, uids.length);
    assert.ok(uids.length > 50);
  });
});
