/**
 * The CPU profile summary of the benchmarks (`bench/lib/cpuprofile.ts`): self time per function and
 * per module, idle samples apart, and only the samples of the window asked for.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { moduleOf, summarise } from '../../bench/lib/cpuprofile.js';

const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9 });

describe('bench cpuprofile summary', () => {
  it('names modules by package, gateway folder or Node internal', () => {
    const urls = ['file:///w/node_modules/kysely/dist/esm/query.js', 'file:///w/node_modules/@scope/pkg/x.js', 'file:///w/dist/gateway/http/routes/read-through.js', 'node:events', ''];
    assert.deepEqual(urls.map(moduleOf), ['kysely', '@scope/pkg', 'gateway/http/routes', 'node:events', '(native)']);
  });

  it('sums self time per function and module within the window, idle apart', () => {
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', '') },
        { id: 2, callFrame: frame('(idle)', '') },
        { id: 3, callFrame: frame('readThrough', 'file:///w/dist/gateway/http/routes/read-through.js') },
        { id: 4, callFrame: frame('executeQuery', 'file:///w/node_modules/kysely/a.js') },
      ],
      startTime: 1000,
      endTime: 9000,
      samples: [3, 4, 4, 2, 3, 4],
      timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000],
    };
    const all = summarise(profile);
    assert.equal(all.busyMs, 5);
    assert.equal(all.idleMs, 1);
    assert.deepEqual(
      all.modules.map((r) => [r.name, r.selfMs]),
      [
        ['kysely', 3],
        ['gateway/http/routes', 2],
      ],
    );
    assert.deepEqual(all.functions[0], { name: 'executeQuery kysely:10', selfMs: 3, share: 0.6 });
    // Samples end at 2000, 3000, ... 7000 µs: the window 3500 ... 6000 holds kysely, idle and readThrough, 1 ms each.
    const window = summarise(profile, 25, 3500, 6000);
    assert.equal(window.busyMs, 2);
    assert.equal(window.idleMs, 1);
    assert.deepEqual(window.functions.map((r) => `${r.name} ${r.selfMs}`).sort(), ['executeQuery kysely:10 1', 'readThrough gateway/http/routes:10 1']);
  });
});
