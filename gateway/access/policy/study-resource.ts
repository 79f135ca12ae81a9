/**
 * Studies as the policy sees them ({@link StudyResource}): from the catalog for per-study checks
 * (WADO-RS, DELETE, QIDO result views), or from an instance's own attributes for STOW-RS, where the
 * study may not exist yet.
 *
 * A study of the catalog is judged by every one of its instances, not by the first: it is described
 * by one resource per distinct combination of the attributes its instances carry
 * (`study_policy_attributes`, usually one), each with the modalities of the study's series. An
 * action is allowed on the study only when it is allowed on each of them, and the study shows the
 * strictest of their views ({@link studyDecision}); the catalog query of QIDO selects the same
 * studies (`sql-filter.ts`). So an instance coded R hides its whole study from a subject who may not
 * see R, and a study whose instances name two institutions is for subjects allowed for both.
 */
import type { Kysely } from 'kysely';
import type { CatalogDatabase } from '../../catalog/schema.js';
import { policyAttributesOf, type PolicyAttributes } from '../../catalog/policy-attributes.js';
import { firstString } from '../../catalog/levels.js';
import type { DicomJson } from '../../dicom/types.js';
import type { Action, StudyResource } from '../model.js';
import type { AccessAbility, Decision, StudyView } from './ability.js';

/** One combination of what the policy reads of a study's instances. */
export type StudyRow = PolicyAttributes & { study_uid: string };

/** The resource of one combination of a study's attributes and the modalities of its series (nulls and repeats dropped, sorted). */
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

/** The resources of a study in the catalog (at least one), or undefined when the catalog has no such study. */
export async function loadStudyResource(db: Kysely<CatalogDatabase>, studyUid: string): Promise<StudyResource[] | undefined> {
  return (await loadStudyResources(db, [studyUid])).get(studyUid);
}

/** The resources of studies of the catalog, by UID (absent: no such study). Two queries for any number. */
export async function loadStudyResources(db: Kysely<CatalogDatabase>, studies: readonly string[]): Promise<Map<string, StudyResource[]>> {
  const resources = new Map<string, StudyResource[]>();
  for (let i = 0; i < studies.length; i += 500) {
    const chunk = studies.slice(i, i + 500);
    const rows = await db
      .selectFrom('study_policy_attributes')
      .select(['study_uid', 'institution_name', 'department_name', 'referring_physician_name', 'study_date', 'confidentiality_code', 'patient_id', 'accession_number'])
      .where('study_uid', 'in', chunk)
      .orderBy('study_uid')
      .orderBy('key')
      .execute();
    if (rows.length === 0) continue;
    const modalities = new Map<string, Array<string | null>>();
    for (const s of await db.selectFrom('series').select(['study_uid', 'modality']).where('study_uid', 'in', chunk).execute()) {
      modalities.set(s.study_uid, [...(modalities.get(s.study_uid) ?? []), s.modality]);
    }
    for (const row of rows) {
      const list = resources.get(row.study_uid) ?? [];
      list.push(studyResourceFromRow(row, modalities.get(row.study_uid) ?? []));
      resources.set(row.study_uid, list);
    }
  }
  return resources;
}

/**
 * The resource an instance describes (STOW-RS `create`): its study attributes as the catalog would
 * record them (first values; person names by their alphabetic group) and its own modality.
 */
export function studyResourceFromInstance(metadata: DicomJson, studyUid: string): StudyResource {
  return studyResourceFromRow({ study_uid: studyUid, ...policyAttributesOf(metadata) }, [firstString(metadata, '00080060')]);
}

/** The decision on a study described by several resources, and the view it shows. */
export interface StudyDecision {
  /** Allowed when allowed on every resource; else the decision of the first resource denied. */
  decision: Decision;
  /** The strictest view over the resources (meaningful when allowed). */
  view: StudyView;
}

/**
 * The decision on `action` for a study described by `resources` (one or more): denied when any of
 * them is denied (the first such decision), else allowed by the decision of the first, flagged
 * break-glass when any allowing rule is one; its view is the strictest of theirs.
 */
export function studyDecision(ability: AccessAbility, action: Action, resources: readonly StudyResource[]): StudyDecision {
  if (resources.length === 0) throw new Error('a study is described by at least one resource');
  const decisions = resources.map((resource) => ability.can(action, resource));
  const denied = decisions.find((d) => !d.allowed);
  const view = strictestView(resources.map((resource) => ability.view(action, resource)));
  if (denied !== undefined) return { decision: denied, view };
  const breakGlass = decisions.some((d) => d.breakGlass === true);
  return { decision: { ...decisions[0], ...(breakGlass && { breakGlass }) }, view };
}

/** The strictest of some views: de-identified if any is, every masked field of each. */
export function strictestView(views: readonly StudyView[]): StudyView {
  if (views.length === 1) return views[0];
  const masked = new Set(views.flatMap((v) => v.maskedFields));
  return { deidentify: views.some((v) => v.deidentify), maskedFields: [...masked].sort() };
}
