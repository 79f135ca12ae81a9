/**
 * Online, consistent copies of the gateway's SQLite files (the catalog, the shred key vault) for
 * `aegis backup`, taken while gateways write to them. `VACUUM INTO` reads the source in one read
 * transaction, so the copy is the database as of one commit, whatever the writers do meanwhile;
 * under WAL it does not block them, and both drivers (`node:sqlite`, `better-sqlite3`) run it. The
 * online backup API was not chosen: it restarts whenever another connection writes, which under
 * steady STOW load may be always. The copy is a single self-contained file (rollback journal, no
 * WAL beside it), compacted, without the free pages where deleted rows (shred keys) once were.
 */
import { existsSync } from 'node:fs';
import { Kysely, SqliteDialect } from 'kysely';
import { GatewayError } from '../errors.js';
import type { CatalogDatabase } from './schema.js';
import { createOwnerOnly, openSqlite } from './sqlite.js';

/**
 * Copies the SQLite database `source` (which must exist: it is not created) to `target`, a new
 * file created owner-only; throws BACKEND_UNAVAILABLE when either cannot be opened or written.
 */
export function snapshotSqlite(source: string, target: string): void {
  if (!existsSync(source)) throw new GatewayError('BACKEND_UNAVAILABLE', `cannot copy ${source}: there is no such file`);
  if (existsSync(target)) throw new GatewayError('CONFLICT', `cannot copy ${source} to ${target}: it exists`);
  const sqlite = openSqlite(source);
  try {
    // VACUUM INTO accepts an existing empty file: created first, so that it is owner-only whatever the umask.
    createOwnerOnly(target);
    sqlite.database.prepare('VACUUM INTO ?').run([target]);
  } catch (error) {
    throw new GatewayError('BACKEND_UNAVAILABLE', `cannot copy ${source} to ${target}`, { cause: error });
  } finally {
    sqlite.close();
  }
}

/** SQLite's own check of the database `file` (`PRAGMA integrity_check`): the problems it lists, none when intact. */
export function integrityProblems(file: string): string[] {
  if (!existsSync(file)) return [`${file} is missing`];
  let sqlite;
  try {
    sqlite = openSqlite(file);
  } catch (error) {
    return [`${file} cannot be opened: ${(error as Error).message}`];
  }
  try {
    const rows = sqlite.database.prepare('PRAGMA integrity_check').all([]) as Array<{ integrity_check: string }>;
    const problems = rows.map((row) => row.integrity_check).filter((text) => text !== 'ok');
    return problems.map((problem) => `${file}: ${problem}`);
  } catch (error) {
    return [`${file}: ${(error as Error).message}`];
  } finally {
    sqlite.close();
  }
}

/**
 * Opens a copy made by {@link snapshotSqlite} of the catalog, to read and check it, without
 * running migrations on it (a backup is checked as it was taken) and without creating it.
 */
export function openCatalogSnapshot(file: string): { db: Kysely<CatalogDatabase>; close(): Promise<void> } {
  if (!existsSync(file)) throw new GatewayError('BACKEND_UNAVAILABLE', `cannot open ${file}: there is no such file`);
  const db = new Kysely<CatalogDatabase>({ dialect: new SqliteDialect({ database: openSqlite(file).database }) });
  return { db, close: () => db.destroy() };
}
