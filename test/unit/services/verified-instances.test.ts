/**
 * The verified-instance cache of the read path: concurrent reads of one instance share one
 * reassembly, failures are not kept, instances within the budget are kept in an LRU, and the one
 * instance larger than the budget read last is kept alone for a while.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VerifiedInstances } from '../../../gateway/services/retrieve.js';

describe('VerifiedInstances', () => {
  it('concurrent reads of one instance load it once, and later reads find it kept', async () => {
    const verified = new VerifiedInstances(1000);
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return new Uint8Array(100).fill(7);
    };
    const results = await Promise.all(Array.from({ length: 5 }, () => verified.get('a', load)));
    assert.equal(loads, 1, 'one reassembly for five concurrent reads');
    assert.ok(
      results.every((r) => r === results[0]),
      'every reader gets the same verified bytes',
    );
    await verified.get('a', load);
    assert.equal(loads, 1, 'a later read is served from the cache');
  });

  it('a failed load is not kept: the next read tries again', async () => {
    const verified = new VerifiedInstances(1000);
    let loads = 0;
    const failing = async () => {
      loads++;
      throw new Error('integrity failure');
    };
    await assert.rejects(Promise.all([verified.get('b', failing), verified.get('b', failing)]), /integrity failure/);
    assert.equal(loads, 1, 'concurrent readers share the failure');
    await assert.rejects(verified.get('b', failing), /integrity failure/);
    assert.equal(loads, 2, 'the failure was not kept');
  });

  it('an instance larger than the budget is kept alone, replaced by the next large one', async () => {
    const verified = new VerifiedInstances(100);
    let loads = 0;
    const big = (fill: number) => async () => {
      loads++;
      return new Uint8Array(500).fill(fill);
    };
    await verified.get('big1', big(1));
    await verified.get('big1', big(1));
    assert.equal(loads, 1, 'the large instance is kept');
    await verified.get('big2', big(2));
    await verified.get('big1', big(1));
    assert.equal(loads, 3, 'only the last large instance is kept');
  });
});
