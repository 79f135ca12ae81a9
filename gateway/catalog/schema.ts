/**
 * The catalog's tables (the master index, docs/architecture.md): studies, series and instances with the
 * attributes QIDO-RS matches on (PS3.18 §10.6.1.2, Table 10.6.1-5), the JSON of each level's
 * attributes for responses, and where each instance's bytes are stored.
 */

export interface StudiesTable {
  study_uid: string;
  patient_name: string | null;
  /** Lower-case, accent-free form of patient_name for fuzzy matching. */
  patient_name_fuzzy: string | null;
  patient_id: string | null;
  patient_birth_date: string | null;
  patient_sex: string | null;
  study_date: string | null;
  /** StudyTime padded to HHMMSS.FFFFFF so that ranges compare as strings. */
  study_time: string | null;
  accession_number: string | null;
  referring_physician_name: string | null;
  referring_physician_fuzzy: string | null;
  study_id: string | null;
  study_description: string | null;
  /** InstitutionName (0008,0080) of the study's first instance (shown; the policy reads `study_policy_attributes`). */
  institution_name: string | null;
  /** InstitutionalDepartmentName (0008,1040) of the study's first instance. */
  department_name: string | null;
  /** ConfidentialityCode (0040,1008) of the study's first instance. */
  confidentiality_code: string | null;
  /** DICOM JSON of the patient and study level attributes. */
  attributes: string;
  created_at: string;
  updated_at: string;
}

export interface SeriesTable {
  series_uid: string;
  study_uid: string;
  modality: string | null;
  series_number: number | null;
  series_description: string | null;
  performed_start_date: string | null;
  performed_start_time: string | null;
  /** DICOM JSON of the series level attributes. */
  attributes: string;
  created_at: string;
}

export interface InstancesTable {
  sop_instance_uid: string;
  series_uid: string;
  study_uid: string;
  sop_class_uid: string;
  instance_number: number | null;
  transfer_syntax_uid: string;
  number_of_frames: number | null;
  rows: number | null;
  columns: number | null;
  bits_allocated: number | null;
  /** Bytes of the stored Part 10 instance. */
  size: number;
  /** SHA-256 (hex) of the received bytes. */
  sha256: string;
  /** DICOM JSON of the whole data set (bulk data as relative BulkDataURI). */
  metadata: string;
  /** JSON of where frames and bulk data lie in the instance bytes. */
  layout: string;
  /**
   * Backend, key and locator of the manifest copy (protected) or of the whole instance (rows from
   * before protection). The key is what the gateway asked the backend to store it under; the
   * locator what the backend returned to read it with (equal except on content-addressed stores).
   */
  backend: string;
  storage_key: string;
  locator: string;
  created_at: string;
  /** The signed manifest (JSON) of a protected instance; null for rows from before protection. */
  manifest: string | null;
  /** The key of this instance's row of `study_policy_attributes` (what the policy reads of it). */
  policy_key: string | null;
}

/**
 * What the access policy reads of a study, one row per distinct combination among its instances
 * (usually one): a study is judged by each of its instances, so an instance with other values (an
 * R confidentiality code, another institution) is never hidden behind the study's first instance.
 * `key` is the canonical JSON of the values; instances point at their row by `policy_key`.
 */
export interface StudyPolicyAttributesTable {
  study_uid: string;
  key: string;
  institution_name: string | null;
  department_name: string | null;
  referring_physician_name: string | null;
  study_date: string | null;
  confidentiality_code: string | null;
  patient_id: string | null;
  accession_number: string | null;
}

/** Local users: the store is `gateway/access/users.ts`. */
export interface UsersTable {
  name: string;
  role: string;
  /** JSON object of string attributes (department, institution, licence, ...). */
  attributes: string;
  /** argon2id PHC string. */
  password_hash: string;
  /** 1 when the user may not sign in. */
  disabled: number;
  created_at: string;
  updated_at: string;
  password_changed_at: string;
}

