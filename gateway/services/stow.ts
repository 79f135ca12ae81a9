/**
 * The STOW-RS use case (PS3.18 §10.5): the instances of one request are stored as their parts
 * arrive (each by `ingest.ts`, after the policy's say on its study), and the response reports what
 * was stored and what failed (`stow-outcomes.ts`). When the body breaks off after some instances
 * were stored, they stay stored and the rest is reported as not stored.
 */
import type { DicomJson } from '../dicom/types.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { storeAuthorizer, type RequestAccess } from './authorization.js';
import { storeInstance, type ReceivedPart, type StoreDeps } from './ingest.js';
import { FailureReason, stowResponse, type StoreOutcome } from './stow-outcomes.js';
import { signReceipt } from './receipts.js';

/** Instances of one request being stored at the same time. */
const PARTS_IN_FLIGHT = 4;

/** One STOW-RS request, its body not yet read. */
export interface StowRequest {
  /** The parts of the body, as they arrive; a body that cannot be read throws a GatewayError. */
  parts: AsyncIterable<ReceivedPart>;
  /** The study of the request URL (`POST /studies/{study}`), when it names one. */
  study?: string;
  /** The absolute DICOMweb root as the client sees it, for the response's RetrieveURLs. */
  baseUrl: string;
  access: RequestAccess;
  /** Proxy mode with `forwardStow`: sends a stored instance's plain copy on; resolves to a warning when that failed. */
  forward?: (bytes: Uint8Array, sopInstanceUid: string) => Promise<string | undefined>;
}

/** The answer to a STOW-RS request. */
export interface StowResult {
  status: number;
  body: DicomJson;
  /** Instances stored. */
  stored: number;
  /** Why each instance that was not stored failed, and why the rest of a broken-off body was not stored. */
  warnings: string[];
}

/**
 * Stores the instances of a request. Throws when nothing was stored because the body could not be
 * read (its GatewayError), when the body has no parts (MALFORMED_MULTIPART), or when every
 * instance failed because a backend was unavailable or did not answer in time (that backend error).
 */
export async function storeInstances(deps: Omit<StoreDeps, 'authorize'>, request: StowRequest): Promise<StowResult> {
  const storeDeps: StoreDeps = { ...deps, authorize: storeAuthorizer(deps.catalog, request.access) };
  // Parts are stored while the next ones arrive: up to PARTS_IN_FLIGHT at once, so that one
  // instance's fsync overlaps the next one's parsing. Outcomes keep the order of the parts.
  const pending: Promise<StoreOutcome>[] = [];
  let settled = 0;
  const forwardWarnings: string[] = [];
  let bodyError: GatewayError | undefined;
  try {
    for await (const part of request.parts) {
      pending.push(
        storeInstance(storeDeps, part, request.study)
          .catch((error: unknown): StoreOutcome => {
            storeDeps.logger.error({ err: error }, 'storing an instance failed');
            return { ok: false, failureReason: FailureReason.processingFailure, reason: 'the instance could not be processed' };
          })
          .then(async (outcome) => {
            // Only once the protected store succeeded; a failed forward is a warning, never a lost store.
            if (outcome.ok && request.forward) forwardWarnings.push(...[await request.forward(part.bytes, outcome.sopInstanceUid)].filter((w) => w !== undefined));
            return outcome;
          }),
      );
      if (pending.length - settled >= PARTS_IN_FLIGHT) await pending[settled++];
    }
  } catch (error) {
    if (!isGatewayError(error)) throw error;
    bodyError = error;
  }
  const outcomes = await Promise.all(pending);
  await signReceipts(storeDeps, outcomes);
  const warnings = [...outcomes.map((o) => (o.ok ? o.warning?.reason : o.reason)).filter((reason) => reason !== undefined), ...forwardWarnings];
  if (bodyError) {
    if (!outcomes.some((o) => o.ok)) throw bodyError;
    // Instances already stored stay stored; say what happened to the rest.
    warnings.push(`${bodyError.message}; the remaining parts were not stored`);
    outcomes.push({ ok: false, failureReason: FailureReason.cannotUnderstand, reason: bodyError.message });
  }
  if (outcomes.length === 0) throw new GatewayError('MALFORMED_MULTIPART', 'the request contains no parts');
  // Nothing stored because a backend is down or hangs: the backend's 503 (with Retry-After) or 504,
  // which tells the client to come back, rather than 409, which tells it the instances are at fault.
  const backendErrors = outcomes.map((o) => (o.ok ? undefined : o.backendError));
  if (backendErrors.every((e) => e !== undefined)) throw backendErrors[0];
  return { ...stowResponse(outcomes, request.baseUrl, request.study), stored: outcomes.filter((o) => o.ok).length, warnings };
}

/** Adds a signed receipt to every stored instance's outcome (a failure to sign is logged: the instance is stored all the same). */
async function signReceipts(deps: StoreDeps, outcomes: StoreOutcome[]): Promise<void> {
  const storedAt = new Date().toISOString();
  await Promise.all(
    outcomes.map(async (o) => {
      if (!o.ok || o.sha256 === undefined || o.length === undefined) return;
      try {
        o.receipt = await signReceipt(deps.keyring, {
          v: 1,
          iss: deps.protection.gatewayId,
          storedAt,
          studyInstanceUid: o.studyUid,
          seriesInstanceUid: o.seriesUid,
          sopInstanceUid: o.sopInstanceUid,
          sopClassUid: o.sopClassUid,
          sha256: o.sha256,
          length: o.length,
        });
      } catch (error) {
        deps.logger.error({ err: error, sopInstanceUid: o.sopInstanceUid }, 'signing a STOW receipt failed');
      }
    }),
  );
}
