/**
 * What a subject sees of the data it may access (field-level rules, issue 4): the stored data
 * unchanged, or with masked attributes removed, or de-identified by the PS3.15 Annex E Basic
 * Profile (Retain UIDs Option: the gateway's URLs carry the original UIDs). Applied to QIDO results,
 * metadata and instances alike, by `dicom/deidentify*.ts`. The stored bytes are never changed: a
 * view is a derived copy.
 */
import type { StudyView } from '../access/policy/policy.js';
import { deidentifyInstance } from '../dicom/deidentify.js';
import { deidentifyJson } from '../dicom/deidentify-json.js';
import type { DeidentifyOptions } from '../dicom/deid-plan.js';
import type { DicomJson } from '../dicom/types.js';
import { isFullView } from './authorization.js';

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

/** Whether `view` lets the value of attribute `tag` (8 hex digits, top level) be read as bulk data. */
export function bulkDataVisible(tag: string, view: StudyView): boolean {
  if (isFullView(view)) return true;
  const probe = deidentifyJson({ [tag.toUpperCase()]: { vr: 'OB', BulkDataURI: 'x' } }, options(view)).json;
  return probe[tag.toUpperCase()] !== undefined;
}
