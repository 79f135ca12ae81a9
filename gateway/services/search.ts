/**
 * The QIDO-RS search use case (PS3.18 §10.6): runs a parsed query against the catalog and builds
 * each result in the DICOM JSON model with the level's default attributes (PS3.18 Table
 * 10.6.3-3), the requested `includefield` attributes and every matched attribute. `includefield`
 * beyond what a search can match is what WADO-RS metadata gives: only for studies the subject may
 * also read, shown as reading shows them.
 */
import type { StudyFilter } from '../access/policy/policy.js';
import { strictestView } from '../access/policy/study-resource.js';
import type { Catalog } from '../catalog/catalog.js';
import { seriesCounts, studyCounts } from '../catalog/search.js';
import { searchInstancesDeep, searchSeriesDeep, searchStudiesDeep } from '../catalog/deep-search.js';
import type { DicomJson, DicomJsonAttribute } from '../dicom/types.js';
import { authorizeAction, studiesAllowed, studyViews, type RequestAccess } from './authorization.js';
import { MATCHABLE, type QidoQuery } from '../catalog/query.js';
import { jsonInView } from '../deidentify/views.js';
import { instanceUrl, seriesUrl, studyUrl } from './resources.js';
import { belowLevel, keysInView, matchableStudies, scanWarnings, withoutPrivate } from './search-depth.js';

const STUDY_DEFAULTS = ['00080005', '00080020', '00080030', '00080050', '00080090', '00080201', '00100010', '00100020', '00100030', '00100040', '0020000D', '00200010'];
const SERIES_DEFAULTS = ['00080005', '00080060', '00080201', '0008103E', '0020000E', '00200011', '00400244', '00400245', '00400275'];
const INSTANCE_DEFAULTS = ['00080005', '00080016', '00080018', '00080201', '00200013', '00280010', '00280011', '00280100', '00280008'];
/** What a search computes of a result: availability, ModalitiesInStudy, RetrieveURL and the related counts. */
const COMPUTED = ['00080056', '00080061', '00081190', '00201206', '00201208', '00201209'];
/**
 * What a result of a study one may search but not read shows: the defaults of the levels, what the
 * search computes and the attributes it matches on. The others (`includefield`) are what `read`
 * (WADO-RS metadata) gives, so they need it.
 */
export const SEARCH_ONLY = new Set([...STUDY_DEFAULTS, ...SERIES_DEFAULTS, ...INSTANCE_DEFAULTS, ...COMPUTED, ...Object.keys(MATCHABLE)]);

/** The result of a search: the matches in the DICOM JSON model, and warnings for the response. */
export interface SearchResult {
  matches: DicomJson[];
  warnings: string[];
}

/** One page of matches with the study of each. */
interface Matches {
  matches: DicomJson[];
  studies: string[];
  hasMore: boolean;
  /** Instances read to match attributes the catalog does not index, and whether that hit its bound. */
  examined: number;
  exhausted: boolean;
}

/**
 * Runs a QIDO-RS search over the studies `access` may search (403 when it may search none), each
 * result shown in the view the policy gives of its study. `baseUrl` is the absolute DICOMweb root
 * for RetrieveURL.
 */
export async function search(catalog: Catalog, query: QidoQuery, baseUrl: string, access: RequestAccess): Promise<SearchResult> {
  authorizeAction(access, 'search');
  const permitted = matchableStudies(access, query);
  const warnings = [...query.warnings];
  query = keysInView(query, access, warnings);
  let page: Matches;
  if (query.level === 'study') page = await studyMatches(catalog, query, baseUrl, permitted);
  else if (query.level === 'series') page = await seriesMatches(catalog, query, baseUrl, permitted);
  else page = await instanceMatches(catalog, query, baseUrl, permitted);
  const { studies, hasMore } = page;
  warnings.push(...scanWarnings(page));
  const views = await studyViews(catalog, access, 'search', studies);
  // Attributes beyond a search's own need read access to the study: includefield does not stand in for it.
  const beyondSearch = query.includeAll || [...query.include].some((tag) => !SEARCH_ONLY.has(tag));
  const readable = beyondSearch ? await studiesAllowed(catalog, access, 'read', studies) : undefined;
  const searchOnly = readable === undefined ? 0 : studies.filter((study) => !readable.has(study)).length;
  if (searchOnly > 0) warnings.push(`includefield is not honoured for ${searchOnly} results of studies you may search but not read: they show the default and matching attributes only`);
  // What only read gives is shown as read shows it too (a mask may be for read alone).
  const readViews = readable !== undefined && readable.size > 0 ? await studyViews(catalog, access, 'read', [...readable]) : undefined;
  const matches = page.matches.map((match, i) => {
    const study = studies[i];
    if (readable === undefined) return jsonInView(match, views.get(study)!);
    if (!readable.has(study)) return jsonInView(searchAttributes(match), views.get(study)!);
    return jsonInView(match, strictestView([views.get(study)!, readViews!.get(study)!]));
  });
  access.decisions.push({ action: 'search', allowed: true, reason: `${matches.length} permitted results` });
  if (hasMore) {
    warnings.push(`the number of results exceeded the limit of ${query.limit}; request more with offset=${query.offset + query.limit}`);
  }
  return { matches, warnings };
}

