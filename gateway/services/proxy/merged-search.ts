/**
 * QIDO-RS in proxy mode (PS3.18 §10.6): the catalog's results and the upstream PACS's, as one list
 * without duplicates, ordered as the catalog orders (studies by date and time, newest first, then
 * UID; series and instances by study, number and UID), and paged over that list, so `limit` and
 * `offset` return each result exactly once.
 *
 * - A result of the upstream whose study is in the catalog is dropped: the catalog wins, and its
 *   policy has already decided whether the subject may see that study.
 * - The upstream is asked for the same matching (rebuilt from the parsed query, without the keys
 *   the subject's view may not match on), from offset 0, for at most `maxSearchResults` results; the
 *   merged list is ordered and paged here. Beyond that bound a Warning says the upstream's part is
 *   incomplete.
 * - Every upstream result passes the policy on the upstream's description of its whole study, every
 *   instance of it (`read-through.ts`), as a read through of that study is judged: a PACS describes
 *   a study at study level by one of its instances (Orthanc: the last stored), so a study with one
 *   restricted series, or series of two institutions, would otherwise be listed to a subject who
 *   may not search it. A study-level result is also judged on its own attributes (the policy
 *   attributes are included in the upstream query), which spares describing the studies that
 *   already fail; study-level results are judged in the catalog's order, until the page is full.
 *   Attributes beyond a search's own need `read`, as for the catalog's results; the view of the
 *   study applies.
 * - When the upstream cannot be searched, the answer is the catalog's results with a Warning
 *   (PS3.18 §8.3.5.1 lets a response carry warnings; a viewer still shows what Aegis holds) rather
 *   than a 502: Aegis's own studies stay searchable while the PACS is down.
 */
import { studyDecision, studyResourceFromRow } from '../../access/policy/study-resource.js';
import type { StudyResource } from '../../access/model.js';
import type { Catalog } from '../../catalog/catalog.js';
import { policyAttributesOf } from '../../catalog/policy-attributes.js';
import type { QidoFilter, QidoQuery } from '../../catalog/query.js';
import type { DicomJson, DicomJsonAttribute } from '../../dicom/types.js';
import { attributeShown, jsonInView } from '../../deidentify/views.js';
import { isGatewayError } from '../../errors.js';
import type { RequestAccess } from '../authorization.js';
import { SEARCH_ONLY, search, type SearchResult } from '../search.js';
import { POLICY_TAGS, upstreamStudyResources } from './read-through.js';
import type { UpstreamClient } from './upstream-client.js';

const HAS_MORE = 'the number of results exceeded the limit';
const LEVEL_UID = { study: '0020000D', series: '0020000E', instance: '00080018' } as const;

/** A QIDO-RS search over the catalog and the upstream PACS (see the module header). */
export async function mergedSearch(catalog: Catalog, upstream: UpstreamClient, query: QidoQuery, baseUrl: string, access: RequestAccess): Promise<SearchResult> {
  const wanted = query.offset + query.limit;
  // Independent until the merge: the upstream is asked while the catalog is searched.
  const remoteWarnings: string[] = [];
  const [local, remote] = await Promise.all([
    search(catalog, { ...query, offset: 0, limit: wanted + 1 }, baseUrl, access),
    upstreamMatches(catalog, upstream, query, baseUrl, access, remoteWarnings, wanted + 1).catch((error: unknown): DicomJson[] => {
      if (!isGatewayError(error)) throw error;
      remoteWarnings.push(`the upstream PACS could not be searched (${error.message}): these are the results Aegis holds only`);
      return [];
    }),
  ]);
  const warnings = [...local.warnings.filter((w) => !w.startsWith(HAS_MORE)), ...remoteWarnings];
  const merged = mergeOrdered(local.matches, remote.sort(byCatalogOrder(query.level)), byCatalogOrder(query.level));
  if (merged.length > wanted) warnings.push(`${HAS_MORE} of ${query.limit}; request more with offset=${wanted}`);
  return { matches: merged.slice(query.offset, wanted), warnings };
}

