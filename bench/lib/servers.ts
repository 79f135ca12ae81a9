/**
 * The servers under comparison, behind one small interface: Aegis started through its CLI
 * (`startGateway`, fresh data dir; embedded defaults or one of the placements of `placements.ts`)
 * and Orthanc with its DICOMweb plugin (`startOrthanc`, fresh storage dir). Each benchmark round
 * starts fresh servers.
 */
import { startGateway } from '../../test/support/gateway.js';
import { cpuTimeMs, startOrthanc } from '../../test/support/orthanc.js';
import { RssSampler } from './rss-sampler.js';
import { aegisOverhead, orthancOverhead, placementConfig } from './placements.js';

/**
 * `aegis`: the gateway as configured by default (hardened protection, one fs folder);
 * `aegis-unprotected`: the same gateway storing whole instances (`protection.mode: none`), the
 * baseline of the protection's cost; `aegis-s3`: hardened, everything in an S3 bucket;
 * `aegis-2of4`: hardened, 2-of-4 erasure coding over two folders, the bucket and an IPFS node;
 * `aegis-proxy`: the gateway in proxy mode in front of an Orthanc that the instances are stored
 * into directly, so every read and search goes through to it (its rows against `orthanc`'s: the
 * cost of the proxy).
 */
export type ServerKind = 'aegis' | 'aegis-unprotected' | 'aegis-s3' | 'aegis-2of4' | 'aegis-proxy' | 'orthanc';

/** Every server kind, in the order the bench runs them. */
export const SERVER_KINDS: readonly ServerKind[] = ['aegis', 'aegis-unprotected', 'aegis-s3', 'aegis-2of4', 'aegis-proxy', 'orthanc'];

/** A running server under test. */
export interface BenchServer {
  kind: ServerKind;
  dicomWebUrl: string;
  /** Where STOW-RS goes when not to `dicomWebUrl` (proxy mode: straight into the upstream). */
  stowUrl?: string;
  pid: number;
  /** Headers added to every request (e.g. Authorization for Aegis). */
  headers: Record<string, string>;
  /** Peak resident memory of the whole server (all its processes, summed at each sample) so far, in bytes (`rss-sampler.ts`). */
  peakRss(): number;
  /** CPU time of the server (all its processes and threads) so far, in milliseconds. */
  cpuMs(): number;
  /** Bytes stored over bytes received (`received`: what the bench sent, for a server that cannot tell). */
  overhead(received: number): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts a fresh server. Aegis reads `BENCH_AEGIS_LOG_LEVEL` (AEGIS_LOG_LEVEL), `BENCH_AEGIS_CONFIG` (passed as AEGIS_CONFIG) and
 * `BENCH_AEGIS_AUTH` (`user:password` for HTTP Basic, or a full Authorization header value).
 */
export async function startServer(kind: ServerKind): Promise<BenchServer> {
  if (kind === 'orthanc') {
    const o = await startOrthanc();
    const rss = new RssSampler(o.pid);
    return { kind, dicomWebUrl: o.dicomWebUrl, pid: o.pid, headers: {}, peakRss: () => rss.peakBytes(), cpuMs: () => cpuTimeMs(o.pid), overhead: (received) => orthancOverhead(o.storageDir, received), stop: () => (rss.stop(), o.stop()) };
  }
  if (kind === 'aegis-proxy') return startProxy();
  // The gateway's default log level (info) is kept: startGateway waits for the 'listening' line.
  const env: Record<string, string> = {};
  if (process.env.BENCH_AEGIS_LOG_LEVEL) env.AEGIS_LOG_LEVEL = process.env.BENCH_AEGIS_LOG_LEVEL;
  if (process.env.BENCH_AEGIS_CONFIG) env.AEGIS_CONFIG = process.env.BENCH_AEGIS_CONFIG;
  const config = kind === 'aegis-unprotected' ? { protection: { mode: 'none' } } : kind === 'aegis-s3' ? await placementConfig('s3') : kind === 'aegis-2of4' ? await placementConfig('2of4') : undefined;
  const g = await startGateway({ env, config });
  const headers: Record<string, string> = {};
  const auth = process.env.BENCH_AEGIS_AUTH;
  if (auth) headers.authorization = /^\w+ /.test(auth) ? auth : `Basic ${Buffer.from(auth).toString('base64')}`;
  const rss = new RssSampler(g.pid);
  return { kind, dicomWebUrl: g.dicomWebUrl, pid: g.pid, headers, peakRss: () => rss.peakBytes(), cpuMs: () => cpuTimeMs(g.pid), overhead: () => aegisOverhead(g.dataDir), stop: () => (rss.stop(), g.stop()) };
}

/** Orthanc, and Aegis in proxy mode in front of it; memory and CPU are the gateway's. */
async function startProxy(): Promise<BenchServer> {
  const o = await startOrthanc();
  try {
    const g = await startGateway({ config: { upstream: { url: o.dicomWebUrl } } });
    const rss = new RssSampler(g.pid);
    const stop = async () => {
      rss.stop();
      await g.stop();
      await o.stop();
    };
    return {
      kind: 'aegis-proxy',
      dicomWebUrl: g.dicomWebUrl,
      stowUrl: o.dicomWebUrl,
      pid: g.pid,
      headers: {},
      peakRss: () => rss.peakBytes(),
      cpuMs: () => cpuTimeMs(g.pid),
      overhead: (received) => orthancOverhead(o.storageDir, received),
      stop,
    };
  } catch (error) {
    await o.stop();
    throw error;
  }
}
