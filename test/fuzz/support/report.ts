/**
 * Checks and prints what a fuzz run did: every configured case ran, and how long it took (the
 * figure for the CI time budget; never asserted).
 */
import assert from 'node:assert/strict';
import { FUZZ_RUNS, FUZZ_SEED } from './settings.js';
import type { FuzzRun } from './run-target.js';

/** Asserts that `run` ran all of the configured cases, and prints its figures. */
export function reportRun(name: string, run: FuzzRun, expected = FUZZ_RUNS): void {
  assert.equal(run.runs, expected, `${name}: ${run.runs} cases ran, ${expected} expected`);
  console.log(`fuzz ${name}: ${run.runs} cases in ${run.ms} ms (seed ${FUZZ_SEED})`);
}
