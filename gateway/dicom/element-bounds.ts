/**
 * The extent check of a parsed data set (PS3.5 §7.1, §7.5): every element of defined length lies
 * inside what contains it (the data set, or its item), and every item inside its sequence, at
 * every depth. dicom-parser reads an item's elements without holding them to the item's length,
 * so a damaged length inside an item can point past the item or the instance; such an instance
 * is refused here rather than found out when its bytes are cut.
 */
import type { DataSet } from 'dicom-parser';
import { invalid, tagLabel } from './values.js';

/** Throws INVALID_DICOM when an element or item of `dataSet` runs past `end` (or past its container). */
export function checkElementBounds(dataSet: DataSet, end: number, inItem = false): void {
  for (const element of Object.values(dataSet.elements)) {
    if (element.length === undefined) continue;
    const elementEnd = element.dataOffset + element.length;
    if (!Number.isSafeInteger(elementEnd) || elementEnd > end) {
      throw invalid(`truncated: element ${tagLabel(element.tag.slice(1).toUpperCase())} declares ${element.length} bytes but only ${Math.max(0, end - element.dataOffset)} remain${inItem ? ' in its item' : ''}`);
    }
    for (const item of element.items ?? []) {
      const itemEnd = item.dataOffset + item.length;
      if (!Number.isSafeInteger(itemEnd) || itemEnd > elementEnd) {
        throw invalid(`truncated: an item of ${tagLabel(element.tag.slice(1).toUpperCase())} runs past the end of its sequence`);
      }
      if (item.dataSet !== undefined) checkElementBounds(item.dataSet, itemEnd, true);
    }
  }
}
