/**
 * The `fs` backend (the embedded default, `DATA/stores/<backend-name>/`; adapters/fragment-store.ts
 * is its interface): fragments are files under a root directory, the key is the relative path and
 * also the locator.
 *
 * Writes are atomic and durable: the bytes go to a temp file in the target's directory, which is
 * fsynced, renamed over the target, and the directory is fsynced (as are directories created for
 * the key). Readers therefore see the old or the new fragment, never a mix. Temp files are named
 * `~tmp-<random>`; `~` is outside the key alphabet, so a temp file can never be mistaken for a
 * fragment (even one whose key looks like a dotfile), and a crash leaves at worst a stale temp file
 * that `list` skips and {@link FsFragmentStore.sweepTempFiles} removes.
 *
 * Limitation of a file system: a key cannot also be a directory of other keys (`a` and `a/b`);
 * the second put fails with CONFLICT and leaves the first fragment intact.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { FRAGMENT_KEY_PATTERN, FragmentStoreError, type ByteRange, type FragmentRef, type FragmentStore } from '../fragment-store.js';
import { codeOf, DirectorySyncs, DIRECTORY_MODE, FILE_MODE, fsError, isFile, syncDir, writeFileFlushed } from './fs-files.js';

/** Names of temp files (in-flight or crash-left writes) start with this; `~` is not a key character. */
export const FS_TEMP_PREFIX = '~tmp-';
/** Name prefix of the probe file `check()` writes and removes. */
const PROBE_PREFIX = '~probe-';
/** Keys are at most this many bytes (adapters/fragment-store.ts). */
const MAX_KEY_BYTES = 512;
/** The automatic sweep spares temp files younger than this: they may belong to a live writer. */
const DEFAULT_SWEEP_AGE_MS = 10 * 60_000;
/** Reads do not follow a symlink in place of a fragment (only the gateway creates fragments). */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);
/** How often a put retries when a concurrent delete removed its freshly created directory. */
const PUT_ATTEMPTS = 3;

/** Options of an {@link FsFragmentStore}, as in the `backends` configuration. */
export interface FsFragmentStoreOptions {
  /** The backend's name from the configuration. */
  name: string;
  /** The root directory; created on first use. */
  path: string;
}

/** A {@link FragmentStore} keeping every fragment as one file under a root directory. */
export class FsFragmentStore implements FragmentStore {
  readonly name: string;
  readonly kind = 'fs';
  /** The absolute root directory. */
  readonly root: string;
  private rootReady: Promise<void> | undefined;
  private sweeping: Promise<unknown> | undefined;
  private readonly directorySyncs = new DirectorySyncs();
  private readonly knownDirectories = new Set<string>();

  constructor(options: FsFragmentStoreOptions) {
    this.name = options.name;
    this.root = resolve(options.path);
  }

