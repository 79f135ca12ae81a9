/**
 * The storage placements the bench compares for Aegis: the default (one `fs` folder), everything in
 * an S3 bucket (s3rver, in a process of its own), and 2-of-4 erasure coding over two folders, the
 * bucket and an IPFS node (the js-ipfs RPC daemon). The S3 server and the IPFS daemon are started
 * once, on first use, and shared by every round (each fresh gateway gets its own key prefix in the
 * bucket); `stopPlacementServers` ends them. Also the storage overhead of a server: bytes it stored
 * over bytes it received.
 */
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { protectionStats } from '../../gateway/services/admin/stats.js';
import { startIpfsDaemon, type TestIpfsDaemon } from '../../test/support/ipfs-daemon.js';
import { startS3rverProcess, type S3rverProcess } from '../../test/support/s3rver-process.js';

const BUCKET = 'aegis-bench';
let s3: Promise<{ server: S3rverProcess; credentialsFile: string; dir: string }> | undefined;
let ipfs: Promise<TestIpfsDaemon> | undefined;
let runs = 0;

async function startS3(): Promise<{ server: S3rverProcess; credentialsFile: string; dir: string }> {
  const server = await startS3rverProcess([BUCKET]);
  const dir = await mkdtemp(join(tmpdir(), 'aegis-bench-s3-'));
  const credentialsFile = join(dir, 's3.json');
  await writeFile(credentialsFile, JSON.stringify(server.credentials), { mode: 0o600 });
  return { server, credentialsFile, dir };
}

async function s3Backend(name: string): Promise<Record<string, unknown>> {
  s3 ??= startS3();
  const { server, credentialsFile } = await s3;
  return { name, kind: 's3', endpoint: server.endpoint, region: 'us-east-1', bucket: BUCKET, prefix: `run-${++runs}/`, forcePathStyle: true, credentialsFile };
}

/** The configuration of a placement (merged over the bench gateway's own). */
export async function placementConfig(placement: 's3' | '2of4'): Promise<Record<string, unknown>> {
  if (placement === 's3') return { backends: [await s3Backend('s3')], placement: { instances: 's3' } };
  ipfs ??= startIpfsDaemon();
  const daemon = await ipfs;
  const backends = [{ name: 'local', kind: 'fs' }, { name: 'disk-b', kind: 'fs' }, await s3Backend('s3'), { name: 'ipfs', kind: 'ipfs', url: daemon.url }];
  const group = backends.map((b) => b.name as string);
  return { backends, placement: { instances: 'spread', regions: ['spread'], groups: { spread: { scheme: 'erasure', k: 2, backends: group } } } };
}

/** Stops the S3 server and the IPFS daemon if they were started. */
export async function stopPlacementServers(): Promise<void> {
  const stops: Array<Promise<unknown>> = [];
  if (s3) stops.push(s3.then(({ server, dir }) => Promise.all([server.stop(), rm(dir, { recursive: true, force: true })])).catch(() => undefined));
  if (ipfs) stops.push(ipfs.then((d) => d.stop()).catch(() => undefined));
  await Promise.all(stops);
}

/** Bytes stored over bytes received by an Aegis data directory, as its catalog accounts them (`aegis stats`). */
export async function aegisOverhead(dataDir: string): Promise<number> {
  const catalog = await Catalog.openSqlite(join(dataDir, 'catalog.sqlite'));
  try {
    return (await protectionStats(catalog)).bytes.overheadRatio ?? NaN;
  } finally {
    await catalog.close();
  }
}

/** Bytes in Orthanc's storage folder over `received`. */
export async function orthancOverhead(storageDir: string, received: number): Promise<number> {
  return received > 0 ? (await folderBytes(join(storageDir, 'storage'))) / received : NaN;
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  return total;
}
