/**
 * The Native DICOM Model writer (PS3.19 Annex A) against the DICOM JSON Model it is made from:
 * read back with fast-xml-parser, every attribute (tag, VR, keyword, private creator, values,
 * person name groups and components, sequence items, bulk data URIs, inline binary) equals the
 * JSON's; and every instance of the pydicom corpus the parser accepts converts to well-formed XML
 * that reads back equal to its JSON.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, it } from 'node:test';
import { keywordForTag } from '../../../gateway/dicom/dictionary.js';
import { NATIVE_DICOM_NAMESPACE, nativeDicomXml } from '../../../gateway/dicom/native-xml.js';
import { parseInstance } from '../../../gateway/dicom/parse.js';
import type { DicomJson } from '../../../gateway/dicom/types.js';
import { syntheticInstance } from '../../fixtures/synthetic.js';
import { corpusFiles, PYDICOM_DATA } from '../../support/corpus.js';
import { comparableJson, readNativeXml } from '../../support/native-xml.js';
import { expectedRejection } from '../../support/pydicom-expectations.js';

const same = (json: DicomJson) => {
  const { namespace, dataset } = readNativeXml(nativeDicomXml(json));
  assert.equal(namespace, NATIVE_DICOM_NAMESPACE);
  assert.deepEqual(dataset, comparableJson(json, keywordForTag));
};

describe('Native DICOM Model (application/dicom+xml)', () => {
  it('writes every kind of attribute as PS3.19 says, and reads back equal to the JSON', () => {
    const json: DicomJson = {
      '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
      '00080008': { vr: 'CS', Value: ['ORIGINAL', 'PRIMARY', null] },
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Müller^Jürgen^^Dr', Ideographic: '山田^太郎' }, null] },
      '00101010': { vr: 'AS', Value: ['045Y'] },
      '00181050': { vr: 'DS', Value: [0.5, 12] },
      '00280010': { vr: 'US', Value: [512] },
      '00081140': { vr: 'SQ', Value: [{ '00081150': { vr: 'UI', Value: ['1.2.3'] } }, {}] },
      '00090010': { vr: 'LO', Value: ['ACME 1.0'] },
      '00091010': { vr: 'LO', Value: ['a < b & "c"'] },
      '00091011': { vr: 'UN', InlineBinary: 'AAEC' },
      '00204000': { vr: 'LT', Value: ['line\fpage\r\nnext'] },
      '7FE00010': { vr: 'OW', BulkDataURI: 'http://x/studies/1/series/2/instances/3/bulkdata/7FE00010?a=1&b=2' },
      '00080016': { vr: 'UI' },
    };
    same(json);
    const xml = nativeDicomXml(json);
    assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<NativeDicomModel xmlns="http:\/\/dicom\.nema\.org\/PS3\.19\/models\/NativeDICOM" xml:space="preserve">/);
    assert.ok(xml.includes('<DicomAttribute tag="00100010" vr="PN" keyword="PatientName"><PersonName number="1"><Alphabetic><FamilyName>Müller</FamilyName><GivenName>Jürgen</GivenName><NamePrefix>Dr</NamePrefix></Alphabetic>'), xml);
    assert.ok(xml.includes('<DicomAttribute tag="00091010" vr="LO" privateCreator="ACME 1.0"><Value number="1">a &lt; b &amp; &quot;c&quot;</Value></DicomAttribute>'), xml);
    assert.ok(
      xml.includes('<BulkData uri="http://x/studies/1/series/2/instances/3/bulkdata/7FE00010?a=1&amp;b=2"></BulkData>') || xml.includes('<BulkData uri="http://x/studies/1/series/2/instances/3/bulkdata/7FE00010?a=1&amp;b=2"/>'),
      xml,
    );
    assert.ok(xml.includes('<Item number="2"></Item>') || xml.includes('<Item number="2"/>'), 'an empty item is kept');
    assert.ok(xml.includes('<Value number="3"></Value>') || xml.includes('<Value number="3"/>'), 'an empty value keeps its number');
    assert.ok(xml.includes('line\uFFFDpage&#13;\nnext'), 'a form feed, which XML cannot carry, is U+FFFD; a carriage return a reference');
  });

  it('converts the metadata of a synthetic instance', () => {
    same(parseInstance(syntheticInstance({ patientName: 'Doe^Jane', rows: 4, columns: 4 })).metadata);
  });

  it('converts the metadata of every corpus file the parser accepts to well-formed XML equal to its JSON', () => {
    let converted = 0;
    for (const file of corpusFiles()) {
      if (expectedRejection(file) !== undefined) continue;
      const { metadata } = parseInstance(readFileSync(file));
      try {
        same(metadata);
      } catch (error) {
        assert.fail(`${relative(PYDICOM_DATA, file)}: ${(error as Error).message.slice(0, 2000)}`);
      }
      converted += 1;
    }
    assert.ok(converted > 50, `${converted} files converted`);
  });
});
