/**
 * `aegis scrub` and `aegis repair`, the use cases. Scrub reads every stored piece of every protected
 * instance in the catalog (each fragment stored whole, each shard of a fragment kept with
 * redundancy) and checks it against the length and SHA-256 of the signed manifest (a bundle of an
 * instance's whole fragments is read once and each fragment's slice checked), and checks that
 * the manifest copy is there; it reports per backend what is missing, corrupt or unreachable, and
 * which instances can no longer be read. It reads at a bounded rate, so that it can run beside the
 * gateway. Repair rebuilds each faulty shard from k intact ones (`protection/erasure.ts`: decode,
 * check the fragment's SHA-256, encode again), checks that the rebuilt shard is the one recorded
 * and writes it under its key; a new locator (a content-addressed store) goes into the manifest,
 * which is signed again, recorded in the catalog (compare and set) and copied to its backend. A
 * fragment stored whole has no redundancy: it is reported, not repaired.
 */
import type { FragmentStore } from '../../../adapters/fragment-store.js';
import type { Catalog } from '../../catalog/catalog.js';
import { GatewayError, isGatewayError } from '../../errors.js';
import type { Keyring } from '../../keys/keyring.js';
import { decodeShards, encodeShards } from '../../protection/erasure.js';
import { verifyManifest, type FragmentRecord, type Manifest, type ManifestBody, type StoredPiece } from '../../protection/manifest.js';
import { objectsOf, sliceObject } from '../fragment-bundles.js';
import { sha256Hex, type ShardProblem } from '../fragment-shards.js';
import { Limiter } from '../limiter.js';
import { rewriteManifest } from './scrub-manifest.js';

/** A piece of stored bytes that failed its check. */
export interface PieceFault {
  sopInstanceUid: string;
  /** `role:index` of the fragment, or `manifest-copy`. */
  fragment: string;
  /** Shard number; absent for a fragment stored whole and for the manifest copy. */
  shard?: number;
  backend: string;
  problem: ShardProblem;
  detail: string;
}

/** Per backend: pieces checked, their bytes, and what failed. */
export interface BackendScrub {
  pieces: number;
  bytes: number;
  missing: number;
  corrupt: number;
  unavailable: number;
}

/** What a scrub found. */
export interface ScrubReport {
  instances: number;
  pieces: number;
  /** Bytes read and checked. */
  bytes: number;
  backends: Record<string, BackendScrub>;
  faults: PieceFault[];
  /** Instances that cannot be read now (a fragment with fewer than k intact pieces), or whose manifest does not verify. */
  unreadable: Array<{ sopInstanceUid: string; reason: string }>;
}

/** What repair did on top of the scrub it ran. */
export interface RepairReport extends ScrubReport {
  repaired: Array<{ sopInstanceUid: string; fragment: string; shard?: number; backend: string }>;
  /** Faults left as they were, with why. */
  unrepaired: Array<PieceFault & { reason: string }>;
}

/** What scrub and repair need. */
export interface ScrubDeps {
  catalog: Catalog;
  stores: Map<string, FragmentStore>;
  keyring: Keyring;
}

/** Progress after each instance. */
export interface ScrubProgress {
  instances: number;
  bytes: number;
}

/** How to scrub. */
export interface ScrubOptions {
  /** Largest average read rate; none by default. */
  bytesPerSecond?: number;
  /** Pieces read at once. */
  concurrency?: number;
  onProgress?: (progress: ScrubProgress) => void;
  signal?: AbortSignal;
}

/** A piece as scrub read it: its bytes when it checked out. */
interface CheckedPiece {
  shard?: number;
  backend: string;
  intact?: Buffer;
}

/** Checks every stored piece of every protected instance. */
export function scrub(deps: ScrubDeps, options: ScrubOptions = {}): Promise<ScrubReport> {
  return walk(deps, options, undefined);
}

/** Scrubs, and rewrites every missing or corrupt shard it can rebuild. */
export async function repair(deps: ScrubDeps, options: ScrubOptions = {}): Promise<RepairReport> {
  const fixes: Pick<RepairReport, 'repaired' | 'unrepaired'> = { repaired: [], unrepaired: [] };
  const report = await walk(deps, options, fixes);
  return { ...report, ...fixes };
}

