/**
 * Fuzzes the policy loader (targets/policy.ts): AEGIS_FUZZ_RUNS cases
 * (10,000 by default), in a worker that is stopped if a case hangs.
 */
import { it } from 'node:test';
import { reportRun } from './support/report.js';
import { FUZZ_TEST_TIMEOUT_MS } from './support/settings.js';
import { runFuzzTarget } from './support/run-target.js';

it('policy files: a Policy that decides, or POLICY_INVALID', { timeout: FUZZ_TEST_TIMEOUT_MS }, async () => {
  reportRun('policy', await runFuzzTarget(new URL('./targets/policy.ts', import.meta.url)));
});