  async put(key: string, data: Uint8Array): Promise<FragmentRef> {
    const target = this.pathOf(key);
    await this.ready();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.writeAtomically(target, data);
        return { locator: key, length: data.byteLength };
      } catch (error) {
        // A concurrent delete may remove an empty directory between our mkdir and open: redo it.
        if (codeOf(error) === 'ENOENT' && attempt < PUT_ATTEMPTS) {
          this.knownDirectories.clear();
          continue;
        }
        throw fsError(error, `put ${key}`, {
          ENOENT: 'BACKEND_UNAVAILABLE',
          // a file where the key needs a directory, or a directory where it needs a file
          EEXIST: 'CONFLICT',
          ENOTDIR: 'CONFLICT',
          EISDIR: 'CONFLICT',
        });
      }
    }
  }

  async get(locator: string, range?: ByteRange): Promise<Buffer> {
    const path = this.pathOf(locator);
    checkRange(range);
    const fh = await this.openFile(path, locator);
    try {
      const { start, end } = clamp(range, (await fh.stat()).size);
      const buffer = Buffer.allocUnsafe(end - start);
      let filled = 0;
      while (filled < buffer.length) {
        const { bytesRead } = await fh.read(buffer, filled, buffer.length - filled, start + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === buffer.length ? buffer : buffer.subarray(0, filled);
    } catch (error) {
      throw fsError(error, `get ${locator}`);
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  async stream(locator: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(locator);
    checkRange(range);
    const fh = await this.openFile(path, locator);
    let bounds: { start: number; end: number };
    try {
      bounds = clamp(range, (await fh.stat()).size);
    } catch (error) {
      await fh.close().catch(() => undefined);
      throw fsError(error, `stream ${locator}`);
    }
    if (bounds.end === bounds.start) {
      await fh.close().catch(() => undefined);
      return new Readable({
        read() {
          this.push(null);
        },
      });
    }
    // `end` of createReadStream is inclusive; the handle closes itself on end, error or destroy.
    // 1 MiB reads: a whole 512x512 CT in one read instead of eight thread-pool round trips.
    return fh.createReadStream({ start: bounds.start, end: bounds.end - 1, highWaterMark: 1 << 20 });
  }

  async delete(locator: string): Promise<boolean> {
    const path = this.pathOf(locator);
    try {
      await unlink(path);
    } catch (error) {
      const code = codeOf(error);
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      // unlink of a directory (a key prefix, not a fragment): EISDIR on Linux, EPERM on macOS
      if ((code === 'EISDIR' || code === 'EPERM') && !(await isFile(path))) return false;
      throw fsError(error, `delete ${locator}`);
    }
    // Remove directories the fragment leaves empty, up to (not including) the root, then make
    // the removal durable in the deepest surviving directory.
    let dir = dirname(path);
    while (dir !== this.root) {
      try {
        await rmdir(dir);
      } catch {
        break; // not empty (or a concurrent put is using it): stop here
      }
      dir = dirname(dir);
    }
    await syncDir(dir).catch(() => undefined);
    return true;
  }

  async has(locator: string): Promise<boolean> {
    return isFile(this.pathOf(locator));
  }

  async *list(prefix = ''): AsyncIterable<string> {
    await this.ready();
    yield* this.walk(this.root, '', prefix);
  }

  async check(): Promise<void> {
    await this.ready();
    const probe = join(this.root, PROBE_PREFIX + randomBytes(6).toString('hex'));
    try {
      const fh = await open(probe, 'wx', FILE_MODE);
      try {
        await fh.writeFile('probe');
      } finally {
        await fh.close();
      }
      await unlink(probe);
    } catch (error) {
      throw new FragmentStoreError('BACKEND_UNAVAILABLE', `fs backend ${this.name}: root ${this.root} is not writable`, { cause: error });
    }
  }

  async close(): Promise<void> {
    await this.sweeping;
  }

  /**
   * Removes temp files left behind by writes that never finished (a crash), at least `olderThanMs`
   * old (default 10 minutes, so that writers of another process on the same root are spared).
   * Best effort: unreadable directories and files that vanish are skipped. Resolves to the number
   * of files removed. Runs once in the background on first use of the store.
   */
  async sweepTempFiles(options: { olderThanMs?: number } = {}): Promise<number> {
    const cutoff = Date.now() - (options.olderThanMs ?? DEFAULT_SWEEP_AGE_MS);
    let removed = 0;
    const visit = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await visit(path);
        else if (entry.isFile() && entry.name.startsWith(FS_TEMP_PREFIX)) {
          try {
            if ((await stat(path)).mtimeMs <= cutoff) {
              await unlink(path);
              removed++;
            }
          } catch {
            // vanished (renamed by its writer) or not removable: leave it
          }
        }
      }
    };
    await visit(this.root);
    return removed;
  }

  /** The file of a key; BAD_REQUEST unless the key is valid (so it cannot leave the root). */
  private pathOf(key: string): string {
    if (typeof key !== 'string' || !FRAGMENT_KEY_PATTERN.test(key) || Buffer.byteLength(key) > MAX_KEY_BYTES) {
      throw new FragmentStoreError('BAD_REQUEST', `invalid fragment key ${JSON.stringify(String(key).slice(0, 80))}`);
    }
    const path = join(this.root, key);
    if (!path.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep)) {
      throw new FragmentStoreError('BAD_REQUEST', `fragment key ${JSON.stringify(key)} leaves the store root`);
    }
    return path;
  }

  /** Creates the root once (a failure is retried on the next call) and starts the temp sweep. */
  private ready(): Promise<void> {
    this.rootReady ??= mkdir(this.root, { recursive: true, mode: DIRECTORY_MODE }).then(
      () => {
        this.sweeping = this.sweepTempFiles().catch(() => undefined);
      },
      (error: unknown) => {
        this.rootReady = undefined;
        throw new FragmentStoreError('BACKEND_UNAVAILABLE', `fs backend ${this.name}: cannot create root ${this.root}`, { cause: error });
      },
    );
    return this.rootReady;
  }

  /** Temp file, write, fdatasync, rename over the target, fsync the directories that changed. */
  private async writeAtomically(target: string, data: Uint8Array): Promise<void> {
    const dir = dirname(target);
    // Directories seen to exist are not re-created on every put (a delete may remove one: the
    // ENOENT then makes put forget them and try again).
    const created = this.knownDirectories.has(dir) ? undefined : await mkdir(dir, { recursive: true, mode: DIRECTORY_MODE });
    this.knownDirectories.add(dir);
    const temp = join(dir, FS_TEMP_PREFIX + randomBytes(8).toString('hex'));
    try {
      // One call opens, writes, fsyncs (`flush`) and closes: the callback API costs the event loop
      // far less than a FileHandle's promise per step, and this runs on every STOW.
      await writeFileFlushed(temp, data);
      await rename(temp, target);
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw error;
    }
    // New directory entries are durable once their parent directory is synced.
    const dirs = [dir];
    if (created !== undefined) {
      for (let d = dir; d !== dirname(created); d = dirname(d)) dirs.push(dirname(d));
    }
    await Promise.all(dirs.map((d) => this.directorySyncs.sync(d)));
  }

  /** Opens a fragment for reading: NOT_FOUND when there is no such file. */
  private async openFile(path: string, locator: string): Promise<FileHandle> {
    let fh: FileHandle;
    try {
      fh = await open(path, READ_FLAGS);
    } catch (error) {
      throw fsError(error, `read ${locator}`);
    }
    try {
      if ((await fh.stat()).isFile()) return fh;
    } catch (error) {
      await fh.close().catch(() => undefined);
      throw fsError(error, `read ${locator}`);
    }
    await fh.close().catch(() => undefined);
    throw new FragmentStoreError('NOT_FOUND', `no fragment ${locator}`);
  }

  /** Yields the keys under `dir` that start with `prefix`, in code-unit order of the whole key. */
  private async *walk(dir: string, base: string, prefix: string): AsyncGenerator<string> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (base !== '' && codeOf(error) === 'ENOENT') return; // removed while we walked
      throw fsError(error, `list ${prefix}`);
    }
    // A directory `d` sorts as `d/` so that depth-first order is the order of the whole keys.
    const items = entries
      .filter((e) => (e.isFile() || e.isDirectory()) && FRAGMENT_KEY_PATTERN.test(e.name))
      .map((e) => ({ name: e.name, dir: e.isDirectory(), sortKey: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    for (const item of items) {
      const key = base + item.name;
      if (item.dir) {
        const inner = `${key}/`;
        if (inner.startsWith(prefix) || prefix.startsWith(inner)) yield* this.walk(join(dir, item.name), inner, prefix);
      } else if (key.startsWith(prefix)) {
        yield key;
      }
    }
  }
}

/** BAD_REQUEST unless `range` is absent or has integer bounds with 0 <= start <= end. */
function checkRange(range: ByteRange | undefined): void {
  if (range === undefined) return;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new FragmentStoreError('BAD_REQUEST', `invalid byte range ${JSON.stringify(range)}`);
  }
}

/** The part of a `size`-byte fragment that `range` covers; beyond the end is cut off, like HTTP. */
function clamp(range: ByteRange | undefined, size: number): { start: number; end: number } {
  if (range === undefined) return { start: 0, end: size };
  const end = Math.min(range.end, size);
  return { start: Math.min(range.start, end), end };
}
