/**
 * The catalog's schema version: the name of the last migration applied to it (Kysely records each
 * in `kysely_migration`). Migrations only go forward, at open; a catalog that a newer Aegis has
 * migrated holds migrations this version does not know, and this version refuses it rather than
 * run on a schema it was not written for (Kysely would also refuse, but only as "corrupted
 * migrations"). Rows are never changed here: the refusal leaves the catalog as it was.
 */
import { existsSync } from 'node:fs';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { GatewayError } from '../errors.js';
import { catalogMigrationNames } from './migrations.js';
import { openSqlite } from './sqlite.js';

/** The newest schema this version of Aegis knows: the name of its last migration. */
export const LATEST_SCHEMA: string = catalogMigrationNames.at(-1)!;

/**
 * The schema version of the catalog behind `db` (its last applied migration, by name), or
 * undefined for a catalog no migration has run on yet.
 */
export async function catalogSchemaVersion<DB>(db: Kysely<DB>): Promise<string | undefined> {
  return (await appliedMigrations(db)).at(-1);
}

/**
 * Throws CATALOG_TOO_NEW when the catalog behind `db` (at `file`, for the message) records a
 * migration this version does not know, naming the catalog's schema and this version's latest.
 */
export async function refuseNewerCatalog<DB>(db: Kysely<DB>, file: string): Promise<void> {
  const known = new Set(catalogMigrationNames);
  const unknown = (await appliedMigrations(db)).filter((name) => !known.has(name));
  if (unknown.length === 0) return;
  throw new GatewayError(
    'CATALOG_TOO_NEW',
    `the catalog at ${file} has schema ${unknown.at(-1)}, which this version of Aegis does not know (its latest is ${LATEST_SCHEMA}): ` +
      'a newer Aegis has upgraded it, and Aegis does not downgrade; run that newer version, or restore a backup taken before the upgrade',
  );
}

/**
 * {@link refuseNewerCatalog} on the catalog file `file` without migrating or creating it (nothing
 * to refuse when there is none yet): `aegis start` checks before it forks workers that would each
 * refuse.
 */
export async function refuseNewerCatalogFile(file: string): Promise<void> {
  if (!existsSync(file)) return;
  let database;
  try {
    database = openSqlite(file).database;
  } catch (error) {
    throw new GatewayError('BACKEND_UNAVAILABLE', `cannot open the catalog at ${file}: ${(error as Error).message}`, { cause: error });
  }
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database }) });
  try {
    await refuseNewerCatalog(db, file);
  } finally {
    await db.destroy();
  }
}

/** Names of the migrations applied to the catalog, in name order (which is their order); none before the first. */
async function appliedMigrations<DB>(db: Kysely<DB>): Promise<string[]> {
  const table = await sql<{ n: number }>`SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'kysely_migration'`.execute(db);
  if (Number(table.rows[0].n) === 0) return [];
  const rows = await sql<{ name: string }>`SELECT name FROM kysely_migration ORDER BY name`.execute(db);
  return rows.rows.map((row) => row.name);
}
