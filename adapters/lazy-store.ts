/**
 * A store whose adapter module is loaded on its first call. The network adapters pull in large
 * client libraries (the AWS SDK, the IPFS RPC client, dcmjs): a gateway carries only those of the
 * backends it is configured with, and a process that never touches a backend (a CLI command that
 * reads only the catalog) loads none. Name, kind and capabilities are known without loading.
 */
import type { Readable } from 'node:stream';
import type { CallOptions, FragmentBody, FragmentRef, FragmentStore, FragmentStoreCapabilities, PutOptions, ReadOptions } from './fragment-store.js';

/** What a {@link LazyFragmentStore} knows before its adapter is loaded. */
export interface LazyStoreIdentity {
  name: string;
  kind: string;
  capabilities: FragmentStoreCapabilities;
}

/** A {@link FragmentStore} that opens the real one, from `open`, on its first call. */
export class LazyFragmentStore implements FragmentStore {
  readonly name: string;
  readonly kind: string;
  readonly capabilities: FragmentStoreCapabilities;
  readonly #open: () => Promise<FragmentStore>;
  #store: Promise<FragmentStore> | undefined;

  constructor(identity: LazyStoreIdentity, open: () => Promise<FragmentStore>) {
    this.name = identity.name;
    this.kind = identity.kind;
    this.capabilities = identity.capabilities;
    this.#open = open;
  }

  /** The real store; a failed load is tried again on the next call. */
  #opened(): Promise<FragmentStore> {
    this.#store ??= this.#open().catch((error: unknown) => {
      this.#store = undefined;
      throw error;
    });
    return this.#store;
  }

  async put(key: string, data: FragmentBody, options?: PutOptions): Promise<FragmentRef> {
    return (await this.#opened()).put(key, data, options);
  }

  async get(locator: string, options?: ReadOptions): Promise<Buffer> {
    return (await this.#opened()).get(locator, options);
  }

  async stream(locator: string, options?: ReadOptions): Promise<Readable> {
    return (await this.#opened()).stream(locator, options);
  }

  async delete(locator: string, options?: CallOptions): Promise<boolean> {
    return (await this.#opened()).delete(locator, options);
  }

  async has(locator: string, options?: CallOptions): Promise<boolean> {
    return (await this.#opened()).has(locator, options);
  }

  async *list(prefix?: string, options?: CallOptions): AsyncIterable<string> {
    yield* (await this.#opened()).list(prefix, options);
  }

  async check(options?: CallOptions): Promise<void> {
    return (await this.#opened()).check(options);
  }

  /** Closes the real store, if it was ever opened. */
  async close(): Promise<void> {
    const store = this.#store;
    this.#store = undefined;
    if (store === undefined) return;
    await (await store.catch(() => undefined))?.close();
  }
}
