/**
 * What a subject sees of the data it may access (field-level rules): the stored data unchanged,
 * or with masked attributes removed, or de-identified by the PS3.15 Annex E Basic Profile (Retain
 * UIDs Option: the gateway's URLs carry the original UIDs), by `dicom/deidentify*.ts`. The stored
 * bytes are never changed: a view is a derived copy.
 *
 * One place decides what a subject may see of an instance: {@link instanceView}, from the view the
 * policy gives of its study and the instance's own attributes. Every route that returns bytes or
 * attributes of an instance asks it, through the functions below, which all take its decision:
 * whole instances ({@link instanceGiven}, {@link instanceBytesInView}), metadata ({@link metadataInView}), frames
 * ({@link pixelsInView}), rendered images and thumbnails ({@link renderedInView}) and bulk data
 * ({@link bulkDataInView}). Pixel data is withheld when the view masks it, and, under a
 * de-identified view, when the instance declares burned-in annotation (identity may be written in
 * its pixels, which de-identification keeps): then no route gives its pixels, and no whole instance
 * of it leaves the gateway. Rendered images, made for people to look at, are stricter still: under
 * a de-identified view only an instance that declares BurnedInAnnotation NO is rendered.
 */
import type { StudyView } from '../access/policy/policy.js';
import { deidentifyInstance } from './deidentify.js';
import { deidentifyJson } from './deidentify-json.js';
import type { DeidentifyOptions } from './deid-plan.js';
import { dictionaryVR } from '../dicom/dictionary.js';
import type { DicomJson } from '../dicom/types.js';
import { GatewayError } from '../errors.js';
import { isFullView } from './full-view.js';

/** Pixel Data, Float Pixel Data, Double Float Pixel Data (top level). */
const PIXEL_DATA_TAGS = ['7FE00010', '7FE00008', '7FE00009'] as const;

/** Why an instance's pixels are not shown: the answer every route that would give them makes. */
export interface PixelRefusal {
  code: 'FORBIDDEN' | 'NOT_FOUND';
  message: string;
}

/** What a subject may see of one instance. */
export interface InstanceView {
  /** The view the policy gives of the instance's study (de-identification, masked attributes). */
  readonly study: StudyView;
  /** True when the instance is shown exactly as stored. */
  readonly whole: boolean;
  /** Why its pixel data is not shown (frames, bulk data, rendered images); undefined when it is. */
  readonly pixelsWithheld?: PixelRefusal;
  /** Why no Part 10 instance of it is given at all; undefined when one is (whole or derived). */
  readonly instanceRefused?: PixelRefusal;
  /** Why it is not rendered (rendered images, thumbnails); undefined when it is. */
  readonly renderingWithheld?: PixelRefusal;
}

const BURNED_IN: PixelRefusal = Object.freeze({
  code: 'FORBIDDEN',
  message: 'the instance declares burned-in annotation (identity may be in its pixels): its pixels are not available de-identified',
});

const NOT_DECLARED_FREE: PixelRefusal = Object.freeze({
  code: 'FORBIDDEN',
  message: 'the instance does not declare BurnedInAnnotation NO (identity may be in its pixels): it is not rendered de-identified',
});

const MASKED: PixelRefusal = Object.freeze({ code: 'NOT_FOUND', message: 'the instance has no pixel data in your view of it' });

/**
 * The decision: what `study` (the view of the instance's study for the action) shows of the
 * instance with these attributes (its metadata, as DICOM JSON or its text).
 */
export function instanceView(study: StudyView, metadata: DicomJson | string): InstanceView {
  if (isFullView(study)) return { study, whole: true };
  const json = typeof metadata === 'string' ? (JSON.parse(metadata) as DicomJson) : metadata;
  if (study.deidentify && hasBurnedInAnnotation(json)) return { study, whole: false, pixelsWithheld: BURNED_IN, instanceRefused: BURNED_IN, renderingWithheld: BURNED_IN };
  const masked = PIXEL_DATA_TAGS.some((tag) => json[tag] !== undefined && !attributeShown(tag, study));
  if (masked) return { study, whole: false, pixelsWithheld: MASKED, renderingWithheld: MASKED };
  return study.deidentify && !declaresNoBurnedInAnnotation(json) ? { study, whole: false, renderingWithheld: NOT_DECLARED_FREE } : { study, whole: false };
}

