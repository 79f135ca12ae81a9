/**
 * Writing an instance in the other little-endian VR style (dicom/native-instance.ts and
 * dicom/reencode.ts) over the pydicom corpus: every Explicit VR Little Endian file that Aegis parses
 * is written in Implicit VR Little Endian and every Implicit VR Little Endian file in Explicit VR
 * Little Endian; the result parses, says its new transfer syntax, has the same DICOM JSON metadata
 * (every value, nested sequences included) and the same Pixel Data bytes, and converted back it
 * still has them. Implicit VR cannot carry what only the bytes of explicit VR say: the VR of private
 * attributes, and OB rather than OW for binary values (PS3.5 A.1: Pixel Data is OW); for those the
 * values are compared, not the VRs. The meta header keeps its elements, with the new Transfer
 * Syntax UID.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, it } from 'node:test';
import { nativeInstance } from '../../../gateway/dicom/native-instance.js';
import { datasetView, parseInstance, readMetaHeader } from '../../../gateway/dicom/parse.js';
import { nativePixelBytes } from '../../../gateway/dicom/pixel-geometry.js';
import type { DicomJson, ParsedInstance } from '../../../gateway/dicom/types.js';
import { corpusFiles, PYDICOM_DATA } from '../../support/corpus.js';

const EXPLICIT = '1.2.840.10008.1.2.1';
const IMPLICIT = '1.2.840.10008.1.2';

/** The corpus files Aegis parses that are stored in Explicit or Implicit VR Little Endian. */
function littleEndianFiles(): Array<{ name: string; bytes: Buffer; parsed: ParsedInstance }> {
  const found = [];
  for (const file of corpusFiles()) {
    const bytes = readFileSync(file);
    try {
      const parsed = parseInstance(bytes);
      if (parsed.transferSyntaxUID === EXPLICIT || parsed.transferSyntaxUID === IMPLICIT) found.push({ name: relative(PYDICOM_DATA, file), bytes, parsed });
    } catch {
      // Files Aegis refuses are the corpus test's business.
    }
  }
  return found;
}

function pixels(bytes: Uint8Array, parsed: ParsedInstance): Buffer | undefined {
  const layout = parsed.pixelData;
  if (layout === undefined || layout.encapsulated) return undefined;
  return Buffer.from(nativePixelBytes(datasetView(bytes, parsed), layout));
}

/** The meta header's elements other than the group length and the transfer syntax, as bytes. */
function otherMetaElements(bytes: Uint8Array): Buffer {
  const end = readMetaHeader(bytes).position;
  const kept: Buffer[] = [];
  for (let at = 132; at < end;) {
    const vr = String.fromCharCode(bytes[at + 4], bytes[at + 5]);
    const long = ['OB', 'UN', 'UT', 'SQ', 'OW'].includes(vr);
    const length = long ? Buffer.from(bytes).readUInt32LE(at + 8) : Buffer.from(bytes).readUInt16LE(at + 6);
    const next = at + (long ? 12 : 8) + length;
    const element = Buffer.from(bytes).readUInt16LE(at + 2);
    if (element !== 0x0000 && element !== 0x0010) kept.push(Buffer.from(bytes.subarray(at, next)));
    at = next;
  }
  return Buffer.concat(kept);
}

const files = littleEndianFiles();

/** Whether implicit VR can tell this attribute's VR: not for private attributes (odd group) nor OB/OW/UN values. */
function vrTold(tag: string, vr: string): boolean {
  return Number.parseInt(tag.slice(0, 4), 16) % 2 === 0 && !['OB', 'OW', 'UN'].includes(vr);
}

/** The metadata with the VRs implicit VR cannot tell left out, and private attributes (read as UN from implicit VR) only present. */
function asImplicitTells(json: DicomJson): unknown {
  return Object.fromEntries(
    Object.entries(json).map(([tag, attribute]) => {
      if (Number.parseInt(tag.slice(0, 4), 16) % 2 === 1 && Number.parseInt(tag.slice(4), 16) >= 0x1000) return [tag, 'private'];
      const { vr, ...rest } = attribute;
      const value = vr === 'SQ' ? (rest.Value as DicomJson[] | undefined)?.map(asImplicitTells) : rest.Value;
      return [tag, { ...rest, ...(value !== undefined ? { Value: value } : {}), ...(vrTold(tag, vr) ? { vr } : {}) }];
    }),
  );
}

describe(`nativeInstance: the other VR style over the corpus (${files.length} files)`, () => {
  it('has files of both styles to convert', () => {
    assert.ok(files.filter((f) => f.parsed.transferSyntaxUID === EXPLICIT).length >= 20, 'explicit VR files');
    assert.ok(files.filter((f) => f.parsed.transferSyntaxUID === IMPLICIT).length >= 5, 'implicit VR files');
  });

  for (const { name, bytes, parsed } of files) {
    const other = parsed.transferSyntaxUID === EXPLICIT ? IMPLICIT : EXPLICIT;
    it(`${name}: in ${other} with the same metadata and pixels, and back`, () => {
      const converted = nativeInstance(bytes, parsed, other);
      const reparsed = parseInstance(converted);
      assert.equal(reparsed.transferSyntaxUID, other);
      assert.equal(readMetaHeader(converted).transferSyntaxUID, other);
      assert.ok(otherMetaElements(converted).equals(otherMetaElements(bytes)), 'the other meta header elements kept');
      const toImplicit = other === IMPLICIT;
      if (toImplicit) assert.deepEqual(asImplicitTells(reparsed.metadata), asImplicitTells(parsed.metadata));
      else assert.deepEqual(reparsed.metadata, parsed.metadata);
      assert.deepEqual(pixels(converted, reparsed), pixels(bytes, parsed));
      const back = nativeInstance(converted, reparsed, parsed.transferSyntaxUID);
      const again = parseInstance(back);
      assert.equal(again.transferSyntaxUID, parsed.transferSyntaxUID);
      assert.deepEqual(asImplicitTells(again.metadata), asImplicitTells(parsed.metadata));
      assert.deepEqual(pixels(back, again), pixels(bytes, parsed));
    });
  }

  it('the same VR style copies every data element byte for byte (only trailing padding is dropped)', () => {
    for (const { name, bytes, parsed } of files) {
      const same = nativeInstance(bytes, parsed, parsed.transferSyntaxUID);
      const end = bytes.length - (parsed.trailingPadding ?? 0);
      const start = readMetaHeader(bytes).position;
      assert.ok(Buffer.from(same.subarray(readMetaHeader(same).position)).equals(bytes.subarray(start, end)), name);
    }
  });
});
