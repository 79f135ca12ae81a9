/**
 * Property test of de-identification over random synthetic instances: identity attributes and
 * private attributes with random marker values, at random depths inside sequences of defined and
 * undefined length that the profile keeps, empties, replaces or removes, in every encoding
 * (explicit and implicit VR, little and big endian, deflated), with a Group Length, under random
 * options. Whatever the instance, the de-identified bytes parse, their JSON equals the de-identified
 * JSON, every length is consistent (group lengths, and the splicer's own structure checks pass on
 * the output), and no marker is left anywhere in the bytes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_BIG_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN } from '../../../gateway/dicom/transfer-syntax.js';
import { deidentifyInstance } from '../../../gateway/deidentify/deidentify.js';
import type { DeidentifyOptions } from '../../../gateway/deidentify/deid-plan.js';
import { buildInstance, identity, imagePixel, ramp, type Spec } from '../dicom/instance-builder.js';
import { contains, deflateDataSet, deidentifyAndCompare, groupLength, viewOf, withTrueGroupLengths } from './deid-support.js';

/** Identity attributes of Table E.1-1 (X, Z, X/Z/D, ... in the Basic Profile) and their VRs. */
const IDENTITY: Array<[string, string]> = [
  ['00080050', 'SH'],
  ['00080080', 'LO'],
  ['00080090', 'PN'],
  ['00081030', 'LO'],
  ['0008103E', 'LO'],
  ['00081070', 'PN'],
  ['00100010', 'PN'],
  ['00100020', 'LO'],
  ['00101000', 'LO'],
  ['00101001', 'PN'],
  ['00104000', 'LT'],
  ['00181030', 'LO'],
  ['00200010', 'SH'],
  ['00204000', 'LT'],
  ['00321032', 'PN'],
  ['0040A075', 'PN'],
  ['0040A123', 'PN'],
];
/** Sequences: not in the table (kept), Referenced Study (X/Z, kept by Retain UIDs), Content (D), Request Attributes (X). */
const SEQUENCES = ['00081250', '00540016', '00089215', '00081110', '0040A730', '00400275'];

const marker = fc.stringMatching(/^[A-Z]{6,10}$/).map((s) => `ZQ${s}`);

const identityElement: fc.Arbitrary<Spec> = fc.tuple(fc.constantFrom(...IDENTITY), marker).map(([[tag, vr], value]) => [tag, vr, vr === 'PN' ? `${value}^${value.slice(0, 4)}` : value]);

const privateBlock: fc.Arbitrary<Spec[]> = fc.tuple(marker, marker).map(([creator, value]) => [
  ['00290010', 'LO', creator],
  ['00291001', 'LO', value],
]);

function dataSet(depth: number): fc.Arbitrary<Spec[]> {
  const parts: Array<fc.Arbitrary<Spec[]>> = [fc.array(identityElement, { maxLength: 4 }), fc.option(privateBlock, { nil: [] })];
  if (depth < 2) {
    const sequence: fc.Arbitrary<Spec> = fc.tuple(fc.constantFrom(...SEQUENCES), fc.boolean(), fc.array(dataSet(depth + 1), { maxLength: 2 })).map(([tag, undefinedLength, items]) => [tag, 'SQ', { undefinedLength, items }]);
    parts.push(fc.array(sequence, { maxLength: 2 }));
  }
  return fc.tuple(...parts).map((groups) => uniqueSorted(groups.flat()));
}

/** One element per tag (the first), in ascending tag order. */
function uniqueSorted(specs: Spec[]): Spec[] {
  const seen = new Set<string>();
  return specs.filter(([tag]) => !seen.has(tag) && seen.add(tag) !== undefined).sort(([a], [b]) => a.localeCompare(b));
}

const ENCODINGS = {
  'explicit LE': EXPLICIT_VR_LITTLE_ENDIAN,
  'implicit LE': IMPLICIT_VR_LITTLE_ENDIAN,
  'explicit BE': EXPLICIT_VR_BIG_ENDIAN,
  deflated: DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
} as const;

const options: fc.Arbitrary<DeidentifyOptions> = fc.record({
  retainUids: fc.boolean(),
  dates: fc.constantFrom('remove' as const, 'shift' as const, 'keep' as const),
  key: fc.constant('property test key'),
});

/** Every marker value of the specs, at every depth. */
function markers(specs: Spec[]): string[] {
  return specs.flatMap(([, , value]) => {
    if (typeof value === 'string') return value.split('^').filter((v) => v.startsWith('ZQ'));
    if (typeof value === 'object' && 'items' in value) return value.items.flatMap(markers);
    return [];
  });
}

describe('de-identification of random synthetic instances (fast-check)', () => {
  it('always parses, agrees with the JSON, keeps lengths consistent and leaves no identity value', () => {
    fc.assert(
      fc.property(dataSet(0), fc.constantFrom(...(Object.keys(ENCODINGS) as Array<keyof typeof ENCODINGS>)), fc.boolean(), options, (body, encoding, groupLengths, opts) => {
        const specs = uniqueSorted([...identity('1.2.3.4.5'), ...imagePixel(2, 2, 8), ['7FE00010', 'OB', ramp(4)], ...(groupLengths ? ([['00100000', 'UL', [0]]] as Spec[]) : []), ...body]);
        const deflated = encoding === 'deflated';
        let bytes = buildInstance(specs, { transferSyntax: deflated ? ENCODINGS['explicit LE'] : ENCODINGS[encoding] });
        if (groupLengths) bytes = withTrueGroupLengths(bytes);
        if (deflated) bytes = deflateDataSet(bytes, buildInstance(specs, { transferSyntax: ENCODINGS.deflated, explicitVR: true }));

        const { bytes: out } = deidentifyAndCompare(bytes, opts);
        const view = viewOf(out);
        const left = markers(specs).filter((m) => contains(view, Buffer.from(m, 'latin1')));
        assert.deepEqual(left, [], 'marker values remain');
        if (groupLengths) {
          const { declared, actual } = groupLength(out, '0010');
          assert.equal(declared, actual, 'Group Length (0010,0000)');
        }
        const again = deidentifyInstance(out, opts);
        if (opts.retainUids === true && opts.dates !== 'shift') {
          assert.deepEqual(Buffer.from(again.bytes), Buffer.from(out), 'de-identifying twice changes nothing more');
        }
      }),
      { numRuns: 150 },
    );
  });
});
