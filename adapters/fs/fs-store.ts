/**
 * The `fs` backend (the embedded default, `DATA/stores/<backend-name>/`): fragments are files under
 * a root directory (owner-only, see `fs-files.ts`), the key is the relative path and also the locator.
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
 *
 * Every call is bounded by the configured timeout and the caller's signal (`withDeadline`); a put
 * that is aborted or times out before its rename leaves only a temp file, which it removes.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import {
  bodyLength,
  checkFragmentKey,
  checkRange,
  clampRange,
  exactly,
  FRAGMENT_KEY_PATTERN,
  FragmentStoreError,
  type CallOptions,
  type FragmentBody,
  type FragmentRef,
  type FragmentStore,
  type FragmentStoreCapabilities,
  type ReadOptions,
} from '../fragment-store.js';
import { StoreCalls } from '../store-calls.js';
import { codeOf, DirectorySyncs, DIRECTORY_MODE, FILE_MODE, fsError, isFile, syncDir, writeFileFlushed, writeStreamFlushed } from './fs-files.js';

/** Names of temp files (in-flight or crash-left writes) start with this; `~` is not a key character. */
export const FS_TEMP_PREFIX = '~tmp-';
/** Name prefix of the probe file `check()` writes and removes. */
const PROBE_PREFIX = '~probe-';
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
  /** Longest a call may take; default 30 s. */
  timeoutMs?: number;
}

/** What a folder of files can do. */
export const FS_CAPABILITIES: FragmentStoreCapabilities = Object.freeze({ overwrite: true, list: true, rangeRead: true, contentAddressed: false, delete: 'certain', network: false });

/** A {@link FragmentStore} keeping every fragment as one file under a root directory. */
export class FsFragmentStore implements FragmentStore {
  readonly name: string;
  readonly kind = 'fs';
  readonly capabilities = FS_CAPABILITIES;
  /** The absolute root directory. */
  readonly root: string;
  private readonly calls: StoreCalls;
  private rootReady: Promise<void> | undefined;
  private sweeping: Promise<unknown> | undefined;
  private readonly directorySyncs = new DirectorySyncs();
  private readonly knownDirectories = new Set<string>();

  constructor(options: FsFragmentStoreOptions) {
    this.name = options.name;
    this.root = resolve(options.path);
    this.calls = new StoreCalls({ store: this.name, kind: this.kind, timeoutMs: options.timeoutMs });
  }

  async put(key: string, data: FragmentBody, options?: CallOptions): Promise<FragmentRef> {
    const target = this.pathOf(key);
    const length = bodyLength(data);
    return this.calls.run(`put ${key}`, options, (signal) => this.putFile(key, target, data, length, signal));
  }

  private async putFile(key: string, target: string, data: FragmentBody, length: number, signal: AbortSignal): Promise<FragmentRef> {
    await this.ready();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.writeAtomically(target, data, signal);
        return { locator: key, length };
      } catch (error) {
        if (error instanceof FragmentStoreError || signal.aborted) throw error;
        // A concurrent delete may remove an empty directory between our mkdir and open: redo it
        // (a streamed body can be read only once, so only a byte array is written again).
        if (codeOf(error) === 'ENOENT' && attempt < PUT_ATTEMPTS && data instanceof Uint8Array) {
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

  async get(locator: string, options?: ReadOptions): Promise<Buffer> {
    const path = this.pathOf(locator);
    checkRange(options?.range);
    return this.calls.run(`get ${locator}`, options, () => this.readFile(path, locator, options?.range));
  }

  private async readFile(path: string, locator: string, range: ReadOptions['range']): Promise<Buffer> {
    const fh = await this.openFile(path, locator);
    try {
      const { start, end } = clampRange(range, (await fh.stat()).size);
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

  async stream(locator: string, options?: ReadOptions): Promise<Readable> {
    const path = this.pathOf(locator);
    checkRange(options?.range);
    const stream = await this.calls.run(`stream ${locator}`, options, async (signal) => {
      const opened = await this.openStream(path, locator, options?.range);
      // Opened after the deadline or an abort: nobody takes it, so close it here.
      if (signal.aborted) opened.destroy();
      return opened;
    });
    const caller = options?.signal;
    if (caller !== undefined) {
      const onAbort = () => stream.destroy(caller.reason as Error);
      caller.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => caller.removeEventListener('abort', onAbort));
    }
    return stream;
  }

  private async openStream(path: string, locator: string, range: ReadOptions['range']): Promise<Readable> {
    const fh = await this.openFile(path, locator);
    let bounds: { start: number; end: number };
    try {
      bounds = clampRange(range, (await fh.stat()).size);
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

  async delete(locator: string, options?: CallOptions): Promise<boolean> {
    const path = this.pathOf(locator);
    return this.calls.run(`delete ${locator}`, options, () => this.deleteFile(path, locator));
  }

  private async deleteFile(path: string, locator: string): Promise<boolean> {
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

  async has(locator: string, options?: CallOptions): Promise<boolean> {
    const path = this.pathOf(locator);
    return this.calls.run(`has ${locator}`, options, () => isFile(path));
  }

  async *list(prefix = '', options?: CallOptions): AsyncIterable<string> {
    options?.signal?.throwIfAborted();
    await this.calls.run('list', options, () => this.ready());
    for await (const key of this.walk(this.root, '', prefix)) {
      options?.signal?.throwIfAborted();
      yield key;
    }
  }

  async check(options?: CallOptions): Promise<void> {
    return this.calls.run('check', options, () => this.probe());
  }

  private async probe(): Promise<void> {
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
    checkFragmentKey(key);
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

  /**
   * Temp file, write, fdatasync, rename over the target, fsync the directories that changed. An
   * abort before the rename removes the temp file: the target never sees a part of the body.
   */
  private async writeAtomically(target: string, data: FragmentBody, signal: AbortSignal): Promise<void> {
    const dir = dirname(target);
    // Directories seen to exist are not re-created on every put (a delete may remove one: the
    // ENOENT then makes put forget them and try again).
    const created = this.knownDirectories.has(dir) ? undefined : await mkdir(dir, { recursive: true, mode: DIRECTORY_MODE });
    this.knownDirectories.add(dir);
    const temp = join(dir, FS_TEMP_PREFIX + randomBytes(8).toString('hex'));
    try {
      // One call opens, writes, fsyncs (`flush`) and closes: the callback API costs the event loop
      // far less than a FileHandle's promise per step, and this runs on every STOW.
      if (data instanceof Uint8Array) await writeFileFlushed(temp, data, signal);
      else await writeStreamFlushed(temp, exactly(data, signal), signal);
      signal.throwIfAborted();
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
