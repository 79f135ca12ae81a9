/**
 * Runs the suite: stores the suite's own data, runs the checks of the chosen profiles in order
 * (each timed; an exception or a deadline in a check fails that check, it never ends the run),
 * then removes what the suite created and reports what it could not remove.
 */
import { randomBytes } from 'node:crypto';
import { CheckFailure, type Check, type CheckResult, type Profile, type Verdict } from './check.js';
import { DicomWebClient } from './client.js';
import { planFixture, storeFixture, type SuiteContext, type SuiteOptions } from './context.js';
import { CORS_CHECKS } from './checks/cors.js';
import { DELETE_CHECKS } from './checks/delete.js';
import { FRAMES_CHECKS } from './checks/frames.js';
import { METADATA_CHECKS } from './checks/metadata.js';
import { NEGOTIATION_CHECKS } from './checks/negotiation.js';
import { QIDO_CHECKS } from './checks/qido.js';
import { RENDERED_CHECKS } from './checks/rendered.js';
import { RETRIEVE_CHECKS } from './checks/retrieve.js';
import { ROBUSTNESS_CHECKS } from './checks/robustness.js';
import { SECURITY_CHECKS } from './checks/security.js';
import { STOW_CHECKS } from './checks/stow.js';

/**
 * Every check, in the order they run: DELETE last of the DICOMweb profile (it removes a study the
 * others read), the security profile after it (its tamper hook alters stored data).
 */
export const ALL_CHECKS: readonly Check[] = [
  ...STOW_CHECKS,
  ...NEGOTIATION_CHECKS,
  ...RETRIEVE_CHECKS,
  ...METADATA_CHECKS,
  ...FRAMES_CHECKS,
  ...RENDERED_CHECKS,
  ...QIDO_CHECKS,
  ...CORS_CHECKS,
  ...ROBUSTNESS_CHECKS,
  ...DELETE_CHECKS,
  ...SECURITY_CHECKS,
];

/** What a run is told. */
export interface RunOptions extends SuiteOptions {
  /** The DICOMweb root of the server under test. */
  baseUrl: string;
  /** Headers sent with every request (credentials). */
  headers: Record<string, string>;
  profile: Profile | 'all';
}

/** The outcome of a run: what the reports are made of. */
export interface RunReport {
  server: { baseUrl: string; serverHeader?: string };
  profile: Profile | 'all';
  startedAt: string;
  durationMs: number;
  results: CheckResult[];
  /** What the suite created and could not remove. */
  leftovers: string[];
  summary: { total: number; passed: number; failed: number; failedRequired: number; skipped: number };
}

/** Runs the suite; `onResult` sees each result as it comes (for the one-line-per-check output). */
export async function runSuite(options: RunOptions, onResult: (result: CheckResult) => void = () => undefined): Promise<RunReport> {
  const started = Date.now();
  const client = new DicomWebClient({ baseUrl: options.baseUrl.replace(/\/+$/, ''), headers: options.headers, timeoutMs: options.timeoutMs });
  const run = randomBytes(4).toString('hex').toUpperCase();
  const context: SuiteContext = { client, options, run, fixture: planFixture(run), created: [], leftovers: [] };
  await storeFixture(context);
  const results: CheckResult[] = [];
  for (const check of ALL_CHECKS.filter((c) => options.profile === 'all' || c.profile === options.profile)) {
    const result = await runCheck(check, context);
    results.push(result);
    onResult(result);
  }
  await cleanUp(context);
  const failed = results.filter((r) => r.outcome === 'fail');
  return {
    server: { baseUrl: options.baseUrl, serverHeader: context.fixture.main.stow?.headers.get('server') ?? undefined },
    profile: options.profile,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    results,
    leftovers: context.leftovers,
    summary: {
      total: results.length,
      passed: results.filter((r) => r.outcome === 'pass').length,
      failed: failed.length,
      failedRequired: failed.filter((r) => r.required).length,
      skipped: results.filter((r) => r.outcome === 'skip').length,
    },
  };
}

/** One check, timed; what it throws is its failure. */
async function runCheck(check: Check, context: SuiteContext): Promise<CheckResult> {
  const started = performance.now();
  let result: Verdict;
  try {
    result = await check.run(context);
  } catch (error) {
    result = error instanceof CheckFailure ? { outcome: 'fail', expected: error.expected, seen: error.seen } : { outcome: 'fail', expected: 'an answer the check can read', seen: `error: ${describeError(error)}` };
  }
  const { id, section, title, profile, required } = check;
  return { id, section, title, profile, required, ...result, durationMs: Math.round(performance.now() - started) };
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${error.message}${cause}`;
}

/** Deletes the studies the suite stored or may have created; what cannot be deleted is a leftover. */
async function cleanUp(context: SuiteContext): Promise<void> {
  const { main, second, doomed } = context.fixture;
  const studies = [...[main, second, doomed].filter((s) => s.stow !== undefined && s.deleted !== true).map((s) => s.uid), ...context.created];
  for (const uid of studies) {
    try {
      const reply = await context.client.request('DELETE', `/studies/${uid}`);
      // 404: never stored, or already removed (by a check that showed DELETE working without credentials).
      if (reply.status === 404) continue;
      if (reply.status >= 300) context.leftovers.push(`study ${uid} (DELETE answered ${reply.status})`);
    } catch (error) {
      context.leftovers.push(`study ${uid} (DELETE failed: ${describeError(error)})`);
    }
  }
}
