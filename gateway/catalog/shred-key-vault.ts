/**
 * The shred key vault (`keys/instance-keys.ts`): one small SQLite file, `DATA/shred-keys.sqlite`,
 * owner-only, apart from the catalog so that `aegis reindex` can rebuild a lost catalog while the
 * vault survives beside it (backups must include both). A deleted shred key must be gone from the
 * disk, not only from the table:
 *
 * - `secure_delete` makes SQLite overwrite deleted rows and freed pages with zeros;
 * - the vault runs in WAL mode and every destruction ends with a `wal_checkpoint(TRUNCATE)`, so the
 *   zeroed pages reach the database file and the WAL, which still held the key, is emptied;
 * - a shred key is durable before the instance sealed under it is acknowledged: {@link ShredKeyVault.persist}
 *   fdatasyncs the WAL on the thread pool, one flush shared by every key added since the last (group
 *   commit), instead of `synchronous = FULL`'s fsync on the event loop at every insert. Until then a
 *   crash of the machine (not of the process: the page cache survives that) may lose the key, and
 *   with it only fragments of an instance never acknowledged, which `aegis scrub --orphans` removes.
 *
 * What SQLite cannot reach (copies the file system or its storage keep of overwritten blocks,
 * backups) is the operator's to handle; docs/protection.md says so.
 */
import { mkdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GatewayError } from '../errors.js';
import type { ShredKeyStore } from '../keys/instance-keys.js';
import { createOwnerOnly, openSqlite, type OpenedSqlite } from './sqlite.js';
import { SyncBarrier } from './sync-barrier.js';

/** The vault file of a data directory. */
export function shredKeyVaultFile(dataDir: string): string {
  return join(dataDir, 'shred-keys.sqlite');
}

/** Shred keys in an SQLite file that really deletes. */
export class ShredKeyVault implements ShredKeyStore {
  private readonly barrier: SyncBarrier;

  private constructor(
    private readonly sqlite: OpenedSqlite,
    file: string,
  ) {
    this.barrier = new SyncBarrier(() => flushWal(file));
  }

  /** Opens (creating owner-only if needed) the vault at `file`. Throws `BACKEND_UNAVAILABLE` when it cannot. */
  static open(file: string): ShredKeyVault {
    let sqlite: OpenedSqlite | undefined;
    try {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      createOwnerOnly(file);
      sqlite = openSqlite(file);
      sqlite.exec('PRAGMA secure_delete = ON');
      sqlite.exec('PRAGMA journal_mode = WAL');
      // Commits write the WAL without an fsync; persist() flushes it (checkpoints sync as usual).
      sqlite.exec('PRAGMA synchronous = NORMAL');
      sqlite.exec('CREATE TABLE IF NOT EXISTS shred_keys (id TEXT PRIMARY KEY, secret BLOB NOT NULL, created_at TEXT NOT NULL)');
    } catch (error) {
      sqlite?.close();
      throw new GatewayError('BACKEND_UNAVAILABLE', `cannot open the shred key vault at ${file}`, { cause: error });
    }
    return new ShredKeyVault(sqlite, file);
  }

  add(id: string, secret: Uint8Array): void {
    this.sqlite.database.prepare('INSERT INTO shred_keys (id, secret, created_at) VALUES (?, ?, ?)').run([id, Buffer.from(secret), new Date().toISOString()]);
  }

  /** Resolves once every shred key added before the call is on disk (one WAL fdatasync shared by concurrent callers). */
  persist(): Promise<void> {
    return this.barrier.sync().catch((error: unknown) => {
      throw new GatewayError('BACKEND_UNAVAILABLE', 'cannot make the shred key vault durable', { cause: error });
    });
  }

  find(id: string): Buffer | undefined {
    const rows = this.sqlite.database.prepare('SELECT secret FROM shred_keys WHERE id = ?').all([id]) as Array<{ secret: Uint8Array }>;
    return rows.length === 0 ? undefined : Buffer.from(rows[0].secret);
  }

  destroy(ids: readonly string[]): number {
    const remove = this.sqlite.database.prepare('DELETE FROM shred_keys WHERE id = ?');
    let destroyed = 0;
    this.sqlite.exec('BEGIN IMMEDIATE');
    try {
      for (const id of ids) destroyed += Number(remove.run([id]).changes);
      this.sqlite.exec('COMMIT');
    } catch (error) {
      this.sqlite.exec('ROLLBACK');
      throw error;
    }
    this.sqlite.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    return destroyed;
  }

  /** Number of shred keys held (the instances that can still be read). */
  count(): number {
    const rows = this.sqlite.database.prepare('SELECT count(*) AS n FROM shred_keys').all([]) as Array<{ n: number | bigint }>;
    return Number(rows[0].n);
  }

  /** Closes the file. */
  close(): void {
    this.sqlite.close();
  }
}

/**
 * Makes the vault's committed transactions durable: fdatasync of its WAL. When there is no WAL file
 * (never with the connection open in WAL mode, but cheap to cover) the database file is synced.
 */
async function flushWal(file: string): Promise<void> {
  let fh;
  try {
    fh = await open(`${file}-wal`, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    fh = await open(file, 'r');
  }
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}
