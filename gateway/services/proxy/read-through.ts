/**
 * Read-through of proxy mode (WADO-RS, PS3.18 §10.4): a study that is not in the catalog (it was
 * stored in the upstream PACS before Aegis stood in front of it) is read from the upstream, under
 * the same policy as a local one.
 *
 * The decision is made on the upstream's own description of the study, as the catalog would
 * describe it: the policy attributes of every instance of the study (QIDO-RS at instance level with
 * those attributes included, bounded by `maxSearchResults`), one resource per distinct combination,
 * each with the modalities of the study ({@link upstreamStudyResources}; kept a minute, so that
 * the many requests a viewer makes for one study cost one such search). A study with more
 * instances than that bound is refused rather than judged on a part of it. A Study Instance UID
 * that is no valid UID (one of the upstream's search results) is never made a path: no such study. A series or instance
 * named in the path must be one of that description (else 404, as a missing one): the upstream is
 * not trusted to check that they belong to the study the decision was made on. Every decision is
 * recorded in the request's access, so the audit trail records a proxied read like a local one.
 *
 * Proxied bytes are the upstream's, not verified instances of the catalog: they are given only in
 * the full view. A subject whose view of the study is de-identified or masked is refused (403)
 * until the study is migrated (`aegis migrate`), where the views apply as to every stored study.
 */
import { LRUCache } from 'lru-cache';
import { studyDecision, studyResourceFromRow } from '../../access/policy/study-resource.js';
import type { StudyResource } from '../../access/model.js';
import type { Catalog, InstanceScope } from '../../catalog/catalog.js';
import { policyAttributesOf, policyKey } from '../../catalog/policy-attributes.js';
import { firstString } from '../../catalog/levels.js';
import type { DicomJson } from '../../dicom/types.js';
import { isFullView } from '../../deidentify/full-view.js';
import { isUid } from '../../dicom/uid.js';
import { GatewayError } from '../../errors.js';
import type { RequestAccess } from '../authorization.js';
import { notFound } from '../resources.js';
import type { UpstreamClient } from './upstream-client.js';

/** The attributes the policy reads of an instance (`catalog/policy-attributes.ts`) and the modality of its series. */
export const POLICY_TAGS = ['00080080', '00081040', '00080090', '00080020', '00401008', '00100020', '00080050', '00080060'];

/** The Series and SOP Instance UIDs, asked with the policy attributes: a path's series and instance must be of the study described. */
const MEMBER_TAGS = ['0020000E', '00080018'];

/** The upstream's description of a study: its resources, and the series and instances it holds (`series\0sop`). */
interface UpstreamStudy {
  resources: StudyResource[];
  series: Set<string>;
  instances: Set<string>;
}

/** Whether the catalog holds any instance of `study` (then it is served locally, never read through). */
export async function inCatalog(catalog: Catalog, study: string): Promise<boolean> {
  const row = await catalog.db.selectFrom('studies').select('study_uid').where('study_uid', '=', study).executeTakeFirst();
  return row !== undefined;
}

/** How long the description of an upstream study is kept for further decisions (a viewer reads one study in many requests). */
export const DESCRIPTION_TTL_MS = 60_000;

/** Descriptions of upstream studies per client: at most 2000 studies, each kept {@link DESCRIPTION_TTL_MS}; concurrent asks share one search. */
const descriptions = new WeakMap<UpstreamClient, LRUCache<string, { study: UpstreamStudy | 'none' }>>();
const pending = new WeakMap<UpstreamClient, Map<string, Promise<UpstreamStudy | undefined>>>();

/**
 * The resources of a study of the upstream (see {@link describeUpstreamStudy}), kept a minute: the
 * policy is still asked on every request, only the upstream's description of the study is reused.
 */
export async function upstreamStudyResources(client: UpstreamClient, study: string): Promise<StudyResource[] | undefined> {
  return (await upstreamStudy(client, study))?.resources;
}

