/**
 * Refresh tokens over a real SQLite catalog: rotation keeps a family within its absolute lifetime
 * (from the sign-in that started it), and a password change or a disable revokes every family of
 * the user, so that a stolen refresh token dies with the credentials it was issued for.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RefreshTokens } from '../../../../gateway/access/authn/refresh-tokens.js';
import { UserStore } from '../../../../gateway/access/users.js';
import { Catalog } from '../../../../gateway/catalog/catalog.js';

const PASSWORD = 'correct horse battery staple';
const HOUR = 3600;
const T0 = Date.parse('2030-01-01T00:00:00Z');
const at = (hours: number) => new Date(T0 + hours * HOUR * 1000);

describe('RefreshTokens', () => {
  let dir: string;
  let catalog: Catalog;
  let users: UserStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aegis-refresh-'));
    catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
    users = new UserStore(catalog.db);
    for (const name of ['alice', 'bob', 'carol']) await users.add({ name, role: 'radiologist', password: PASSWORD });
  });
  after(async () => {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rotation never extends a family past its start plus the absolute lifetime', async () => {
    const tokens = new RefreshTokens(catalog.db, 12 * HOUR, 24 * HOUR);
    let token = await tokens.issue('alice', at(0));
    for (const hours of [11, 22]) {
      const redeemed = await tokens.redeem(token, at(hours));
      assert.equal(redeemed.ok, true, `redeemed after ${hours} h`);
      token = (redeemed as { token: string }).token;
    }
    // Issued at 22 h: it would live until 34 h if rotation restarted the lifetime; the family ends at 24 h.
    assert.deepEqual(await tokens.redeem(token, at(24)), { ok: false, reason: 'expired', user: 'alice' });
    const rows = await catalog.db.selectFrom('refresh_tokens').select(['expires_at']).where('user_name', '=', 'alice').orderBy('created_at').execute();
    assert.deepEqual(
      rows.map((r) => r.expires_at),
      [at(12), at(23), at(24)].map((d) => d.toISOString()),
      'the last token expires with its family',
    );
  });

  it('a family started longer ago than the absolute lifetime ends, whatever its last token says (lifetime shortened since)', async () => {
    const token = await new RefreshTokens(catalog.db, 12 * HOUR, 48 * HOUR).issue('alice', at(0));
    const shorter = new RefreshTokens(catalog.db, 1 * HOUR, 1 * HOUR);
    assert.deepEqual(await shorter.redeem(token, at(2)), { ok: false, reason: 'expired', user: 'alice' });
  });

  it('a password change revokes every family of the user, and only theirs', async () => {
    const tokens = new RefreshTokens(catalog.db, 12 * HOUR, 24 * HOUR);
    const first = await tokens.issue('bob');
    const second = await tokens.issue('bob');
    const other = await tokens.issue('carol');
    await users.setPassword('bob', 'a brand new passphrase');
    assert.deepEqual(await tokens.redeem(first), { ok: false, reason: 'revoked', user: 'bob' });
    assert.deepEqual(await tokens.redeem(second), { ok: false, reason: 'revoked', user: 'bob' });
    assert.equal((await tokens.redeem(other)).ok, true, "another user's family lives on");
    assert.equal((await tokens.redeem(await tokens.issue('bob'))).ok, true, 'a sign-in after the change starts a good family');
  });

  it('disabling a user revokes every family; enabling them again does not bring any back', async () => {
    const tokens = new RefreshTokens(catalog.db, 12 * HOUR, 24 * HOUR);
    const token = await tokens.issue('carol');
    await users.disable('carol');
    await users.enable('carol');
    assert.deepEqual(await tokens.redeem(token), { ok: false, reason: 'revoked', user: 'carol' });
  });
});
