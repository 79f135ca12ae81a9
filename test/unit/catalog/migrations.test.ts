/**
 * Catalog migrations applied over data written under the previous schema: what each one does to
 * rows that already exist.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { catalogMigrations } from '../../../gateway/catalog/migrations.js';
import { openSqlite, type OpenedSqlite } from '../../../gateway/catalog/sqlite.js';

describe('catalog migrations over existing rows', () => {
  let dir: string;
  let sqlite: OpenedSqlite;

  let db: Kysely<any>;
  let migrator: Migrator;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'aegis-migrations-'));
    sqlite = openSqlite(join(dir, 'catalog.sqlite'));
    db = new Kysely({ dialect: new SqliteDialect({ database: sqlite.database }) });
    migrator = new Migrator({ db, provider: catalogMigrations });
  });
  after(async () => {
    await db.destroy();
    sqlite.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Rows as plain objects: better-sqlite3 on Node 24 hands them out with a null prototype. */
  async function rowsOf<T extends object>(query: { execute(): Promise<T[]> }): Promise<T[]> {
    return (await query.execute()).map((row) => ({ ...row }));
  }

  async function migrateTo(name: string): Promise<void> {
    const { error } = await migrator.migrateTo(name);
    assert.equal(error, undefined);
  }

  it('0005: every refresh token learns when its family started (its oldest token)', async () => {
    await migrateTo('0004-manifests');
    await db.insertInto('users').values({ name: 'alice', role: 'r', attributes: '{}', password_hash: 'x', disabled: 0, created_at: 'c', updated_at: 'u', password_changed_at: 'p' }).execute();
    const rows: Array<[string, string, string]> = [
      ['1', 'f1', '2030-01-01T00:00:00.000Z'],
      ['2', 'f1', '2030-01-01T05:00:00.000Z'],
      ['3', 'f2', '2030-01-02T00:00:00.000Z'],
    ];
    for (const [id, family, at] of rows) {
      await db.insertInto('refresh_tokens').values({ id, family, user_name: 'alice', secret_sha256: 'x', created_at: at, expires_at: at, used_at: null, revoked_at: null }).execute();
    }
    await migrateTo('0005-refresh-token-families');
    const migrated = await rowsOf(db.selectFrom('refresh_tokens').select(['id', 'family_started_at']).orderBy('id'));
    assert.deepEqual(migrated, [
      { id: '1', family_started_at: '2030-01-01T00:00:00.000Z' },
      { id: '2', family_started_at: '2030-01-01T00:00:00.000Z' },
      { id: '3', family_started_at: '2030-01-02T00:00:00.000Z' },
    ]);
  });

  it('0006: per-name lock counts go, client counts stay', async () => {
    await db
      .insertInto('login_throttle')
      .values([
        { key: 'user:admin', failures: 5, window_started_at: 1, locked_until: 2 },
        { key: 'client:10.0.0.1', failures: 3, window_started_at: 1, locked_until: null },
      ])
      .execute();
    await migrateTo('0006-sign-in-delays');
    assert.deepEqual(await rowsOf(db.selectFrom('login_throttle').select('key')), [{ key: 'client:10.0.0.1' }]);
    assert.deepEqual(await db.selectFrom('sign_in_delays').selectAll().execute(), []);
  });

  it('0007: grants recorded by bare name end, since they cannot say whose they are', async () => {
    const future = Date.now() + 3_600_000;
    await db
      .insertInto('break_glass_grants')
      .values([
        { id: 'g1', user_name: 'grace', reason: 'r', purpose: 'ETREAT', granted_at: 'a', expires_at: future, revoked_at: null },
        { id: 'g2', user_name: 'grace', reason: 'r', purpose: 'ETREAT', granted_at: 'a', expires_at: future, revoked_at: 'earlier' },
      ])
      .execute();
    await migrateTo('0007-break-glass-subjects');
    const rows = await db.selectFrom('break_glass_grants').select(['id', 'subject_key', 'revoked_at']).orderBy('id').execute();
    assert.equal(rows[0].subject_key, null);
    assert.match(rows[0].revoked_at, /^\d{4}-\d\d-\d\dT/, 'the running grant ends');
    assert.equal(rows[1].revoked_at, 'earlier', 'an ended one keeps its time');
  });
});
