/**
 * Fuzzes the DICOM parser (targets/dicom-parse.ts): AEGIS_FUZZ_RUNS cases
 * (10,000 by default), in a worker that is stopped if a case hangs.
 */
import { it } from 'node:test';
import { reportRun } from './support/report.js';
import { FUZZ_TEST_TIMEOUT_MS } from './support/settings.js';
import { runFuzzTarget } from './support/run-target.js';

it('DICOM instances: a ParsedInstance with every range inside the bytes, or INVALID_DICOM or PAYLOAD_TOO_LARGE', { timeout: FUZZ_TEST_TIMEOUT_MS }, async () => {
  reportRun('dicom-parse', await runFuzzTarget(new URL('./targets/dicom-parse.ts', import.meta.url)));
});
