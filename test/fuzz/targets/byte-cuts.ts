/**
 * Fuzz target: the byte cutter of the protection pipeline (docs/protection.md): the identity split's
 * ranges of an instance, cutting them out and splicing them back, and the byte striping of pixel
 * data that is not segmented. Three kinds of case: an instance from support/dicom-inputs.ts that
 * the parser accepts (its identity and pixel ranges must be sorted, disjoint, inside the bytes,
 * and cut then spliced give the very same bytes); arbitrary ranges and pieces (the cutter answers
 * or refuses with INTEGRITY_FAILURE, never another error); and striping with any region count and
 * stripe size, joined back exactly, or refused when its pieces were tampered with.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseInstance } from '../../../gateway/dicom/parse.js';
import { cutRanges, spliceRanges, type ByteRange } from '../../../gateway/protection/split/byte-cuts.js';
import { joinStripes, stripeBytes } from '../../../gateway/protection/split/byte-stripes.js';
import { identityRanges } from '../../../gateway/protection/split/identity-ranges.js';
import { catalogued } from '../support/catalogued.js';
import { dicomInput } from '../support/dicom-inputs.js';
import { fuzzTarget } from '../support/target.js';

type Case = { kind: 'instance'; bytes: Uint8Array } | { kind: 'ranges'; bytes: Uint8Array; ranges: ByteRange[]; pieces: number[] } | { kind: 'stripes'; bytes: Uint8Array; regions: number; stripe: number; tamper?: [number, number] };

const anyNumber = fc.oneof(fc.nat({ max: 80 }), fc.constantFrom(-1, 0.5, NaN, Infinity, 2 ** 32, Number.MAX_SAFE_INTEGER));
const cases: fc.Arbitrary<Case> = fc.oneof(
  { weight: 3, arbitrary: dicomInput.map((bytes): Case => ({ kind: 'instance', bytes })) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('ranges' as const),
      bytes: fc.uint8Array({ maxLength: 64 }),
      ranges: fc.array(fc.record({ offset: anyNumber, length: anyNumber }), { maxLength: 5 }),
      pieces: fc.array(fc.integer({ min: -1, max: 3 }), { maxLength: 6 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      { kind: fc.constant('stripes' as const), bytes: fc.uint8Array({ maxLength: 200 }), regions: fc.integer({ min: 2, max: 16 }), stripe: fc.integer({ min: 1, max: 9 }), tamper: fc.tuple(fc.nat(), fc.integer({ min: -2, max: 2 })) },
      { requiredKeys: ['kind', 'bytes', 'regions', 'stripe'] },
    ),
  },
);

function checkInstance(bytes: Uint8Array): void {
  const parsed = catalogued(['INVALID_DICOM', 'PAYLOAD_TOO_LARGE'], () => parseInstance(bytes, { maxInflatedBytes: 1 << 20 }));
  if (parsed === undefined || parsed.deflated) return; // deflated data sets are kept opaque, never cut
  const { identity, pixels } = identityRanges(bytes, parsed);
  const ranges = pixels ? [...identity, pixels] : identity;
  let end = 0;
  for (const r of [...ranges].sort((a, b) => a.offset - b.offset)) {
    assert.ok(Number.isInteger(r.offset) && r.length > 0 && r.offset >= end && r.offset + r.length <= bytes.length, `range ${r.offset}+${r.length} overlaps or lies outside ${bytes.length} bytes`);
    end = r.offset + r.length;
  }
  const { kept, cut } = cutRanges(bytes, ranges);
  assert.deepEqual(spliceRanges(kept, ranges, cut), bytes);
}

function checkRanges(bytes: Uint8Array, ranges: ByteRange[], pieces: number[]): void {
  const split = catalogued(['INTEGRITY_FAILURE'], () => cutRanges(bytes, ranges));
  if (split !== undefined) assert.deepEqual(spliceRanges(split.kept, ranges, split.cut), bytes);
  // Pieces of made-up lengths, against ranges that may not fit them.
  const made = pieces.map((n) => (n < 0 ? null : new Uint8Array(n)));
  catalogued(['INTEGRITY_FAILURE', 'INTERNAL'], () => spliceRanges(bytes, ranges, made, made.includes(null) ? new Uint8Array(bytes.length + 1) : undefined));
}

function checkStripes(bytes: Uint8Array, regions: number, stripe: number, tamper?: [number, number]): void {
  const striped = stripeBytes(bytes, regions, { reason: 'encapsulated', detail: 'fuzz' }, stripe);
  assert.deepEqual(joinStripes(striped.regions, striped.parameters), bytes);
  if (tamper === undefined) return;
  const [which, delta] = tamper;
  const pieces = striped.regions.map((r, i) => (i === which % regions ? new Uint8Array(Math.max(0, r.length + delta)) : r));
  catalogued(['INTEGRITY_FAILURE'], () => joinStripes(pieces, striped.parameters));
}

export const target = fuzzTarget({
  arbitrary: cases,
  check(input) {
    if (input.kind === 'instance') checkInstance(input.bytes);
    else if (input.kind === 'ranges') checkRanges(input.bytes, input.ranges, input.pieces);
    else checkStripes(input.bytes, input.regions, input.stripe, input.tamper);
  },
});
