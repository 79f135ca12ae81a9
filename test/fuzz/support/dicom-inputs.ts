/**
 * DICOM inputs for the parser and byte-cutter fuzzers: valid-ish Part 10 instances built element
 * by element (PS3.5 §7: explicit and implicit VR, little and big endian, deflated, encapsulated),
 * with random attributes, wrong VRs, odd lengths, sequences nested with defined and undefined
 * lengths, pixel modules with extreme geometry, fragments and offset tables; then mutated (bytes,
 * 32-bit length fields, insertions, deletions, truncation); plus the same mutations of small real
 * samples of the pydicom corpus.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { readMetaHeader } from '../../../gateway/dicom/parse.js';
import { PYDICOM_DATA } from '../../support/corpus.js';
import { buildInstance, identity, type Spec } from '../../unit/dicom/instance-builder.js';

const SYNTAXES = ['1.2.840.10008.1.2.1', '1.2.840.10008.1.2', '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.5', '1.2.840.10008.1.2.1.99', '1.2.3.4.5'];
const DEFLATED = '1.2.840.10008.1.2.1.99';
const TEXT_VRS = ['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT'];
const BINARY_VRS = ['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'AT', 'OB', 'OW', 'OF', 'OD', 'OL', 'OV', 'UN', 'SV', 'UV'];

/** Small, varied real instances (explicit, implicit, big endian, deflated, RLE, JPEG, sequences, private). */
const CORPUS = [
  'CT_small.dcm',
  'MR_small_implicit.dcm',
  'MR_small_bigendian.dcm',
  'rtplan.dcm',
  'JPEG2000.dcm',
  'SC_rgb_rle_2frame.dcm',
  'image_dfl.dcm',
  'UN_sequence.dcm',
  'priv_SQ.dcm',
  'nested_priv_SQ.dcm',
  'reportsi.dcm',
  'SC_rgb_small_odd.dcm',
  'empty_charset_LEI.dcm',
  'rtdose_1frame.dcm',
].map((name) => new Uint8Array(readFileSync(join(PYDICOM_DATA, 'test_files', name))));

const tag = fc.oneof(
  fc.constantFrom(
    '00080005',
    '00080020',
    '00080060',
    '00100010',
    '00100020',
    '00100030',
    '00081030',
    '00280008',
    '00280010',
    '00280011',
    '00280100',
    '00280002',
    '00280004',
    '00280006',
    '00089123',
    '00400260',
    '00091010',
    '00090010',
    '7FE00001',
    '7FE00002',
    '7FE00010',
    'FFFEE000',
    'FFFEE00D',
    '00020010',
  ),
  fc.stringMatching(/^[0-9A-F]{8}$/),
);
const text = fc.oneof(fc.constantFrom('ISO_IR 192', 'ISO 2022 IR 87', 'ISO_IR 100\\ISO 2022 IR 149', 'Doe^John=ドウ^ジョン', '20240101', '1.2.3', '', ' ', '\\\\', '-1', '1e999', '3'), fc.string({ maxLength: 24 }));

const leaf: fc.Arbitrary<Spec> = fc.oneof(
  fc.tuple(tag, fc.constantFrom(...TEXT_VRS), text),
  fc.tuple(tag, fc.constantFrom(...BINARY_VRS), fc.uint8Array({ maxLength: 24 })),
  fc.tuple(tag, fc.constantFrom('US', 'UL'), fc.array(fc.constantFrom(0, 1, 2, 3, 8, 16, 255, 65535), { minLength: 1, maxLength: 3 })),
);
const spec: fc.Arbitrary<Spec> = fc.letrec<{ spec: Spec }>((tie) => ({
  spec: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    leaf,
    fc.tuple(tag, fc.constantFrom('SQ', 'SQ', 'UN', 'OB'), fc.record({ items: fc.array(fc.array(tie('spec'), { maxLength: 3 }), { maxLength: 3 }), undefinedLength: fc.boolean() })),
  ),
})).spec;

