/**
 * Placement: which backend holds each fragment, and the opaque keys fragments and manifest copies
 * are stored under.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fragmentBackend, fragmentStoreKey, fragmentTarget, manifestCopyBackend, manifestCopyId, manifestCopyKey, MANIFEST_COPY_PREFIX, newStorageId, shardStoreKey } from '../../../gateway/protection/placement.js';

describe('placement', () => {
  const placement = { instances: 'home', regions: ['r0', 'r1', 'r2'] };

  it('puts region i on regions[i mod n] and every other role on the instances backend', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((index) => fragmentBackend(placement, { role: 'region', index })),
      ['r0', 'r1', 'r2', 'r0', 'r1'],
    );
    for (const role of ['skeleton', 'identity', 'labels']) assert.equal(fragmentBackend(placement, { role, index: 1 }), 'home', role);
  });

  it('resolves a redundancy group to its backends and k-of-n, and keeps manifest copies on its first backend', () => {
    const grouped = { instances: 'spread', regions: ['spread', 'r1'], groups: { spread: { scheme: 'erasure' as const, k: 2, backends: ['a', 'b', 'c', 'd'] } } };
    assert.deepEqual(fragmentTarget(grouped, { role: 'skeleton', index: 0 }), { backends: ['a', 'b', 'c', 'd'], redundancy: { scheme: 'erasure', k: 2, n: 4 } });
    assert.deepEqual(fragmentTarget(grouped, { role: 'region', index: 1 }), { backend: 'r1' });
    assert.equal(manifestCopyBackend(grouped), 'a');
    assert.equal(manifestCopyBackend(placement), 'home');
    const id = newStorageId();
    assert.equal(shardStoreKey(id, 3, 1), `f/${id.slice(0, 2)}/${id}.3.1`);
  });

  it('names fragments f/<ab>/<id>.<n> and manifest copies m/<ab>/<id>, and reads the id back', () => {
    const id = newStorageId();
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.notEqual(newStorageId(), id, 'a fresh id each time');
    assert.equal(fragmentStoreKey(id, 7), `f/${id.slice(0, 2)}/${id}.7`);
    assert.equal(manifestCopyKey(id), `m/${id.slice(0, 2)}/${id}`);
    assert.ok(manifestCopyKey(id).startsWith(MANIFEST_COPY_PREFIX), 'reindex lists the copies by this prefix');
    assert.equal(manifestCopyId(manifestCopyKey(id)), id);
  });
});
