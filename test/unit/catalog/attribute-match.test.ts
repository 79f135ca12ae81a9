/**
 * Matching instance metadata against QIDO-RS keys without a catalog column, and private attributes
 * found through their Private Creator (`gateway/catalog/attribute-match.ts`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { attributeOf, metadataMatches, privateAttributes, wildcardMatches } from '../../../gateway/catalog/attribute-match.js';
import type { AttributeFilter } from '../../../gateway/catalog/query.js';
import type { DicomJson } from '../../../gateway/dicom/types.js';

const metadata: DicomJson = {
  '00080008': { vr: 'CS', Value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] },
  '00081010': { vr: 'SH', Value: ['CT01'] },
  '00080022': { vr: 'DA', Value: ['20240315'] },
  '00181050': { vr: 'DS', Value: [0.5] },
  '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^Jane' }] },
  '00090010': { vr: 'LO', Value: ['OTHER'] },
  '00090011': { vr: 'LO', Value: ['ACME 1.0'] },
  '00091010': { vr: 'LO', Value: ['gamma'] },
  '00091110': { vr: 'UN', InlineBinary: Buffer.from('beta ').toString('base64') },
};
const text = JSON.stringify(metadata);
const acme = new Map([['000910', 'ACME 1.0']]);
const value = (tag: string, v: string): AttributeFilter => ({ tag, kind: 'value', value: v, wildcard: /[*?]/.test(v) });
const matches = (...filters: AttributeFilter[]) => metadataMatches(text, filters, acme) !== undefined;

describe('attribute matching on instance metadata', () => {
  it('single values, wildcards, any of several values, numbers and person names', () => {
    assert.equal(matches(value('00081010', 'CT01')), true);
    assert.equal(matches(value('00081010', 'CT0')), false, 'single value matching is exact');
    assert.equal(matches(value('00081010', 'ct01')), false, 'and case-sensitive');
    assert.equal(matches(value('00081010', 'CT?1')), true);
    assert.equal(matches(value('00081010', 'C*')), true);
    assert.equal(matches(value('00081010', '*2')), false);
    assert.equal(matches(value('00080008', 'AXIAL')), true, 'one of several values');
    assert.equal(matches(value('00181050', '0.50')), true, 'numbers compare as numbers');
    assert.equal(matches(value('00100010', 'Doe^*')), true);
    assert.equal(matches(value('00081010', 'CT01'), value('00080008', 'LOCALIZER')), false, 'every filter must match');
    assert.equal(matches(value('00081030', 'x')), false, 'an absent attribute matches nothing');
    assert.equal(metadataMatches(text, [value('00081010', 'a.b')], acme), undefined, 'regular expression characters are literal');
  });

  it('wildcards without backtracking: a pattern of many * against a long value answers at once', () => {
    assert.equal(wildcardMatches('a*b?d*', 'aXXbcdYY'), true);
    assert.equal(wildcardMatches('*', ''), true);
    assert.equal(wildcardMatches('?', ''), false);
    assert.equal(wildcardMatches('a*', 'ba'), false);
    assert.equal(wildcardMatches('*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(5000)), false);
    assert.equal(wildcardMatches('*😀?', 'x😀y'), true, 'characters, not UTF-16 units');
  });

  it('date ranges, open at either end', () => {
    const range = (from?: string, to?: string): AttributeFilter => ({ tag: '00080022', kind: 'range', from, to });
    assert.equal(matches(range('20240101', '20241231')), true);
    assert.equal(matches(range('20240316')), false);
    assert.equal(matches(range(undefined, '20240315')), true);
    assert.equal(matches(range(undefined, '202403')), true, 'a shorter upper bound covers what it starts');
  });

  it('finds a private attribute through the block its creator reserved, not by its number', () => {
    assert.deepEqual(attributeOf(metadata, '00091010', acme), metadata['00091110']);
    assert.equal(attributeOf(metadata, '00091010', new Map()), undefined, 'no creator, no attribute');
    assert.equal(attributeOf(metadata, '00091010', new Map([['000910', 'NOBODY']])), undefined);
    assert.equal(matches(value('00091010', 'beta')), true, 'a UN value as text, its padding trimmed');
    assert.equal(matches(value('00091010', 'gamma')), false, "gamma is OTHER's");
    assert.deepEqual(privateAttributes(metadata, ['00091010', '00081010'], acme), { '00090010': { vr: 'LO', Value: ['ACME 1.0'] }, '00091010': metadata['00091110'] });
  });

  it('counts the steps of wildcard matching, and gives up past the limit', () => {
    const text = `${'a'.repeat(1000)}b`;
    const pattern = `*${'a'.repeat(100)}b`;
    const free = { steps: 0, limit: Infinity };
    assert.equal(wildcardMatches(pattern, text, free), true);
    assert.ok(free.steps > 100 * 900, `pattern x value steps: ${free.steps}`);
    const bounded = { steps: 0, limit: 10_000 };
    assert.equal(wildcardMatches(pattern, text, bounded), false, 'stopped at the limit');
    assert.equal(bounded.steps, 10_001);
  });
});
