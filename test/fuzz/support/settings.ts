/**
 * How long and how reproducibly the fuzzers run: AEGIS_FUZZ_RUNS cases per target (10,000 in
 * CI), the fast-check seed AEGIS_FUZZ_SEED (fixed by default, so a failure reproduces; any other
 * value explores other inputs), and the time one case may take before it counts as a hang.
 */

function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, not '${text}'`);
  return value;
}

/** Cases per fuzz target. */
export const FUZZ_RUNS = positiveInteger('AEGIS_FUZZ_RUNS', 10_000);
/** The fast-check seed of every target. */
export const FUZZ_SEED = positiveInteger('AEGIS_FUZZ_SEED', 20261206);
/** A case that runs longer than this is a hang (the worker running it is stopped). */
export const CASE_BUDGET_MS = positiveInteger('AEGIS_FUZZ_CASE_MS', 5_000);
/** The time limit of one fuzz test: ten minutes, or 10 ms a case for longer runs. */
export const FUZZ_TEST_TIMEOUT_MS = Math.max(600_000, FUZZ_RUNS * 10);
