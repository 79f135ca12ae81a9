/**
 * Enforcement of the access policy in the use cases (the attribute policy of
 * `access/policy/policy.ts`): each request carries the ability built for its subject and
 * environment; the checks here decide per study, record every decision for the audit trail, and
 * answer a denied study the way the policy says (404 as if it did not exist, by default, or 403).
 * QIDO filtering itself happens in the catalog query (`catalog/search.ts` with the ability's
 * study filter) so that paging is honest.
 */
import type { AccessAbility, StudyView } from '../access/policy/policy.js';
import { loadStudyResources, strictestView, studyDecision, studyResourceFromInstance } from '../access/policy/study-resource.js';
import type { DicomJson } from '../dicom/types.js';
import { isFullView } from '../deidentify/full-view.js';
import type { Action, Environment, StudyResource, Subject } from '../access/model.js';
import type { Catalog, InstanceScope } from '../catalog/catalog.js';
import { GatewayError } from '../errors.js';
import { notFound } from './resources.js';

/** One access decision, as the audit trail records it. */
export interface AccessDecision {
  action: Action;
  study?: string;
  allowed: boolean;
  rule?: string;
  reason: string;
  breakGlass?: boolean;
}

/** The access of one request: who, in what environment, what they may do, what was decided. */
export interface RequestAccess {
  subject: Subject;
  environment: Environment;
  ability: AccessAbility;
  decisions: AccessDecision[];
}

/** Refuses, with 403, a subject the policy allows `action` on no study at all (QIDO, STOW). */
export function authorizeAction(access: RequestAccess, action: Action): void {
  const decision = access.ability.can(action);
  if (!decision.allowed) {
    access.decisions.push({ action, allowed: false, rule: decision.rule, reason: decision.reason });
    throw new GatewayError('FORBIDDEN', `the policy allows you no ${action} here (${decision.reason})`);
  }
}

/**
 * Refuses, with 403, a subject the policy does not allow `admin` (users, audit, stats; the built-in
 * admin role always may). The decision is recorded either way: the audit trail names the rule.
 */
export function authorizeAdmin(access: RequestAccess): void {
  const decision = access.ability.can('admin');
  access.decisions.push({ action: 'admin', allowed: decision.allowed, rule: decision.rule, reason: decision.reason });
  if (!decision.allowed) throw new GatewayError('FORBIDDEN', `the policy does not allow you to administer the gateway (${decision.reason})`);
}

/**
 * Checks `action` on the study of a scope and returns the view of it the subject gets. A study
 * that does not exist and a denied one answer alike (unless the policy says 403): as the study,
 * series or instance of the scope that is not there ({@link notFound}).
 */
export async function authorizeStudy(catalog: Catalog, access: RequestAccess, action: Action, scope: InstanceScope): Promise<StudyView> {
  const { study } = scope;
  const missing = notFound(scope);
  const resources = (await loadStudyResources(catalog.db, [study])).get(study);
  if (resources === undefined) {
    access.decisions.push({ action, study, allowed: false, reason: 'no such study' });
    throw missing;
  }
  return decide(access, action, study, resources, missing.message);
}

/** Checks `action` on a study described by its resource (STOW of an instance, possibly of a new study). */
export function authorizeResource(access: RequestAccess, action: Action, resource: StudyResource): StudyView {
  return decide(access, action, resource.study, [resource], 'the policy does not allow this');
}

/**
 * The STOW-RS check of each instance: `create` on its study as it would be with the instance: every
 * combination of attributes the catalog has of the study and the one the instance brings, each with
 * the study's modalities and the instance's (a new study: the instance alone). So an instance that
 * names another institution cannot be added to a study the subject may store into. Resolves to the
 * refusal reason, or undefined when allowed.
 */
export function storeAuthorizer(catalog: Catalog, access: RequestAccess): (metadata: DicomJson, study: string) => Promise<string | undefined> {
  const known = new Map<string, Promise<StudyResource[]>>();
  return async (metadata, study) => {
    if (!known.has(study))
      known.set(
        study,
        loadStudyResources(catalog.db, [study]).then((found) => found.get(study) ?? []),
      );
    const own = studyResourceFromInstance(metadata, study);
    const existing = await known.get(study)!;
    const modality = [...new Set([...(existing[0]?.modality ?? []), ...own.modality])].sort();
    const resources = [...existing, own].map((resource) => ({ ...resource, modality }));
    const { decision } = studyDecision(access.ability, 'create', resources);
    access.decisions.push({ action: 'create', study, allowed: decision.allowed, rule: decision.rule, reason: decision.reason, breakGlass: decision.breakGlass });
    return decision.allowed ? undefined : 'the access policy does not allow you to store into this study';
  };
}

/** The views of several studies (QIDO results): FULL for everyone when the subject's strictest view is full. */
export async function studyViews(catalog: Catalog, access: RequestAccess, action: Action, studies: readonly string[]): Promise<Map<string, StudyView>> {
  const views = new Map<string, StudyView>();
  const strictest = access.ability.view(action);
  if (isFullView(strictest)) {
    for (const study of studies) views.set(study, strictest);
    return views;
  }
  const resources = await loadStudyResources(catalog.db, [...new Set(studies)]);
  for (const study of studies) {
    const described = resources.get(study);
    views.set(study, described ? strictestView(described.map((resource) => access.ability.view(action, resource))) : strictest);
  }
  return views;
}

/**
 * Which of some studies (QIDO results) the subject may also `action` (each judged by every
 * combination of its attributes, as {@link authorizeStudy} does). No decision is recorded: nothing
 * is done to them, the caller only decides what to show.
 */
export async function studiesAllowed(catalog: Catalog, access: RequestAccess, action: Action, studies: readonly string[]): Promise<Set<string>> {
  const filter = access.ability.studyFilter(action);
  if (filter.kind === 'all') return new Set(studies);
  if (filter.kind === 'none') return new Set();
  const resources = await loadStudyResources(catalog.db, [...new Set(studies)]);
  return new Set([...resources].filter(([, described]) => studyDecision(access.ability, action, described).decision.allowed).map(([study]) => study));
}

function decide(access: RequestAccess, action: Action, study: string, resources: StudyResource[], deniedMessage: string): StudyView {
  const { decision, view } = studyDecision(access.ability, action, resources);
  access.decisions.push({ action, study, allowed: decision.allowed, rule: decision.rule, reason: decision.reason, breakGlass: decision.breakGlass });
  if (!decision.allowed) throw access.ability.deniedError(deniedMessage);
  return view;
}
