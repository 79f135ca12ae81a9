/**
 * The data directory is the owner's alone: the catalog in it holds patient names and IDs, every
 * instance's metadata, password hashes and the audit trail; the keys and the fs stores live there
 * too. A new data directory is created 0700 (its files are created 0600 where they are made: the
 * catalog, the keys, the fs stores). The gateway refuses to start on a data directory, catalog, or
 * catalog journal (WAL, shared memory) that group or others may access, as the key directory refuses
 * such keys: permissions are not changed behind the operator's back, since data others could read
 * may already have been read.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '../errors.js';
import { CommandError } from './command.js';

/** The catalog file of a data directory (SQLite). */
export function catalogFile(dataDir: string): string {
  return join(dataDir, 'catalog.sqlite');
}

/**
 * The catalog file of `dataDir` for a command other than `aegis start`, which never creates one:
 * a missing catalog means a wrong `--data` (or AEGIS_DATA_DIR), and opening it would create an
 * empty catalog (and the folder) there. Throws CommandError saying so.
 */
export function existingCatalog(dataDir: string): string {
  const file = catalogFile(dataDir);
  if (!existsSync(file)) throw new CommandError(`no catalog in ${dataDir} (catalog.sqlite missing): is --data right? 'aegis start' creates one`);
  return file;
}

/** Permission bits that let group or others in. */
const NOT_OWNER_ONLY = 0o077;
/** File-system permission checks mean nothing on Windows. */
const CHECK_MODES = process.platform !== 'win32';

/**
 * Creates the data directory (0700) if it is missing, then refuses (DATA_EXPOSED) a data
 * directory or catalog file that group or others may access, saying which and how to fix it.
 */
export function prepareDataDirectory(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (!CHECK_MODES) return;
  refuseExposed(dataDir, 'directory', dataDir);
  const catalog = catalogFile(dataDir);
  for (const file of [catalog, `${catalog}-wal`, `${catalog}-shm`, `${catalog}-journal`]) refuseExposed(file, 'file', dataDir);
}

function refuseExposed(path: string, kind: 'file' | 'directory', dataDir: string): void {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && kind === 'file') return;
    throw error;
  }
  if ((mode & NOT_OWNER_ONLY) === 0) return;
  const octal = (mode & 0o777).toString(8).padStart(3, '0');
  const fix = kind === 'directory' ? `chmod 700 ${path}` : `chmod 600 ${path}`;
  throw new GatewayError(
    'DATA_EXPOSED',
    `refusing to start: ${path} has mode ${octal}: group or others may access it, and the data directory holds patient identities, ` +
      `password hashes and the audit trail; run '${fix}' (or 'chmod -R go-rwx ${dataDir}' for the whole data directory), and consider what it held exposed`,
  );
}
