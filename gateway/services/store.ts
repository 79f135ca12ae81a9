/**
 * The STOW-RS store use case (PS3.18 §10.5): each received instance is validated, hashed,
 * written to its backend (durable before the catalog row commits) and recorded; the outcome per
 * instance follows PS3.18 Table 10.5.3-1: ReferencedSOPSequence for stored instances,
 * FailedSOPSequence with a FailureReason (PS3.4 Annex GG / C.4.2.1.4) for the others.
 * The received bytes are stored as they are: never re-serialized.
 */
import { createHash } from 'node:crypto';
import type { Catalog, NewInstance } from '../catalog/catalog.js';
import { parseInstance } from '../dicom/parse.js';
import type { DicomJson, ParsedInstance } from '../dicom/types.js';
import { removeProtected, writeProtected, type ProtectionDeps, type WrittenInstance } from './protected-fragments.js';
import { isGatewayError } from '../errors.js';

/** FailureReason values used in FailedSOPSequence. */
export const FailureReason = {
  /** 0x0110 Processing failure. */
  processingFailure: 0x0110,
  /** 0x0111 Duplicate SOP Instance (a different instance with this SOP Instance UID is stored). */
  duplicateSopInstance: 0x0111,
  /** 0x0124 Refused: not authorized (PS3.7 C.4.2.1.4; the access policy refuses this study). */
  notAuthorized: 0x0124,
  /** 0xA700 Refused: out of resources. */
  outOfResources: 0xa700,
  /** 0xA900 Error: data set does not match SOP Class (here: study UID differs from the URL). */
  doesNotMatch: 0xa900,
  /** 0xC000 Error: cannot understand. */
  cannotUnderstand: 0xc000,
} as const;

/** One received part of a STOW-RS request. */
export interface ReceivedPart {
  /** The part's Content-Type, when it had one. */
  contentType?: string;
  bytes: Uint8Array;
}

/** The outcome of storing one instance. */
export type StoreOutcome =
  | { ok: true; sopClassUid: string; sopInstanceUid: string; studyUid: string; seriesUid: string }
  | { ok: false; sopClassUid?: string; sopInstanceUid?: string; failureReason: number; reason: string };

/** What the store service needs. */
export interface StoreDeps extends ProtectionDeps {
  catalog: Catalog;
  onConflict: 'reject' | 'replace';
  /**
   * The access policy's say on writing this instance into its study: undefined when allowed, else
   * why not (the instance then fails with 0x0124). Called after the instance is parsed.
   */
  authorize?(metadata: DicomJson, studyUid: string): Promise<string | undefined>;
}

