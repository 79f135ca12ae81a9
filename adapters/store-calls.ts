/**
 * What every adapter does around each call of its store, in one place: the caller's signal and the
 * backend's timeout ({@link withDeadline}), the translation of the client library's errors into
 * {@link FragmentStoreError}, and the argument checks a read starts with. An adapter holds one
 * {@link StoreCalls} and runs every call of its store through it.
 */
import { checkFragmentKey, checkRange, DEFAULT_TIMEOUT_MS, FragmentStoreError, withDeadline, type ReadOptions, type CallOptions } from './fragment-store.js';

/** Turns a foreign error of a call into the adapter's {@link FragmentStoreError}; `context` names the store and the call. */
export type StoreErrorTranslator = (error: unknown, context: string) => FragmentStoreError;

/** What the options of every adapter begin with, as in the `backends` configuration. */
export interface StoreOptions {
  /** The backend's name from the configuration. */
  name: string;
  /** Longest a call may take; default 30 s. */
  timeoutMs?: number;
}

/** Options of a {@link StoreCalls}. */
export interface StoreCallsOptions {
  /** The backend's name, named in timeout and error messages. */
  store: string;
  /** The adapter kind, which starts the context of a translated error (`s3 backend NAME: get K`). */
  kind: string;
  /** Longest a call may take; default {@link DEFAULT_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Translates what an operation throws; absent, errors pass unchanged. */
  translate?: StoreErrorTranslator;
}

/** Runs the calls of one store under its timeout and translates their errors. */
export class StoreCalls {
  /** The per-call timeout in milliseconds. */
  readonly timeoutMs: number;
  private readonly options: StoreCallsOptions;

  constructor(options: StoreCallsOptions) {
    this.options = options;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /**
   * Runs one call (`op`, e.g. `get KEY`) under the caller's signal and this store's timeout.
   * `operation` gets the combined signal; what it throws goes through the translator, except after
   * an abort, which rejects with the signal's reason.
   */
  run<T>(op: string, options: CallOptions | undefined, operation: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { store, kind, translate } = this.options;
    const bounded =
      translate === undefined
        ? operation
        : async (signal: AbortSignal): Promise<T> => {
            try {
              return await operation(signal);
            } catch (error) {
              if (signal.aborted) throw signal.reason;
              throw translate(error, `${kind} backend ${store}: ${op}`);
            }
          };
    return withDeadline({ store, op, timeoutMs: this.timeoutMs, signal: options?.signal }, bounded);
  }
}

/** BAD_REQUEST unless `locator` passes `checkLocator` (default: a fragment key) and the range asked for is valid. */
export function checkRead(locator: string, options: ReadOptions | undefined, checkLocator: (locator: string) => void = checkFragmentKey): void {
  checkLocator(locator);
  checkRange(options?.range);
}
