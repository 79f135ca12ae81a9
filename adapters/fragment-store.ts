/**
 * The one interface every storage backend implements. A backend stores opaque fragments under keys
 * the gateway chooses and hands back a locator to read them with. The key and the locator are two
 * things: for fs and s3 the locator equals the key, for a content-addressed store such as IPFS it is
 * the content identifier (CID), and a rewritten fragment gets a new one. Callers keep both (the
 * catalog records the key it asked for and the locator it got back). Adapters know nothing of the
 * gateway: no DICOM, no catalog. Every adapter runs the shared contract suite in
 * `test/contract/fragment-store.suite.ts` against a real server, and the suite skips exactly the
 * cases its declared {@link FragmentStoreCapabilities} rule out, with the capability as the reason.
 *
 * Every call takes an options object with an `AbortSignal`, and the adapter bounds every call by
 * its configured timeout ({@link withDeadline}): a call the caller aborts rejects with the signal's
 * reason (an `AbortError` unless the caller gave another); a call that outlives the timeout rejects
 * with BACKEND_TIMEOUT. Either way nothing half-written becomes visible.
 *
 * Errors: adapters throw {@link FragmentStoreError}, their own type, with code NOT_FOUND (no such
 * fragment), BAD_REQUEST (invalid key, locator, range or body length), CONFLICT (a key the store
 * cannot hold beside another), UNSUPPORTED (an operation the store's capabilities exclude, such as
 * `list` on IPFS), BACKEND_UNAVAILABLE (cannot reach or write the store) or BACKEND_TIMEOUT,
 * wrapping the foreign error as `cause`. The gateway translates them where they arrive.
 */
import type { Readable } from 'node:stream';

/** Where a stored fragment can be read back from, and how long it is. */
export interface FragmentRef {
  /** Opaque to the gateway; equals the key unless the store is content-addressed. */
  locator: string;
  length: number;
}

/** A byte range: `start` inclusive, `end` exclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/** What every call accepts. */
export interface CallOptions {
  /** Aborts the call: it rejects promptly with the signal's reason and leaves nothing half-written. */
  signal?: AbortSignal;
}

/** Options of `put`. */
export interface PutOptions extends CallOptions {
  /**
   * A DICOM Part 10 instance the caller built for a store that keeps DICOM (`dicomweb`): the store
   * puts the fragment into it and stores that instance, so the store shows it as it is. Stores that
   * keep opaque bytes ignore it.
   */
  presentation?: Uint8Array;
}

/** Options of `get` and `stream`. */
export interface ReadOptions extends CallOptions {
  /** Only these bytes; beyond the end is cut off, like HTTP. */
  range?: ByteRange;
}

/**
 * The bytes of a fragment: a byte array, or a stream of chunks with its exact length (large
 * fragments, written without holding them in memory). A stream that yields more or fewer bytes than
 * `length` fails the put with BAD_REQUEST, and nothing is stored.
 */
export type FragmentBody = Uint8Array | { stream: Readable | AsyncIterable<Uint8Array>; length: number };

/**
 * What a store can do. The contract suite derives its skips from these, and callers ask them
 * before relying on a behaviour (reindex needs `list`; key rotation records the new locator of a
 * rewritten manifest copy when `overwrite` is false).
 */
export interface FragmentStoreCapabilities {
  /**
   * A put under an existing key replaces the fragment and keeps its locator. False for
   * content-addressed stores: every content has its own locator, and the old one stays readable
   * until deleted.
   */
  overwrite: boolean;
  /** `list(prefix)` enumerates the stored fragments by key prefix. */
  list: boolean;
  /** A ranged read transfers only the bytes asked for (otherwise the store reads the whole fragment and cuts). */
  rangeRead: boolean;
  /** The locator is derived from the content (a hash), not from the key; equal bytes get equal locators. */
  contentAddressed: boolean;
  /**
   * `certain`: once `delete` resolves, nobody can read the fragment from this store any more.
   * `best-effort`: the store lets go of it, but copies may live on elsewhere (other IPFS nodes that
   * fetched it): only the encryption of what was stored protects it then.
   */
  delete: 'certain' | 'best-effort';
  /** Talks to its store over the network, so a call can hang; the per-call timeout bounds it. */
  network: boolean;
}

/**
 * Keys are relative paths of segments of `[A-Za-z0-9._-]`, joined by `/`, at most 512 bytes, no
 * segment `.` or `..`. A key is never also the folder of another key (`a` and `a/b`): the gateway
 * does not make such keys, and folder-based stores (fs) cannot hold both (they answer CONFLICT).
 */
export const FRAGMENT_KEY_PATTERN = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

/** Keys are at most this many bytes. */
export const MAX_KEY_BYTES = 512;