/** API keys of users (modalities, routers): only a SHA-256 of the random secret is kept. */
export interface ApiKeysTable {
  id: string;
  user_name: string;
  label: string;
  secret_sha256: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

/** Refresh tokens of `POST /auth/token`: single use, rotated; reuse revokes the whole family. */
export interface RefreshTokensTable {
  id: string;
  family: string;
  user_name: string;
  secret_sha256: string;
  created_at: string;
  /** When the family's first token was issued (the sign-in): its absolute lifetime counts from here. */
  family_started_at: string;
  expires_at: string;
  used_at: string | null;
  revoked_at: string | null;
}

/** Failed sign-ins per client address (`client:ADDR`). Times in ms since the epoch. */
export interface LoginThrottleTable {
  key: string;
  failures: number;
  window_started_at: number;
  locked_until: number | null;
}

/** Wrong passwords per (user name as presented, client): growing delays. Times in ms since the epoch. */
export interface SignInDelaysTable {
  user_name: string;
  client: string;
  failures: number;
  last_failure_at: number;
  delayed_until: number | null;
}

/** Emergency access grants (break-glass). `expires_at` in ms since the epoch. */
export interface BreakGlassGrantsTable {
  id: string;
  /** Whose grant it is (`subjectKey`: local user name, or OIDC issuer and sub); null for grants from before, which never match. */
  subject_key: string | null;
  /** The subject's name, for people reading the table. */
  user_name: string;
  reason: string;
  purpose: string;
  granted_at: string;
  expires_at: number;
  revoked_at: string | null;
}

/** The audit trail: each record's MAC covers its event and the previous record's MAC. */
export interface AuditEventsTable {
  seq: number;
  at: string;
  event: string;
  key_id: string;
  prev_mac: string;
  mac: string;
}

/** One row (id 1): the last record of the audit trail, signed, so that removing the tail is detected. */
export interface AuditHeadTable {
  id: number;
  seq: number;
  mac: string;
  key_id: string;
  signature: string;
}

/** Fragments awaiting physical removal (`removal-ledger.ts`). */
export interface RemovalLedgerTable {
  backend: string;
  locator: string;
  status: 'failed' | 'best-effort';
  detail: string;
  attempts: number;
  recorded_at: string;
  attempted_at: string;
}

/** Which instance of a PACS backend (its own UIDs) holds a fragment of which stored instance. */
export interface PacsInstancesTable {
  backend: string;
  instance_uid: string;
  series_uid: string;
  study_uid: string;
  sop_instance_uid: string;
}

/** The catalog database as Kysely sees it. */
/** Progress of `aegis migrate`: one row per upstream instance verified in protected storage. */
export interface UpstreamMigrationTable {
  sop_instance_uid: string;
  study_uid: string;
  series_uid: string;
  sha256: string;
  size: number;
  state: 'verified' | 'deleted';
  migrated_at: string;
}

/** An instance a DELETE has begun to remove (its shred key may already be destroyed). */
export interface PendingDeletionsTable {
  sop_instance_uid: string;
  study_uid: string;
  series_uid: string;
  requested_at: string;
}

export interface CatalogDatabase {
  studies: StudiesTable;
  series: SeriesTable;
  instances: InstancesTable;
  study_policy_attributes: StudyPolicyAttributesTable;
  users: UsersTable;
  api_keys: ApiKeysTable;
  refresh_tokens: RefreshTokensTable;
  login_throttle: LoginThrottleTable;
  sign_in_delays: SignInDelaysTable;
  break_glass_grants: BreakGlassGrantsTable;
  audit_events: AuditEventsTable;
  audit_head: AuditHeadTable;
  removal_ledger: RemovalLedgerTable;
  pacs_instances: PacsInstancesTable;
  upstream_migration: UpstreamMigrationTable;
  pending_deletions: PendingDeletionsTable;
}
