/**
 * `aegis migrate`: moves studies of the upstream PACS into protected storage. The studies are
 * listed with QIDO-RS (by UID, by study date range, or all of them, PS3.18 §10.6), each instance
 * is retrieved with WADO-RS as the PACS stored it (`transfer-syntax=*`, PS3.18 §10.4), stored
 * through the same ingest as STOW-RS (`ingest.ts`), read back through the verified read path and
 * compared with the upstream's bytes by SHA-256. Only an instance verified byte-identical is
 * recorded as migrated (`upstream_migration` in the catalog), and only then, when asked, deleted
 * from the upstream.
 *
 * Resuming: an instance recorded as migrated is not fetched again; one the catalog already holds
 * (a run killed between the store and the record) is fetched and compared, not stored again; the
 * catalog is keyed by SOP Instance UID, so no instance is ever stored twice. One instance is in
 * flight at a time, read whole (at most `limits.maxPartBytes`), as STOW-RS reads a part.
 */
import { createHash } from 'node:crypto';
import { parseMultipart } from '@remix-run/multipart-parser/node';
import type { Catalog } from '../../catalog/catalog.js';
import type { DicomJson } from '../../dicom/types.js';
import { firstString } from '../../catalog/levels.js';
import { GatewayError } from '../../errors.js';
import { storeInstance, type StoreDeps } from '../ingest.js';
import { readInstance, type RetrieveDeps } from '../retrieve.js';
import type { UpstreamClient } from './upstream-client.js';

/** Which studies to migrate: listed UIDs, a study date range (YYYYMMDD, inclusive), or all. */
export type MigrationSelection = { studies: string[] } | { since?: string; until?: string } | { all: true };

/** Options of a migration run. */
export interface MigrateOptions {
  selection: MigrationSelection;
  /** Delete each instance from the upstream once verified in protected storage. */
  deleteUpstream: boolean;
  /** Called after every instance (and once when the list is known). */
  onProgress?: (progress: MigrationProgress) => void;
  /**
   * Records what happened to each instance (for the audit trail), before the run moves on; when it
   * rejects, the run stops with that error: nothing is migrated unrecorded.
   */
  record?: (event: MigrationEvent) => Promise<void>;
}

/** What happened to one instance: stored protected (create) or deleted from the upstream (delete). */
export interface MigrationEvent {
  instance: UpstreamInstance;
  action: 'create' | 'delete';
  outcome: 'success' | 'failure';
  reason: string;
}

/** Where a run stands. */
export interface MigrationProgress {
  total: number;
  done: number;
  bytes: number;
}

/** The outcome of a run. */
export interface MigrationReport {
  studies: number;
  instances: number;
  /** Fetched, stored and verified in this run. */
  migrated: number;
  /** Already verified by an earlier run (not fetched again). */
  resumed: number;
  deleted: number;
  bytes: number;
  failures: Array<{ sopInstanceUid: string; reason: string }>;
}

/** What a migration needs: the ingest's dependencies, the verified read path's, the upstream. */
export type MigrateDeps = StoreDeps & RetrieveDeps & { catalog: Catalog; upstream: UpstreamClient; maxInstanceBytes: number };

/** An instance of the upstream, by its UIDs. */
export interface UpstreamInstance {
  study: string;
  series: string;
  sop: string;
}

const PAGE = 500;
const STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';

/** Migrates the selected studies (see the module header). */
export async function migrateFromUpstream(deps: MigrateDeps, options: MigrateOptions): Promise<MigrationReport> {
  const studies = await selectStudies(deps.upstream, options.selection);
  const instances: UpstreamInstance[] = [];
  for (const study of studies) instances.push(...(await instancesOf(deps.upstream, study)));
  const report: MigrationReport = { studies: studies.length, instances: instances.length, migrated: 0, resumed: 0, deleted: 0, bytes: 0, failures: [] };
  const progress = { total: instances.length, done: 0, bytes: 0 };
  options.onProgress?.({ ...progress });
  for (const instance of instances) {
    const events: MigrationEvent[] = [];
    const step = { action: 'create' as MigrationEvent['action'] };
    try {
      await migrateInstance(deps, instance, options.deleteUpstream, report, { events, step });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      report.failures.push({ sopInstanceUid: instance.sop, reason });
      events.push({ instance, action: step.action, outcome: 'failure', reason });
    }
    for (const event of events) await options.record?.(event);
    progress.done++;
    progress.bytes = report.bytes;
    options.onProgress?.({ ...progress });
  }
  return report;
}

/** The events of one instance so far, and the step it is at (what a failure failed to do). */
interface InstanceLog {
  events: MigrationEvent[];
  step: { action: MigrationEvent['action'] };
}

