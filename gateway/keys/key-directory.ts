/**
 * The master key directory `DATA/keys/` (of the embedded default configuration): one file
 * `k<N>.key` per key, owner-only (file 0600, directory 0700). Keys readable or writable by group
 * or others are refused, not loaded: a key that others can read protects nothing, and a directory
 * others can write lets them plant a key. New files appear atomically (written aside, fsynced, then
 * hard-linked under their name, which fails rather than overwrites), so concurrent `aegis keys
 * generate` runs or gateway workers never lose or half-read a key.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GatewayError } from '../errors.js';
import { KEY_BYTES } from './envelope.js';
import { formatKeyFile, KEY_FILE_ID, parseKeyFile, type MasterKey } from './master-key.js';

/** The key directory of a data directory. */
export function keyDirectory(dataDir: string): string {
  return join(dataDir, 'keys');
}

/** Permission bits a key file or the key directory must not have (group and others). */
const NOT_OWNER_ONLY = 0o077;
/** File-system permission checks mean nothing on Windows. */
const CHECK_MODES = process.platform !== 'win32';

/** Loads every `k<N>.key` of `dir`, in key-number order; none when `dir` does not exist. */
export async function readKeyDirectory(dir: string): Promise<MasterKey[]> {
  let names: string[];
  try {
    await checkOwnerOnly(dir, 'directory', '700');
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const keys: MasterKey[] = [];
  for (const name of names.filter((n) => n.endsWith('.key')).sort(byKeyNumber)) {
    const id = name.slice(0, -'.key'.length);
    const path = join(dir, name);
    if (!KEY_FILE_ID.test(id)) throw new GatewayError('KEYRING_INVALID', `master key file ${path}: key files are named k<N>.key (k1.key, k2.key, ...)`);
    await checkOwnerOnly(path, 'file', '600');
    keys.push(parseKeyFile(await readFile(path, 'utf8'), id, path));
  }
  return keys;
}

/**
 * Creates a new random master key file in `dir` (created 0700 if missing) and returns the key.
 * Without `id`, the key takes the next free number; with `id`, it is created only if that file
 * does not exist yet (resolves to undefined otherwise).
 */
export async function createKeyFile(dir: string, options: { development: boolean; id?: string }): Promise<MasterKey | undefined> {
  await mkdir(dirname(dir), { recursive: true });
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  await checkOwnerOnly(dir, 'directory', '700');
  for (let attempt = 0; attempt < 100; attempt++) {
    const id = options.id ?? `k${nextKeyNumber(await readdir(dir))}`;
    const material = randomBytes(KEY_BYTES);
    const createdAt = new Date();
    const text = formatKeyFile(id, material, createdAt, options.development);
    material.fill(0);
    const path = join(dir, `${id}.key`);
    const temporary = join(dir, `.${id}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.chmod(0o600); // whatever the umask
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await link(temporary, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (options.id !== undefined) return undefined;
      continue; // another process took this number: take the next
    } finally {
      await unlink(temporary);
    }
    await syncDirectory(dir);
    return parseKeyFile(text, id, path);
  }
  throw new GatewayError('KEYRING_INVALID', `could not create a master key file in ${dir}: too many concurrent creations`);
}

/** Refuses a path that group or others may access; ENOENT passes through to the caller. */
async function checkOwnerOnly(path: string, kind: 'file' | 'directory', wanted: string): Promise<void> {
  const info = await stat(path);
  if (kind === 'file' ? !info.isFile() : !info.isDirectory()) throw new GatewayError('KEYRING_INVALID', `master key ${kind} ${path} is not a ${kind}`);
  if (CHECK_MODES && (info.mode & NOT_OWNER_ONLY) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(3, '0');
    throw new GatewayError('KEYRING_INVALID', `refusing master key ${kind} ${path}: mode ${mode} lets group or others access it; run 'chmod ${wanted} ${path}' (and consider the key exposed)`);
  }
}

function keyNumber(name: string): number {
  const match = /^k([1-9][0-9]{0,8})\.key$/.exec(name);
  return match ? Number(match[1]) : 0;
}

function byKeyNumber(a: string, b: string): number {
  return keyNumber(a) - keyNumber(b) || (a < b ? -1 : a > b ? 1 : 0);
}

function nextKeyNumber(names: string[]): number {
  return Math.max(0, ...names.map(keyNumber)) + 1;
}

/** Makes the new directory entry durable (not supported everywhere; best effort). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms (Windows) cannot open or fsync a directory.
  }
}