/** The upstream's results the subject may see (at study level, the first `needed` in the catalog's order), in its view, with the upstream's URLs made the gateway's. */
async function upstreamMatches(catalog: Catalog, upstream: UpstreamClient, query: QidoQuery, baseUrl: string, access: RequestAccess, warnings: string[], needed: number): Promise<DicomJson[]> {
  const max = upstream.config.maxSearchResults;
  // A study-level result is judged on its own attributes: those the policy reads are asked for, and shown only when a search shows them anyway or they were asked for.
  const asked = query.level === 'study' ? [...POLICY_TAGS.filter((t) => t !== '00080060'), '00080061'].filter((t) => !query.includeAll && !query.include.has(t)) : [];
  const added = asked.filter((t) => !SEARCH_ONLY.has(t));
  const found = await upstream.json<DicomJson[]>(`${levelPath(query)}?${upstreamParams(query, access, asked, max).toString()}`);
  if (!Array.isArray(found)) return [];
  if (found.length > max) warnings.push(`the upstream PACS has more than ${max} matches (upstream.maxSearchResults): its results beyond are not included`);
  const studyOf = (match: DicomJson) => query.scope.study ?? text(match, '0020000D');
  const results = found.slice(0, max).filter((match) => studyOf(match) !== undefined && text(match, LEVEL_UID[query.level]) !== undefined);
  const local = await studiesInCatalog(catalog, [...new Set(results.map(studyOf) as string[])]);
  const resources = new Map<string, StudyResource[] | undefined>();
  let candidates = results.filter((match) => !local.has(studyOf(match)!));
  if (query.level === 'study') {
    candidates = await judgedStudies(upstream, access, candidates.sort(byCatalogOrder('study')), needed, resources, warnings);
  } else {
    for (const match of candidates) resources.set(studyOf(match)!, undefined);
    await describeStudies(upstream, resources);
  }
  const out: DicomJson[] = [];
  const rootPattern = `"${upstream.rootUrl}`;
  for (const match of candidates) {
    const described = resources.get(studyOf(match)!);
    if (described === undefined) continue;
    const searched = studyDecision(access.ability, 'search', described);
    if (!searched.decision.allowed) continue;
    const readable = studyDecision(access.ability, 'read', described).decision.allowed;
    let shown = Object.fromEntries(Object.entries(match).filter(([tag]) => !added.includes(tag) && (readable || SEARCH_ONLY.has(tag))));
    shown = jsonInView(shown, readable ? strictest(access, described) : searched.view);
    out.push(JSON.parse(JSON.stringify(shown).replaceAll(rootPattern, `"${baseUrl}`)) as DicomJson);
  }
  return out;
}

/**
 * Study-level results (in the catalog's order) that may be searched, judged four at a time until
 * `needed` are: on their own attributes, then on the upstream's description of every instance
 * (`resources` gets both). A study the upstream cannot describe whole is left out, with a warning.
 */
async function judgedStudies(upstream: UpstreamClient, access: RequestAccess, matches: DicomJson[], needed: number, resources: Map<string, StudyResource[] | undefined>, warnings: string[]): Promise<DicomJson[]> {
  const accepted: DicomJson[] = [];
  const unjudged: string[] = [];
  const judge = async (match: DicomJson): Promise<boolean> => {
    const study = text(match, '0020000D')!;
    const own = studyResourceOf(match, study);
    if (!studyDecision(access.ability, 'search', [own]).decision.allowed) return false;
    let described: StudyResource[] | undefined;
    try {
      described = await upstreamStudyResources(upstream, study);
    } catch (error) {
      if (!isGatewayError(error)) throw error;
      unjudged.push(error.message);
    }
    if (described === undefined) return false;
    resources.set(study, [own, ...described]);
    return studyDecision(access.ability, 'search', [own, ...described]).decision.allowed;
  };
  for (let i = 0; i < matches.length && accepted.length < needed; i += 4) {
    const batch = matches.slice(i, i + 4);
    const allowed = await Promise.all(batch.map(judge));
    accepted.push(...batch.filter((_, j) => allowed[j]));
  }
  if (unjudged.length > 0) warnings.push(`${unjudged.length} studies of the upstream PACS could not be judged whole and are left out (${unjudged[0]})`);
  return accepted.slice(0, needed);
}

/** The resources of the studies not yet described (series and instance results), four at a time; studies the upstream cannot describe are left out. */
async function describeStudies(upstream: UpstreamClient, resources: Map<string, StudyResource[] | undefined>): Promise<void> {
  const pending = [...resources].filter(([, r]) => r === undefined).map(([study]) => study);
  const work = async () => {
    for (let study = pending.shift(); study !== undefined; study = pending.shift()) {
      resources.set(study, await upstreamStudyResources(upstream, study));
    }
  };
  await Promise.all([work(), work(), work(), work()]);
}

