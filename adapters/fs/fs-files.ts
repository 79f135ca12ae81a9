/**
 * The file-system primitives of the `fs` backend (`fs-store.ts`): the owner-only modes of its
 * folders and files, the exclusive write that is flushed to disk before it closes, the grouped
 * fsync of directories, and the translation of Node's fs errors into {@link FragmentStoreError}s
 * at the edge where they arise.
 */
import { writeFile as writeFileCallback, type WriteFileOptions } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { FragmentStoreError, type FragmentStoreErrorCode } from '../fragment-store.js';

/*
 * Folders and fragment files are the owner's alone (umask can only take bits away): in paper mode
 * fragments hold plain pixels, and even encrypted ones say which instances exist.
 */
/** The mode of the folders of a store. */
export const DIRECTORY_MODE = 0o700;
/** The mode of fragment files. */
export const FILE_MODE = 0o600;

/** True when `path` is a regular file, not a symlink (false when absent); else BACKEND_UNAVAILABLE. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isFile();
  } catch (error) {
    const code = codeOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw fsError(error, 'stat');
  }
}

/** `fs.writeFile` with `flag: 'wx'` (never over an existing file) and `flush` (fsync before close). */
export function writeFileFlushed(path: string, data: Uint8Array, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    // `flush` is in Node >= 20.10 and 21; @types/node 20 does not list it yet.
    writeFileCallback(path, data, { flag: 'wx', flush: true, mode: FILE_MODE, signal } as WriteFileOptions, (error) => (error ? reject(error) : resolve()));
  });
}

/** Writes the chunks of a streamed body to a new file (`wx`, owner-only), then fdatasyncs and closes it. */
export async function writeStreamFlushed(path: string, chunks: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<void> {
  const fh = await open(path, 'wx', FILE_MODE);
  try {
    for await (const chunk of chunks) {
      signal.throwIfAborted();
      for (let written = 0; written < chunk.byteLength;) written += (await fh.write(chunk, written)).bytesWritten;
    }
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/**
 * Coalesces directory fsyncs (group commit): a caller joins the next sync of its directory that
 * starts after its call, so concurrent puts into one directory share one fsync instead of queueing
 * one each. A sync already running may have started before the caller's rename, so it never counts.
 */
export class DirectorySyncs {
  private readonly running = new Map<string, Promise<void>>();
  private readonly next = new Map<string, Promise<void>>();

  sync(dir: string): Promise<void> {
    const queued = this.next.get(dir);
    if (queued) return queued;
    const before = this.running.get(dir) ?? Promise.resolve();
    const run = before
      .catch(() => undefined)
      .then(() => {
        this.next.delete(dir);
        this.running.set(dir, run);
        return syncDir(dir);
      })
      .finally(() => {
        if (this.running.get(dir) === run) this.running.delete(dir);
      });
    this.next.set(dir, run);
    return run;
  }
}

/** Makes changes to the entries of `dir` durable. */
export async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return; // directories cannot be opened for fsync there
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The `code` of a Node.js system error (`ENOENT`, ...), if it has one. */
export function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

/**
 * Translates an fs error at the edge: missing files are NOT_FOUND, too-long names BAD_REQUEST,
 * `extra` maps further codes, anything else (EACCES, ENOSPC, EIO, ...) is BACKEND_UNAVAILABLE.
 */
export function fsError(error: unknown, what: string, extra: Partial<Record<string, FragmentStoreErrorCode>> = {}): FragmentStoreError {
  if (error instanceof FragmentStoreError) return error;
  const code = codeOf(error) ?? '';
  const mapped: FragmentStoreErrorCode = extra[code] ?? (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'ELOOP' ? 'NOT_FOUND' : code === 'ENAMETOOLONG' ? 'BAD_REQUEST' : 'BACKEND_UNAVAILABLE');
  const message = mapped === 'NOT_FOUND' ? `${what}: no such fragment` : `${what}: ${code || 'fs error'}`;
  return new FragmentStoreError(mapped, message, { cause: error });
}
