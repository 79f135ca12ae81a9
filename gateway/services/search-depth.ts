/**
 * What a QIDO-RS result shows from below its level, and what matching below it needs (PS3.18
 * §10.6.3; the instance that stands for a study or series is chosen by `catalog/deep-search.ts`):
 * the included attributes a study or series result does not hold itself, taken from that
 * instance; private attributes only when the query names them with their Private Creator
 * (`includefield=all` gives none); matching on attributes read from the instances' metadata only
 * over studies the subject may also read (their values are what reading gives); the keys a
 * subject's view lets it match on and include; and the warning of a search cut at its bound.
 */
import type { StudyFilter } from '../access/policy/policy.js';
import { strictestView } from '../access/policy/study-resource.js';
import { isPrivate, privateAttributes } from '../catalog/attribute-match.js';
import type { QidoQuery } from '../catalog/query.js';
import { keyShown } from '../deidentify/views.js';
import type { DicomJson, DicomJsonAttribute } from '../dicom/types.js';
import type { RequestAccess } from './authorization.js';

/** The included attributes of `instance` that `held` (the result so far) lacks, and the private ones asked for. */
export function belowLevel(instance: DicomJson | undefined, query: QidoQuery, held: DicomJson): DicomJson {
  if (instance === undefined) return {};
  const out: DicomJson = {};
  for (const tag of query.include) {
    const attribute = instance[tag] as DicomJsonAttribute | undefined;
    if (held[tag] === undefined && attribute !== undefined && !isPrivate(tag) && attribute.BulkDataURI === undefined) out[tag] = attribute;
  }
  return Object.assign(out, privateAttributes(instance, query.include, query.privateCreators));
}

/** `dataset` without its private attributes (they are returned only when asked for by name). */
export function withoutPrivate(dataset: DicomJson): DicomJson {
  return Object.fromEntries(Object.entries(dataset).filter(([tag]) => !isPrivate(tag)));
}

/**
 * The studies a search may match: those `access` may search, and when the query matches on
 * attributes read from the instances' metadata, only those it may also read.
 */
export function matchableStudies(access: RequestAccess, query: QidoQuery): StudyFilter {
  const search = access.ability.studyFilter('search');
  if (query.attributeFilters.length === 0) return search;
  const read = access.ability.studyFilter('read');
  if (search.kind === 'none' || read.kind === 'none') return { kind: 'none' };
  if (search.kind === 'all') return read;
  if (read.kind === 'all') return search;
  return { kind: 'where', expression: (eb, studies) => eb.and([search.expression(eb, studies), read.expression(eb, studies)]) };
}

/** The warning of a search that stopped at its bound, or none. */
export function scanWarnings(page: { examined: number; exhausted: boolean }): string[] {
  if (!page.exhausted) return [];
  return [
    `the search examined ${page.examined} instances, the limit for one search (limits.maxQidoScan), to match attributes the catalog does not index: results may be incomplete; narrow the search with indexed keys (UIDs, PatientID, StudyDate, AccessionNumber, Modality)`,
  ];
}

/**
 * `query` without the keys the subject's view hides, with a warning for the match keys among them:
 * matching on an attribute the view hides would reveal its value through which results come back.
 * Keys matched on instance metadata (what reading gives) are checked against the read view too (a
 * mask may be for read alone), and private attributes in whichever block an instance has them
 * (`keyShown`); private attributes the view hides are not included either (a result shows them
 * under the block the query named, which the view's mask may not name).
 */
export function keysInView(query: QidoQuery, access: RequestAccess, warnings: string[]): QidoQuery {
  const searchView = access.ability.view('search');
  const readView = strictestView([searchView, access.ability.view('read')]);
  const hidden = [...query.filters.filter((f) => !keyShown(f.tag, searchView)), ...query.attributeFilters.filter((f) => !keyShown(f.tag, readView))];
  const include = new Set([...query.include].filter((tag) => !isPrivate(tag) || keyShown(tag, readView)));
  if (hidden.length > 0) warnings.push(`matching on ${hidden.map((f) => f.tag).join(', ')} is not allowed in your view of the data; ignored`);
  return { ...query, filters: query.filters.filter((f) => !hidden.includes(f)), attributeFilters: query.attributeFilters.filter((f) => !hidden.includes(f)), include };
}
