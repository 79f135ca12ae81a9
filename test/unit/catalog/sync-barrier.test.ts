/**
 * Group commit: callers join the next flush that starts after their call; a flush already running
 * never counts for a later caller; a failed flush rejects its callers and the next one runs anew.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SyncBarrier } from '../../../gateway/catalog/sync-barrier.js';

/** A barrier whose flushes wait until released, counting them. */
function gated() {
  const releases: Array<(error?: Error) => void> = [];
  let started = 0;
  const barrier = new SyncBarrier(
    () =>
      new Promise<void>((resolve, reject) => {
        started++;
        releases.push((error) => (error ? reject(error) : resolve()));
      }),
  );
  const tick = () => new Promise((resolve) => setImmediate(resolve));
  return { barrier, releases, started: () => started, tick };
}

describe('sync barrier', () => {
  it('runs one flush for callers that arrive before it starts', async () => {
    const { barrier, releases, started, tick } = gated();
    const calls = [barrier.sync(), barrier.sync(), barrier.sync()];
    await tick();
    assert.equal(started(), 1);
    releases[0]!();
    await Promise.all(calls);
    assert.equal(started(), 1);
  });

  it('never counts a flush that started before the call: a caller during a flush waits for the next', async () => {
    const { barrier, releases, started, tick } = gated();
    const first = barrier.sync();
    await tick();
    let secondDone = false;
    const second = barrier.sync().then(() => (secondDone = true));
    const third = barrier.sync();
    releases[0]!();
    await first;
    await tick();
    assert.equal(secondDone, false, 'a caller was released by a flush that started before its call');
    assert.equal(started(), 2, 'the callers during the first flush share the second');
    releases[1]!();
    await Promise.all([second, third]);
  });

  it('rejects the callers of a failed flush and runs the next one anew', async () => {
    const { barrier, releases, started, tick } = gated();
    const failing = barrier.sync();
    await tick();
    releases[0]!(new Error('EIO'));
    await assert.rejects(failing, /EIO/);
    const next = barrier.sync();
    await tick();
    assert.equal(started(), 2);
    releases[1]!();
    await next;
  });
});
