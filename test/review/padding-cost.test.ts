/** Review: zero padding after the data set is found without reading the zeros as elements (a 64 MiB pad took ~2 s, 6x the old refusal). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseInstance } from '../../gateway/dicom/parse.js';
import { syntheticInstance } from '../fixtures/synthetic.js';

describe('review: cost of trailing zero padding', () => {
  it('parses an instance followed by 64 MiB of zero bytes in well under a second', () => {
    const source = syntheticInstance({ rows: 8, columns: 8 });
    const padded = Buffer.concat([source, Buffer.alloc(64 * 1024 * 1024)]);
    parseInstance(source); // warm up
    const start = performance.now();
    const parsed = parseInstance(padded);
    const ms = performance.now() - start;
    assert.equal(parsed.trailingPadding, 64 * 1024 * 1024);
    assert.ok(ms < 600, `parsing took ${Math.round(ms)} ms`);
  });
});
