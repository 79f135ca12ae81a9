/**
 * k-of-n redundancy of a fragment: any k of the n shards rebuild it byte for byte, fewer do not,
 * and no data shard of an erasure-coded fragment (k >= 2) holds the fragment.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeShards, encodeShards, redundancyProblem, shardLength, type Redundancy } from '../../../gateway/protection/erasure.js';

/** Every subset of {0..n-1} with `size` members. */
function subsets(n: number, size: number): number[][] {
  if (size === 0) return [[]];
  if (n < size) return [];
  return [...subsets(n - 1, size), ...subsets(n - 1, size - 1).map((s) => [...s, n - 1])];
}

describe('erasure coding', () => {
  const twoOfFour: Redundancy = { scheme: 'erasure', k: 2, n: 4 };

  for (const length of [0, 1, 7, 8, 17, 1000, 65_537]) {
    it(`rebuilds a ${length}-byte fragment from every 2 of its 4 shards`, async () => {
      const bytes = randomBytes(length);
      const shards = await encodeShards(twoOfFour, bytes);
      assert.equal(shards.length, 4);
      for (const shard of shards) assert.equal(shard.length, shardLength(twoOfFour, length));
      for (const kept of subsets(4, 2)) {
        const partial = shards.map((s, j) => (kept.includes(j) ? s : undefined));
        assert.deepEqual(await decodeShards(twoOfFour, partial, length), bytes, `shards ${kept}`);
      }
    });
  }

  it('stores 2x the fragment for 2-of-4, each shard about half of it', async () => {
    const bytes = randomBytes(4096);
    const shards = await encodeShards(twoOfFour, bytes);
    assert.equal(
      shards.reduce((n, s) => n + s.length, 0),
      8192,
    );
    assert.deepEqual(shards[0], bytes.subarray(0, 2048));
    assert.notDeepEqual(shards[2], bytes.subarray(0, 2048));
  });

  it('refuses to rebuild from fewer than k shards, or from a shard of the wrong length', async () => {
    const shards = await encodeShards(twoOfFour, randomBytes(100));
    await assert.rejects(decodeShards(twoOfFour, [undefined, undefined, shards[2], undefined], 100), { code: 'INTEGRITY_FAILURE', message: /only 1 of the 2 shards/ });
    await assert.rejects(decodeShards(twoOfFour, [shards[0], shards[1].subarray(1)], 100), { code: 'INTEGRITY_FAILURE', message: /shard 1 has 55 bytes, 56 expected/ });
  });

  it('replicates whole copies with k = 1', async () => {
    const bytes = randomBytes(33);
    const replication: Redundancy = { scheme: 'replication', k: 1, n: 3 };
    const shards = await encodeShards(replication, bytes);
    for (const shard of shards) assert.deepEqual(shard, bytes);
    assert.deepEqual(await decodeShards(replication, [undefined, undefined, shards[2]], 33), bytes);
  });

  it('names what cannot be coded', () => {
    assert.match(redundancyProblem({ scheme: 'erasure', k: 3, n: 2 })!, /1 <= k <= n/);
    assert.match(redundancyProblem({ scheme: 'erasure', k: 2, n: 2 })!, /no parity shard/);
    assert.match(redundancyProblem({ scheme: 'replication', k: 2, n: 3 })!, /k is 1/);
    assert.match(redundancyProblem({ scheme: 'erasure', k: 2, n: 12 })!, /at most 24 data and 6 parity/);
    assert.equal(redundancyProblem(twoOfFour), undefined);
  });
});