async function walk(deps: ScrubDeps, options: ScrubOptions, fixes: Pick<RepairReport, 'repaired' | 'unrepaired'> | undefined): Promise<ScrubReport> {
  const report: ScrubReport = { instances: 0, pieces: 0, bytes: 0, backends: {}, faults: [], unreadable: [] };
  for (const name of deps.stores.keys()) report.backends[name] = { pieces: 0, bytes: 0, missing: 0, corrupt: 0, unavailable: 0 };
  const limiter = new Limiter(options.concurrency ?? 8);
  const started = Date.now();
  for await (const row of deps.catalog.manifests()) {
    options.signal?.throwIfAborted();
    let manifest: ManifestBody;
    try {
      manifest = verifyManifest(JSON.parse(row.manifest) as Manifest, deps.keyring, row.sopInstanceUid);
    } catch (error) {
      report.unreadable.push({ sopInstanceUid: row.sopInstanceUid, reason: `the manifest does not verify: ${(error as Error).message}` });
      continue;
    }
    const faults: PieceFault[] = [];
    const checked = await checkFragments(deps, limiter, report, row.sopInstanceUid, manifest.fragments, faults);
    await checkCopy(deps, report, row, faults);
    report.faults.push(...faults);
    const short = manifest.fragments.flatMap((f, i) => {
      const intact = checked[i].filter((p) => p.intact !== undefined).length;
      return intact < (f.shards === undefined ? 1 : f.redundancy.k) ? [`fragment ${f.role}:${f.index} has ${intact} intact pieces`] : [];
    });
    if (short.length > 0) report.unreadable.push({ sopInstanceUid: row.sopInstanceUid, reason: `${short.join(', ')}, too few to read` });
    if (fixes !== undefined && faults.length > 0) await repairInstance(deps, row, manifest, checked, faults, fixes);
    report.instances++;
    options.onProgress?.({ instances: report.instances, bytes: report.bytes });
    if (options.bytesPerSecond !== undefined) await pace(started, report.bytes, options.bytesPerSecond, options.signal);
  }
  return report;
}

/**
 * The pieces of each fragment as checked, in manifest order: each stored object read once (a bundle
 * holds several whole fragments, each slice checked on its own), each shard read on its own.
 */
async function checkFragments(deps: ScrubDeps, limiter: Limiter, report: ScrubReport, sop: string, fragments: readonly FragmentRecord[], faults: PieceFault[]): Promise<CheckedPiece[][]> {
  const checked: CheckedPiece[][] = new Array(fragments.length);
  const objects = objectsOf(fragments.flatMap((f, n) => (f.shards === undefined ? [{ ...f, n, at: 0, shard: undefined }] : [])));
  const shards = fragments.flatMap((f, n) => (f.shards === undefined ? [] : f.shards.map((s, at) => ({ ...s, role: f.role, index: f.index, n, at, shard: s.index, offset: undefined }))));
  await Promise.all(
    [...objects, ...shards.map((s) => [s])].map(async (members) => {
      const pieces = await checkObject(deps, limiter, report, sop, members, faults);
      members.forEach((m, i) => ((checked[m.n] ??= [])[m.at] = pieces[i]));
    }),
  );
  return checked;
}

/** Reads one stored object and checks each piece in it (its slice, or the whole object) against its length and SHA-256. */
async function checkObject(deps: ScrubDeps, limiter: Limiter, report: ScrubReport, sop: string, members: ReadonlyArray<StoredPiece & { role: string; index: number; shard?: number }>, faults: PieceFault[]): Promise<CheckedPiece[]> {
  const { backend, locator } = members[0];
  const tally = (report.backends[backend] ??= { pieces: 0, bytes: 0, missing: 0, corrupt: 0, unavailable: 0 });
  tally.pieces += members.length;
  const fault = (piece: (typeof members)[number], problem: ShardProblem, detail: string): CheckedPiece => {
    tally[problem]++;
    faults.push({ sopInstanceUid: sop, fragment: `${piece.role}:${piece.index}`, ...(piece.shard === undefined ? {} : { shard: piece.shard }), backend, problem, detail });
    return { shard: piece.shard, backend };
  };
  let bytes: Buffer;
  try {
    const store = deps.stores.get(backend);
    if (store === undefined) return members.map((m) => fault(m, 'unavailable', `backend ${backend} is not configured`));
    bytes = await limiter.run(() => store.get(locator));
  } catch (error) {
    if (isGatewayError(error, 'NOT_FOUND')) return members.map((m) => fault(m, 'missing', 'not in the backend'));
    return members.map((m) => fault(m, 'unavailable', (error as Error).message));
  }
  tally.bytes += bytes.length;
  report.bytes += bytes.length;
  report.pieces += members.length;
  return sliceObject(bytes, members).map((slice, i) => {
    const piece = members[i];
    if ('problem' in slice) return fault(piece, 'corrupt', slice.problem);
    if (slice.bytes.length !== piece.length || sha256Hex(slice.bytes) !== piece.sha256) return fault(piece, 'corrupt', `${slice.bytes.length} bytes that are not the ${piece.length} recorded`);
    return { shard: piece.shard, backend, intact: Buffer.from(slice.bytes.buffer, slice.bytes.byteOffset, slice.bytes.length) };
  });
}

