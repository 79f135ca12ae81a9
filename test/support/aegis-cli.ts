/**
 * Runs the `aegis` command as a user would (`node bin/aegis.mjs ...`) and collects its exit
 * status and output, with a bounded time. For tests of the sub-commands.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Where the command is. */
export const AEGIS_BIN = fileURLToPath(new URL('../../bin/aegis.mjs', import.meta.url));

/** How a run of the command ended. */
export interface AegisRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `aegis ARGS` with `input` on stdin, the test's environment less `unset` plus `env`;
 * killed after `timeoutMs` (default 30 s).
 */
export function runAegis(args: string[], options: { input?: string; env?: Record<string, string>; unset?: string[]; timeoutMs?: number } = {}): Promise<AegisRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of options.unset ?? []) delete env[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AEGIS_BIN, ...args], { env: { ...env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d.toString()));
    child.stderr.on('data', (d) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}
