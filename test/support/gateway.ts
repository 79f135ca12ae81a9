/**
 * Starts a real Aegis gateway as a child process through its CLI (`bin/aegis.mjs start`), on a
 * free port and a fresh data directory, and stops it by PID. Used by interop tests and benchmarks
 * that need the gateway exactly as users run it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { OPEN_ACCESS } from './in-process.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/aegis.mjs', import.meta.url));

/** How long a gateway may take to say it listens before the start counts as failed. */
const START_TIMEOUT_MS = 120_000;

/** A running gateway. */
export interface RunningGateway {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** DICOMweb root, `${url}/dicom-web`. */
  dicomWebUrl: string;
  dataDir: string;
  pid: number;
  process: ChildProcess;
  /** Lines the gateway logged (JSON lines), for assertions. */
  logs: string[];
  /** What the gateway wrote to stderr so far. */
  stderr(): string;
  /** Sends SIGTERM, waits for exit, removes the data dir unless `keepData`. */
  stop(): Promise<void>;
}

/** Options for {@link startGateway}. */
export interface StartGatewayOptions {
  /** Data directory; a fresh temp dir when omitted (and removed on stop). */
  dataDir?: string;
  /** A configuration object written to a JSON file and passed with --config. */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  /** Extra Node flags, e.g. ['--max-old-space-size=256']. */
  nodeArgs?: string[];
  /** Node binary; defaults to the one running the tests. */
  nodeBinary?: string;
  keepData?: boolean;
  /**
   * Keep the secure defaults (authentication required, first admin created). Otherwise a config
   * without an `auth` section gets {@link OPEN_ACCESS}: tests about DICOMweb itself run open.
   */
  secure?: boolean;
}

/** Starts the gateway and resolves once `/healthz` answers. */
export async function startGateway(options: StartGatewayOptions = {}): Promise<RunningGateway> {
  const ownData = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'aegis-gw-')));
  const args = [...(options.nodeArgs ?? []), BIN, 'start', '--port', '0', '--data', dataDir];
  const config = options.secure || options.config?.auth !== undefined ? options.config : { ...options.config, ...OPEN_ACCESS };
  if (config) {
    const configFile = join(dataDir, 'test-config.json');
    await writeFile(configFile, JSON.stringify(config));
    args.push('--config', configFile);
  }
  const child = spawn(options.nodeBinary ?? process.execPath, args, {
    env: { ...process.env, AEGIS_LOG_LEVEL: 'info', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    // A bound on a hang, not a timing: a loaded 2-core machine has taken 40 s to start two workers.
    const timer = setTimeout(() => {
      // Not left running (with its workers) to keep the test process alive.
      child.kill('SIGTERM');
      reject(new Error(`gateway did not start in ${START_TIMEOUT_MS / 1000} s\n${stderr}\n${logs.join('\n')}`));
    }, START_TIMEOUT_MS);
    child.stdout!.on('data', (d) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        logs.push(line);
        try {
          const entry = JSON.parse(line) as { msg?: string; url?: string };
          if (entry.msg === 'listening' && entry.url) {
            clearTimeout(timer);
            resolve(entry.url);
          }
        } catch {
          /* not JSON: keep it in logs */
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before listening\n${stderr}\n${logs.join('\n')}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    dicomWebUrl: `${url}/dicom-web`,
    dataDir,
    pid: child.pid!,
    process: child,
    logs,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      if (ownData && !options.keepData) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
