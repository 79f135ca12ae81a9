/**
 * Studies as the policy sees them ({@link StudyResource}): from the catalog (a `studies` row and
 * the modalities of its series) for per-study checks (WADO-RS, DELETE, QIDO result views), or from
 * an instance's own attributes for STOW-RS, where the study may not exist yet.
 */
import type { Kysely, Selectable } from 'kysely';
import type { CatalogDatabase, StudiesTable } from '../../catalog/schema.js';
import { firstString } from '../../catalog/levels.js';
import type { DicomJson } from '../../dicom/types.js';
import type { StudyResource } from '../model.js';

/** The columns of a `studies` row the policy reads. */
export type StudyRow = Pick<
  Selectable<StudiesTable>,
  'study_uid' | 'institution_name' | 'department_name' | 'referring_physician_name' | 'study_date' | 'confidentiality_code' | 'patient_id' | 'accession_number'
>;

/** The resource of a `studies` row and the modalities of its series (nulls and repeats dropped, sorted). */
export function studyResourceFromRow(row: StudyRow, modalities: ReadonlyArray<string | null>): StudyResource {
  return {
    study: row.study_uid,
    institution: row.institution_name,
    department: row.department_name,
    modality: [...new Set(modalities.filter((m): m is string => m !== null && m !== ''))].sort(),
    referringPhysician: row.referring_physician_name,
    studyDate: row.study_date,
    confidentiality: row.confidentiality_code,
    patientId: row.patient_id,
    accessionNumber: row.accession_number,
  };
}

/** The resource of a study in the catalog, or undefined when the catalog has no such study. */
export async function loadStudyResource(db: Kysely<CatalogDatabase>, studyUid: string): Promise<StudyResource | undefined> {
  return (await loadStudyResources(db, [studyUid])).get(studyUid);
}

/** The resources of studies of the catalog, by UID (absent: no such study). Two queries for any number. */
export async function loadStudyResources(db: Kysely<CatalogDatabase>, studies: readonly string[]): Promise<Map<string, StudyResource>> {
  const resources = new Map<string, StudyResource>();
  for (let i = 0; i < studies.length; i += 500) {
    const chunk = studies.slice(i, i + 500);
    const rows = await db
      .selectFrom('studies')
      .select(['study_uid', 'institution_name', 'department_name', 'referring_physician_name', 'study_date', 'confidentiality_code', 'patient_id', 'accession_number'])
      .where('study_uid', 'in', chunk)
      .execute();
    if (rows.length === 0) continue;
    const modalities = new Map<string, Array<string | null>>();
    for (const s of await db.selectFrom('series').select(['study_uid', 'modality']).where('study_uid', 'in', chunk).execute()) {
      modalities.set(s.study_uid, [...(modalities.get(s.study_uid) ?? []), s.modality]);
    }
    for (const row of rows) resources.set(row.study_uid, studyResourceFromRow(row, modalities.get(row.study_uid) ?? []));
  }
  return resources;
}

/**
 * The resource an instance describes (STOW-RS `create`): its study attributes as the catalog would
 * record them (first values; person names by their alphabetic group) and its own modality.
 */
export function studyResourceFromInstance(metadata: DicomJson, studyUid: string): StudyResource {
  const modality = firstString(metadata, '00080060');
  return studyResourceFromRow(
    {
      study_uid: studyUid,
      institution_name: firstString(metadata, '00080080'),
      department_name: firstString(metadata, '00081040'),
      referring_physician_name: firstString(metadata, '00080090'),
      study_date: firstString(metadata, '00080020'),
      confidentiality_code: firstString(metadata, '00401008'),
      patient_id: firstString(metadata, '00100020'),
      accession_number: firstString(metadata, '00080050'),
    },
    [modality],
  );
}