/** The per-call timeout of a backend whose configuration names none. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/** A storage backend holding fragments. */
export interface FragmentStore {
  /** The backend's name from the configuration. */
  readonly name: string;
  /** The adapter kind: `fs`, `s3`, `ipfs`, ... */
  readonly kind: string;
  /** What this store can do. */
  readonly capabilities: FragmentStoreCapabilities;
  /**
   * Stores `data` under `key`. When the promise resolves the fragment is durable and readable at the
   * returned locator. With `overwrite`, a fragment already under `key` is replaced and a reader sees
   * either the old or the new bytes, never a mix.
   */
  put(key: string, data: FragmentBody, options?: PutOptions): Promise<FragmentRef>;
  /** Reads a fragment, or the part of it in `options.range`. */
  get(locator: string, options?: ReadOptions): Promise<Buffer>;
  /**
   * Streams a fragment, or the part of it in `options.range`. Resolves once the store answered (a
   * missing fragment rejects with NOT_FOUND here, not in the stream); the timeout covers that much,
   * the caller's signal also the streaming that follows.
   */
  stream(locator: string, options?: ReadOptions): Promise<Readable>;
  /** Removes a fragment and frees its space; false when there was none (see `capabilities.delete`). */
  delete(locator: string, options?: CallOptions): Promise<boolean>;
  /** True when a fragment exists at `locator`. */
  has(locator: string, options?: CallOptions): Promise<boolean>;
  /**
   * The locators of all fragments whose key starts with `prefix`, each once, in no promised order
   * (S3 lists in byte order, some of its clones do not). Only with `capabilities.list`; otherwise
   * the iteration fails with UNSUPPORTED.
   */
  list(prefix?: string, options?: CallOptions): AsyncIterable<string>;
  /** Resolves when the backend is reachable and writable (used by `/readyz`). */
  check(options?: CallOptions): Promise<void>;
  /** Releases connections and handles. */
  close(): Promise<void>;
}

/** What went wrong in a store, in the terms every adapter shares. */
export type FragmentStoreErrorCode = 'NOT_FOUND' | 'BAD_REQUEST' | 'CONFLICT' | 'UNSUPPORTED' | 'BACKEND_UNAVAILABLE' | 'BACKEND_TIMEOUT';

/** The error every adapter throws; the foreign error it translates is its `cause`. */
export class FragmentStoreError extends Error {
  readonly code: FragmentStoreErrorCode;

  constructor(code: FragmentStoreErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FragmentStoreError';
    this.code = code;
  }
}

/** True when `value` is a {@link FragmentStoreError}, optionally of the given code. */
export function isFragmentStoreError(value: unknown, code?: FragmentStoreErrorCode): value is FragmentStoreError {
  return value instanceof FragmentStoreError && (code === undefined || value.code === code);
}

/** BAD_REQUEST unless `key` is a valid fragment key ({@link FRAGMENT_KEY_PATTERN}, at most 512 bytes). */
export function checkFragmentKey(key: string): void {
  if (typeof key !== 'string' || !FRAGMENT_KEY_PATTERN.test(key) || Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new FragmentStoreError('BAD_REQUEST', `invalid fragment key ${JSON.stringify(String(key).slice(0, 80))}`);
  }
}

/** BAD_REQUEST unless `range` is absent or has integer bounds with 0 <= start <= end. */
export function checkRange(range: ByteRange | undefined): void {
  if (range === undefined) return;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new FragmentStoreError('BAD_REQUEST', `invalid byte range ${JSON.stringify(range)}`);
  }
}

/** The part of a `size`-byte fragment that `range` covers; beyond the end is cut off, like HTTP. */
export function clampRange(range: ByteRange | undefined, size: number): ByteRange {
  if (range === undefined) return { start: 0, end: size };
  const end = Math.min(range.end, size);
  return { start: Math.min(range.start, end), end };
}

/** BAD_REQUEST unless `body` is a byte array or a stream with a whole, non-negative length. */
export function bodyLength(body: FragmentBody): number {
  if (body instanceof Uint8Array) return body.byteLength;
  if (body === null || typeof body !== 'object' || !Number.isSafeInteger(body.length) || body.length < 0 || body.stream === undefined) {
    throw new FragmentStoreError('BAD_REQUEST', 'a fragment body is a Uint8Array or { stream, length } with a whole length');
  }
  return body.length;
}

/**
 * The chunks of a streamed body, checked against its declared length: the iteration fails with
 * BAD_REQUEST as soon as the stream yields a byte more, or ends short. Adapters write what this
 * yields, so that a wrong length never leaves a fragment behind. Once `signal` fires the iteration
 * fails with its reason, so that an aborted put stops reading its body (rather than let a client
 * library drain it into a request nobody waits for).
 */
export async function* exactly(body: { stream: Readable | AsyncIterable<Uint8Array>; length: number }, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of body.stream as AsyncIterable<Uint8Array | string>) {
    signal?.throwIfAborted();
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    seen += bytes.byteLength;
    if (seen > body.length) throw new FragmentStoreError('BAD_REQUEST', `the fragment stream is longer than its declared ${body.length} bytes`);
    if (bytes.byteLength > 0) yield bytes;
  }
  if (seen !== body.length) throw new FragmentStoreError('BAD_REQUEST', `the fragment stream ended after ${seen} of its declared ${body.length} bytes`);
}

/**
 * Runs one call of a store under the caller's signal and the backend's timeout. `operation` gets a
 * signal that fires on either and must stop its work when it does; the returned promise settles as
 * soon as the signal fires, even if `operation` ignores it: with the caller's reason when the caller
 * aborted, with BACKEND_TIMEOUT (naming the store and the call) when the time ran out. A caller
 * that already aborted gets its reason before anything starts.
 */
export async function withDeadline<T>(call: { store: string; op: string; timeoutMs: number; signal?: AbortSignal }, operation: (signal: AbortSignal) => Promise<T>): Promise<T> {
  call.signal?.throwIfAborted();
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(new FragmentStoreError('BACKEND_TIMEOUT', `backend ${call.store}: ${call.op} did not finish within ${call.timeoutMs} ms`)), call.timeoutMs);
  const signal = call.signal === undefined ? timer.signal : AbortSignal.any([call.signal, timer.signal]);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  const work = operation(signal);
  work.catch(() => undefined); // settled after an abort: nobody awaits it any more
  try {
    return await Promise.race([work, aborted]);
  } catch (error) {
    throw signal.aborted ? signal.reason : error;
  } finally {
    clearTimeout(timeout);
    signal.removeEventListener('abort', onAbort!);
  }
}
