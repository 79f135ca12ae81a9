/**
 * Which attributes belong to the patient/study level and to the series level of the DICOM
 * information model (PS3.3 modules, PS3.18 Table 10.6.3-3 defaults), and how to read single
 * values out of a DICOM JSON data set.
 */
import type { DicomJson } from '../dicom/types.js';

/** Patient and study level attributes kept with the study row (QIDO study responses). */
export const STUDY_LEVEL_TAGS: ReadonlySet<string> = new Set([
  '00080005', // SpecificCharacterSet
  '00080020', // StudyDate
  '00080030', // StudyTime
  '00080050', // AccessionNumber
  '00080051', // IssuerOfAccessionNumberSequence
  '00080090', // ReferringPhysicianName
  '00080201', // TimezoneOffsetFromUTC
  '00081030', // StudyDescription
  '00081032', // ProcedureCodeSequence
  '00081048', // PhysiciansOfRecord
  '00081060', // NameOfPhysiciansReadingStudy
  '00081080', // AdmittingDiagnosesDescription
  '00100010', // PatientName
  '00100020', // PatientID
  '00100021', // IssuerOfPatientID
  '00100030', // PatientBirthDate
  '00100032', // PatientBirthTime
  '00100040', // PatientSex
  '00101000', // OtherPatientIDs
  '00101001', // OtherPatientNames
  '00101010', // PatientAge
  '00101020', // PatientSize
  '00101030', // PatientWeight
  '00102160', // EthnicGroup
  '00104000', // PatientComments
  '0020000D', // StudyInstanceUID
  '00200010', // StudyID
  '00321032', // RequestingPhysician
  '00321060', // RequestedProcedureDescription
]);

/** Series level attributes kept with the series row (QIDO series responses). */
export const SERIES_LEVEL_TAGS: ReadonlySet<string> = new Set([
  '00080021', // SeriesDate
  '00080031', // SeriesTime
  '00080060', // Modality
  '00080070', // Manufacturer
  '00080080', // InstitutionName
  '00081010', // StationName
  '0008103E', // SeriesDescription
  '00081040', // InstitutionalDepartmentName
  '00081050', // PerformingPhysicianName
  '00081070', // OperatorsName
  '00081090', // ManufacturerModelName
  '00180015', // BodyPartExamined
  '00181030', // ProtocolName
  '0020000E', // SeriesInstanceUID
  '00200011', // SeriesNumber
  '00200052', // FrameOfReferenceUID
  '00200060', // Laterality
  '00400244', // PerformedProcedureStepStartDate
  '00400245', // PerformedProcedureStepStartTime
  '00400275', // RequestAttributesSequence
]);

/** The attributes of `dataset` whose tags are in `tags`. */
export function pickAttributes(dataset: DicomJson, tags: ReadonlySet<string>): DicomJson {
  const out: DicomJson = {};
  for (const tag of Object.keys(dataset)) if (tags.has(tag)) out[tag] = dataset[tag];
  return out;
}

/** The first value of an attribute as a string (PN: its Alphabetic group), or null. */
export function firstString(dataset: DicomJson, tag: string): string | null {
  const value = dataset[tag]?.Value?.[0];
  if (value === undefined || value === null) return null;
  if (typeof value === 'object') {
    const alphabetic = (value as { Alphabetic?: unknown }).Alphabetic;
    return typeof alphabetic === 'string' ? alphabetic : null;
  }
  return String(value);
}

/** The first value of an attribute as an integer, or null. */
export function firstInteger(dataset: DicomJson, tag: string): number | null {
  const value = dataset[tag]?.Value?.[0];
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isSafeInteger(n) ? n : null;
}

/** Lower-case, accent-free form of a person name for fuzzy matching. */
export function fuzzyForm(name: string | null): string | null {
  if (name === null) return null;
  return name.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** A TM value padded to HHMMSS.FFFFFF so that times compare as strings ("1010" -> "101000.000000"). */
export function paddedTime(time: string | null): string | null {
  if (time === null) return null;
  const [whole, fraction = ''] = time.replace(/:/g, '').split('.');
  return `${whole.padEnd(6, '0')}.${fraction.padEnd(6, '0')}`.slice(0, 13);
}