function strictest(access: RequestAccess, resources: StudyResource[]) {
  const searchView = studyDecision(access.ability, 'search', resources).view;
  const readView = studyDecision(access.ability, 'read', resources).view;
  return { deidentify: searchView.deidentify || readView.deidentify, maskedFields: [...new Set([...searchView.maskedFields, ...readView.maskedFields])].sort() };
}

/** The resource of a study-level result: its policy attributes and ModalitiesInStudy. */
function studyResourceOf(match: DicomJson, study: string): StudyResource {
  const modalities = ((match['00080061'] as DicomJsonAttribute | undefined)?.Value ?? []).filter((v): v is string => typeof v === 'string');
  return studyResourceFromRow({ study_uid: study, ...policyAttributesOf(match) }, modalities);
}

async function studiesInCatalog(catalog: Catalog, studies: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < studies.length; i += 500) {
    const rows = await catalog.db
      .selectFrom('studies')
      .select('study_uid')
      .where('study_uid', 'in', studies.slice(i, i + 500))
      .execute();
    for (const row of rows) found.add(row.study_uid);
  }
  return found;
}

function levelPath(query: QidoQuery): string {
  const { study, series } = query.scope;
  if (query.level === 'study') return '/studies';
  if (query.level === 'series') return study === undefined ? '/series' : `/studies/${study}/series`;
  if (series !== undefined) return `/studies/${study}/series/${series}/instances`;
  return study === undefined ? '/instances' : `/studies/${study}/instances`;
}

/** The upstream's query: the matching the subject's view allows, the attributes asked plus `added`, from offset 0. */
function upstreamParams(query: QidoQuery, access: RequestAccess, added: readonly string[], max: number): URLSearchParams {
  const params = new URLSearchParams();
  const view = access.ability.view('search');
  for (const filter of query.filters) if (attributeShown(filter.tag, view)) params.append(filter.tag, filterValue(filter));
  if (query.fuzzy) params.set('fuzzymatching', 'true');
  if (query.includeAll) params.append('includefield', 'all');
  else for (const tag of [...query.include, ...added]) params.append('includefield', tag);
  params.set('limit', String(max + 1));
  return params;
}

function filterValue(filter: QidoFilter): string {
  switch (filter.kind) {
    case 'uids':
      return filter.values.join(',');
    case 'text':
      return filter.value;
    case 'number':
      return String(filter.value);
    case 'range':
      return filter.from !== undefined && filter.from === filter.to ? filter.from : `${filter.from ?? ''}-${filter.to ?? ''}`;
  }
}

function text(match: DicomJson, tag: string): string | undefined {
  const value = (match[tag] as DicomJsonAttribute | undefined)?.Value?.[0];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
}

function num(match: DicomJson, tag: string): number | undefined {
  const value = text(match, tag);
  return value === undefined || !/^[+-]?\d+$/.test(value.trim()) ? undefined : Number(value);
}

/** Ascending, undefined first (SQLite's order of NULL). */
function asc<T extends string | number>(a: T | undefined, b: T | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  return a < b ? -1 : 1;
}

/** The order of the catalog's search at a level (`catalog/search.ts`). */
function byCatalogOrder(level: QidoQuery['level']): (a: DicomJson, b: DicomJson) => number {
  if (level === 'study') {
    // Date and time newest first (NULL last, as SQLite's DESC), then the UID.
    return (a, b) => asc(text(b, '00080020'), text(a, '00080020')) || asc(text(b, '00080030'), text(a, '00080030')) || asc(text(a, '0020000D'), text(b, '0020000D'));
  }
  const series = (a: DicomJson, b: DicomJson) => asc(text(a, '0020000D'), text(b, '0020000D'));
  if (level === 'series') return (a, b) => series(a, b) || asc(num(a, '00200011'), num(b, '00200011')) || asc(text(a, '0020000E'), text(b, '0020000E'));
  return (a, b) => series(a, b) || asc(text(a, '0020000E'), text(b, '0020000E')) || asc(num(a, '00200013'), num(b, '00200013')) || asc(text(a, '00080018'), text(b, '00080018'));
}

/** Two lists each in `order` merged into one (the catalog's first on ties). */
function mergeOrdered(local: DicomJson[], remote: DicomJson[], order: (a: DicomJson, b: DicomJson) => number): DicomJson[] {
  const out: DicomJson[] = [];
  let i = 0;
  let j = 0;
  while (i < local.length || j < remote.length) {
    if (j >= remote.length || (i < local.length && order(local[i], remote[j]) <= 0)) out.push(local[i++]);
    else out.push(remote[j++]);
  }
  return out;
}
