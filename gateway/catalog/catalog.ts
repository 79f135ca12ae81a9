/**
 * The catalog, the gateway's master index (docs/architecture.md): studies, series and instances
 * with where their bytes are stored. SQLite (better-sqlite3) through Kysely, whose query builder also speaks PostgreSQL.
 * Migrations run at open. An instance row is written only after its bytes are durable.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, Migrator, SqliteDialect, sql, type Insertable, type Selectable, type Transaction } from 'kysely';
import { GatewayError } from '../errors.js';
import type { DicomJson } from '../dicom/types.js';
import { catalogMigrations } from './migrations.js';
import { refuseNewerCatalog } from './schema-version.js';
import { createOwnerOnly, openSqlite, type OpenedSqlite } from './sqlite.js';
import type { CatalogDatabase, InstancesTable, SeriesTable, StudiesTable } from './schema.js';
import { firstInteger, firstString, fuzzyForm, paddedTime, pickAttributes, SERIES_LEVEL_TAGS, STUDY_LEVEL_TAGS } from './levels.js';
import { policyAttributesOf, policyKey } from './policy-attributes.js';

/** An instance row as read from the catalog. */
export type InstanceRow = Selectable<InstancesTable>;

/** The scope of a retrieve or delete: a study, a series of it, or one instance of that series. */
export interface InstanceScope {
  study: string;
  series?: string;
  instance?: string;
}

/** What the store service hands the catalog for a new instance. */
export interface NewInstance {
  sopInstanceUid: string;
  seriesUid: string;
  studyUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  metadata: DicomJson;
  layout: unknown;
  size: number;
  sha256: string;
  backend: string;
  /** The key the backend was asked to store the manifest copy (or whole instance) under. */
  key: string;
  /** What the backend returned to read it with. */
  locator: string;
  /** The signed manifest (JSON text) of the protected instance; null when stored whole (protection mode none). */
  manifest: string | null;
  /** The instances PACS backends filed its fragments in, under their own UIDs. */
  pacs?: readonly PacsInstance[];
}

/** An instance of a PACS backend, filed under UIDs of its own, that holds a fragment. */
export interface PacsInstance {
  backend: string;
  study: string;
  series: string;
  instance: string;
}

/** The catalog database. */
export class Catalog {
  private constructor(
    readonly db: Kysely<CatalogDatabase>,
    private readonly sqlite: OpenedSqlite,
  ) {}

  /** Opens (creating if needed) the SQLite catalog at `file` and applies pending migrations. */
  static async openSqlite(file: string): Promise<Catalog> {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    let sqlite: OpenedSqlite;
    try {
      createOwnerOnly(file);
      sqlite = openSqlite(file);
      sqlite.exec('PRAGMA journal_mode = WAL');
      sqlite.exec('PRAGMA synchronous = NORMAL');
      sqlite.exec('PRAGMA foreign_keys = ON');
      // LIKE must be case-sensitive as DICOM matching is (PS3.4 C.2.2.2.4); PostgreSQL's already is.
      sqlite.exec('PRAGMA case_sensitive_like = ON');
    } catch (error) {
      throw new GatewayError('BACKEND_UNAVAILABLE', `cannot open the catalog at ${file}`, { cause: error });
    }
    const db = new Kysely<CatalogDatabase>({ dialect: new SqliteDialect({ database: sqlite.database }) });
    // No downgrade: a catalog a newer Aegis has migrated is refused before anything runs on it.
    await refuseNewerCatalog(db, file).catch(async (refusal: unknown) => {
      await db.destroy();
      throw refusal;
    });
    const { error } = await new Migrator({ db, provider: catalogMigrations }).migrateToLatest();
    if (error) throw new GatewayError('BACKEND_UNAVAILABLE', 'catalog migration failed', { cause: error });
    return new Catalog(db, sqlite);
  }

  /** The SQLite driver in use (`node:sqlite` or `better-sqlite3`). */
  get driver(): string {
    return this.sqlite.driver;
  }

  /** The instance with this SOP Instance UID, or undefined. */
  async findInstance(sopInstanceUid: string): Promise<InstanceRow | undefined> {
    return this.db.selectFrom('instances').selectAll().where('sop_instance_uid', '=', sopInstanceUid).executeTakeFirst();
  }

  /** The study a series belongs to, or undefined when the series is not recorded. */
  async studyOfSeries(seriesUid: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('series').select('study_uid').where('series_uid', '=', seriesUid).executeTakeFirst();
    return row?.study_uid;
  }

