/**
 * One gateway per data folder: two gateways on one SQLite catalog would each believe they alone
 * sweep orphans, retry removals and append to the audit chain. `aegis start` (the single process,
 * or a cluster's primary) holds the lock for its whole life and releases it when it stops.
 *
 * The lock is an exclusive transaction on a small SQLite file, `DATA/gateway.lock`: SQLite takes
 * it with the operating system's file locks, which die with the process that held them, so a
 * gateway killed with SIGKILL never leaves a lock that blocks the next start, and a reused PID
 * (a container's gateway is always PID 1) is never mistaken for a live holder. Who holds it is
 * written beside it, in `DATA/gateway.pid` (JSON: pid, start time, host), for the refusal
 * message; a holder's file found by a process that did get the lock is stale (its holder died)
 * and is taken over with a log line. A lock file that is a link, or not an SQLite file, is refused
 * (LOCK_FILE_INVALID) rather than followed or replaced.
 *
 * The CLI commands do not take the lock: they work beside a running gateway (SQLite WAL), as
 * docs/start-up.md explains command by command.
 */
import { lstatSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { GatewayError } from '../errors.js';
import { createOwnerOnly, openSqlite, type OpenedSqlite } from '../catalog/sqlite.js';

/** Who holds (or held) the lock of a data folder. */
export interface LockHolder {
  pid: number;
  /** When the holder started, ISO 8601. */
  startedAt: string;
  hostname: string;
}

/** A held lock; {@link DataDirectoryLock.release} once, when the gateway has stopped. */
export interface DataDirectoryLock {
  release(): void;
}

/** Where the stale-lock takeover is reported (a pino logger fits). */
export interface LockLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

/** The lock file and the holder file of a data folder. */
export function lockFiles(dataDir: string): { lock: string; holder: string } {
  return { lock: join(dataDir, 'gateway.lock'), holder: join(dataDir, 'gateway.pid') };
}

/**
 * Takes the lock of `dataDir` (which must exist) for this process. Throws DATA_DIRECTORY_LOCKED,
 * naming the holder, when another process holds it.
 */
export function lockDataDirectory(dataDir: string, logger: LockLogger): DataDirectoryLock {
  const files = lockFiles(dataDir);
  createOwnerOnly(files.lock);
  // Never through a link: SQLite would create and lock whatever file it names.
  if (!lstatSync(files.lock).isFile()) throw invalidLockFile(dataDir, files.lock, 'is not a regular file (a symbolic link, a directory?), not the lock file of Aegis');
  const sqlite = openSqlite(files.lock);
  try {
    sqlite.exec('PRAGMA busy_timeout = 0');
    sqlite.exec('BEGIN EXCLUSIVE');
  } catch (error) {
    sqlite.close();
    if (isNotADatabase(error)) throw invalidLockFile(dataDir, files.lock, `is not the lock file of Aegis (${(error as Error).message})`, error);
    if (!isBusy(error)) throw error;
    throw new GatewayError('DATA_DIRECTORY_LOCKED', `data folder ${dataDir} is in use by ${describe(readHolder(files.holder))}; stop it first`, { cause: error });
  }
  const stale = readHolder(files.holder);
  if (stale !== undefined) {
    logger.warn({ dataDir, stalePid: stale.pid, staleStartedAt: stale.startedAt, staleHostname: stale.hostname }, `taking over the data folder lock of aegis pid ${stale.pid}, which is no longer running`);
  }
  writeHolder(files.holder, { pid: process.pid, startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(), hostname: hostname() });
  return { release: () => release(sqlite, files.holder) };
}

/** The holder recorded for `dataDir`, if any (whether it still runs or not). */
export function readLockHolder(dataDir: string): LockHolder | undefined {
  return readHolder(lockFiles(dataDir).holder);
}

function release(sqlite: OpenedSqlite, holderFile: string): void {
  // The holder file first: once the lock is free, the next holder may already have written its own.
  rmSync(holderFile, { force: true });
  sqlite.close(); // ends the transaction, and with it the lock
}

function describe(holder: LockHolder | undefined): string {
  if (holder === undefined) return 'another aegis process (it is starting: its PID is not written yet)';
  const host = holder.hostname === hostname() ? '' : ` on ${holder.hostname}`;
  return `aegis pid ${holder.pid}${host} (started ${holder.startedAt})`;
}

function readHolder(file: string): LockHolder | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (typeof parsed.pid === 'number' && typeof parsed.startedAt === 'string' && typeof parsed.hostname === 'string') return parsed as LockHolder;
  } catch {
    // A holder file cut short (its writer died while writing): no holder is known.
  }
  return undefined;
}

function writeHolder(file: string, holder: LockHolder): void {
  const temporary = `${file}.${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify(holder)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}

function invalidLockFile(dataDir: string, lock: string, reason: string, cause?: unknown): GatewayError {
  return new GatewayError('LOCK_FILE_INVALID', `data folder ${dataDir}: ${lock} ${reason}; stop any gateway on this folder, then delete it`, { cause });
}

/** SQLITE_NOTADB, from better-sqlite3 (`code`) or node:sqlite (`errcode`, message). */
function isNotADatabase(error: unknown): boolean {
  const { code, errcode, message } = error as { code?: unknown; errcode?: unknown; message?: unknown };
  return code === 'SQLITE_NOTADB' || errcode === 26 || (typeof message === 'string' && /file is not a database/.test(message));
}

/** SQLITE_BUSY or SQLITE_LOCKED, from better-sqlite3 (`code`) or node:sqlite (`errcode`, message). */
function isBusy(error: unknown): boolean {
  const { code, errcode, message } = error as { code?: unknown; errcode?: unknown; message?: unknown };
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || errcode === 5 || errcode === 6 || (typeof message === 'string' && /database is locked/.test(message));
}