/** Stores one received instance; never throws for bad input (the outcome says why it failed). */
export async function storeInstance(deps: StoreDeps, part: ReceivedPart, expectedStudy?: string): Promise<StoreOutcome> {
  const type = part.contentType?.split(';')[0].trim().toLowerCase();
  if (type !== undefined && type !== 'application/dicom') {
    return { ok: false, failureReason: FailureReason.cannotUnderstand, reason: `part media type ${type} is not application/dicom` };
  }
  if (part.bytes.length === 0) return { ok: false, failureReason: FailureReason.cannotUnderstand, reason: 'empty part' };

  let parsed;
  try {
    parsed = parseInstance(part.bytes);
  } catch (error) {
    if (isGatewayError(error, 'INVALID_DICOM')) return { ok: false, failureReason: FailureReason.cannotUnderstand, reason: error.message };
    deps.logger.error({ err: error }, 'unexpected error while parsing an instance');
    return { ok: false, failureReason: FailureReason.processingFailure, reason: 'the instance could not be processed' };
  }
  const ids = { sopClassUid: parsed.sopClassUID, sopInstanceUid: parsed.sopInstanceUID };
  if (!parsed.studyInstanceUID || !parsed.seriesInstanceUID) {
    return { ok: false, ...ids, failureReason: FailureReason.cannotUnderstand, reason: 'the instance has no Study or Series Instance UID' };
  }
  if (expectedStudy !== undefined && parsed.studyInstanceUID !== expectedStudy) {
    return {
      ok: false,
      ...ids,
      failureReason: FailureReason.doesNotMatch,
      reason: `Study Instance UID ${parsed.studyInstanceUID} does not match the study ${expectedStudy} of the request URL`,
    };
  }
  const refusal = await deps.authorize?.(parsed.metadata, parsed.studyInstanceUID);
  if (refusal !== undefined) return { ok: false, ...ids, failureReason: FailureReason.notAuthorized, reason: refusal };
  const stored = { ok: true as const, ...ids, studyUid: parsed.studyInstanceUID, seriesUid: parsed.seriesInstanceUID };
  const seriesStudy = await deps.catalog.studyOfSeries(parsed.seriesInstanceUID);
  if (seriesStudy !== undefined && seriesStudy !== parsed.studyInstanceUID) {
    return {
      ok: false,
      ...ids,
      failureReason: FailureReason.doesNotMatch,
      reason: `Series Instance UID ${parsed.seriesInstanceUID} belongs to study ${seriesStudy}, not to ${parsed.studyInstanceUID}`,
    };
  }

  // Hashed in place: WebCrypto would hash on the thread pool but copy the instance first, and the
  // protection that follows runs on this thread anyway.
  const sha256 = createHash('sha256').update(part.bytes).digest('hex');
  const existing = await deps.catalog.findInstance(parsed.sopInstanceUID);
  if (existing) {
    if (existing.sha256 === sha256) return stored; // idempotent re-store of identical bytes
    if (deps.onConflict === 'reject') {
      return {
        ok: false,
        ...ids,
        failureReason: FailureReason.duplicateSopInstance,
        reason: `a different instance with SOP Instance UID ${parsed.sopInstanceUID} is already stored (the configuration rejects replacements)`,
      };
    }
    if (existing.study_uid !== parsed.studyInstanceUID || existing.series_uid !== parsed.seriesInstanceUID) {
      return {
        ok: false,
        ...ids,
        failureReason: FailureReason.doesNotMatch,
        reason: `SOP Instance UID ${parsed.sopInstanceUID} is stored in another study or series; delete it first`,
      };
    }
  }

  let written: WrittenInstance | StoredWhole;
  try {
    written = deps.protection.mode === 'none' ? await writeWhole(deps, part.bytes, sha256) : await writeProtected(deps, part.bytes, parsed, sha256);
  } catch (error) {
    deps.logger.error({ err: error }, 'protecting or storing an instance failed');
    return { ok: false, ...ids, failureReason: FailureReason.outOfResources, reason: 'the backends could not store the instance' };
  }
  const { locator } = written;
  try {
    await deps.catalog.addInstance(
      catalogEntry(parsed, part.bytes.length, sha256, written),
      { replace: existing !== undefined },
    );
  } catch (error) {
    // A concurrent request may have recorded the same SOP Instance UID first.
    const now = await deps.catalog.findInstance(parsed.sopInstanceUID).catch(() => undefined);
    if (now?.sha256 === sha256) return stored;
    if (!now || now.locator !== locator) await removeStored(deps, { ...written, manifest: written.manifest && JSON.stringify(written.manifest) });
    if (now) {
      return { ok: false, ...ids, failureReason: FailureReason.duplicateSopInstance, reason: `a different instance with SOP Instance UID ${parsed.sopInstanceUID} was stored concurrently` };
    }
    deps.logger.error({ err: error }, 'recording an instance in the catalog failed');
    return { ok: false, ...ids, failureReason: FailureReason.processingFailure, reason: 'the catalog could not record the instance' };
  }
  if (existing && existing.locator !== locator) await removeStored(deps, existing);
  return stored;
}

/** An instance stored whole, as received (protection mode `none`). */
interface StoredWhole {
  manifest: null;
  backend: string;
  key: string;
  locator: string;
}

