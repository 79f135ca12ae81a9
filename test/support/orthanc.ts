/**
 * Starts a real Orthanc (Debian packages `orthanc` and `orthanc-dicomweb`) with its DICOMweb plugin,
 * on a free port, with storage and index in a fresh temp dir, and stops it by PID. Used by interop
 * tests (the `dicomweb` backend, proxy mode) and by the benchmarks that compare Aegis with Orthanc.
 *
 * Orthanc always binds 0.0.0.0; `RemoteAccessAllowed: false` keeps it answering loopback only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from './ports.js';

/** Where Debian's orthanc-dicomweb installs the plugin. */
export const DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
const INSTALL_HINT = 'apt-get install -y orthanc orthanc-dicomweb';

/** A running Orthanc. */
export interface RunningOrthanc {
  /** Base URL of the REST API, e.g. `http://127.0.0.1:40123`. */
  url: string;
  /** DICOMweb root, `${url}/dicom-web`. */
  dicomWebUrl: string;
  pid: number;
  process: ChildProcess;
  /** Temp dir holding config.json, storage/ and index/; removed by stop(). */
  storageDir: string;
  /** The last 64 KiB of Orthanc's stderr and stdout (its log), for diagnostics. */
  log(): string;
  /** SIGTERM, SIGKILL after 10 s if still running, then removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startOrthanc}. */
export interface StartOrthancOptions {
  /** Keys merged over the minimal configuration (e.g. `{ HttpThreadsCount: 8 }`). */
  config?: Record<string, unknown>;
  /** Milliseconds to wait for `/system` to answer; default 20 000. */
  startTimeoutMs?: number;
}

/** Finds the `Orthanc` executable on PATH or in /usr/sbin, or throws with the install command. */
export function orthancBinary(): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin'].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, 'Orthanc');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* keep looking */
    }
  }
  throw new Error(`the Orthanc binary was not found (PATH, /usr/sbin): ${INSTALL_HINT}`);
}

function requirePlugin(): void {
  try {
    accessSync(DICOMWEB_PLUGIN, constants.R_OK);
  } catch (cause) {
    throw new Error(`the Orthanc DICOMweb plugin ${DICOMWEB_PLUGIN} is missing: ${INSTALL_HINT}`, { cause });
  }
}

/** Starts Orthanc and resolves once `GET /system` answers (200, or 401 with authentication on). Retries on a lost port race. */
export async function startOrthanc(options: StartOrthancOptions = {}): Promise<RunningOrthanc> {
  const binary = orthancBinary();
  requirePlugin();
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(binary, options);
    } catch (err) {
      lastError = err;
      if (!(err instanceof PortInUseError)) throw err;
    }
  }
  throw lastError;
}

class PortInUseError extends Error {}

async function startOnce(binary: string, options: StartOrthancOptions): Promise<RunningOrthanc> {
  const storageDir = await mkdtemp(join(tmpdir(), 'aegis-orthanc-'));
  const port = await freePort();
  const config = {
    Name: 'AegisTestOrthanc',
    HttpPort: port,
    DicomServerEnabled: false,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    StorageDirectory: join(storageDir, 'storage'),
    IndexDirectory: join(storageDir, 'index'),
    StorageCompression: false,
    SaveJobs: false,
    Plugins: [DICOMWEB_PLUGIN],
    DicomWeb: { Enable: true, Root: '/dicom-web/' },
    ...options.config,
  };
  const configFile = join(storageDir, 'config.json');
  await writeFile(configFile, JSON.stringify(config, null, 2));

  const child = spawn(binary, [configFile], { cwd: storageDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const append = (d: Buffer): void => {
    log += d.toString();
    if (log.length > 65536) log = log.slice(-65536);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => undefined);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    }
    await rm(storageDir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  try {
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const message = `Orthanc exited (${child.exitCode ?? child.signalCode}) before answering on port ${port}\n${log}`;
        throw /already in use|cannot bind|bind to/i.test(log) ? new PortInUseError(message) : new Error(message);
      }
      if (Date.now() > deadline) throw new Error(`Orthanc did not answer /system within the timeout\n${log}`);
      const ok = await Promise.race([
        fetch(`${url}/system`, { signal: AbortSignal.timeout(2000) }).then(
          async (r) => {
            await r.arrayBuffer();
            // 401: up, and asking for the credentials its configuration registers.
            return r.ok || r.status === 401;
          },
          () => false,
        ),
        spawnError,
      ]);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    dicomWebUrl: `${url}/dicom-web`,
    pid: child.pid!,
    process: child,
    storageDir,
    log: () => log,
    stop,
  };
}

function statusField(pid: number, field: string): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (cause) {
    throw new Error(`cannot read /proc/${pid}/status (process gone?)`, { cause });
  }
  const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB$`, 'm').exec(status);
  if (!m) throw new Error(`${field} not found in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/**
 * Peak resident set size (VmHWM) of a live process and all its descendants (Aegis serves from one
 * worker process per core), summed, in bytes: an upper bound of the tree's peak. Read it before
 * stopping the process.
 */
export function peakRssBytes(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + statusField(p, 'VmHWM'), 0);
}

/** Current resident set size (VmRSS) of a live process and all its descendants, summed, in bytes. */
export function currentRssBytes(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + statusField(p, 'VmRSS'), 0);
}

/**
 * CPU time (user + system, all threads) used so far by a live process and its live descendants,
 * in milliseconds, from /proc/PID/stat (clock ticks of 10 ms).
 */
export function cpuTimeMs(pid: number): number {
  return processTree(pid).reduce((sum, p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return sum + (Number(fields[11]) + Number(fields[12])) * 10;
    } catch {
      return sum; // exited meanwhile
    }
  }, 0);
}

/** `pid` and the pids of all its live descendants, from /proc/PID/stat. */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}
