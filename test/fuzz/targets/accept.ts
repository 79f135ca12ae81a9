/**
 * Fuzz target: the Accept parser and every negotiation built on it (RFC 9110 §12.5.1, PS3.18
 * §8.7). Headers are lists of media ranges with q-values (valid, out of range, junk), parameters
 * (transfer-syntax, type, charset, duplicated), quoted strings with escapes and separators inside,
 * stray commas and semicolons, plus raw printable junk. Invariant: parseAccept never throws and
 * returns well-formed ranges, highest q first; the negotiations answer or throw NOT_ACCEPTABLE.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseAccept } from '../../../gateway/http/media-type.js';
import { negotiateBulkData, negotiateFrames, negotiateInstances, negotiateJson } from '../../../gateway/http/negotiate.js';
import { negotiateMetadata } from '../../../gateway/http/negotiate-metadata.js';
import { catalogued } from '../support/catalogued.js';
import { fuzzTarget } from '../support/target.js';

const TYPES = [
  'application/dicom',
  'application/dicom+json',
  'application/json',
  'application/dicom+xml',
  'multipart/related',
  'application/octet-stream',
  'image/jpeg',
  'image/jls',
  'image/jp2',
  'image/png',
  '*/*',
  'application/*',
  'image/*',
  'text/html',
  'x/y/z',
  '/',
  'application/',
  '',
];
const SYNTAXES = ['*', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2', '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.5', '1.2.840.10008.1.2.2', 'junk', ''];

const token = fc.stringMatching(/^[\w.+*-]{0,12}$/);
const junk = fc.string({ unit: fc.constantFrom(...'";,=\\/ *q\t\r\n\u00e9\u0000'.split('')), maxLength: 12 });

const quoted = fc.oneof(
  fc.constant('"'),
  fc.tuple(fc.oneof(token, junk), fc.boolean()).map(([text, closed]) => `"${text.replace(/"/g, '\\"')}${closed ? '"' : ''}`),
);

const paramValue = fc.oneof(fc.constantFrom(...SYNTAXES), fc.constantFrom(...TYPES), token, quoted, junk);
const param = fc.oneof(
  fc.tuple(fc.constantFrom('transfer-syntax', 'type', 'charset', 'q', 'Q', 'TRANSFER-SYNTAX', 'boundary', ''), paramValue).map(([name, value]) => `${name}=${value}`),
  fc.constantFrom('q=0', 'q=1', 'q=0.5', 'q=1.5', 'q=-1', 'q=NaN', 'q=Infinity', 'q=1e999', 'q=', 'q', '=', ';', ''),
  junk,
);

const range = fc
  .tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...TYPES) }, token, junk), fc.array(param, { maxLength: 5 }), fc.constantFrom(';', ' ; ', ';;', ','))
  .map(([type, params, separator]) => [type, ...params].join(separator));

/** An Accept header: structured ranges, raw printable junk, or absent. */
export const acceptHeader = fc.oneof(
  { weight: 6, arbitrary: fc.array(range, { maxLength: 6 }).chain((ranges) => fc.constantFrom(', ', ',', ' ,, ').map((comma) => ranges.join(comma))) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

export const target = fuzzTarget({
  arbitrary: fc.record({ header: acceptHeader, transferSyntax: fc.constantFrom(...SYNTAXES.slice(1)), frameType: fc.constantFrom('application/octet-stream', 'image/jpeg', 'image/jp2'), single: fc.boolean() }),
  check({ header, transferSyntax, frameType, single }) {
    const ranges = parseAccept(header);
    for (const [i, r] of ranges.entries()) {
      assert.match(r.type, /^[\w.+*-]+$/);
      assert.match(r.subtype, /^[\w.+*-]+$/);
      assert.ok(r.q > 0 && r.q <= 1, `q ${r.q}`);
      if (i > 0) assert.ok(ranges[i - 1].q >= r.q, 'ranges not sorted by q');
    }
    const only = ['NOT_ACCEPTABLE'] as const;
    const instances = catalogued(only, () => negotiateInstances(header, single));
    if (instances) instances.transferSyntaxFor(transferSyntax);
    catalogued(only, () => negotiateFrames(header, transferSyntax, frameType, single));
    catalogued(only, () => negotiateBulkData(header));
    catalogued(only, () => negotiateJson(header));
    catalogued(only, () => negotiateMetadata(header));
  },
});
