/**
 * Runs `pydicom-walk.py` once over a list of files with the system Python (which has pydicom) and
 * returns how pydicom reads each: every element path after reading every value, Patient Identity
 * Removed and the SOP Instance UIDs, or the error it raised.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What pydicom makes of one file Aegis wrote. */
export type PydicomWalk = { error: string } | { identityRemoved: string; sopInstanceUID: string; mediaStorageSOPInstanceUID: string; paths: string[] };

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./pydicom-walk.py', import.meta.url));

/** pydicom's reading of every file, by one Python process. */
export function pydicomWalk(files: string[]): Record<string, PydicomWalk> {
  const run = spawnSync(PYTHON, [SCRIPT], { input: files.join('\n'), maxBuffer: 1 << 30, encoding: 'utf8' });
  if (run.error !== undefined || run.status !== 0) {
    throw new Error(`${PYTHON} ${SCRIPT} failed (${run.error?.message ?? `exit ${run.status}`}): ${run.stderr}`);
  }
  return JSON.parse(run.stdout) as Record<string, PydicomWalk>;
}
