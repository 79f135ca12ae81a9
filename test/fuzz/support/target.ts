/**
 * The shape of a fuzz target: a fast-check arbitrary of inputs and a check that throws when an
 * input breaks the target's invariant. Targets live in test/fuzz/targets/ and run in a worker
 * thread ({@link runFuzzTarget}), so that a case that never ends can be stopped.
 */
import type fc from 'fast-check';

/** A fuzz target. */
export interface FuzzTarget<T> {
  /** Structure-aware inputs (plus raw mutations of real samples). */
  arbitrary: fc.Arbitrary<T>;
  /** Throws when `input` breaks the invariant; may be async. */
  check(input: T): void | Promise<void>;
}

/** Declares a fuzz target (keeps the input type between the arbitrary and the check). */
export function fuzzTarget<T>(target: FuzzTarget<T>): FuzzTarget<T> {
  return target;
}