async function migrateInstance(deps: MigrateDeps, instance: UpstreamInstance, deleteUpstream: boolean, report: MigrationReport, log: InstanceLog): Promise<void> {
  const recorded = await deps.catalog.db.selectFrom('upstream_migration').selectAll().where('sop_instance_uid', '=', instance.sop).executeTakeFirst();
  if (recorded !== undefined) {
    report.resumed++;
    // Its store was recorded by the run that made it: only a deletion left to do is.
    if (deleteUpstream && recorded.state === 'verified') await deleteFromUpstream(deps, instance, report, log);
    return;
  }
  const bytes = await fetchInstance(deps, instance);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if ((await deps.catalog.findInstance(instance.sop)) === undefined) {
    const outcome = await storeInstance(deps, { contentType: 'application/dicom', bytes }, instance.study);
    if (!outcome.ok) throw new GatewayError('CONFLICT', `not stored: ${outcome.reason}`);
  }
  // Verified read: reassembled from the fragments and checked against the manifest, then against the upstream's bytes.
  const row = await deps.catalog.findInstance(instance.sop);
  if (row === undefined) throw new GatewayError('INTERNAL', 'the instance is not in the catalog after its store');
  const stored = await readInstance(deps, row);
  const storedSha256 = createHash('sha256').update(stored).digest('hex');
  if (storedSha256 !== sha256) throw new GatewayError('CONFLICT', `the catalog holds other bytes under this SOP Instance UID (SHA-256 ${storedSha256.slice(0, 16)}..., upstream ${sha256.slice(0, 16)}...): not recorded as migrated`);
  await deps.catalog.db
    .insertInto('upstream_migration')
    .values({ sop_instance_uid: instance.sop, study_uid: instance.study, series_uid: instance.series, sha256, size: bytes.length, state: 'verified', migrated_at: new Date().toISOString() })
    .execute();
  report.migrated++;
  report.bytes += bytes.length;
  log.events.push({ instance, action: 'create', outcome: 'success', reason: `migrated from the upstream, ${bytes.length} bytes verified byte-identical (SHA-256 ${sha256})` });
  if (deleteUpstream) await deleteFromUpstream(deps, instance, report, log);
}

async function deleteFromUpstream(deps: MigrateDeps, instance: UpstreamInstance, report: MigrationReport, log: InstanceLog): Promise<void> {
  log.step.action = 'delete';
  await deps.upstream.deleteInstance(instance.study, instance.series, instance.sop);
  await deps.catalog.db.updateTable('upstream_migration').set({ state: 'deleted' }).where('sop_instance_uid', '=', instance.sop).execute();
  report.deleted++;
  log.events.push({ instance, action: 'delete', outcome: 'success', reason: 'deleted from the upstream after its protected copy was verified' });
}

/** The Part 10 bytes of an upstream instance as stored there (one part of a multipart answer). */
async function fetchInstance(deps: MigrateDeps, { study, series, sop }: UpstreamInstance): Promise<Buffer> {
  const answer = await deps.upstream.request(`/studies/${study}/series/${series}/instances/${sop}`, { accept: STORED });
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(answer.contentType ?? '');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of answer.body) {
    size += (chunk as Buffer).length;
    if (size > deps.maxInstanceBytes + 64 * 1024) {
      answer.body.destroy();
      throw new GatewayError('PAYLOAD_TOO_LARGE', `the instance exceeds limits.maxPartBytes (${deps.maxInstanceBytes} bytes)`);
    }
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks);
  if (!/^multipart\/related/i.test(answer.contentType ?? '')) return body;
  if (!boundary) throw new GatewayError('UPSTREAM_UNAVAILABLE', 'the upstream PACS answered a multipart response without a boundary');
  const parts = [...parseMultipart(body, { boundary: boundary[1] ?? boundary[2], maxFileSize: body.length, maxTotalSize: body.length })];
  if (parts.length !== 1) throw new GatewayError('UPSTREAM_UNAVAILABLE', `the upstream PACS answered ${parts.length} parts for one instance`);
  return Buffer.from(parts[0].bytes);
}

/** The Study Instance UIDs selected, in the upstream's order, each once. */
async function selectStudies(upstream: UpstreamClient, selection: MigrationSelection): Promise<string[]> {
  if ('studies' in selection) return [...new Set(selection.studies)];
  const filter = 'all' in selection ? '' : `StudyDate=${selection.since ?? ''}-${selection.until ?? ''}&`;
  const uids = await paged(upstream, (offset) => `/studies?${filter}includefield=0020000D&limit=${PAGE}&offset=${offset}`);
  return [...new Set(uids.map((m) => firstString(m, '0020000D')).filter((u): u is string => u !== null))];
}

/** The instances of an upstream study with their series. */
async function instancesOf(upstream: UpstreamClient, study: string): Promise<UpstreamInstance[]> {
  const found = await paged(upstream, (offset) => `/studies/${study}/instances?includefield=0020000E&limit=${PAGE}&offset=${offset}`);
  const out: UpstreamInstance[] = [];
  for (const match of found) {
    const series = firstString(match, '0020000E');
    const sop = firstString(match, '00080018');
    if (series !== null && sop !== null && !out.some((i) => i.sop === sop)) out.push({ study, series, sop });
  }
  return out;
}

/** Every result of a paged QIDO-RS search (pages of {@link PAGE} until a shorter one). */
async function paged(upstream: UpstreamClient, path: (offset: number) => string): Promise<DicomJson[]> {
  const out: DicomJson[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = await upstream.json<DicomJson[]>(path(offset));
    if (!Array.isArray(page)) throw new GatewayError('UPSTREAM_UNAVAILABLE', 'the upstream PACS answered a search with something other than a DICOM JSON array');
    out.push(...page);
    if (page.length < PAGE) return out;
  }
}
