/**
 * Runs `pydicom-decoded.py` once over a list of files with the system Python (pydicom and numpy,
 * with the pixel handlers Debian installs) and returns pydicom's decoded sample values of each
 * file, or the error pydicom raised (a syntax it has no decoder for).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** pydicom's decoding of one file's pixel data. */
export type PydicomDecoded =
  | { error: string }
  | {
      /** [frames, rows, columns, samples]. */
      shape: [number, number, number, number];
      /** The Photometric Interpretation of `values` (JPEG YCbCr converted to RGB). */
      photometric: string;
      /** The stored values, frame, row, column, sample order. */
      values: Float64Array;
    };

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./pydicom-decoded.py', import.meta.url));

/** pydicom's decoded values of every file (one Python process) and pydicom's version. */
export function pydicomDecoded(paths: string[]): { version: string; files: Record<string, PydicomDecoded> } {
  const run = spawnSync(PYTHON, [SCRIPT], { input: paths.join('\n'), maxBuffer: 1 << 30, encoding: 'utf8' });
  if (run.error !== undefined || run.status !== 0) {
    throw new Error(`${PYTHON} ${SCRIPT} failed (${run.error?.message ?? `exit ${run.status}`}): ${run.stderr}\npydicom and numpy are needed: apt-get install -y python3-pydicom python3-numpy`);
  }
  const parsed = JSON.parse(run.stdout) as { pydicom: string; files: Record<string, { error: string } | { shape: [number, number, number, number]; photometric: string; values: string }> };
  const files: Record<string, PydicomDecoded> = {};
  for (const [file, result] of Object.entries(parsed.files)) {
    if ('error' in result) {
      files[file] = result;
      continue;
    }
    const bytes = Buffer.from(result.values, 'base64');
    files[file] = { shape: result.shape, photometric: result.photometric, values: new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) };
  }
  return { version: parsed.pydicom, files };
}
