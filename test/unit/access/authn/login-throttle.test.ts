/**
 * The login throttle over a real SQLite catalog, with the clock in the test's hands: delays per
 * (user name, client) that grow and are capped, clients that are not affected by each other, the
 * count forgotten after a quiet window, the client lock, IPv6 clients counted by /64, and the
 * clearing that `aegis users unlock` and a password change use.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clearSignInDelays, LoginThrottle, throttledClient, type ThrottleLimits } from '../../../../gateway/access/authn/login-throttle.js';
import { Catalog } from '../../../../gateway/catalog/catalog.js';

const LIMITS: ThrottleLimits = { maxFailures: 3, delaySeconds: 1, maxDelaySeconds: 8, maxClientFailures: 1000, windowSeconds: 100, lockSeconds: 60 };
const T0 = 1_900_000_000_000;
const s = (seconds: number) => T0 + seconds * 1000;

describe('LoginThrottle', () => {
  let dir: string;
  let catalog: Catalog;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aegis-throttle-'));
    catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
  });
  after(async () => {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delays a name from one client after maxFailures, doubling up to the cap; other clients are not affected', async () => {
    const throttle = new LoginThrottle(catalog.db, LIMITS);
    const started = [];
    for (let i = 0; i < 3; i++) started.push(await throttle.recordFailure('admin', '10.0.0.1', s(0)));
    assert.deepEqual(started, [[], [], [{ scope: 'user', seconds: 1 }]]);
    assert.deepEqual(await throttle.check('admin', '10.0.0.1', s(0.5)), { locked: true, scope: 'user', retryAfterSeconds: 1 });
    assert.deepEqual(await throttle.check('admin', '10.0.0.2', s(0.5)), { locked: false, counted: false }, 'another client');
    assert.deepEqual(await throttle.check('root', '10.0.0.1', s(0.5)), { locked: false, counted: false }, 'another name from the same client');
    const seconds = [];
    for (let i = 0, t = 1; i < 5; i++) {
      const [lockout] = await throttle.recordFailure('admin', '10.0.0.1', s(t));
      seconds.push(lockout.seconds);
      t += lockout.seconds;
    }
    assert.deepEqual(seconds, [2, 4, 8, 8, 8], 'doubling, capped at maxDelaySeconds');
  });

  it('forgets the count after windowSeconds without a failure once the delay is over', async () => {
    const throttle = new LoginThrottle(catalog.db, LIMITS);
    for (let i = 0; i < 3; i++) await throttle.recordFailure('carol', '10.0.0.1', s(0));
    assert.deepEqual(await throttle.recordFailure('carol', '10.0.0.1', s(50)), [{ scope: 'user', seconds: 2 }], 'within the window: counted on');
    assert.deepEqual(await throttle.recordFailure('carol', '10.0.0.1', s(153)), [], 'a quiet window after the delay: a fresh count');
  });

  it('treats names nobody has like any other (a delay tells nothing about users)', async () => {
    const throttle = new LoginThrottle(catalog.db, LIMITS);
    for (let i = 0; i < 3; i++) await throttle.recordFailure('no-such-user', '10.0.0.9', s(0));
    assert.deepEqual(await throttle.check('no-such-user', '10.0.0.9', s(0)), { locked: true, scope: 'user', retryAfterSeconds: 1 });
  });

  it('a success clears the name from that client only; clearSignInDelays clears it from every client', async () => {
    const throttle = new LoginThrottle(catalog.db, LIMITS);
    for (const client of ['10.1.0.1', '10.1.0.2']) for (let i = 0; i < 3; i++) await throttle.recordFailure('dave', client, s(0));
    await throttle.recordSuccess('dave', '10.1.0.1');
    assert.deepEqual(await throttle.check('dave', '10.1.0.1', s(0)), { locked: false, counted: false });
    assert.equal((await throttle.check('dave', '10.1.0.2', s(0))).locked, true);
    for (let i = 0; i < 3; i++) await throttle.recordFailure('dave', '10.1.0.3', s(0));
    assert.equal(await clearSignInDelays(catalog.db, 'dave'), 2);
    for (const client of ['10.1.0.2', '10.1.0.3']) assert.deepEqual(await throttle.check('dave', client, s(0)), { locked: false, counted: false });
  });

  it('locks a client out after maxClientFailures, whatever names it tries', async () => {
    const throttle = new LoginThrottle(catalog.db, { ...LIMITS, maxClientFailures: 4 });
    const started = [];
    for (let i = 0; i < 4; i++) started.push(await throttle.recordFailure(`guess${i}`, '10.2.0.1', s(0)));
    assert.deepEqual(started, [[], [], [], [{ scope: 'client', seconds: 60 }]]);
    assert.deepEqual(await throttle.check('anyone', '10.2.0.1', s(1)), { locked: true, scope: 'client', retryAfterSeconds: 59 });
  });

  it('counts IPv6 clients by their /64 prefix and IPv4-mapped addresses as IPv4', () => {
    assert.equal(throttledClient('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(throttledClient('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.equal(throttledClient('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(throttledClient('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(throttledClient('unknown'), 'unknown');
  });
});