/** The metadata of an instance (DICOM JSON) as its view shows it: without pixel data when that is withheld. */
export function metadataInView(view: InstanceView, json: DicomJson): DicomJson {
  if (view.whole) return json;
  const shown = jsonInView(json, view.study);
  if (view.pixelsWithheld !== undefined) for (const tag of PIXEL_DATA_TAGS) delete shown[tag];
  return shown;
}

/** Refuses, as the decision says, an instance of which no Part 10 file may be given. */
export function instanceGiven(view: InstanceView): void {
  if (view.instanceRefused !== undefined) throw refusal(view.instanceRefused);
}

/** A Part 10 instance as its view shows it (a derived instance when not whole); the refusal when none may be given. */
export function instanceBytesInView(view: InstanceView, bytes: Uint8Array): Uint8Array {
  instanceGiven(view);
  return view.whole ? bytes : deidentifyInstance(bytes, options(view.study)).bytes;
}

/** Refuses, as the decision says, pixels (frames, rendered images) the view withholds. */
export function pixelsInView(view: InstanceView): void {
  if (view.pixelsWithheld !== undefined) throw refusal(view.pixelsWithheld);
}

/** Refuses, as the decision says, a rendered image or thumbnail of the instance. */
export function renderedInView(view: InstanceView): void {
  if (view.renderingWithheld !== undefined) throw refusal(view.renderingWithheld);
}

/**
 * Refuses bulk data at `path` (`bulkdata/<path>`) that the instance's metadata, as its view shows
 * it, does not offer: a value the view removes or replaces is not there for this subject.
 */
export function bulkDataInView(view: InstanceView, metadata: DicomJson | string, path: string): void {
  if (view.whole) return;
  if (view.pixelsWithheld !== undefined && (PIXEL_DATA_TAGS as readonly string[]).includes(path.toUpperCase())) throw refusal(view.pixelsWithheld);
  const json = typeof metadata === 'string' ? (JSON.parse(metadata) as DicomJson) : metadata;
  if (!JSON.stringify(metadataInView(view, json)).includes(`"BulkDataURI":${JSON.stringify(`bulkdata/${path}`)}`)) {
    throw new GatewayError('NOT_FOUND', `the instance has no bulk data at ${path}`);
  }
}

/** A DICOM JSON data set (a QIDO result, an instance's metadata) as `view` shows it. */
export function jsonInView(json: DicomJson, view: StudyView): DicomJson {
  return isFullView(view) ? json : deidentifyJson(json, options(view)).json;
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

/**
 * Whether `view` shows attribute `tag` as a QIDO-RS key names it (to match on or to include). A
 * private data element (`gggg,xxee`, xx 10-FF) is found through its Private Creator in whichever
 * block an instance used, so it is shown only when the view shows it as named, element `ee` of
 * every block of its group, and every Private Creator element of the group: otherwise naming it
 * in another block would give, or match on, an element the view masks.
 */
export function keyShown(tag: string, view: StudyView): boolean {
  if (!attributeShown(tag, view)) return false;
  const key = tag.toUpperCase();
  if (isFullView(view) || parseInt(key.slice(0, 4), 16) % 2 === 0 || parseInt(key.slice(4, 6), 16) < 0x10) return true;
  return !view.maskedFields.some((masked) => {
    if (masked.slice(0, 4) !== key.slice(0, 4)) return false;
    const block = parseInt(masked.slice(4, 6), 16);
    const element = parseInt(masked.slice(6), 16);
    return block === 0 ? element >= 0x10 : block >= 0x10 && masked.slice(6) === key.slice(6);
  });
}

/** Whether an instance declares burned-in annotation (identity may be in its pixels). */
export function hasBurnedInAnnotation(metadata: DicomJson): boolean {
  return (
    String(metadata['00280301']?.Value?.[0] ?? '')
      .trim()
      .toUpperCase() === 'YES'
  );
}

/** Whether an instance declares BurnedInAnnotation NO (its pixels carry no identifying text). */
function declaresNoBurnedInAnnotation(metadata: DicomJson): boolean {
  return (
    String(metadata['00280301']?.Value?.[0] ?? '')
      .trim()
      .toUpperCase() === 'NO'
  );
}

function options(view: StudyView): DeidentifyOptions {
  return { profile: view.deidentify ? 'basic' : 'none', mask: view.maskedFields, retainUids: true };
}

function refusal(reason: PixelRefusal): GatewayError {
  return new GatewayError(reason.code, reason.message);
}
