/**
 * The attributes of an instance that the access policy reads of its study (institution,
 * department, referring physician, study date, confidentiality code, patient ID, accession
 * number), as the catalog records them: first values, person names by their alphabetic group.
 * A study is judged by every distinct combination among its instances (`study_policy_attributes`).
 */
import type { DicomJson } from '../dicom/types.js';
import { firstString } from './levels.js';
import type { StudyPolicyAttributesTable } from './schema.js';

/** What the policy reads of one instance: a row of `study_policy_attributes` without its study and key. */
export type PolicyAttributes = Omit<StudyPolicyAttributesTable, 'study_uid' | 'key'>;

/** The policy attributes of an instance's metadata. */
export function policyAttributesOf(metadata: DicomJson): PolicyAttributes {
  return {
    institution_name: firstString(metadata, '00080080'),
    department_name: firstString(metadata, '00081040'),
    referring_physician_name: firstString(metadata, '00080090'),
    study_date: firstString(metadata, '00080020'),
    confidentiality_code: firstString(metadata, '00401008'),
    patient_id: firstString(metadata, '00100020'),
    accession_number: firstString(metadata, '00080050'),
  };
}

/** The key of a combination of policy attributes: canonical JSON of its values in a fixed order. */
export function policyKey(attributes: PolicyAttributes): string {
  return JSON.stringify([attributes.institution_name, attributes.department_name, attributes.referring_physician_name, attributes.study_date, attributes.confidentiality_code, attributes.patient_id, attributes.accession_number]);
}
