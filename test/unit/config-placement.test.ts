/**
 * The placement section: redundancy groups, and the start-up rule that no provider can rebuild two
 * pixel regions of one instance unless the configuration explicitly allows it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../gateway/config.js';

const fs = (...names: string[]) => names.map((name) => ({ name, kind: 'fs' }));

function problemsOf(object: Record<string, unknown>): string[] {
  try {
    loadConfig({ object, env: {} });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('placement', () => {
  it('takes a 2-of-4 group wherever a backend name goes', () => {
    const config = loadConfig({
      object: { backends: fs('a', 'b', 'c', 'd'), placement: { instances: 'spread', regions: ['spread'], groups: { spread: { scheme: 'erasure', k: 2, backends: ['a', 'b', 'c', 'd'] } } } },
      env: {},
    });
    assert.deepEqual(config.placement.groups.spread, { scheme: 'erasure', k: 2, backends: ['a', 'b', 'c', 'd'] });
    assert.equal(config.placement.allowSharedProvider, false);
    assert.equal(config.placement.concurrency, 8);
  });

  it('keeps the plain form: one backend for everything, and regions over distinct backends', () => {
    assert.deepEqual(problemsOf({}), []);
    assert.deepEqual(problemsOf({ backends: fs('local', 'r1', 'r2'), placement: { instances: 'local', regions: ['r1', 'r2'] } }), []);
  });

  it('refuses regions that one backend could rebuild two of, unless allowed', () => {
    assert.deepEqual(problemsOf({ backends: fs('local', 'r1'), placement: { instances: 'local', regions: ['r1'] } }), [
      "placement: provider 'r1' could rebuild regions 0, 1 of every instance; spread the regions over more providers (or groups with k >= 2), or set placement.allowSharedProvider",
    ]);
    assert.match(problemsOf({ backends: fs('local', 'r1', 'r2'), placement: { instances: 'local', regions: ['r1', 'r2'] }, protection: { regions: 3 } }).join('\n'), /provider 'r1' could rebuild regions 0, 2/);
    assert.deepEqual(problemsOf({ backends: fs('local', 'r1'), placement: { instances: 'local', regions: ['r1'], allowSharedProvider: true } }), []);
  });

  it('counts two backends of one provider as one', () => {
    const problems = problemsOf({ backends: fs('local', 'r1', 'r2'), placement: { instances: 'local', regions: ['r1', 'r2'], providers: { r1: 'same-host', r2: 'same-host' } } });
    assert.deepEqual(problems, ["placement: provider 'same-host' could rebuild regions 0, 1 of every instance; spread the regions over more providers (or groups with k >= 2), or set placement.allowSharedProvider"]);
  });

  it('lets a group hold every region when no provider holds k shards of one', () => {
    const groups = { spread: { scheme: 'erasure', k: 2, backends: ['a', 'b', 'c', 'd'] } };
    assert.deepEqual(problemsOf({ backends: fs('a', 'b', 'c', 'd'), placement: { instances: 'spread', regions: ['spread'], groups } }), []);
    // Two of the four backends on one provider: it holds 2 shards of each region, enough to rebuild both.
    assert.match(problemsOf({ backends: fs('a', 'b', 'c', 'd'), placement: { instances: 'spread', regions: ['spread'], groups, providers: { a: 'p', b: 'p' } } }).join('\n'), /provider 'p' could rebuild regions 0, 1/);
    // Replication: every backend holds a whole copy of every region.
    const replicas = { copies: { scheme: 'replication', k: 1, backends: ['a', 'b'] } };
    assert.match(problemsOf({ backends: fs('a', 'b'), placement: { instances: 'copies', regions: ['copies'], groups: replicas } }).join('\n'), /provider 'a' could rebuild regions 0, 1/);
  });

  it('refuses a group as the instances target of protection mode none, which stores whole instances on one backend', () => {
    const groups = { spread: { scheme: 'erasure', k: 2, backends: ['a', 'b', 'c'] } };
    assert.deepEqual(problemsOf({ backends: fs('a', 'b', 'c'), placement: { instances: 'spread', groups }, protection: { mode: 'none' } }), [
      "placement.instances: protection mode none stores each instance whole on one backend, not on a redundancy group ('spread')",
    ]);
  });

  it('reports groups that name unknown backends, list one twice, cannot be coded, or shadow a backend', () => {
    const problems = problemsOf({
      backends: fs('a', 'b', 'c'),
      placement: {
        instances: 'a',
        groups: {
          ghost: { scheme: 'erasure', k: 1, backends: ['a', 'zz'] },
          twice: { scheme: 'erasure', k: 2, backends: ['a', 'a', 'b'] },
          flat: { scheme: 'erasure', k: 3, backends: ['a', 'b', 'c'] },
          copies: { scheme: 'replication', k: 2, backends: ['a', 'b'] },
          c: { scheme: 'replication', k: 1, backends: ['a', 'b'] },
        },
        providers: { nobody: 'x' },
      },
    });
    assert.deepEqual(problems, [
      "placement.groups.ghost.backends.1: no backend named 'zz'",
      'placement.groups.twice.backends: a backend is listed twice (it would hold two shards of each fragment)',
      'placement.groups.flat: erasure coding needs k < n and at most 6 parity shards (n - k); got k=3, n=3',
      'placement.groups.copies.k: replication stores whole copies, k is 1',
      'placement.groups.c: a backend has this name too',
      "placement.providers.nobody: no backend named 'nobody'",
    ]);
  });

  it('takes a hedge delay of a whole number of milliseconds from 0 to 60000, and refuses any other', () => {
    assert.equal(loadConfig({ object: {}, env: {} }).placement.hedgeMilliseconds, 300);
    for (const ms of [0, 60_000]) assert.deepEqual(problemsOf({ placement: { hedgeMilliseconds: ms } }), [], String(ms));
    assert.deepEqual(problemsOf({ placement: { hedgeMilliseconds: -1 } }), ['placement.hedgeMilliseconds: Too small: expected number to be >=0']);
    assert.deepEqual(problemsOf({ placement: { hedgeMilliseconds: 1.5 } }), ['placement.hedgeMilliseconds: Invalid input: expected int, received number']);
    assert.deepEqual(problemsOf({ placement: { hedgeMilliseconds: 60_001 } }), ['placement.hedgeMilliseconds: Too big: expected number to be <=60000']);
    assert.deepEqual(problemsOf({ placement: { hedgeMilliseconds: '300' } }), ['placement.hedgeMilliseconds: Invalid input: expected number, received string']);
  });
});
