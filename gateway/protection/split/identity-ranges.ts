/**
 * Where the patient's identity lies in the received bytes (the identity split): the value
 * ranges of every attribute that PS3.15 Annex E Table E.1-1 (Basic Profile, `deidentify/annex-e.ts`) does not
 * keep, at every depth (sequences the table keeps are searched item by item; a sequence the table
 * removes goes whole), private attributes included. Only values move: tags, VRs and lengths stay
 * in the skeleton, so the split is pure byte ranges and the round trip exact. Deflated data sets
 * are compressed as a whole and cannot be cut by offsets: the caller keeps them opaque.
 */
import type { DataSet, Element } from 'dicom-parser';
import { annexEAction } from '../../deidentify/annex-e.js';
import type { ByteRange } from './byte-cuts.js';
import { readInstanceTree } from '../../dicom/parse.js';
import type { ParsedInstance } from '../../dicom/types.js';

const PIXEL_DATA = 'x7fe00010';

/**
 * The value ranges of identity attributes in `bytes` (not deflated), sorted and disjoint, and the
 * value range of the top-level Pixel Data element when there is one.
 */
export function identityRanges(bytes: Uint8Array, parsed: ParsedInstance): { identity: ByteRange[]; pixels?: ByteRange } {
  const tree = readInstanceTree(bytes, parsed);
  const identity: ByteRange[] = [];
  collect(tree.dataSet, identity);
  const pixel = tree.dataSet.elements[PIXEL_DATA];
  return {
    identity: identity.sort((a, b) => a.offset - b.offset),
    pixels: pixel && pixel.length > 0 ? { offset: pixel.dataOffset, length: pixel.length } : undefined,
  };
}

function collect(dataSet: DataSet, ranges: ByteRange[]): void {
  for (const [key, element] of Object.entries(dataSet.elements) as Array<[string, Element]>) {
    if (key === PIXEL_DATA || key.slice(1, 5) === '0002') continue;
    const row = annexEAction(key.slice(1));
    const keep = row === undefined || row.basic === 'K';
    if (!keep && element.length > 0) {
      ranges.push({ offset: element.dataOffset, length: element.length });
      continue;
    }
    for (const item of element.items ?? []) if (item.dataSet) collect(item.dataSet, ranges);
  }
}
