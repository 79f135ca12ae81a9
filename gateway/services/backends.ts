/**
 * The backends as the gateway sees them. Adapters know nothing of the gateway and throw their own
 * {@link FragmentStoreError}; this is where those errors arrive: every call of a wrapped store
 * that fails with one fails instead with the {@link GatewayError} of the same code (NOT_FOUND 404,
 * BAD_REQUEST 400, CONFLICT 409, UNSUPPORTED 501, BACKEND_UNAVAILABLE 503, BACKEND_TIMEOUT 504) and the same
 * message, the adapter's error as its cause. Other errors pass unchanged.
 */
import type { Readable } from 'node:stream';
import { FragmentStoreError, type CallOptions, type FragmentBody, type FragmentRef, type FragmentStore, type FragmentStoreCapabilities, type PutOptions, type ReadOptions } from '../../adapters/fragment-store.js';
import { GatewayError } from '../errors.js';

/** `store` with its adapter errors translated into the gateway's catalogue. */
export function withGatewayErrors(store: FragmentStore): FragmentStore {
  return new GatewayFragmentStore(store);
}

/** The gateway's error for an adapter's error; anything else unchanged. */
export function fromStoreError(error: unknown): unknown {
  return error instanceof FragmentStoreError ? new GatewayError(error.code, error.message, { cause: error }) : error;
}

class GatewayFragmentStore implements FragmentStore {
  constructor(private readonly store: FragmentStore) {}

  get name(): string {
    return this.store.name;
  }

  get kind(): string {
    return this.store.kind;
  }

  get capabilities(): FragmentStoreCapabilities {
    return this.store.capabilities;
  }

  put(key: string, data: FragmentBody, options?: PutOptions): Promise<FragmentRef> {
    return translated(this.store.put(key, data, options));
  }

  get(locator: string, options?: ReadOptions): Promise<Buffer> {
    return translated(this.store.get(locator, options));
  }

  stream(locator: string, options?: ReadOptions): Promise<Readable> {
    return translated(this.store.stream(locator, options));
  }

  delete(locator: string, options?: CallOptions): Promise<boolean> {
    return translated(this.store.delete(locator, options));
  }

  has(locator: string, options?: CallOptions): Promise<boolean> {
    return translated(this.store.has(locator, options));
  }

  async *list(prefix?: string, options?: CallOptions): AsyncIterable<string> {
    try {
      yield* this.store.list(prefix, options);
    } catch (error) {
      throw fromStoreError(error);
    }
  }

  check(options?: CallOptions): Promise<void> {
    return translated(this.store.check(options));
  }

  close(): Promise<void> {
    return translated(this.store.close());
  }
}

async function translated<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw fromStoreError(error);
  }
}
