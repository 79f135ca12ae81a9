/**
 * Versioned catalog migrations, applied in order at start-up by Kysely's Migrator. Written with
 * the portable schema builder so that the same migrations run on SQLite and PostgreSQL.
 * Never edit a migration that has shipped: add a new one.
 */
import { type Kysely, type Migration, type MigrationProvider } from 'kysely';

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
    // Local users (issue 4). Booleans are integers 0/1: node:sqlite binds no JavaScript booleans.
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
};

/** Supplies the migrations above to Kysely's Migrator. */
export const catalogMigrations: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};
