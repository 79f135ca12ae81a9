/**
 * Attribute keys for query fuzzers: every keyword and tag of the data dictionary (PS3.6), the
 * attributes the catalog matches on, private tags and their creators, and broken forms of each.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { MATCHABLE } from '../../../gateway/catalog/query.js';

const data = JSON.parse(readFileSync(new URL('../../../gateway/dicom/dictionary-data.json', import.meta.url), 'utf8')) as { tags: Record<string, [string, string]> };
const TAGS = Object.keys(data.tags).filter((tag) => /^[0-9A-F]{8}$/.test(tag));
const KEYWORDS = Object.values(data.tags).map(([, keyword]) => keyword);
const SEQUENCES = Object.entries(data.tags)
  .filter(([tag, [vr]]) => vr === 'SQ' && /^[0-9A-F]{8}$/.test(tag))
  .map(([tag, [, keyword]]) => [tag, keyword]);

const hex = (digits: number) => fc.stringMatching(new RegExp(`^[0-9A-Fa-f]{${digits}}$`));

/** One attribute key: a keyword, a tag (any case), a matchable attribute, a private tag or creator, or a broken one. */
export const attributeKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...Object.keys(MATCHABLE)) },
  { weight: 3, arbitrary: fc.constantFrom(...KEYWORDS) },
  { weight: 2, arbitrary: fc.constantFrom(...TAGS).map((t) => t.toLowerCase()) },
  { weight: 1, arbitrary: fc.constantFrom(...TAGS) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('0009', '0019', '0029', '7FE1', '0011'), fc.constantFrom('00', '10', '11', '0F', 'FF'), hex(2)).map(([g, b, e]) => `${g}${b}${e}`) },
  { weight: 1, arbitrary: fc.constantFrom('(0010,0010)', '0010,0010', '001000', '0010001000', 'PatientName ', ' patientname', 'Patient Name', '', '.', '..') },
  { weight: 1, arbitrary: hex(8) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

/** A sequence path `Seq.Key` or `Seq.Seq.Key` (keywords or tags), sometimes through a non-sequence. */
export const attributePath: fc.Arbitrary<string> = fc
  .tuple(
    fc.array(
      fc.constantFrom(...SEQUENCES).chain(([tag, keyword]) => fc.constantFrom(tag, keyword)),
      { minLength: 1, maxLength: 3 },
    ),
    attributeKey,
  )
  .map(([sequences, last]) => [...sequences, last].join('.'));
