/**
 * Fuzzes the byte cutter (targets/byte-cuts.ts): AEGIS_FUZZ_RUNS cases
 * (10,000 by default), in a worker that is stopped if a case hangs.
 */
import { it } from 'node:test';
import { reportRun } from './support/report.js';
import { FUZZ_TEST_TIMEOUT_MS } from './support/settings.js';
import { runFuzzTarget } from './support/run-target.js';

it('byte cuts and stripes: exact round trips, or INTEGRITY_FAILURE', { timeout: FUZZ_TEST_TIMEOUT_MS }, async () => {
  reportRun('byte-cuts', await runFuzzTarget(new URL('./targets/byte-cuts.ts', import.meta.url)));
});