async function checkCopy(deps: ScrubDeps, report: ScrubReport, row: { sopInstanceUid: string; backend: string; locator: string }, faults: PieceFault[]): Promise<void> {
  const store = deps.stores.get(row.backend);
  const fault = (problem: ShardProblem, detail: string) => {
    const tally = (report.backends[row.backend] ??= { pieces: 0, bytes: 0, missing: 0, corrupt: 0, unavailable: 0 });
    tally[problem]++;
    faults.push({ sopInstanceUid: row.sopInstanceUid, fragment: 'manifest-copy', backend: row.backend, problem, detail });
  };
  try {
    if (store === undefined) fault('unavailable', `backend ${row.backend} is not configured`);
    else if (!(await store.has(row.locator))) fault('missing', 'not in the backend');
  } catch (error) {
    fault('unavailable', (error as Error).message);
  }
}

/** Rebuilds the faulty shards of one instance from its intact ones and writes them; the manifest follows new locators. */
async function repairInstance(
  deps: ScrubDeps,
  row: { sopInstanceUid: string; manifest: string; backend: string; key: string; locator: string },
  manifest: ManifestBody,
  checked: CheckedPiece[][],
  faults: PieceFault[],
  fixes: Pick<RepairReport, 'repaired' | 'unrepaired'>,
): Promise<void> {
  const fragments = structuredClone(manifest.fragments);
  let changed = false;
  for (const [i, f] of fragments.entries()) {
    const mine = faults.filter((x) => x.fragment === `${f.role}:${f.index}`);
    if (mine.length === 0) continue;
    const unrepaired = (reason: string) => fixes.unrepaired.push(...mine.map((x) => ({ ...x, reason })));
    if (f.shards === undefined) {
      unrepaired('stored whole, without redundancy: nothing to rebuild it from');
      continue;
    }
    const intact = checked[i].map((p) => p.intact);
    try {
      const bytes = await decodeShards(f.redundancy, intact, f.length);
      if (sha256Hex(bytes) !== f.sha256) throw new GatewayError('INTEGRITY_FAILURE', 'the rebuilt fragment is not the one recorded');
      const shards = await encodeShards(f.redundancy, bytes);
      for (const fault of mine) {
        const record = f.shards.find((s) => s.index === fault.shard)!;
        if (fault.problem === 'unavailable') {
          fixes.unrepaired.push({ ...fault, reason: 'the backend is unreachable: run repair again once it is back' });
          continue;
        }
        if (sha256Hex(shards[record.index]) !== record.sha256) throw new GatewayError('INTEGRITY_FAILURE', `rebuilt shard ${record.index} is not the one recorded`);
        const store = deps.stores.get(record.backend)!;
        // A store that does not overwrite (a PACS keeps the first instance under its UIDs) would keep
        // the corrupt piece where the rebuilt one goes: it goes first.
        if (fault.problem === 'corrupt' && !store.capabilities.overwrite) await store.delete(record.locator);
        const { locator } = await store.put(record.key ?? record.locator, shards[record.index]);
        if (locator !== record.locator) {
          record.locator = locator;
          changed = true;
        }
        fixes.repaired.push({ sopInstanceUid: row.sopInstanceUid, fragment: fault.fragment, shard: record.index, backend: record.backend });
      }
    } catch (error) {
      unrepaired((error as Error).message);
    }
  }
  const copyFault = faults.find((x) => x.fragment === 'manifest-copy');
  if (copyFault?.problem === 'unavailable') fixes.unrepaired.push({ ...copyFault, reason: 'the backend is unreachable: run repair again once it is back' });
  if (!changed && (copyFault === undefined || copyFault.problem === 'unavailable')) return;
  try {
    const done = await rewriteManifest(deps, row, changed ? { ...manifest, fragments } : undefined);
    if (copyFault === undefined || copyFault.problem === 'unavailable') return;
    if (done) fixes.repaired.push({ sopInstanceUid: row.sopInstanceUid, fragment: copyFault.fragment, backend: copyFault.backend });
    else fixes.unrepaired.push({ ...copyFault, reason: 'the catalog row changed meanwhile: run repair again' });
  } catch (error) {
    if (copyFault !== undefined) fixes.unrepaired.push({ ...copyFault, reason: (error as Error).message });
    else throw error;
  }
}

/** Waits until `bytes` read since `started` are within `bytesPerSecond`. */
async function pace(started: number, bytes: number, bytesPerSecond: number, signal?: AbortSignal): Promise<void> {
  const ahead = (bytes / bytesPerSecond) * 1000 - (Date.now() - started);
  if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead)).then(() => signal?.throwIfAborted());
}
