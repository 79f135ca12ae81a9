import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { param, parseAccept, parseMediaType } from '../../../gateway/http/media-type.js';
import { negotiateFrames, negotiateInstances, negotiateJson } from '../../../gateway/http/negotiate.js';

const JPEG2000 = '1.2.840.10008.1.2.4.90';
const EVRLE = '1.2.840.10008.1.2.1';
const IVRLE = '1.2.840.10008.1.2';
const EVRBE = '1.2.840.10008.1.2.2';

describe('media types', () => {
  it('parses quoted and unquoted parameters, duplicates and q-values', () => {
    const m = parseMediaType('Multipart/Related; type="application/dicom"; boundary=abc; transfer-syntax=*; transfer-syntax=1.2.3')!;
    assert.equal(m.type, 'multipart');
    assert.equal(m.subtype, 'related');
    assert.equal(param(m, 'type'), 'application/dicom');
    assert.deepEqual(m.params.get('transfer-syntax'), ['*', '1.2.3']);
    assert.equal(param(m, 'transfer-syntax'), '*');
    assert.equal(parseMediaType('multipart/related; type=application/dicom')!.params.get('type')![0], 'application/dicom');
    assert.equal(parseMediaType('garbage'), undefined);
  });

  it('splits Accept on commas outside quotes and sorts by q', () => {
    const ranges = parseAccept('image/png;q=0.5, multipart/related; type="application/dicom, x"; q=0.9, */*;q=0');
    assert.deepEqual(
      ranges.map((r) => `${r.type}/${r.subtype}`),
      ['multipart/related', 'image/png'],
    );
    assert.equal(param(ranges[0], 'type'), 'application/dicom, x');
    assert.deepEqual(
      parseAccept(undefined).map((r) => `${r.type}/${r.subtype}`),
      ['*/*'],
    );
  });
});

describe('negotiation', () => {
  it('instances: transfer-syntax=* takes anything as stored, no transfer syntax takes Explicit VR Little Endian (transcoded when stored otherwise)', () => {
    const any = negotiateInstances('multipart/related; type="application/dicom"; transfer-syntax=*', false);
    assert.equal(any.acceptable(JPEG2000), true);
    assert.equal(any.transferSyntaxFor(JPEG2000), JPEG2000);
    const plain = negotiateInstances('multipart/related; type=application/dicom', false);
    assert.equal(plain.transferSyntaxFor(EVRLE), EVRLE);
    assert.equal(plain.transferSyntaxFor(IVRLE), EVRLE, 'the PS3.18 default: transcoded from Implicit VR');
    assert.equal(plain.transferSyntaxFor(JPEG2000), EVRLE, 'decoded from JPEG 2000');
    assert.equal(plain.acceptable(EVRBE), false, 'Aegis does not transcode from big endian');
    assert.equal(negotiateInstances('application/dicom', true).multipart, false);
    assert.throws(() => negotiateInstances('application/dicom', false), { code: 'NOT_ACCEPTABLE' });
    assert.throws(() => negotiateInstances('text/html', true), { code: 'NOT_ACCEPTABLE' });
  });

  it('frames: native as octet-stream, compressed as stored or decoded, OHIF composite Accept works', () => {
    assert.equal(negotiateFrames('multipart/related; type=application/octet-stream; transfer-syntax=*', IVRLE, 'application/octet-stream', true).partContentType, `application/octet-stream; transfer-syntax=${EVRLE}`);
    assert.equal(negotiateFrames('multipart/related; type=application/octet-stream', EVRLE, 'application/octet-stream', false).partContentType, `application/octet-stream; transfer-syntax=${EVRLE}`);
    assert.throws(() => negotiateFrames('multipart/related; type=application/octet-stream', EVRBE, 'application/octet-stream', false), { code: 'NOT_ACCEPTABLE' });
    assert.equal(negotiateFrames('multipart/related; type=application/octet-stream; transfer-syntax=*', EVRBE, 'application/octet-stream', false).partContentType, `application/octet-stream; transfer-syntax=${EVRBE}`);
    const ohif = 'multipart/related; type=application/octet-stream; transfer-syntax=*; transfer-syntax=*';
    assert.equal(negotiateFrames(ohif, JPEG2000, 'image/jp2', false).partContentType, `application/octet-stream; transfer-syntax=${JPEG2000}`);
    assert.equal(negotiateFrames('multipart/related; type="image/jp2"', JPEG2000, 'image/jp2', false).partContentType, `image/jp2; transfer-syntax=${JPEG2000}`);
    assert.equal(negotiateFrames('*/*', JPEG2000, 'image/jp2', false).partContentType, `image/jp2; transfer-syntax=${JPEG2000}`);
    assert.throws(() => negotiateFrames('multipart/related; type="image/jpeg"', JPEG2000, 'image/jp2', false), { code: 'NOT_ACCEPTABLE' });
    assert.deepEqual(
      negotiateFrames('multipart/related; type=application/octet-stream', JPEG2000, 'image/jp2', false),
      { partContentType: `application/octet-stream; transfer-syntax=${EVRLE}`, multipart: true, decode: true },
      'compressed frames asked as octet-stream are decoded',
    );
  });

  it('JSON: application/dicom+json, application/json or anything', () => {
    assert.equal(negotiateJson(undefined), 'application/dicom+json');
    assert.equal(negotiateJson('application/json'), 'application/json');
    assert.equal(negotiateJson('text/html, */*;q=0.1'), 'application/dicom+json');
    assert.throws(() => negotiateJson('application/xml'), { code: 'NOT_ACCEPTABLE' });
  });
});
