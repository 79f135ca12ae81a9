/**
 * The parser against the pydicom corpus: every file either parses or is rejected with
 * INVALID_DICOM (and the rejected ones are exactly the expected ones, for the expected reason);
 * every parsed file's metadata matches pydicom's `Dataset.to_json_dict()`, its bulk data
 * locations hold pydicom's bytes, and every frame from `frameRanges` hashes like pydicom's frame.
 * The expected rejections and the comparison rules are those of test/support/pydicom-expectations.ts,
 * shared with the DICOMweb corpus test (test/integration/corpus.test.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { isGatewayError } from '../../../gateway/errors.js';
import { datasetView, parseInstance } from '../../../gateway/dicom/parse.js';
import { frameRanges } from '../../../gateway/dicom/pixel-data.js';
import type { ParsedInstance } from '../../../gateway/dicom/types.js';
import { corpusFiles, PYDICOM_DATA } from '../../support/corpus.js';
import { compareBulkData, compareDataSet, expectedRejection, type BulkDataRules } from '../../support/pydicom-expectations.js';
import { pydicomReference } from '../../support/pydicom-reference.js';

const files = corpusFiles();
const reference = pydicomReference(files);

describe(`DICOM corpus (${files.length} files, pydicom ${reference.version})`, () => {
  for (const file of files) {
    const name = relative(PYDICOM_DATA, file);
    it(name, () => {
      const bytes = readFileSync(file);
      const expected = expectedRejection(file);
      let parsed: ParsedInstance;
      try {
        parsed = parseInstance(bytes);
      } catch (error) {
        assert.ok(isGatewayError(error, 'INVALID_DICOM'), `threw something other than INVALID_DICOM: ${String(error)}`);
        assert.ok(expected !== undefined, `unexpectedly rejected: ${error.message}`);
        assert.match(error.message, expected);
        return;
      }
      assert.equal(expected, undefined, `expected a rejection matching ${String(expected)}`);
      const ref = reference.files[file];
      assert.ok(ref !== undefined && !('error' in ref), `pydicom cannot read a file Aegis accepts: ${JSON.stringify(ref)}`);
      assert.equal(parsed.transferSyntaxUID, ref.transferSyntax);
      const view = datasetView(bytes, parsed);
      const differences: string[] = [];
      compareDataSet(parsed.metadata, ref.json, bulkDataRules(parsed, view), differences);
      assert.deepEqual(differences, [], `metadata differs from pydicom:\n${differences.join('\n')}`);
      compareFrames(parsed, view, ref.frames ?? null, ref.framesError);
    });
  }

  it('rejects every file pydicom cannot read', () => {
    for (const file of files) {
      const ref = reference.files[file];
      if (ref !== undefined && 'error' in ref) {
        assert.ok(expectedRejection(file) !== undefined, `${file}: pydicom: ${ref.error}`);
      }
    }
  });
});

/**
 * The parser's BulkDataURIs are relative (`bulkdata/<path>`); the bytes behind each are those of
 * its BulkDataLocation in the data set.
 */
function bulkDataRules(parsed: ParsedInstance, view: Uint8Array): BulkDataRules {
  return {
    encapsulated: parsed.pixelData?.encapsulated === true,
    bulkDataURI: (where) => `bulkdata/${where}`,
    onBulkData(where, _uri, theirs, out) {
      const location = parsed.bulkData.find((l) => l.path === where);
      if (location === undefined) {
        out.push(`${where}: no BulkDataLocation`);
        return;
      }
      compareBulkData(where, view.subarray(location.offset, location.offset + location.length), theirs, out);
    },
  };
}

function compareFrames(parsed: ParsedInstance, view: Uint8Array, frames: string[] | null, framesError: string | undefined): void {
  if (parsed.pixelData === undefined) {
    assert.equal(frames, null, 'pydicom found pixel data frames, Aegis none');
    return;
  }
  assert.equal(framesError, undefined, `pydicom could not split the frames: ${framesError}`);
  assert.ok(frames !== null, 'Aegis found pixel data, pydicom none');
  const layout = parsed.pixelData;
  const count = layout.encapsulated ? layout.frames.length : layout.numberOfFrames;
  const bitPacked = !layout.encapsulated && layout.bitsPerFrame !== undefined;
  // Bit-packed frames are compared as a whole (the reference script does the same).
  assert.equal(bitPacked ? 1 : count, frames.length, 'number of frames');
  for (let n = 1; n <= frames.length; n++) {
    const hash = createHash('sha256');
    for (const [offset, length] of frameRanges(layout, n)) hash.update(view.subarray(offset, offset + length));
    assert.equal(hash.digest('hex'), frames[n - 1], `frame ${n} differs from pydicom's`);
  }
}
