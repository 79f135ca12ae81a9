import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RestartBackoff } from '../../../gateway/cli/restart-backoff.js';

describe('RestartBackoff', () => {
  it('doubles the wait from 100 ms to 30 s while workers die soon after their start', () => {
    const backoff = new RestartBackoff();
    const delays = Array.from({ length: 12 }, () => backoff.exited(500).delayMs);
    assert.deepEqual(delays, [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000]);
  });

  it('counts the crashes in a row and the longest uptime of the run', () => {
    const backoff = new RestartBackoff();
    backoff.exited(300);
    assert.deepEqual(backoff.exited(900), { crashesInARow: 2, longestUpMs: 900, delayMs: 200 });
  });

  it('starts a new run when the worker that died had stayed up for stableMs', () => {
    const backoff = new RestartBackoff({ initialMs: 50, maxMs: 1000, stableMs: 5000 });
    for (let i = 0; i < 5; i++) backoff.exited(10);
    assert.deepEqual(backoff.exited(5000), { crashesInARow: 1, longestUpMs: 5000, delayMs: 50 });
    assert.deepEqual(backoff.exited(4999), { crashesInARow: 2, longestUpMs: 5000, delayMs: 100 });
  });

  it('never waits beyond maxMs, however many crashes', () => {
    const backoff = new RestartBackoff({ maxMs: 30_000 });
    let last = 0;
    for (let i = 0; i < 2000; i++) last = backoff.exited(0).delayMs;
    assert.equal(last, 30_000);
  });
});