/** The description of a study of the upstream, kept a minute; `fresh`: asked of the upstream again whatever is kept. */
async function upstreamStudy(client: UpstreamClient, study: string, fresh = false): Promise<UpstreamStudy | undefined> {
  let cache = descriptions.get(client);
  if (cache === undefined) descriptions.set(client, (cache = new LRUCache({ max: 2000, ttl: DESCRIPTION_TTL_MS })));
  const kept = fresh ? undefined : cache.get(study);
  if (kept !== undefined) return kept.study === 'none' ? undefined : kept.study;
  let inFlight = pending.get(client);
  if (inFlight === undefined) pending.set(client, (inFlight = new Map()));
  let described = inFlight.get(study);
  if (described === undefined) {
    // Shared by every request that asks meanwhile: not tied to the first one's abort signal (the timeouts bound it).
    described = describeUpstreamStudy(client, study).finally(() => inFlight.delete(study));
    inFlight.set(study, described);
  }
  const description = await described;
  cache.set(study, { study: description ?? 'none' });
  return description;
}

/**
 * The resources of a study of the upstream, from the policy attributes of each of its instances;
 * undefined when the upstream has no such study. UPSTREAM_UNAVAILABLE when the study has more
 * instances than `maxSearchResults` (it cannot be judged whole).
 */
async function describeUpstreamStudy(client: UpstreamClient, study: string): Promise<UpstreamStudy | undefined> {
  // A UID from the upstream's own search results may be anything: only a valid UID becomes a path.
  if (!isUid(study)) return undefined;
  const limit = client.config.maxSearchResults;
  let instances: DicomJson[];
  try {
    instances = await client.json<DicomJson[]>(`/studies/${study}/instances?includefield=${[...POLICY_TAGS, ...MEMBER_TAGS].join(',')}&limit=${limit + 1}`);
  } catch (error) {
    if (error instanceof GatewayError && error.code === 'NOT_FOUND') return undefined;
    throw error;
  }
  if (!Array.isArray(instances)) throw new GatewayError('UPSTREAM_UNAVAILABLE', 'the upstream PACS answered a search with something other than a DICOM JSON array');
  if (instances.length === 0) return undefined;
  if (instances.length > limit) throw new GatewayError('UPSTREAM_UNAVAILABLE', `the upstream study has more than ${limit} instances (upstream.maxSearchResults): it cannot be judged whole, and is not read through`);
  const modalities = instances.map((instance) => firstString(instance, '00080060'));
  const combinations = new Map<string, StudyResource>();
  const [series, members] = [new Set<string>(), new Set<string>()];
  for (const instance of instances) {
    const attributes = policyAttributesOf(instance);
    combinations.set(policyKey(attributes), studyResourceFromRow({ study_uid: study, ...attributes }, modalities));
    const [seriesUid, sop] = [firstString(instance, '0020000E'), firstString(instance, '00080018')];
    if (seriesUid !== null) series.add(seriesUid);
    if (seriesUid !== null && sop !== null) members.add(`${seriesUid}\0${sop}`);
  }
  return { resources: [...combinations.values()], series, instances: members };
}

/** Whether the series and instance of `scope` (when named) are of `described`. */
function holds(described: UpstreamStudy, scope: InstanceScope): boolean {
  if (scope.series !== undefined && !described.series.has(scope.series)) return false;
  return scope.instance === undefined || described.instances.has(`${scope.series}\0${scope.instance}`);
}

/**
 * Decides `action` on a study of the upstream for `access`, recording the decision. A study the
 * upstream does not have and a denied one answer alike (unless the policy says 403), as for a
 * local study; a view other than full is refused with 403 (see the module header).
 */
export async function authorizeUpstreamStudy(client: UpstreamClient, access: RequestAccess, action: 'read' | 'export', scope: InstanceScope): Promise<void> {
  const missing = notFound(scope);
  let described = await upstreamStudy(client, scope.study);
  // A series or instance the kept description lacks may have reached the upstream since: described again once.
  if (described !== undefined && !holds(described, scope)) described = await upstreamStudy(client, scope.study, true);
  if (described === undefined || !holds(described, scope)) {
    access.decisions.push({ action, study: scope.study, allowed: false, reason: described === undefined ? 'no such study (upstream)' : 'no such series or instance in the study (upstream)' });
    throw missing;
  }
  const { decision, view } = studyDecision(access.ability, action, described.resources);
  access.decisions.push({ action, study: scope.study, allowed: decision.allowed, rule: decision.rule, reason: `${decision.reason} (read through from the upstream PACS)`, breakGlass: decision.breakGlass });
  if (!decision.allowed) throw access.ability.deniedError(missing.message);
  if (!isFullView(view)) {
    throw new GatewayError('FORBIDDEN', 'this study is held by the upstream PACS and is given in the full view only; your view of it is de-identified or masked (it can be given once the study is migrated into Aegis)');
  }
}
