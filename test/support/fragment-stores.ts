/**
 * Assertions the adapter tests and the shared FragmentStore contract suite have in common.
 */
import assert from 'node:assert/strict';
import { FragmentStoreError, type FragmentStoreErrorCode } from '../../adapters/fragment-store.js';

/** Asserts that `promise` rejects with a {@link FragmentStoreError} of exactly `code`, and returns it. */
export async function expectCode(promise: Promise<unknown>, code: FragmentStoreErrorCode, message?: string): Promise<FragmentStoreError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof FragmentStoreError, `${message === undefined ? '' : `${message}: `}expected a FragmentStoreError, got ${String(caught)}`);
  assert.equal(caught.code, code, message ?? caught.message);
  return caught;
}

/** All items of an async iterable, in order. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
