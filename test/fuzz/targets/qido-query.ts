/**
 * Fuzz target: the QIDO-RS query parser (PS3.18 §8.3.4). Query strings built from every
 * attribute keyword and tag form of the dictionary, sequence paths, private attributes with or
 * without their creators, values with wildcards, UID lists, date/time ranges, junk, and the
 * special keys (limit, offset, fuzzymatching, includefield, orderby) with junk values; plus raw
 * query strings decoded by URLSearchParams. Invariant: a QidoQuery within the limits, or
 * INVALID_QUERY_KEY / INVALID_QUERY_VALUE / INVALID_UID.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseQidoQuery } from '../../../gateway/http/qido-query.js';
import { catalogued } from '../support/catalogued.js';
import { attributeKey, attributePath } from '../support/dictionary-keys.js';
import { fuzzTarget } from '../support/target.js';

const digits = (n: number) => fc.stringMatching(new RegExp(`^\\d{${n}}$`));
const uid = fc.oneof(
  fc.constantFrom('1.2.3', '1.2.840.10008.5.1.4.1.1.2', '0.1', '1.02', '1..2', '.1', '1.', 'x', `1.${'2'.repeat(80)}`),
  fc.array(fc.integer({ min: 0, max: 99999 }), { minLength: 1, maxLength: 8 }).map((parts) => parts.join('.')),
);
const date = fc.oneof(digits(8), fc.constantFrom('20240230', '2024', '2024-01-01', ''));
const time = fc.oneof(digits(6), digits(4), digits(2), fc.constantFrom('120000.123456', '12.5', '240000', '1200001234567', ''));

const value = fc.oneof(
  fc.constantFrom('', '*', '?', '**', 'Doe^*', 'D?e', '\\', '%', '_', "'", '"', 'a\\b', 'true', 'false', '-', '--', '-20240101', '20240101-', '20240101-20241231', '1-2-3'),
  fc.tuple(date, date).map(([a, b]) => `${a}-${b}`),
  fc.tuple(time, time).map(([a, b]) => `${a}-${b}`),
  date,
  time,
  fc.array(uid, { minLength: 1, maxLength: 4 }).chain((uids) => fc.constantFrom('\\', ',', ' , ').map((sep) => uids.join(sep))),
  fc.integer({ min: -1e12, max: 1e12 }).map(String),
  fc.string({ maxLength: 40 }),
  fc.string({ minLength: 250, maxLength: 300 }),
);

const count = fc.oneof(fc.nat().map(String), fc.constantFrom('-1', '1e3', '0x10', '', ' 5', '99999999999', '1.5', 'NaN', '10 '));
const includeField = fc.array(fc.oneof(attributeKey, attributePath, fc.constantFrom('all', 'ALL', '')), { maxLength: 4 }).map((keys) => keys.join(','));

const pair: fc.Arbitrary<[string, string]> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(attributeKey, value) },
  { weight: 1, arbitrary: fc.tuple(attributePath, value) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('limit', 'offset', 'LIMIT', ' offset '), count) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('fuzzymatching', 'FuzzyMatching'), fc.constantFrom('true', 'false', 'TRUE', '', '1')) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('includefield', 'includeField'), includeField) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('orderby'), fc.string({ maxLength: 10 })) },
);

export const qidoParams = fc.oneof({ weight: 8, arbitrary: fc.array(pair, { maxLength: 8 }).map((pairs) => new URLSearchParams(pairs)) }, { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((raw) => new URLSearchParams(raw)) });

const scope = fc.constantFrom({}, { study: '1.2.3' }, { study: '1.2.3', series: '1.2.3.4' });

export const target = fuzzTarget({
  arbitrary: fc.record({ params: qidoParams, level: fc.constantFrom('study' as const, 'series' as const, 'instance' as const), scope }),
  check({ params, level, scope }) {
    const query = catalogued(['INVALID_QUERY_KEY', 'INVALID_QUERY_VALUE', 'INVALID_UID'], () => parseQidoQuery(params, level, scope, { maxResults: 1000, maxScan: 5000 }));
    if (query === undefined) return;
    assert.ok(Number.isSafeInteger(query.limit) && query.limit >= 0 && query.limit <= 1000, `limit ${query.limit}`);
    assert.ok(Number.isSafeInteger(query.offset) && query.offset >= 0, `offset ${query.offset}`);
    for (const tag of query.include) assert.match(tag, /^[0-9A-F]{8}$/);
    for (const filter of query.filters) assert.match(filter.tag, /^[0-9A-F]{8}$/);
  },
});
