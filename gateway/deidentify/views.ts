/**
 * What a subject sees of the data it may access (field-level rules, issue 4): the stored data
 * unchanged, or with masked attributes removed, or de-identified by the PS3.15 Annex E Basic
 * Profile (Retain UIDs Option: the gateway's URLs carry the original UIDs). Applied to QIDO results,
 * metadata and instances alike, by `dicom/deidentify*.ts`. The stored bytes are never changed: a
 * view is a derived copy.
 */
import type { StudyView } from '../access/policy/policy.js';
import { deidentifyInstance } from './deidentify.js';
import { deidentifyJson } from './deidentify-json.js';
import type { DeidentifyOptions } from './deid-plan.js';
import { dictionaryVR } from '../dicom/dictionary.js';
import type { DicomJson } from '../dicom/types.js';
import { isFullView } from './full-view.js';

function options(view: StudyView): DeidentifyOptions {
  return { profile: view.deidentify ? 'basic' : 'none', mask: view.maskedFields, retainUids: true };
}

/** A DICOM JSON data set (a QIDO result, an instance's metadata) as `view` shows it. */
export function jsonInView(json: DicomJson, view: StudyView): DicomJson {
  return isFullView(view) ? json : deidentifyJson(json, options(view)).json;
}

/** A Part 10 instance as `view` shows it (a derived instance when the view is not full). */
export function instanceInView(bytes: Uint8Array, view: StudyView): Uint8Array {
  return isFullView(view) ? bytes : deidentifyInstance(bytes, options(view)).bytes;
}

/**
 * Whether `view` shows the value of top-level attribute `tag` (8 hex digits) as stored. Matching
 * on an attribute the view hides would reveal its value through which results come back.
 */
export function attributeShown(tag: string, view: StudyView): boolean {
  if (isFullView(view)) return true;
  const key = tag.toUpperCase();
  const vr = dictionaryVR(key) ?? 'LO';
  const probe = { [key]: { vr, Value: [vr === 'PN' ? { Alphabetic: 'PROBE^VALUE' } : vr === 'SQ' ? {} : 'PROBE'] } } as DicomJson;
  const shown = deidentifyJson(probe, options(view)).json[key];
  return shown !== undefined && JSON.stringify(shown) === JSON.stringify(probe[key]);
}

/** Whether the metadata of an instance, as `view` shows it, still offers bulk data at `path` (`bulkdata/<path>`). */
export function bulkDataShown(metadata: DicomJson, path: string, view: StudyView): boolean {
  if (isFullView(view)) return true;
  return JSON.stringify(jsonInView(metadata, view)).includes(`"BulkDataURI":${JSON.stringify(`bulkdata/${path}`)}`);
}

/** Whether an instance declares burned-in annotation (identity may be in its pixels). */
export function hasBurnedInAnnotation(metadata: DicomJson): boolean {
  return String(metadata['00280301']?.Value?.[0] ?? '').trim().toUpperCase() === 'YES';
}
