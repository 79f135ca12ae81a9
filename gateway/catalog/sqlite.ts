/**
 * Opens the embedded SQLite catalog database for Kysely's SqliteDialect, on the driver the
 * running Node has: its built-in `node:sqlite` where there is one (Node 22.13+, 24 LTS), else
 * `better-sqlite3` (Node 20). better-sqlite3 12 must not run on Node 24.19+: its Statement
 * finalizer aborts the process from an idle garbage collection (nodejs/node#65446,
 * WiseLibs/better-sqlite3#1515), and version 13, which fixes that, does not run on Node 20.
 */
import { closeSync, constants, fchmodSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/** What the catalog needs of an open SQLite database. */
export interface OpenedSqlite {
  /** The database as Kysely's SqliteDialect takes it, with prepared statements reused. */
  database: SqliteDatabase;
  /** Runs SQL without results (pragmas). */
  exec(sql: string): void;
  /** Which driver is in use: `node:sqlite` or `better-sqlite3`. */
  driver: string;
  close(): void;
}

interface Driver {
  name: string;
  open(file: string): { prepare(sql: string): SqliteStatement; exec(sql: string): void; close(): void };
}

const require = createRequire(import.meta.url);

/** How long a statement waits for a lock another connection holds before it fails. */
export const BUSY_TIMEOUT_MS = 5000;

/** Opens `file` (created if missing) with the best driver available, waiting up to {@link BUSY_TIMEOUT_MS} for locks. */
export function openSqlite(file: string): OpenedSqlite {
  const driver = nodeSqlite() ?? betterSqlite3();
  const db = driver.open(file);
  // Before anything else: another process (a CLI command next to the gateway) may hold a lock,
  // and the first statements (journal_mode = WAL, migrations) must wait for it, not fail with
  // SQLITE_BUSY. better-sqlite3 waits 5 s by default, node:sqlite not at all.
  db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
  let open = true;
  // Kysely closes the database when destroyed and the catalog closes it too: once is enough
  // (node:sqlite throws on a second close).
  const close = () => {
    if (open) db.close();
    open = false;
  };
  return { database: withStatementCache({ prepare: (sql) => db.prepare(sql), close }), exec: (sql) => db.exec(sql), driver: driver.name, close };
}

/** The part of `node:sqlite` used here (@types/node 20 does not describe the module). */
interface NodeSqliteModule {
  DatabaseSync: new (file: string) => {
    exec(sql: string): void;
    close(): void;
    prepare(sql: string): {
      columns(): unknown[];
      all(...parameters: unknown[]): unknown[];
      run(...parameters: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
      iterate(...parameters: unknown[]): IterableIterator<unknown>;
    };
  };
}

function nodeSqlite(): Driver | undefined {
  let sqlite: NodeSqliteModule;
  try {
    sqlite = require('node:sqlite') as NodeSqliteModule;
  } catch {
    return undefined; // Node 20, or Node 22 before 22.13 without --experimental-sqlite
  }
  return {
    name: 'node:sqlite',
    open(file) {
      const db = new sqlite.DatabaseSync(file);
      return {
        exec: (sql) => db.exec(sql),
        close: () => db.close(),
        prepare(sql) {
          const statement = db.prepare(sql);
          // Kysely passes parameters as one array, better-sqlite3 style; node:sqlite takes them spread.
          return {
            reader: statement.columns().length > 0,
            all: (parameters: ReadonlyArray<unknown>) => statement.all(...parameters),
            run: (parameters: ReadonlyArray<unknown>) => statement.run(...parameters),
            iterate: (parameters: ReadonlyArray<unknown>) => statement.iterate(...parameters),
          } as SqliteStatement;
        },
      };
    },
  };
}

function betterSqlite3(): Driver {
  const Database = require('better-sqlite3') as typeof import('better-sqlite3');
  return {
    name: 'better-sqlite3',
    open(file) {
      const db = new Database(file);
      return { prepare: (sql) => db.prepare(sql), exec: (sql) => void db.exec(sql), close: () => db.close() };
    },
  };
}

/**
 * Kysely prepares every query anew; prepared statements can be reused. The hot queries of STOW
 * and WADO have fixed SQL text, so a bounded cache keyed by that text saves a prepare on every
 * request. Safe because Kysely runs one query at a time on the one connection and the catalog
 * never streams rows.
 */
function withStatementCache(db: { prepare(sql: string): SqliteStatement; close(): void }, size = 256): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    close: () => db.close(),
    prepare(text: string) {
      let statement = cache.get(text);
      if (statement === undefined) {
        statement = db.prepare(text);
        if (cache.size < size) cache.set(text, statement);
      }
      return statement;
    },
  };
}

/**
 * Creates an empty database file readable and writable by its owner only (whatever the umask),
 * unless it exists: SQLite would create it 0644, and it creates the WAL and shared-memory files
 * with the mode of the database file. An empty file is a valid empty database.
 */
export function createOwnerOnly(file: string): void {
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  }
  try {
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
}
