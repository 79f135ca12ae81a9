/**
 * Runs `pydicom-pixels.py` once over a list of files with the system Python (which has pydicom
 * and numpy) and returns pydicom's stored sample values of each file, hashed.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** pydicom's reading of one file's samples (or the error it raised). */
export type PydicomPixels =
  | { error: string }
  | {
      /** [frames, rows, columns, samples]. */
      shape: [number, number, number, number];
      /** SHA-256 (hex) of the stored values as float64 little endian, frame, row, column, sample order. */
      sha256: string;
      /** The first eight values in that order. */
      first: number[];
    };

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./pydicom-pixels.py', import.meta.url));

/** pydicom's sample values of every file, computed by one Python process. */
export function pydicomPixels(files: string[]): Record<string, PydicomPixels> {
  const run = spawnSync(PYTHON, [SCRIPT], { input: files.join('\n'), maxBuffer: 1 << 28, encoding: 'utf8' });
  if (run.error !== undefined || run.status !== 0) {
    throw new Error(`${PYTHON} ${SCRIPT} failed (${run.error?.message ?? `exit ${run.status}`}): ${run.stderr}\npydicom and numpy are needed: apt-get install -y python3-pydicom python3-numpy`);
  }
  return (JSON.parse(run.stdout) as { files: Record<string, PydicomPixels> }).files;
}