async function studyMatches(catalog: Catalog, query: QidoQuery, baseUrl: string, permitted: StudyFilter): Promise<Matches> {
  const { rows, hasMore, instances, examined, exhausted } = await searchStudiesDeep(catalog, query, permitted);
  const counts = await studyCounts(
    catalog,
    rows.map((r) => r.study_uid),
  );
  const matches = rows.map((row, i) => {
    const out = studyPart(JSON.parse(row.attributes), query);
    Object.assign(out, belowLevel(instances[i], query, out));
    const c = counts.get(row.study_uid)!;
    Object.assign(out, {
      '00080056': { vr: 'CS', Value: ['ONLINE'] },
      '00080061': c.modalities.length ? { vr: 'CS', Value: c.modalities } : { vr: 'CS' },
      '00081190': { vr: 'UR', Value: [studyUrl(baseUrl, row.study_uid)] },
      '00201206': { vr: 'IS', Value: [c.series] },
      '00201208': { vr: 'IS', Value: [c.instances] },
    });
    return sorted(out);
  });
  return { matches, studies: rows.map((row) => row.study_uid), hasMore, examined, exhausted };
}

async function seriesMatches(catalog: Catalog, query: QidoQuery, baseUrl: string, permitted: StudyFilter): Promise<Matches> {
  const { rows, hasMore, instances, examined, exhausted } = await searchSeriesDeep(catalog, query, permitted);
  const counts = await seriesCounts(
    catalog,
    rows.map((r) => r.series_uid),
  );
  const matches = rows.map((row, i) => {
    const out: DicomJson = query.scope.study === undefined ? studyPart(JSON.parse(row.study_attributes), query) : {};
    Object.assign(out, select(JSON.parse(row.attributes), SERIES_DEFAULTS, query));
    Object.assign(out, belowLevel(instances[i], query, out));
    Object.assign(out, {
      // Under a study in the path its unique key stays in every result: clients join results by it.
      '0020000D': { vr: 'UI', Value: [row.study_uid] },
      '00081190': { vr: 'UR', Value: [seriesUrl(baseUrl, row.study_uid, row.series_uid)] },
      '00201209': { vr: 'IS', Value: [counts.get(row.series_uid) ?? 0] },
    });
    return sorted(out);
  });
  return { matches, studies: rows.map((row) => row.study_uid), hasMore, examined, exhausted };
}

async function instanceMatches(catalog: Catalog, query: QidoQuery, baseUrl: string, permitted: StudyFilter): Promise<Matches> {
  const { rows, hasMore, examined, exhausted } = await searchInstancesDeep(catalog, query, permitted);
  const matches = rows.map((row) => {
    const out: DicomJson = {};
    if (query.scope.study === undefined) Object.assign(out, studyPart(JSON.parse(row.study_attributes), query));
    if (query.scope.series === undefined) Object.assign(out, select(JSON.parse(row.series_attributes), SERIES_DEFAULTS, query));
    const metadata = JSON.parse(row.metadata) as DicomJson;
    Object.assign(out, select(withoutPrivate(withoutBulkData(metadata)), INSTANCE_DEFAULTS, query), belowLevel(metadata, query, out));
    Object.assign(out, {
      // Under a study or series in the path their unique keys stay in every result.
      '0020000D': { vr: 'UI', Value: [row.study_uid] },
      '0020000E': { vr: 'UI', Value: [row.series_uid] },
      '00080056': { vr: 'CS', Value: ['ONLINE'] },
      '00081190': { vr: 'UR', Value: [instanceUrl(baseUrl, row.study_uid, row.series_uid, row.sop_instance_uid)] },
    });
    return sorted(out);
  });
  return { matches, studies: rows.map((row) => row.study_uid), hasMore, examined, exhausted };
}

function studyPart(attributes: DicomJson, query: QidoQuery): DicomJson {
  return select(attributes, STUDY_DEFAULTS, query);
}

/** The defaults and the included (or all) attributes of `attributes`. */
function select(attributes: DicomJson, defaults: string[], query: QidoQuery): DicomJson {
  if (query.includeAll) return { ...attributes };
  const out: DicomJson = {};
  for (const tag of defaults) if (attributes[tag]) out[tag] = attributes[tag];
  for (const tag of query.include) if (attributes[tag]) out[tag] = attributes[tag];
  return out;
}

/** The attributes of a result that a search alone may show ({@link SEARCH_ONLY}). */
function searchAttributes(match: DicomJson): DicomJson {
  return Object.fromEntries(Object.entries(match).filter(([tag]) => SEARCH_ONLY.has(tag)));
}

function withoutBulkData(dataset: DicomJson): DicomJson {
  const out: DicomJson = {};
  for (const [tag, attribute] of Object.entries(dataset)) if (!(attribute as DicomJsonAttribute).BulkDataURI) out[tag] = attribute;
  return out;
}

function sorted(dataset: DicomJson): DicomJson {
  const out: DicomJson = {};
  for (const tag of Object.keys(dataset).sort()) out[tag] = dataset[tag];
  return out;
}
