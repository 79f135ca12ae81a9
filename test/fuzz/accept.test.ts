/**
 * Fuzzes the Accept parser and the negotiations (targets/accept.ts): AEGIS_FUZZ_RUNS cases
 * (10,000 by default), in a worker that is stopped if a case hangs.
 */
import { it } from 'node:test';
import { reportRun } from './support/report.js';
import { FUZZ_TEST_TIMEOUT_MS } from './support/settings.js';
import { runFuzzTarget } from './support/run-target.js';

it('Accept headers: the parser never throws, negotiations answer or refuse with NOT_ACCEPTABLE', { timeout: FUZZ_TEST_TIMEOUT_MS }, async () => {
  reportRun('accept', await runFuzzTarget(new URL('./targets/accept.ts', import.meta.url)));
});
