/**
 * Runs `pydicom-reference.py` once over a list of files with the system Python (which has
 * pydicom; the first python3 on PATH may not) and returns what pydicom makes of each file.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** One attribute as pydicom's `DataElement.to_json_dict` writes it (or the error it raised). */
export interface PydicomAttribute {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
  error?: string;
}

/** What pydicom makes of one file. */
export type PydicomResult =
  | { error: string }
  | {
      transferSyntax: string;
      json: Record<string, PydicomAttribute>;
      /** SHA-256 (hex) of each frame, or null when the file has no (describable) pixel data. */
      frames?: string[] | null;
      framesError?: string;
    };

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./pydicom-reference.py', import.meta.url));

/** pydicom's reading of every file, computed by one Python process. */
export function pydicomReference(files: string[]): { version: string; files: Record<string, PydicomResult> } {
  const run = spawnSync(PYTHON, [SCRIPT], { input: files.join('\n'), maxBuffer: 1 << 30, encoding: 'utf8' });
  if (run.error !== undefined || run.status !== 0) {
    throw new Error(`${PYTHON} ${SCRIPT} failed (${run.error?.message ?? `exit ${run.status}`}): ${run.stderr}\n` + 'pydicom is needed: apt-get install -y python3-pydicom');
  }
  const parsed = JSON.parse(run.stdout) as { pydicom: string; files: Record<string, PydicomResult> };
  return { version: parsed.pydicom, files: parsed.files };
}
