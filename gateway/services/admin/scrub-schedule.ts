/**
 * Scrub on a schedule inside the gateway (`scrub.intervalHours`): every interval, one process of the
 * gateway (the one that takes `DATA/scrub.lock` first; workers of a cluster and gateways sharing the
 * data directory take turns) checks every stored fragment and shard at `scrub.bytesPerSecond` at
 * most, logs the summary and records it in the audit trail (kind `integrity`, operation `scrub`:
 * success when everything is whole, failure naming what is missing or corrupt). Repair stays an
 * operator's decision (`aegis repair`).
 */
import { open, readFile, stat, unlink } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { AuditTrail } from '../../access/audit/trail.js';
import { scrub, type ScrubDeps, type ScrubReport } from './scrub.js';

/** What a scheduled scrub needs. */
export interface ScheduledScrubDeps extends ScrubDeps {
  logger: Logger;
  audit: Pick<AuditTrail, 'recordNow'>;
  /** Told of each finished run's report (the metrics count its faults). */
  onReport?: (report: ScrubReport) => void;
}

/** When and how fast. */
export interface ScrubSchedule {
  intervalHours: number;
  bytesPerSecond: number;
  /** The lock file that lets one process scrub at a time. */
  lockFile: string;
  concurrency?: number;
}

/** Starts the schedule (the first run one interval after start); `stop` ends it and aborts a run in progress. */
export function scheduleScrub(deps: ScheduledScrubDeps, schedule: ScrubSchedule): { stop(): void; runNow(): Promise<ScrubReport | undefined> } {
  const aborter = new AbortController();
  let running: Promise<ScrubReport | undefined> | undefined;
  const runNow = () => (running ??= runOnce(deps, schedule, aborter.signal).finally(() => (running = undefined)));
  const timer = setInterval(() => void runNow(), Math.max(1000, schedule.intervalHours * 3_600_000));
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      aborter.abort();
    },
    runNow,
  };
}

async function runOnce(deps: ScheduledScrubDeps, schedule: ScrubSchedule, signal: AbortSignal): Promise<ScrubReport | undefined> {
  const release = await takeLock(schedule.lockFile, schedule.intervalHours);
  if (release === undefined) return undefined; // another process scrubs now
  try {
    const report = await scrub(deps, { bytesPerSecond: schedule.bytesPerSecond, concurrency: schedule.concurrency, signal });
    try {
      deps.onReport?.(report);
    } catch (error) {
      deps.logger.error({ err: error }, 'counting the scheduled scrub in the metrics failed'); // the run is still audited
    }
    const whole = report.faults.length === 0 && report.unreadable.length === 0;
    const reason = summary(report);
    deps.logger[whole ? 'info' : 'warn']({ instances: report.instances, pieces: report.pieces, bytes: report.bytes, faults: report.faults.length, unreadable: report.unreadable.length }, `scheduled scrub: ${reason}`);
    await deps.audit
      .recordNow({ kind: 'integrity', operation: 'scrub', actor: { name: 'aegis', method: 'local' }, action: 'admin', outcome: whole ? 'success' : 'failure', reason })
      .catch((error: unknown) => deps.logger.error({ err: error }, 'the scheduled scrub could not be recorded in the audit trail'));
    return report;
  } catch (error) {
    if (!signal.aborted) deps.logger.error({ err: error }, 'the scheduled scrub failed');
    return undefined;
  } finally {
    await release();
  }
}

/** The report in a line: counts, then each fault (the first twenty). */
function summary(report: ScrubReport): string {
  const head = `${report.instances} instances, ${report.pieces} pieces, ${(report.bytes / 1e6).toFixed(1)} MB checked`;
  if (report.faults.length === 0 && report.unreadable.length === 0) return `${head}: everything is whole`;
  const faults = report.faults.slice(0, 20).map((f) => `${f.sopInstanceUid} ${f.fragment}${f.shard === undefined ? '' : ` shard ${f.shard}`} on backend ${f.backend} ${f.problem}`);
  const unreadable = report.unreadable.slice(0, 20).map((u) => `${u.sopInstanceUid} unreadable: ${u.reason}`);
  return `${head}: ${report.faults.length} faults, ${report.unreadable.length} unreadable; ${[...faults, ...unreadable].join('; ')}`;
}

/**
 * Takes the lock file (created exclusively, holding this process's pid); undefined when another
 * live process holds it. A lock left by a process that is gone, or older than two intervals, is
 * taken over.
 */
async function takeLock(file: string, intervalHours: number): Promise<(() => Promise<void>) | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => unlink(file).catch(() => undefined);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!(await stale(file, intervalHours))) return undefined;
      await unlink(file).catch(() => undefined);
    }
  }
  return undefined;
}

async function stale(file: string, intervalHours: number): Promise<boolean> {
  try {
    const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    if (Date.now() - info.mtimeMs > 2 * intervalHours * 3_600_000) return true;
    const pid = Number(text);
    if (!Number.isSafeInteger(pid) || pid <= 0) return true;
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH' || (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
