/**
 * Versioned catalog migrations, applied in order at start-up by Kysely's Migrator. Written with
 * the portable schema builder so that the same migrations run on SQLite and PostgreSQL.
 * Never edit a migration that has shipped: add a new one.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { DicomJson } from '../dicom/types.js';
import { policyAttributesOf, policyKey } from './policy-attributes.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- migrations run against the schema of their time, not today's CatalogDatabase */

const migrations: Record<string, Migration> = {
  '0001-studies-series-instances': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('studies')
        .addColumn('study_uid', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('patient_name', 'text')
        .addColumn('patient_name_fuzzy', 'text')
        .addColumn('patient_id', 'text')
        .addColumn('patient_birth_date', 'varchar(8)')
        .addColumn('patient_sex', 'varchar(16)')
        .addColumn('study_date', 'varchar(8)')
        .addColumn('study_time', 'varchar(16)')
        .addColumn('accession_number', 'text')
        .addColumn('referring_physician_name', 'text')
        .addColumn('referring_physician_fuzzy', 'text')
        .addColumn('study_id', 'text')
        .addColumn('study_description', 'text')
        .addColumn('attributes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('series')
        .addColumn('series_uid', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('study_uid', 'varchar(64)', (c) => c.notNull().references('studies.study_uid'))
        .addColumn('modality', 'varchar(16)')
        .addColumn('series_number', 'integer')
        .addColumn('series_description', 'text')
        .addColumn('performed_start_date', 'varchar(8)')
        .addColumn('performed_start_time', 'varchar(16)')
        .addColumn('attributes', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('instances')
        .addColumn('sop_instance_uid', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('series_uid', 'varchar(64)', (c) => c.notNull().references('series.series_uid'))
        .addColumn('study_uid', 'varchar(64)', (c) => c.notNull().references('studies.study_uid'))
        .addColumn('sop_class_uid', 'varchar(64)', (c) => c.notNull())
        .addColumn('instance_number', 'integer')
        .addColumn('transfer_syntax_uid', 'varchar(64)', (c) => c.notNull())
        .addColumn('number_of_frames', 'integer')
        .addColumn('rows', 'integer')
        .addColumn('columns', 'integer')
        .addColumn('bits_allocated', 'integer')
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('sha256', 'varchar(64)', (c) => c.notNull())
        .addColumn('metadata', 'text', (c) => c.notNull())
        .addColumn('layout', 'text', (c) => c.notNull())
        .addColumn('backend', 'varchar(64)', (c) => c.notNull())
        .addColumn('locator', 'text', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('series_study').on('series').column('study_uid').execute();
      await db.schema.createIndex('series_modality').on('series').column('modality').execute();
      await db.schema.createIndex('instances_series').on('instances').columns(['series_uid', 'instance_number']).execute();
      await db.schema.createIndex('instances_study').on('instances').column('study_uid').execute();
      await db.schema.createIndex('studies_patient_id').on('studies').column('patient_id').execute();
      await db.schema.createIndex('studies_date').on('studies').columns(['study_date', 'study_time']).execute();
      await db.schema.createIndex('studies_accession').on('studies').column('accession_number').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('instances').execute();
      await db.schema.dropTable('series').execute();
      await db.schema.dropTable('studies').execute();
    },
  },
  '0002-users': {
    // Local users (gateway/access/users.ts). Booleans are integers 0/1: node:sqlite binds no JavaScript booleans.
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('users')
        .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('role', 'varchar(64)', (c) => c.notNull())
        .addColumn('attributes', 'text', (c) => c.notNull())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('updated_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('password_changed_at', 'varchar(32)', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('users').execute();
    },
  },
  '0003-access': {
    // What access control (gateway/access/) reads and writes: study columns the policy matches on
    // (its resource attributes); API keys; refresh tokens; failed-login throttling;
    // break-glass grants; the hash-chained audit trail and its signed head.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('studies').addColumn('institution_name', 'text').execute();
      await db.schema.alterTable('studies').addColumn('department_name', 'text').execute();
      await db.schema.alterTable('studies').addColumn('confidentiality_code', 'text').execute();
      await db.schema.createIndex('studies_institution').on('studies').column('institution_name').execute();
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
        .addColumn('user_name', 'varchar(64)', (c) => c.notNull().references('users.name').onDelete('cascade'))
        .addColumn('label', 'text', (c) => c.notNull())
        .addColumn('secret_sha256', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('expires_at', 'varchar(32)')
        .addColumn('revoked_at', 'varchar(32)')
        .addColumn('last_used_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('api_keys_user').on('api_keys').column('user_name').execute();
      await db.schema
        .createTable('refresh_tokens')
        .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
        .addColumn('family', 'varchar(32)', (c) => c.notNull())
        .addColumn('user_name', 'varchar(64)', (c) => c.notNull().references('users.name').onDelete('cascade'))
        .addColumn('secret_sha256', 'varchar(64)', (c) => c.notNull())
        .addColumn('created_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('expires_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('used_at', 'varchar(32)')
        .addColumn('revoked_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('refresh_tokens_family').on('refresh_tokens').column('family').execute();
      await db.schema
        .createTable('login_throttle')
        // 'user:<name>' or 'client:<address>'
        .addColumn('key', 'varchar(128)', (c) => c.primaryKey())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('window_started_at', 'bigint', (c) => c.notNull())
        .addColumn('locked_until', 'bigint')
        .execute();
      await db.schema
        .createTable('break_glass_grants')
        .addColumn('id', 'varchar(32)', (c) => c.primaryKey())
        .addColumn('user_name', 'varchar(64)', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('purpose', 'varchar(16)', (c) => c.notNull())
        .addColumn('granted_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('revoked_at', 'varchar(32)')
        .execute();
      await db.schema.createIndex('break_glass_user').on('break_glass_grants').columns(['user_name', 'expires_at']).execute();
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', 'bigint', (c) => c.primaryKey())
        .addColumn('at', 'varchar(32)', (c) => c.notNull())
        /** Canonical JSON of the event (who, what, outcome, ...): what the chain hashes. */
        .addColumn('event', 'text', (c) => c.notNull())
        /** Master key id of the MAC key. */
        .addColumn('key_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('prev_mac', 'varchar(64)', (c) => c.notNull())
        .addColumn('mac', 'varchar(64)', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('audit_head')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('mac', 'varchar(64)', (c) => c.notNull())
        .addColumn('key_id', 'varchar(64)', (c) => c.notNull())
        .addColumn('signature', 'varchar(64)', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      for (const table of ['audit_head', 'audit_events', 'break_glass_grants', 'login_throttle', 'refresh_tokens', 'api_keys']) await db.schema.dropTable(table).execute();
      await db.schema.dropIndex('studies_institution').execute();
      for (const column of ['confidentiality_code', 'department_name', 'institution_name']) await db.schema.alterTable('studies').dropColumn(column).execute();
    },
  },
  '0004-manifests': {
    // The protection: the signed manifest of each protected instance (JSON). Rows from before protection
    // have none and keep pointing at the whole stored instance (backend, locator).
    async up(db: Kysely<any>) {
      await db.schema.alterTable('instances').addColumn('manifest', 'text').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('instances').dropColumn('manifest').execute();
    },
  },
  '0005-refresh-token-families': {
    // Each refresh token records when its family (the sign-in) started, so that rotation cannot
    // extend a family past its absolute lifetime; tokens are revoked by user (password change,
    // disable). Existing families started with their oldest token.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('refresh_tokens').addColumn('family_started_at', 'varchar(32)').execute();
      await sql`update refresh_tokens set family_started_at = (select min(f.created_at) from refresh_tokens f where f.family = refresh_tokens.family)`.execute(db);
      await db.schema.createIndex('refresh_tokens_user').on('refresh_tokens').column('user_name').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex('refresh_tokens_user').execute();
      await db.schema.alterTable('refresh_tokens').dropColumn('family_started_at').execute();
    },
  },
  '0006-sign-in-delays': {
    // Wrong passwords are counted per (user name, client), with growing delays, instead of locking
    // a user name for everyone; client lockouts stay in login_throttle. The old per-name counts go.
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('sign_in_delays')
        .addColumn('user_name', 'varchar(128)', (c) => c.notNull())
        .addColumn('client', 'varchar(64)', (c) => c.notNull())
        .addColumn('failures', 'integer', (c) => c.notNull())
        .addColumn('last_failure_at', 'bigint', (c) => c.notNull())
        .addColumn('delayed_until', 'bigint')
        .addPrimaryKeyConstraint('sign_in_delays_pk', ['user_name', 'client'])
        .execute();
      await db.deleteFrom('login_throttle').where('key', 'like', 'user:%').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('sign_in_delays').execute();
    },
  },
  '0007-break-glass-subjects': {
    // Break-glass grants belong to a subject key (local user name, or OIDC issuer and sub), not to
    // a bare name that an external identity may share with a local user. A grant recorded before
    // cannot say whose it is: those still running end here (a subject declares again if need be).
    async up(db: Kysely<any>) {
      await db.schema.alterTable('break_glass_grants').addColumn('subject_key', 'text').execute();
      await db.updateTable('break_glass_grants').set({ revoked_at: new Date().toISOString() }).where('revoked_at', 'is', null).execute();
      await db.schema.createIndex('break_glass_subject').on('break_glass_grants').columns(['subject_key', 'expires_at']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropIndex('break_glass_subject').execute();
      await db.schema.alterTable('break_glass_grants').dropColumn('subject_key').execute();
    },
  },
  '0008-study-policy-attributes': {
    // What the access policy reads of a study, from every instance rather than the first: one row per
    // distinct combination among its instances, and each instance's key to its row; filled from the
    // metadata of the instances already recorded.
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('study_policy_attributes')
        .addColumn('study_uid', 'varchar(64)', (c) => c.notNull().references('studies.study_uid'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('institution_name', 'text')
        .addColumn('department_name', 'text')
        .addColumn('referring_physician_name', 'text')
        .addColumn('study_date', 'varchar(8)')
        .addColumn('confidentiality_code', 'text')
        .addColumn('patient_id', 'text')
        .addColumn('accession_number', 'text')
        .addPrimaryKeyConstraint('study_policy_attributes_pk', ['study_uid', 'key'])
        .execute();
      await db.schema.alterTable('instances').addColumn('policy_key', 'text').execute();
      let after = '';
      for (;;) {
        const rows = await db.selectFrom('instances').select(['sop_instance_uid', 'study_uid', 'metadata']).where('sop_instance_uid', '>', after).orderBy('sop_instance_uid').limit(500).execute();
        for (const row of rows) {
          const attributes = policyAttributesOf(JSON.parse(row.metadata as string) as DicomJson);
          const key = policyKey(attributes);
          await db
            .insertInto('study_policy_attributes')
            .values({ study_uid: row.study_uid, key, ...attributes })
            .onConflict((oc) => oc.columns(['study_uid', 'key']).doNothing())
            .execute();
          await db.updateTable('instances').set({ policy_key: key }).where('sop_instance_uid', '=', row.sop_instance_uid).execute();
        }
        if (rows.length < 500) break;
        after = rows[rows.length - 1].sop_instance_uid as string;
      }
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('instances').dropColumn('policy_key').execute();
      await db.schema.dropTable('study_policy_attributes').execute();
    },
  },
  '0009-storage-keys': {
    // The key the gateway asked a backend for, apart from the locator the backend returned: equal
    // for folder and S3 stores (every row before this migration), a CID for IPFS. Key rotation
    // rewrites a manifest copy under its key and records the locator it gets back.
    async up(db: Kysely<any>) {
      await db.schema.alterTable('instances').addColumn('storage_key', 'text').execute();
      await db
        .updateTable('instances')
        .set((eb) => ({ storage_key: eb.ref('locator') }))
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('instances').dropColumn('storage_key').execute();
    },
  },
  '0010-pacs-instances': {
    // A PACS backend files each fragment in a DICOM instance under UIDs of its own (none of the
    // original's): which instance of which PACS belongs to which stored instance.
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('pacs_instances')
        .addColumn('backend', 'text', (c) => c.notNull())
        .addColumn('instance_uid', 'text', (c) => c.notNull())
        .addColumn('series_uid', 'text', (c) => c.notNull())
        .addColumn('study_uid', 'text', (c) => c.notNull())
        .addColumn('sop_instance_uid', 'text', (c) => c.notNull().references('instances.sop_instance_uid').onDelete('cascade'))
        .addPrimaryKeyConstraint('pacs_instances_pk', ['backend', 'instance_uid'])
        .execute();
      await db.schema.createIndex('pacs_instances_by_instance').on('pacs_instances').column('sop_instance_uid').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('pacs_instances').execute();
    },
  },
  '0011-removal-ledger': {
    // Fragments whose removal a backend could not confirm: its delete failed (retried later), or
    // it deletes only best-effort (IPFS: other nodes may keep copies; the shredded key protects
    // them). One row per backend and locator; `aegis stats` counts them.
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('removal_ledger')
        .addColumn('backend', 'varchar(64)', (c) => c.notNull())
        .addColumn('locator', 'text', (c) => c.notNull())
        /** `failed` (to retry) or `best-effort` (deleted as far as the store can say). */
        .addColumn('status', 'varchar(16)', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('recorded_at', 'varchar(32)', (c) => c.notNull())
        .addColumn('attempted_at', 'varchar(32)', (c) => c.notNull())
        .addPrimaryKeyConstraint('removal_ledger_pk', ['backend', 'locator'])
        .execute();
      await db.schema.createIndex('removal_ledger_status').on('removal_ledger').columns(['status', 'attempted_at']).execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('removal_ledger').execute();
    },
  },
  '0012-upstream-migration': {
    // Progress of `aegis migrate`: each instance of the upstream PACS verified byte-identical in
    // protected storage (and, when asked, deleted from the upstream), so a run that was
    // interrupted resumes without fetching, storing or deleting anything twice.
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('upstream_migration')
        .addColumn('sop_instance_uid', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('study_uid', 'varchar(64)', (c) => c.notNull())
        .addColumn('series_uid', 'varchar(64)', (c) => c.notNull())
        .addColumn('sha256', 'varchar(64)', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        /** `verified` (stored protected, read back byte-identical) or `deleted` (and deleted from the upstream). */
        .addColumn('state', 'varchar(16)', (c) => c.notNull())
        .addColumn('migrated_at', 'varchar(32)', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('upstream_migration_by_study').on('upstream_migration').column('study_uid').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('upstream_migration').execute();
    },
  },
  '0013-pending-deletions': {
    // Instances a DELETE has begun to remove: recorded before their shred keys are destroyed and
    // gone with their rows, so that a delete the process did not finish (killed between the two)
    // is finished at the next start instead of leaving instances that no longer open.
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('pending_deletions')
        .addColumn('sop_instance_uid', 'varchar(64)', (c) => c.primaryKey())
        .addColumn('study_uid', 'varchar(64)', (c) => c.notNull())
        .addColumn('series_uid', 'varchar(64)', (c) => c.notNull())
        .addColumn('requested_at', 'varchar(32)', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('pending_deletions').execute();
    },
  },
};

/** The names of the migrations above, in the order they run (Kysely sorts them by name). */
export const catalogMigrationNames: readonly string[] = Object.keys(migrations).sort();

/** Supplies the migrations above to Kysely's Migrator. */
export const catalogMigrations: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