/** The unprotected path: the received bytes as one file on the instances backend. */
async function writeWhole(deps: StoreDeps, bytes: Uint8Array, sha256: string): Promise<StoredWhole> {
  const store = deps.stores.get(deps.placement.instances)!;
  const key = `instances/${sha256}.dcm`;
  const { locator } = await store.put(key, bytes);
  return { manifest: null, backend: store.name, key, locator };
}

/** The catalog row of a stored instance (STOW, and `aegis reindex` from the backends). */
export function catalogEntry(parsed: ParsedInstance, size: number, sha256: string, written: WrittenInstance | StoredWhole): NewInstance {
  return {
    sopInstanceUid: parsed.sopInstanceUID,
    seriesUid: parsed.seriesInstanceUID,
    studyUid: parsed.studyInstanceUID,
    sopClassUid: parsed.sopClassUID,
    transferSyntaxUid: parsed.transferSyntaxUID,
    metadata: { ...parsed.metadata, '00083002': { vr: 'UI', Value: [parsed.transferSyntaxUID] } },
    layout: { bulkData: parsed.bulkData, pixelData: parsed.pixelData, deflated: parsed.deflated },
    size,
    sha256,
    backend: written.backend,
    key: written.key,
    locator: written.locator,
    manifest: written.manifest && JSON.stringify(written.manifest),
  };
}

/** Removes the stored bytes of a catalog row: its fragments and manifest copy, or the whole instance of a row from before protection. */
export async function removeStored(deps: Pick<ProtectionDeps, 'stores' | 'logger'>, row: { manifest: string | null; backend: string; locator: string }): Promise<void> {
  if (row.manifest !== null) return removeProtected(deps, row.manifest, row);
  await deps.stores
    .get(row.backend)
    ?.delete(row.locator)
    .catch((error: unknown) => deps.logger.warn({ err: error, backend: row.backend, locator: row.locator }, 'orphaned instance: deleting it failed'));
}

/** Builds the STOW-RS response data set (PS3.18 Table 10.5.3-2) and its HTTP status. */
export function stowResponse(outcomes: StoreOutcome[], baseUrl: string, study?: string): { status: number; body: DicomJson } {
  const stored = outcomes.filter((o): o is Extract<StoreOutcome, { ok: true }> => o.ok);
  const failed = outcomes.filter((o): o is Extract<StoreOutcome, { ok: false }> => !o.ok);
  const body: DicomJson = {};
  const studies = new Set(stored.map((o) => o.studyUid));
  const retrieveStudy = study ?? (studies.size === 1 ? [...studies][0] : undefined);
  if (retrieveStudy) body['00081190'] = { vr: 'UR', Value: [`${baseUrl}/studies/${retrieveStudy}`] };
  if (failed.length > 0) {
    body['00081198'] = {
      vr: 'SQ',
      Value: failed.map((o) => ({
        ...(o.sopClassUid ? { '00081150': { vr: 'UI', Value: [o.sopClassUid] } } : { '00081150': { vr: 'UI' } }),
        ...(o.sopInstanceUid ? { '00081155': { vr: 'UI', Value: [o.sopInstanceUid] } } : { '00081155': { vr: 'UI' } }),
        '00081197': { vr: 'US', Value: [o.failureReason] },
      })),
    };
  }
  if (stored.length > 0) {
    body['00081199'] = {
      vr: 'SQ',
      Value: stored.map((o) => ({
        '00081150': { vr: 'UI', Value: [o.sopClassUid] },
        '00081155': { vr: 'UI', Value: [o.sopInstanceUid] },
        '00081190': { vr: 'UR', Value: [`${baseUrl}/studies/${o.studyUid}/series/${o.seriesUid}/instances/${o.sopInstanceUid}`] },
      })),
    };
  }
  const status = failed.length === 0 ? 200 : stored.length === 0 ? 409 : 202;
  return { status, body };
}

