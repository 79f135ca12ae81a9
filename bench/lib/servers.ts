/**
 * The two servers under comparison, behind one small interface: Aegis started through its CLI
 * (`startGateway`, embedded defaults, fresh data dir) and Orthanc with its DICOMweb plugin
 * (`startOrthanc`, fresh storage dir). Each benchmark round starts fresh servers.
 */
import { startGateway } from '../../test/support/gateway.js';
import { cpuTimeMs, peakRssBytes, startOrthanc } from '../../test/support/orthanc.js';

/**
 * `aegis`: the gateway as configured by default (hardened protection); `aegis-unprotected`: the same
 * gateway storing whole instances (`protection.mode: none`), the baseline of the protection's cost.
 */
export type ServerKind = 'aegis' | 'aegis-unprotected' | 'orthanc';

/** A running server under test. */
export interface BenchServer {
  kind: ServerKind;
  dicomWebUrl: string;
  pid: number;
  /** Headers added to every request (e.g. Authorization for Aegis). */
  headers: Record<string, string>;
  /** VmHWM of the server process so far, in bytes. */
  peakRss(): number;
  /** CPU time of the server (all its processes and threads) so far, in milliseconds. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/**
 * Starts a fresh server. Aegis reads `BENCH_AEGIS_LOG_LEVEL` (AEGIS_LOG_LEVEL), `BENCH_AEGIS_CONFIG` (passed as AEGIS_CONFIG) and
 * `BENCH_AEGIS_AUTH` (`user:password` for HTTP Basic, or a full Authorization header value).
 */
export async function startServer(kind: ServerKind): Promise<BenchServer> {
  if (kind === 'orthanc') {
    const o = await startOrthanc();
    return { kind, dicomWebUrl: o.dicomWebUrl, pid: o.pid, headers: {}, peakRss: () => peakRssBytes(o.pid), cpuMs: () => cpuTimeMs(o.pid), stop: () => o.stop() };
  }
  // The gateway's default log level (info) is kept: startGateway waits for the 'listening' line.
  const env: Record<string, string> = {};
  if (process.env.BENCH_AEGIS_LOG_LEVEL) env.AEGIS_LOG_LEVEL = process.env.BENCH_AEGIS_LOG_LEVEL;
  if (process.env.BENCH_AEGIS_CONFIG) env.AEGIS_CONFIG = process.env.BENCH_AEGIS_CONFIG;
  const g = await startGateway({ env, config: kind === 'aegis-unprotected' ? { protection: { mode: 'none' } } : undefined });
  const headers: Record<string, string> = {};
  const auth = process.env.BENCH_AEGIS_AUTH;
  if (auth) headers.authorization = /^\w+ /.test(auth) ? auth : `Basic ${Buffer.from(auth).toString('base64')}`;
  return { kind, dicomWebUrl: g.dicomWebUrl, pid: g.pid, headers, peakRss: () => peakRssBytes(g.pid), cpuMs: () => cpuTimeMs(g.pid), stop: () => g.stop() };
}
