/**
 * Fuzz target: the DICOM Part 10 parser (PS3.10 §7, PS3.5 §7), on the inputs of
 * support/dicom-inputs.ts. Invariant: a ParsedInstance whose metadata is plain JSON and whose
 * bulk data and frame ranges lie inside the bytes, and whose element tree can be read again (what
 * the de-identifier and the identity split do); or INVALID_DICOM / PAYLOAD_TOO_LARGE.
 */
import assert from 'node:assert/strict';
import { datasetView, parseInstance, readInstanceTree } from '../../../gateway/dicom/parse.js';
import { frameRanges } from '../../../gateway/dicom/pixel-data.js';
import { catalogued } from '../support/catalogued.js';
import { dicomInput } from '../support/dicom-inputs.js';
import { fuzzTarget } from '../support/target.js';

export const target = fuzzTarget({
  arbitrary: dicomInput,
  check(bytes) {
    const parsed = catalogued(['INVALID_DICOM', 'PAYLOAD_TOO_LARGE'], () => parseInstance(bytes, { maxInflatedBytes: 1 << 20 }));
    if (parsed === undefined) return;
    const view = datasetView(bytes, parsed);
    JSON.stringify(parsed.metadata);
    for (const location of parsed.bulkData) assert.ok(location.offset >= 0 && location.offset + location.length <= view.length, `bulk data ${location.path} outside the bytes`);
    const layout = parsed.pixelData;
    if (layout !== undefined) {
      const frames = layout.encapsulated ? layout.frames.length : layout.numberOfFrames;
      for (let n = 1; n <= Math.min(frames, 16); n++) {
        for (const [offset, length] of frameRanges(layout, n)) assert.ok(offset >= 0 && length >= 0 && offset + length <= view.length, `frame ${n} outside the bytes`);
      }
    }
    readInstanceTree(bytes, parsed);
  },
});
