/**
 * Fuzzes the QIDO-RS query parser (targets/qido-query.ts): AEGIS_FUZZ_RUNS cases
 * (10,000 by default), in a worker that is stopped if a case hangs.
 */
import { it } from 'node:test';
import { reportRun } from './support/report.js';
import { FUZZ_TEST_TIMEOUT_MS } from './support/settings.js';
import { runFuzzTarget } from './support/run-target.js';

it('QIDO-RS query strings: a query within limits, or INVALID_QUERY_KEY, INVALID_QUERY_VALUE or INVALID_UID', { timeout: FUZZ_TEST_TIMEOUT_MS }, async () => {
  reportRun('qido-query', await runFuzzTarget(new URL('./targets/qido-query.ts', import.meta.url)));
});
