/**
 * The `ipfs` backend: fragments are files added to an IPFS node through the Kubo RPC API (a Kubo
 * node, or IPFS Cluster, which serves the same API), with `kubo-rpc-client`. A put adds the bytes
 * as CIDv1 with raw leaves and pins them; the CID is the locator, so the key the gateway asked for
 * names nothing in IPFS (it is checked, and the caller keeps it). Reads `cat` the CID, with offset
 * and length for ranges; delete unpins.
 *
 * What IPFS cannot promise, declared in {@link IPFS_CAPABILITIES}:
 * - no overwrite: other bytes are another CID; the old one stays until deleted;
 * - no listing by key (IPFS has no keys);
 * - delete is best-effort: unpinning lets this node drop the blocks at its next garbage collection,
 *   but any node that fetched them may keep them. Only encryption protects what was stored.
 * - equal bytes are one CID with one pin: deleting one of two equal fragments unpins both. The
 *   gateway stores sealed fragments (unique by their random data key and nonce) and manifest copies
 *   (unique by their storage id), so this only matters for unencrypted fragments.
 *
 * A fragment counts as present when this node pins it: reads ask the pin set first, so a fragment
 * that was deleted answers NOT_FOUND at once instead of the node searching the network for it.
 *
 * Errors are translated here, the client's error as cause: "not pinned" -> NOT_FOUND; a refused or
 * broken connection and any error the node answers -> BACKEND_UNAVAILABLE. Every call is bounded by
 * the configured timeout and the caller's signal (`withDeadline`), which aborts the HTTP request.
 */
import { Readable } from 'node:stream';
import { create, type KuboRPCClient } from 'kubo-rpc-client';
import { bodyLength, checkFragmentKey, clampRange, exactly, FragmentStoreError, type CallOptions, type FragmentBody, type FragmentRef, type FragmentStore, type ReadOptions } from '../fragment-store.js';
import { IPFS_CAPABILITIES } from '../capabilities.js';
import { checkRead, StoreCalls } from '../store-calls.js';

export { IPFS_CAPABILITIES };

/** A CIDv1 in base32 (what this adapter hands out) or a CIDv0. */
const CID_PATTERN = /^(?:b[a-z2-7]{20,200}|Qm[1-9A-HJ-NP-Za-km-z]{44})$/;

/** Options of an {@link IpfsFragmentStore}, as in the `backends` configuration. */
export interface IpfsFragmentStoreOptions {
  /** The backend's name from the configuration. */
  name: string;
  /** The RPC API, e.g. `http://127.0.0.1:5001/api/v0`. */
  url: string;
  /** Longest a call may take; default 30 s. */
  timeoutMs?: number;
}

/** A {@link FragmentStore} keeping every fragment as a pinned file of an IPFS node. */
export class IpfsFragmentStore implements FragmentStore {
  readonly name: string;
  readonly kind = 'ipfs';
  readonly capabilities = IPFS_CAPABILITIES;
  private readonly client: KuboRPCClient;
  private readonly calls: StoreCalls;

  constructor(options: IpfsFragmentStoreOptions) {
    this.name = options.name;
    this.calls = new StoreCalls({ store: this.name, kind: this.kind, timeoutMs: options.timeoutMs, translate: ipfsError });
    this.client = create({ url: options.url });
  }

  async put(key: string, data: FragmentBody, options?: CallOptions): Promise<FragmentRef> {
    checkFragmentKey(key);
    const length = bodyLength(data);
    let bodyError: unknown;
    const added = await this.calls.run(`put ${key}`, options, async (signal) => {
      try {
        return await this.client.add(data instanceof Uint8Array ? data : recording(exactly(data, signal), (error) => (bodyError = error)), { cidVersion: 1, rawLeaves: true, pin: true, signal });
      } catch (error) {
        // The client reports a failing body as its own upload error: give the body's error back.
        throw bodyError ?? error;
      }
    });
    return { locator: added.cid.toString(), length };
  }

  async get(locator: string, options?: ReadOptions): Promise<Buffer> {
    checkRead(locator, options, checkLocator);
    return this.calls.run(`get ${locator}`, options, async (signal) => {
      await this.pinned(locator, signal);
      const chunks: Uint8Array[] = [];
      for await (const chunk of this.cat(locator, options?.range, signal)) chunks.push(chunk);
      return Buffer.concat(chunks);
    });
  }