  /** The instances in a scope, in series then instance-number order. */
  async listInstances(scope: InstanceScope): Promise<InstanceRow[]> {
    let query = this.db.selectFrom('instances').selectAll().where('study_uid', '=', scope.study);
    if (scope.series !== undefined) query = query.where('series_uid', '=', scope.series);
    if (scope.instance !== undefined) query = query.where('sop_instance_uid', '=', scope.instance);
    return query.orderBy('series_uid').orderBy('instance_number').orderBy('sop_instance_uid').execute();
  }

  /**
   * Adds an instance (and its study and series when new) in one transaction. With `replace`, an
   * existing row of the same SOP Instance UID is replaced.
   */
  async addInstance(instance: NewInstance, options: { replace?: boolean } = {}): Promise<void> {
    const now = new Date().toISOString();
    const policy = policyAttributesOf(instance.metadata);
    const key = policyKey(policy);
    const row = instanceRow(instance, key, now);
    // What the policy reads of the study gains this instance's combination in the same transaction
    // as the instance: no moment where the instance is visible and the study judged without it.
    const policyRow = { study_uid: instance.studyUid, key, ...policy };
    if (!options.replace) {
      // Most instances join a series already recorded: two inserts in one transaction. Only when the
      // series (or study) is new does a foreign key refuse them and the full transaction run.
      try {
        await this.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('study_policy_attributes')
            .values(policyRow)
            .onConflict((oc) => oc.columns(['study_uid', 'key']).doNothing())
            .execute();
          await trx.insertInto('instances').values(row).execute();
          await forgetPendingDeletion(trx, instance.sopInstanceUid);
          await insertPacsInstances(trx, instance);
        });
        return;
      } catch (error) {
        if (!isForeignKeyViolation(error)) throw error;
      }
    }
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('studies')
        .values(studyRow(instance, now))
        .onConflict((oc) => oc.column('study_uid').doUpdateSet({ updated_at: now }))
        .execute();
      await trx
        .insertInto('series')
        .values(seriesRow(instance, now))
        .onConflict((oc) => oc.column('series_uid').doNothing())
        .execute();
      await trx
        .insertInto('study_policy_attributes')
        .values(policyRow)
        .onConflict((oc) => oc.columns(['study_uid', 'key']).doNothing())
        .execute();
      const replaced = options.replace ? await trx.deleteFrom('instances').where('sop_instance_uid', '=', instance.sopInstanceUid).returning('study_uid').executeTakeFirst() : undefined;
      await trx.insertInto('instances').values(row).execute();
      await forgetPendingDeletion(trx, instance.sopInstanceUid);
      await insertPacsInstances(trx, instance);
      if (replaced !== undefined) await prunePolicyAttributes(trx, [...new Set([replaced.study_uid, instance.studyUid])]);
    });
  }

  /**
   * Removes the instances of a scope, and series and studies left empty, in one transaction.
   * Returns the removed instance rows (their fragments are the caller's to delete).
   */
  async removeInstances(scope: InstanceScope): Promise<InstanceRow[]> {
    return this.db.transaction().execute(async (trx) => {
      // A write first (DELETE ... RETURNING, not a SELECT then a DELETE): a transaction that read
      // first cannot become a writer once another connection (another worker) has committed
      // meanwhile, and SQLite refuses it at once (SQLITE_BUSY_SNAPSHOT) instead of waiting.
      let query = trx.deleteFrom('instances').where('study_uid', '=', scope.study);
      if (scope.series !== undefined) query = query.where('series_uid', '=', scope.series);
      if (scope.instance !== undefined) query = query.where('sop_instance_uid', '=', scope.instance);
      const rows = await query.returningAll().execute();
      if (rows.length === 0) return rows;
      // The delete is done with the rows: its record of being in progress goes with them (pending-deletions.ts).
      for (let i = 0; i < rows.length; i += 500) {
        await trx
          .deleteFrom('pending_deletions')
          .where(
            'sop_instance_uid',
            'in',
            rows.slice(i, i + 500).map((r) => r.sop_instance_uid),
          )
          .execute();
      }
      await prunePolicyAttributes(trx, [scope.study]);
      const seriesUids = [...new Set(rows.map((r) => r.series_uid))];
      await trx
        .deleteFrom('series')
        .where('series_uid', 'in', seriesUids)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('instances').select('sop_instance_uid').whereRef('instances.series_uid', '=', 'series.series_uid'))))
        .execute();
      await trx
        .deleteFrom('studies')
        .where('study_uid', '=', scope.study)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('series').select('series_uid').whereRef('series.study_uid', '=', 'studies.study_uid'))))
        .execute();
      return rows;
    });
  }

  /** Replaces the manifest of an instance only if it is still `expected` (compare and set; key rotation). */
  async replaceManifest(sopInstanceUid: string, expected: string, next: string): Promise<boolean> {
    const result = await this.db.updateTable('instances').set({ manifest: next }).where('sop_instance_uid', '=', sopInstanceUid).where('manifest', '=', expected).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /**
   * Records the new locator of an instance's manifest copy (a content-addressed store gave the
   * rewritten copy a new one), only if the row still has `manifest` and `expected` (compare and set).
   */
  async replaceCopyLocator(sopInstanceUid: string, manifest: string, expected: string, next: string): Promise<boolean> {
    const result = await this.db.updateTable('instances').set({ locator: next }).where('sop_instance_uid', '=', sopInstanceUid).where('manifest', '=', manifest).where('locator', '=', expected).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Every protected instance's SOP Instance UID and manifest, in pages (key rotation, stats). */
  async *manifests(pageSize = 500): AsyncIterable<{ sopInstanceUid: string; manifest: string; backend: string; key: string; locator: string }> {
    let after = '';
    for (;;) {
      const rows = await this.db
        .selectFrom('instances')
        .select(['sop_instance_uid', 'manifest', 'backend', 'storage_key', 'locator'])
        .where('manifest', 'is not', null)
        .where('sop_instance_uid', '>', after)
        .orderBy('sop_instance_uid')
        .limit(pageSize)
        .execute();
      for (const row of rows) yield { sopInstanceUid: row.sop_instance_uid, manifest: row.manifest!, backend: row.backend, key: row.storage_key, locator: row.locator };
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1].sop_instance_uid;
    }
  }

  /** Where every instance is stored (its manifest copy, or the whole instance) and its manifest, in pages (the orphan sweep). */
  async *storedInstances(pageSize = 500): AsyncIterable<{ backend: string; locator: string; manifest: string | null }> {
    let after = '';
    for (;;) {
      const rows = await this.db.selectFrom('instances').select(['sop_instance_uid', 'backend', 'locator', 'manifest']).where('sop_instance_uid', '>', after).orderBy('sop_instance_uid').limit(pageSize).execute();
      for (const row of rows) yield { backend: row.backend, locator: row.locator, manifest: row.manifest };
      if (rows.length < pageSize) return;
      after = rows[rows.length - 1].sop_instance_uid;
    }
  }

  /** Per backend, the instances recorded before protection (null manifest: the whole instance at backend/locator) and their bytes. */
  async unprotectedTotals(): Promise<Array<{ backend: string; instances: number; bytes: number }>> {
    const rows = await this.db
      .selectFrom('instances')
      .select(({ fn }) => ['backend', fn.countAll<number>().as('instances'), fn.sum<number>('size').as('bytes')])
      .where('manifest', 'is', null)
      .groupBy('backend')
      .orderBy('backend')
      .execute();
    return rows.map((r) => ({ backend: r.backend, instances: Number(r.instances), bytes: Number(r.bytes ?? 0) }));
  }

  /** The stored instance whose fragment the PACS backend `backend` files under SOP Instance UID `instanceUid`. */
  async findPacsInstance(backend: string, instanceUid: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('pacs_instances').select('sop_instance_uid').where('backend', '=', backend).where('instance_uid', '=', instanceUid).executeTakeFirst();
    return row?.sop_instance_uid;
  }

  /** Resolves when the catalog answers a query (used by `/readyz`). */
  async check(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  /** Closes the database. */
  async close(): Promise<void> {
    await this.db.destroy();
    this.sqlite.close();
  }
}

/** Records the PACS instances of a new instance (its row is already inserted in `trx`). */
/**
 * A stored instance is not being deleted: a record of a delete of an earlier instance of the same
 * SOP Instance UID (a DELETE that stopped before its rows went, or one that found them gone) must
 * not delete this one at the next start (`pending-deletions.ts`).
 */
async function forgetPendingDeletion(trx: Transaction<CatalogDatabase>, sopInstanceUid: string): Promise<void> {
  await trx.deleteFrom('pending_deletions').where('sop_instance_uid', '=', sopInstanceUid).execute();
}

async function insertPacsInstances(trx: Transaction<CatalogDatabase>, instance: NewInstance): Promise<void> {
  if (!instance.pacs?.length) return;
  const rows = instance.pacs.map((p) => ({ backend: p.backend, instance_uid: p.instance, series_uid: p.series, study_uid: p.study, sop_instance_uid: instance.sopInstanceUid }));
  await trx.insertInto('pacs_instances').values(rows).execute();
}

/** The instance row of a new instance: its identity, the attributes QIDO matches on, where its bytes are. */
function instanceRow(instance: NewInstance, policyKey: string, now: string): Insertable<InstancesTable> {
  const meta = instance.metadata;
  return {
    sop_instance_uid: instance.sopInstanceUid,
    series_uid: instance.seriesUid,
    study_uid: instance.studyUid,
    sop_class_uid: instance.sopClassUid,
    instance_number: firstInteger(meta, '00200013'),
    transfer_syntax_uid: instance.transferSyntaxUid,
    number_of_frames: firstInteger(meta, '00280008'),
    rows: firstInteger(meta, '00280010'),
    columns: firstInteger(meta, '00280011'),
    bits_allocated: firstInteger(meta, '00280100'),
    size: instance.size,
    sha256: instance.sha256,
    metadata: JSON.stringify(meta),
    layout: JSON.stringify(instance.layout),
    backend: instance.backend,
    storage_key: instance.key,
    locator: instance.locator,
    created_at: now,
    manifest: instance.manifest,
    policy_key: policyKey,
  };
}

/** The study row a new instance's metadata gives (kept as it is when the study is already recorded). */
function studyRow(instance: NewInstance, now: string): Insertable<StudiesTable> {
  const meta = instance.metadata;
  const patientName = firstString(meta, '00100010');
  const referring = firstString(meta, '00080090');
  return {
    study_uid: instance.studyUid,
    patient_name: patientName,
    patient_name_fuzzy: fuzzyForm(patientName),
    patient_id: firstString(meta, '00100020'),
    patient_birth_date: firstString(meta, '00100030'),
    patient_sex: firstString(meta, '00100040'),
    study_date: firstString(meta, '00080020'),
    study_time: paddedTime(firstString(meta, '00080030')),
    accession_number: firstString(meta, '00080050'),
    referring_physician_name: referring,
    referring_physician_fuzzy: fuzzyForm(referring),
    study_id: firstString(meta, '00200010'),
    study_description: firstString(meta, '00081030'),
    institution_name: firstString(meta, '00080080'),
    department_name: firstString(meta, '00081040'),
    confidentiality_code: firstString(meta, '00401008'),
    attributes: JSON.stringify(pickAttributes(meta, STUDY_LEVEL_TAGS)),
    created_at: now,
    updated_at: now,
  };
}

/** The series row a new instance's metadata gives (kept as it is when the series is already recorded). */
function seriesRow(instance: NewInstance, now: string): Insertable<SeriesTable> {
  const meta = instance.metadata;
  return {
    series_uid: instance.seriesUid,
    study_uid: instance.studyUid,
    modality: firstString(meta, '00080060'),
    series_number: firstInteger(meta, '00200011'),
    series_description: firstString(meta, '0008103E'),
    performed_start_date: firstString(meta, '00400244'),
    performed_start_time: paddedTime(firstString(meta, '00400245')),
    attributes: JSON.stringify(pickAttributes(meta, SERIES_LEVEL_TAGS)),
    created_at: now,
  };
}

/** Drops the policy attribute rows of `studies` that no instance of the study has any more. */
async function prunePolicyAttributes(db: Kysely<CatalogDatabase>, studies: string[]): Promise<void> {
  for (const study of studies) {
    await db
      .deleteFrom('study_policy_attributes')
      .where('study_uid', '=', study)
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('instances').select('sop_instance_uid').where('instances.study_uid', '=', study).whereRef('instances.policy_key', '=', 'study_policy_attributes.key'))))
      .execute();
  }
}

/** SQLite's extended result code SQLITE_CONSTRAINT_FOREIGNKEY. */
const SQLITE_CONSTRAINT_FOREIGNKEY = 787;

/** A foreign key refused an insert (better-sqlite3, node:sqlite, or PostgreSQL's SQLSTATE 23503). */
function isForeignKeyViolation(error: unknown): boolean {
  const { code, errcode } = (error ?? {}) as { code?: unknown; errcode?: unknown };
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || errcode === SQLITE_CONSTRAINT_FOREIGNKEY || code === '23503';
}
