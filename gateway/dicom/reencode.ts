/**
 * Re-encodes the data elements of a little-endian data set in the other VR style (PS3.5 §7.1.2
 * explicit VR, §7.1.3 implicit VR; §7.5 sequences and items): value bytes are copied as they are
 * (little endian either way), only the element headers change. The VR of each element in explicit
 * VR is the one the DICOM JSON model of the instance gives it (read from the bytes, or from the data
 * dictionary and the context for an implicit VR data set); a value too long for the 16-bit length
 * of its VR is written as UN (PS3.5 §6.2.2). Sequences and items are written with defined lengths
 * (computed from their encoded content), which every reader can follow in implicit VR, private
 * sequences included. Pure.
 */
import type { DataSet, Element } from 'dicom-parser';
import type { DicomJson } from './types.js';
import { invalid, tagLabel } from './values.js';

/** One top-level data element, encoded. */
export interface EncodedElement {
  /** (group << 16 | element), unsigned. */
  tag: number;
  bytes: Uint8Array;
}

/** VRs with 2 reserved bytes and a 32-bit length in explicit VR (PS3.5 Table 7.1-1). */
export const LONG_LENGTH_VRS: ReadonlySet<string> = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const ITEM = 0xfffee000;

/**
 * The elements of `dataSet` (whose values lie in `view`, little endian) encoded in explicit VR when
 * `explicitVR`, else in implicit VR, in data set order. `json` is the data set in the DICOM JSON
 * model (its VRs). Elements whose tag is in `skip` (replaced by the caller) are listed without
 * bytes. Throws INVALID_DICOM for an element of undefined length that is no sequence.
 */
export function encodeElements(dataSet: DataSet, json: DicomJson, view: Uint8Array, explicitVR: boolean, skip: ReadonlySet<number> = new Set()): EncodedElement[] {
  const out: EncodedElement[] = [];
  for (const element of Object.values(dataSet.elements)) {
    const hex = element.tag.slice(1).toUpperCase();
    if (hex.startsWith('FFFE')) continue;
    const tag = Number.parseInt(hex, 16);
    out.push({ tag, bytes: skip.has(tag) ? new Uint8Array(0) : encodeElement(tag, hex, element, json[hex], view, explicitVR) });
  }
  return out;
}

function encodeElement(tag: number, hex: string, element: Element, attribute: DicomJson[string] | undefined, view: Uint8Array, explicitVR: boolean): Uint8Array {
  if (element.items !== undefined) {
    const items = attribute?.Value as DicomJson[] | undefined;
    const encodedItems = element.items.map((item, i) => {
      const content = Buffer.concat(item.dataSet === undefined ? [] : encodeElements(item.dataSet, items?.[i] ?? {}, view, explicitVR).map((e) => e.bytes));
      return Buffer.concat([itemHeader(ITEM, content.length), content]);
    });
    const length = encodedItems.reduce((sum, item) => sum + item.length, 0);
    return Buffer.concat([elementHeader(tag, 'SQ', length, explicitVR), ...encodedItems]);
  }
  if (element.hadUndefinedLength) throw invalid(`element ${tagLabel(hex)} has an undefined length but is no sequence: Aegis cannot re-encode it`);
  let vr = attribute?.vr ?? element.vr ?? 'UN';
  if (vr === 'SQ' || (!LONG_LENGTH_VRS.has(vr) && element.length > 0xffff)) vr = 'UN';
  return Buffer.concat([elementHeader(tag, vr, element.length, explicitVR), view.subarray(element.dataOffset, element.dataOffset + element.length)]);
}

/** A little-endian element header: tag, VR and 16 or 32-bit length (explicit VR), or tag and 32-bit length (implicit VR). */
export function elementHeader(tag: number, vr: string, length: number, explicitVR: boolean): Uint8Array {
  const long = LONG_LENGTH_VRS.has(vr);
  const out = new Uint8Array(explicitVR && long ? 12 : 8);
  const data = new DataView(out.buffer);
  data.setUint16(0, tag >>> 16, true);
  data.setUint16(2, tag & 0xffff, true);
  if (!explicitVR) {
    data.setUint32(4, length, true);
    return out;
  }
  out[4] = vr.charCodeAt(0);
  out[5] = vr.charCodeAt(1);
  if (long) data.setUint32(8, length, true);
  else data.setUint16(6, length, true);
  return out;
}

function itemHeader(tag: number, length: number): Uint8Array {
  const out = new Uint8Array(8);
  const data = new DataView(out.buffer);
  data.setUint16(0, tag >>> 16, true);
  data.setUint16(2, tag & 0xffff, true);
  data.setUint32(4, length, true);
  return out;
}
