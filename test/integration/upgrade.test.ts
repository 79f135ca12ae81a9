/**
 * Upgrades go one way: `aegis start` on a catalog that a newer Aegis has migrated refuses with a
 * plain message naming both schema versions, before it forks a worker, and leaves the catalog as
 * it was.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { LATEST_SCHEMA } from '../../gateway/catalog/schema-version.js';
import { openSqlite } from '../../gateway/catalog/sqlite.js';
import { runAegis } from '../support/aegis-cli.js';

it('aegis start refuses a catalog of a newer version: exit 1, both schema versions named, catalog untouched', { timeout: 60_000 }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'aegis-upgrade-'));
  try {
    const file = join(dataDir, 'catalog.sqlite');
    await (await Catalog.openSqlite(file)).close();
    const raw = openSqlite(file);
    raw.exec("INSERT INTO kysely_migration (name, timestamp) VALUES ('0099-from-the-future', '2099-01-01T00:00:00.000Z')");
    raw.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    raw.close();
    const before = await readFile(file);

    const run = await runAegis(['start', '--data', dataDir, '--port', '0'], { env: { AEGIS_WORKERS: '2' } });
    assert.equal(run.status, 1, run.stderr);
    assert.equal(
      run.stderr,
      `aegis start: the catalog at ${file} has schema 0099-from-the-future, which this version of Aegis does not know (its latest is ${LATEST_SCHEMA}): ` +
        'a newer Aegis has upgraded it, and Aegis does not downgrade; run that newer version, or restore a backup taken before the upgrade\n',
    );
    assert.equal(run.stdout, '', 'no worker was started: nothing logged');
    assert.ok((await readFile(file)).equals(before), 'the catalog file is unchanged');
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
