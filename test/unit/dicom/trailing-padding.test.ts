/**
 * Zero bytes padded after the data set (some scanners pad files to a block size) are found with a
 * byte scan and kept out of the data set, however long: a 64 MiB pad is reported as padding, and
 * the data set is the instance's own. (Its parsing time is measured in the review note, not here.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseInstance } from '../../../gateway/dicom/parse.js';
import { syntheticInstance } from '../../fixtures/synthetic.js';

describe('trailing zero padding', () => {
  it('reports 64 MiB of zero bytes after the last element as padding, and reads the data set as without them', () => {
    const source = syntheticInstance({ rows: 8, columns: 8 });
    const padded = Buffer.concat([source, Buffer.alloc(64 * 1024 * 1024)]);
    const plain = parseInstance(source);
    const parsed = parseInstance(padded);
    assert.equal(parsed.trailingPadding, 64 * 1024 * 1024);
    assert.equal(plain.trailingPadding, undefined);
    assert.deepEqual(parsed.metadata, plain.metadata);
    assert.deepEqual(parsed.pixelData, plain.pixelData);
  });
});