const pixelModule: fc.Arbitrary<Spec[]> = fc
  .record({
    rows: fc.constantFrom(0, 1, 3, 4, 512, 65535),
    columns: fc.constantFrom(0, 1, 4, 65535),
    bits: fc.constantFrom(1, 8, 12, 16, 32, 0, 7),
    samples: fc.constantFrom(1, 3, 0, 4),
    frames: fc.option(fc.constantFrom('1', '2', '0', '-1', '2147483647', 'x', '1.5', ''), { nil: undefined }),
    pixels: fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((bytes): Spec => ['7FE00010', 'OW', bytes]),
      fc.record({ fragments: fc.array(fc.uint8Array({ maxLength: 16 }), { maxLength: 4 }), basicOffsetTable: fc.array(fc.constantFrom(0, 4, 8, 0xffffffff, 3), { maxLength: 4 }) }).map((value): Spec => ['7FE00010', 'OB', value]),
    ),
    eot: fc.option(fc.array(fc.constantFrom(0n, 8n, 16n, 2n ** 63n, 2n ** 53n + 1n), { maxLength: 3 }), { nil: undefined }),
  })
  .map(({ rows, columns, bits, samples, frames, pixels, eot }) => {
    const specs: Spec[] = [
      ['00280002', 'US', [samples]],
      ['00280004', 'CS', samples === 3 ? 'RGB' : 'MONOCHROME2'],
    ];
    if (frames !== undefined) specs.push(['00280008', 'IS', frames]);
    specs.push(['00280010', 'US', [rows]], ['00280011', 'US', [columns]], ['00280100', 'US', [bits]], ['00280101', 'US', [bits]], ['00280102', 'US', [Math.max(bits - 1, 0)]], ['00280103', 'US', [0]]);
    if (eot !== undefined) specs.push(['7FE00001', 'OV', eot]);
    specs.push(pixels);
    return specs;
  });

/** An instance built from random elements around the identity (sorted by tag or not). */
const built: fc.Arbitrary<Uint8Array> = fc
  .record({ extra: fc.array(spec, { maxLength: 8 }), pixel: fc.option(pixelModule, { nil: undefined }), syntax: fc.constantFrom(...SYNTAXES), sorted: fc.boolean(), explicitVR: fc.option(fc.boolean(), { nil: undefined }) })
  .map(({ extra, pixel, syntax, sorted, explicitVR }) => {
    const specs = [...identity(), ...extra, ...(pixel ?? [])];
    if (sorted) specs.sort((a, b) => a[0].localeCompare(b[0]));
    const deflated = syntax === DEFLATED;
    const bytes = buildInstance(specs, { transferSyntax: syntax, explicitVR: deflated ? true : explicitVR });
    if (!deflated) return bytes;
    // A group 0002 element among the extras reads as part of the meta header: compress after it.
    let position: number;
    try {
      position = readMetaHeader(bytes).position;
    } catch {
      return bytes;
    }
    return new Uint8Array(Buffer.concat([bytes.subarray(0, position), deflateRawSync(bytes.subarray(position))]));
  });

type Mutation = [kind: 'byte' | 'uint32' | 'delete' | 'insert' | 'truncate', at: number, value: number];

const mutation: fc.Arbitrary<Mutation> = fc.tuple(
  fc.constantFrom('byte' as const, 'uint32' as const, 'uint32' as const, 'delete' as const, 'insert' as const, 'truncate' as const),
  fc.nat({ max: 9999 }).map((n) => n / 10_000), // not fc.double: it favours 0 and tiny values
  fc.oneof(fc.constantFrom(0, 1, 2, 0xffffffff, 0xfffffffe, 0x7fffffff, 0x10000, 0xfffee000, 0xe0fffe), fc.nat({ max: 0xffffffff })),
);

/** Applies mutations; positions fall mostly in the first 2 KiB of the data set, where the structure is. */
export function mutate(original: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = Uint8Array.from(original);
  for (const [kind, fraction, value] of mutations) {
    if (bytes.length === 0) break;
    // 5%: anywhere (the preamble and 'DICM' too); 75%: the first 2 KiB after the preamble; 20%: anywhere after it.
    const from = fraction < 0.05 || bytes.length <= 132 ? 0 : 132;
    const span = fraction < 0.8 ? Math.min(bytes.length, from + 2048) - from : bytes.length - from;
    const share = fraction < 0.05 ? fraction / 0.05 : fraction < 0.8 ? (fraction - 0.05) / 0.75 : (fraction - 0.8) / 0.2;
    const at = Math.min(bytes.length - 1, from + Math.floor(share * span));
    if (kind === 'byte') bytes[at] = value & 0xff;
    else if (kind === 'uint32' && at + 4 <= bytes.length) new DataView(bytes.buffer).setUint32(at, value >>> 0, true);
    else if (kind === 'delete') bytes = Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + 1 + (value % 16))]);
    else if (kind === 'insert') bytes = Uint8Array.from([...bytes.subarray(0, at), value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24, ...bytes.subarray(at)]);
    else if (kind === 'truncate') bytes = bytes.subarray(0, at);
  }
  return bytes;
}

/** Built instances (half of them mutated) and mutated corpus samples. */
export const dicomInput: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: built },
  { weight: 3, arbitrary: fc.tuple(built, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([bytes, mutations]) => mutate(bytes, mutations)) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...CORPUS), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([bytes, mutations]) => mutate(bytes, mutations)) },
);
