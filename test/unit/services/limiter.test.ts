/**
 * The limiter: at most `max` tasks run at once; with a bound on the waiting, a task that finds the
 * queue full is refused at once with the error the owner gives; a waiting task whose signal fires
 * leaves the queue at once (rejecting with the signal's reason) and never runs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Limiter } from '../../../gateway/services/limiter.js';

/** A task that runs until `release` is called, and records that it started. */
function blocker(started: string[], name: string): { task: () => Promise<string>; release: () => void } {
  let release = () => {};
  const done = new Promise<void>((resolve) => (release = resolve));
  return {
    task: async () => {
      started.push(name);
      await done;
      return name;
    },
    release,
  };
}

const full = () => new Error('queue full');

describe('Limiter', () => {
  it('refuses a task at once when as many wait as allowed, and runs the waiting ones in order', async () => {
    const limiter = new Limiter(1, { maxWaiting: 1, full });
    const started: string[] = [];
    const a = blocker(started, 'a');
    const b = blocker(started, 'b');
    const running = limiter.run(a.task);
    const waiting = limiter.run(b.task);
    await assert.rejects(
      limiter.run(async () => 'c'),
      /^Error: queue full$/,
    );
    assert.deepEqual(started, ['a']);
    a.release();
    b.release();
    assert.deepEqual(await Promise.all([running, waiting]), ['a', 'b']);
    assert.deepEqual(started, ['a', 'b']);
    assert.equal(await limiter.run(async () => 'd'), 'd', 'the queue is free again');
  });

  it('takes a waiting task out of the queue as soon as its signal fires: it rejects then, never runs, and frees its place', async () => {
    const limiter = new Limiter(1, { maxWaiting: 1, full });
    const started: string[] = [];
    const a = blocker(started, 'a');
    const running = limiter.run(a.task);
    const controller = new AbortController();
    const cancelled = limiter.run(async () => 'never', controller.signal);
    controller.abort(new Error('the client went away'));
    await assert.rejects(cancelled, /^Error: the client went away$/);
    const c = blocker(started, 'c');
    const next = limiter.run(c.task);
    a.release();
    c.release();
    assert.deepEqual(await Promise.all([running, next]), ['a', 'c']);
    assert.deepEqual(started, ['a', 'c']);
  });

  it('never starts a task whose signal fired before it was queued', async () => {
    const limiter = new Limiter(2);
    await assert.rejects(
      limiter.run(async () => 'never', AbortSignal.abort(new Error('gone'))),
      /^Error: gone$/,
    );
    assert.equal(await limiter.run(async () => 'next'), 'next');
  });
});