  async stream(locator: string, options?: ReadOptions): Promise<Readable> {
    checkRead(locator, options, checkLocator);
    // The deadline covers the answer (the pin check and the first chunk); the caller's signal, the rest.
    const { first, rest } = await this.calls.run(`stream ${locator}`, options, async (signal) => {
      await this.pinned(locator, signal);
      const iterator = this.cat(locator, options?.range, signal)[Symbol.asyncIterator]();
      return { first: await iterator.next(), rest: iterator };
    });
    const name = this.name;
    return Readable.from(
      (async function* () {
        if (first.done) return;
        yield Buffer.from(first.value);
        try {
          for (let next = await rest.next(); !next.done; next = await rest.next()) yield Buffer.from(next.value);
        } catch (error) {
          throw options?.signal?.aborted ? options.signal.reason : ipfsError(error, `ipfs backend ${name}: stream ${locator}`);
        }
      })(),
    );
  }

  async delete(locator: string, options?: CallOptions): Promise<boolean> {
    checkLocator(locator);
    return this.calls.run(`delete ${locator}`, options, async (signal) => {
      try {
        await this.client.pin.rm(locator, { signal });
        return true;
      } catch (error) {
        if (isNotPinned(error)) return false;
        throw error;
      }
    });
  }

  async has(locator: string, options?: CallOptions): Promise<boolean> {
    checkLocator(locator);
    return this.calls.run(`has ${locator}`, options, async (signal) => {
      try {
        await this.pinned(locator, signal);
        return true;
      } catch (error) {
        if (error instanceof FragmentStoreError && error.code === 'NOT_FOUND') return false;
        throw error;
      }
    });
  }

  // eslint-disable-next-line require-yield -- an iteration that fails at once
  async *list(): AsyncIterable<string> {
    throw new FragmentStoreError('UNSUPPORTED', `ipfs backend ${this.name}: IPFS has no keys, so its fragments cannot be listed by key`);
  }

  async check(options?: CallOptions): Promise<void> {
    await this.calls.run('check', options, (signal) => this.client.version({ signal }));
  }

  async close(): Promise<void> {
    // The client holds no connection of its own (fetch's pool closes idle sockets itself).
  }

  /** Resolves when this node pins `locator`; NOT_FOUND otherwise. */
  private async pinned(locator: string, signal: AbortSignal): Promise<void> {
    try {
      for await (const pin of this.client.pin.ls({ paths: locator, type: 'recursive', signal })) void pin;
    } catch (error) {
      if (isNotPinned(error)) throw new FragmentStoreError('NOT_FOUND', `no fragment ${locator}`, { cause: error });
      throw error;
    }
  }

  /** The bytes of `locator` in `range` (all of them without one). */
  private async *cat(locator: string, range: ReadOptions['range'], signal: AbortSignal): AsyncGenerator<Uint8Array> {
    if (range === undefined) {
      yield* this.client.cat(locator, { signal });
      return;
    }
    if (range.end === range.start) return;
    // `length` is a maximum: a range past the end gives what exists, like HTTP.
    const { start, end } = clampRange(range, Number.MAX_SAFE_INTEGER);
    try {
      yield* this.client.cat(locator, { offset: start, length: end - start, signal });
    } catch (error) {
      // js-ipfs refuses an offset at or past the end (Kubo answers nothing): nothing of it exists.
      if (/offset must be less than the file size/i.test((error as Error)?.message ?? '')) return;
      throw error;
    }
  }
}

/** The chunks of `chunks`, telling `onError` what the iteration failed with. */
async function* recording(chunks: AsyncIterable<Uint8Array>, onError: (error: unknown) => void): AsyncGenerator<Uint8Array> {
  try {
    yield* chunks;
  } catch (error) {
    onError(error);
    throw error;
  }
}

/** BAD_REQUEST unless `locator` looks like a CID. */
function checkLocator(locator: string): void {
  if (typeof locator !== 'string' || !CID_PATTERN.test(locator)) {
    throw new FragmentStoreError('BAD_REQUEST', `invalid IPFS locator ${JSON.stringify(String(locator).slice(0, 80))}`);
  }
}

function isNotPinned(error: unknown): boolean {
  return /not pinned/i.test((error as Error)?.message ?? '');
}

/** The {@link FragmentStoreError} of a client error, the client's error as cause. */
export function ipfsError(error: unknown, context: string): FragmentStoreError {
  if (error instanceof FragmentStoreError) return error;
  const cause = (error as { cause?: { code?: string } })?.cause;
  const detail = cause?.code ?? (error as Error)?.message ?? String(error);
  if ((error as Error)?.name === 'TimeoutError') return new FragmentStoreError('BACKEND_TIMEOUT', `${context}: ${detail}`, { cause: error });
  // A refused or broken connection, an error the node answered (a full disk, a bad request).
  return new FragmentStoreError('BACKEND_UNAVAILABLE', `${context}: ${detail}`, { cause: error });
}
