/**
 * Fuzzes the STOW-RS multipart reader (targets/multipart.ts): AEGIS_FUZZ_RUNS cases
 * (10,000 by default), in a worker that is stopped if a case hangs.
 */
import { it } from 'node:test';
import { reportRun } from './support/report.js';
import { FUZZ_TEST_TIMEOUT_MS } from './support/settings.js';
import { runFuzzTarget } from './support/run-target.js';

it('multipart bodies: the parts, or MALFORMED_MULTIPART or PAYLOAD_TOO_LARGE', { timeout: FUZZ_TEST_TIMEOUT_MS }, async () => {
  reportRun('multipart', await runFuzzTarget(new URL('./targets/multipart.ts', import.meta.url)));
});
