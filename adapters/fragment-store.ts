/**
 * The one interface every storage backend implements (docs/architecture.md). A backend stores
 * opaque fragments under keys the gateway chooses and hands back a locator to read them with
 * (for content-addressed stores such as IPFS the locator is not the key). Adapters know nothing
 * of the gateway: no DICOM, no catalog. Every adapter runs the shared contract suite in
 * `test/contract/fragment-store.suite.ts` against a real server.
 *
 * Errors: adapters throw {@link FragmentStoreError}, their own type, with code NOT_FOUND (no such
 * fragment), BAD_REQUEST (invalid key or range), CONFLICT (a key the store cannot hold beside
 * another), BACKEND_UNAVAILABLE (cannot reach or write the store) or BACKEND_TIMEOUT, wrapping the
 * foreign error as `cause`. The gateway translates them into its own errors where they arrive.
 */
import type { Readable } from 'node:stream';

/** Where a stored fragment can be read back from, and how long it is. */
export interface FragmentRef {
  /** Opaque to the gateway; for fs and s3 it equals the key. */
  locator: string;
  length: number;
}

/** A byte range: `start` inclusive, `end` exclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Keys are relative paths of segments of `[A-Za-z0-9._-]`, joined by `/`, at most 512 bytes, no
 * segment `.` or `..`. A key is never also the folder of another key (`a` and `a/b`): the gateway
 * does not make such keys, and folder-based stores (fs) cannot hold both (they answer CONFLICT).
 */
export const FRAGMENT_KEY_PATTERN = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

/** A storage backend holding fragments. */
export interface FragmentStore {
  /** The backend's name from the configuration. */
  readonly name: string;
  /** The adapter kind: `fs`, `s3`, `ipfs`, `dicomweb`. */
  readonly kind: string;
  /**
   * Stores `data` under `key`, replacing any fragment with that key. When the promise resolves
   * the fragment is durable and a reader sees either the old or the new bytes, never a mix.
   */
  put(key: string, data: Uint8Array): Promise<FragmentRef>;
  /** Reads a fragment, or the part of it in `range`. */
  get(locator: string, range?: ByteRange): Promise<Buffer>;
  /** Streams a fragment, or the part of it in `range`. */
  stream(locator: string, range?: ByteRange): Promise<Readable>;
  /** Removes a fragment and frees its space; false when there was none. */
  delete(locator: string): Promise<boolean>;
  /** True when a fragment exists at `locator`. */
  has(locator: string): Promise<boolean>;
  /** The locators of all fragments whose key starts with `prefix`. */
  list(prefix?: string): AsyncIterable<string>;
  /** Resolves when the backend is reachable and writable (used by `/readyz`). */
  check(): Promise<void>;
  /** Releases connections and handles. */
  close(): Promise<void>;
}

/** What went wrong in a store, in the terms every adapter shares. */
export type FragmentStoreErrorCode = 'NOT_FOUND' | 'BAD_REQUEST' | 'CONFLICT' | 'BACKEND_UNAVAILABLE' | 'BACKEND_TIMEOUT';

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
