/**
 * The crash-safety harness's tools: a gateway started through the CLI in a process group of its
 * own (so that the whole group can be killed with SIGKILL, as a power cut or an OOM killer would),
 * and clients that run STOW and DELETE load against it and remember what the gateway acknowledged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { AEGIS_BIN } from './aegis-cli.js';
import { stowBody } from './dicomweb.js';
import { OPEN_ACCESS } from './in-process.js';

/** A gateway in its own process group. */
export interface GroupGateway {
  pid: number;
  url: string;
  child: ChildProcess;
  /** Its stdout so far (JSON log lines). */
  logs(): string;
  exited: Promise<void>;
}

/** Starts `aegis start` on `dataDir` with `workers` workers, detached; resolves once it listens. */
export async function startGroupGateway(dataDir: string, workers: number): Promise<GroupGateway> {
  const configFile = join(dataDir, 'test-config.json');
  writeFileSync(configFile, JSON.stringify(OPEN_ACCESS));
  const child = spawn(process.execPath, [AEGIS_BIN, 'start', '--port', '0', '--data', dataDir, '--config', configFile], {
    env: { ...process.env, AEGIS_WORKERS: String(workers), AEGIS_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(child.pid!);
      reject(new Error(`the gateway did not start in 90 s\n${stderr}`));
    }, 90_000);
    const look = () => {
      const line = stdout.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line === undefined) return;
      clearTimeout(timer);
      child.stdout!.off('data', look);
      resolve((JSON.parse(line) as { url: string }).url);
    };
    child.stdout!.on('data', look);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited (${code ?? signal}) before listening\n${stderr}`));
    });
  });
  return { pid: child.pid!, url, child, logs: () => stdout, exited };
}

/** SIGKILL to every process of the group led by `pid` (the primary and its workers). */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** An instance the clients sent, whether or not its STOW was acknowledged. */
export interface SentInstance {
  study: string;
  series: string;
  bytes: Buffer;
}

/** What the load did and what the gateway acknowledged. */
export class LoadLedger {
  /** Every instance sent, by SOP Instance UID. */
  readonly sent = new Map<string, SentInstance>();
  /** STOWs answered 200 with the instance in ReferencedSOPSequence. */
  readonly acknowledged = new Set<string>();
  /** DELETEs answered 2xx. */
  readonly deleted = new Set<string>();
  /** Instances a DELETE was sent for, answered or not (they may or may not be there). */
  readonly deleteSent = new Set<string>();
  /** Requests that failed (connection reset by a kill, or an error status). */
  failures = 0;
  /** Studies the instances went into. */
  readonly studies = new Set<string>();
}

/** Clients running STOW (one instance a request) and DELETE against `url` until stopped. */
export class LoadClients {
  private running = false;
  private loops: Promise<void>[] = [];
  private url = '';

  constructor(
    private readonly ledger: LoadLedger,
    private readonly random: () => number,
    private readonly clients = 4,
  ) {}

  /** Starts the clients against a gateway at `url`. */
  start(url: string): void {
    this.url = url;
    this.running = true;
    this.loops = Array.from({ length: this.clients }, () => this.client());
  }

  /** Stops the clients; resolves once their last requests settled. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async client(): Promise<void> {
    const study = newUid();
    const series = newUid();
    this.ledger.studies.add(study);
    while (this.running) {
      const acknowledged = [...this.ledger.acknowledged].filter((sop) => !this.ledger.deleteSent.has(sop));
      if (acknowledged.length > 0 && this.random() < 0.15) await this.deleteOne(acknowledged[Math.floor(this.random() * acknowledged.length)]);
      else await this.stowOne(study, series);
    }
  }

  private async stowOne(study: string, series: string): Promise<void> {
    const sop = newUid();
    const bytes = syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop, rows: 48, columns: 48, seed: Math.floor(this.random() * 1e9) });
    this.ledger.sent.set(sop, { study, series, bytes });
    const { body, contentType } = stowBody([bytes]);
    try {
      const res = await fetch(`${this.url}/dicom-web/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body });
      const json = (await res.json()) as Record<string, { Value?: Array<Record<string, { Value?: string[] }>> }>;
      const referenced = (json['00081199']?.Value ?? []).map((item) => item['00081155']?.Value?.[0]);
      if (res.status === 200 && referenced.includes(sop)) this.ledger.acknowledged.add(sop);
      else this.ledger.failures++;
    } catch {
      this.ledger.failures++;
      await pause(100);
    }
  }

  private async deleteOne(sop: string): Promise<void> {
    const { study, series } = this.ledger.sent.get(sop)!;
    this.ledger.deleteSent.add(sop);
    try {
      const res = await fetch(`${this.url}/dicom-web/studies/${study}/series/${series}/instances/${sop}`, { method: 'DELETE' });
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 204) this.ledger.deleted.add(sop);
      else this.ledger.failures++;
    } catch {
      this.ledger.failures++;
      await pause(100);
    }
  }
}

/** Resolves after `ms`. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
