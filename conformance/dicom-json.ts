/**
 * Reading the DICOM JSON model (PS3.18 §F.2): results of QIDO-RS, metadata of WADO-RS and
 * STOW-RS responses are objects keyed by eight upper-case hex digits, each `{ vr, Value? }`.
 */
import { CheckFailure } from './check.js';
import type { Reply } from './client.js';

/** One data set in the DICOM JSON model. */
export type JsonDataSet = Record<string, { vr?: string; Value?: unknown[]; BulkDataURI?: string; InlineBinary?: string } | undefined>;

/** The first value of `tag` (as a string for strings and numbers, Alphabetic for a person name), or undefined. */
export function firstValue(dataSet: JsonDataSet, tag: string): string | undefined {
  const value = dataSet[tag]?.Value?.[0];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object') return (value as { Alphabetic?: string }).Alphabetic;
  return String(value);
}

/** The items of sequence `tag` (empty when absent). */
export function items(dataSet: JsonDataSet, tag: string): JsonDataSet[] {
  return (dataSet[tag]?.Value ?? []) as JsonDataSet[];
}

/**
 * The data sets of a DICOM JSON response; an empty match list may be 200 with `[]` or 204
 * (PS3.18 §8.3.4.4 allows both in practice). Throws a {@link CheckFailure} for anything else.
 */
export function dataSets(reply: Reply, what: string): JsonDataSet[] {
  if (reply.status === 204) return [];
  if (reply.status !== 200) throw new CheckFailure(`${what}: 200 with a DICOM JSON array`, `${reply.status} ${reply.text().slice(0, 200)}`);
  const json = reply.json();
  if (!Array.isArray(json)) throw new CheckFailure(`${what}: a DICOM JSON array`, typeof json);
  return json as JsonDataSet[];
}

/** The sorted values of `tag` in `sets`, for comparisons. */
export function valuesOf(sets: JsonDataSet[], tag: string): string[] {
  return sets.map((s) => firstValue(s, tag) ?? '(none)').sort();
}

/** Tags of the attributes used by the checks. */
export const TAG = {
  studyDate: '00080020',
  accessionNumber: '00080050',
  modalitiesInStudy: '00080061',
  institutionName: '00080080',
  retrieveUrl: '00081190',
  failedSops: '00081198',
  failureReason: '00081197',
  referencedSops: '00081199',
  referencedSopInstance: '00081155',
  studyDescription: '00081030',
  patientName: '00100010',
  patientId: '00100020',
  patientBirthDate: '00100030',
  studyUid: '0020000D',
  seriesUid: '0020000E',
  sopUid: '00080018',
  sopClassUid: '00080016',
  modality: '00080060',
  seriesNumber: '00200011',
  instanceNumber: '00200013',
  studyRelatedSeries: '00201206',
  studyRelatedInstances: '00201208',
  seriesRelatedInstances: '00201209',
  numberOfFrames: '00280008',
  rows: '00280010',
  pixelData: '7FE00010',
} as const;
