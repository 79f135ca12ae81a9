/**
 * The ingest of one STOW-RS instance (PS3.18 §10.5): parse the received bytes (never
 * re-serialized), check its UIDs against the request URL and the catalog, ask the policy,
 * protect it and place its fragments on the backends (durable before the catalog row commits),
 * then commit the catalog row; only then is the instance visible. A failure after the bytes were
 * written removes them again. The outcome (`stow-outcomes.ts`) says why an instance was not stored.
 */
import { createHash } from 'node:crypto';
import type { Catalog, InstanceRow, NewInstance } from '../catalog/catalog.js';
import { PendingDeletions } from '../catalog/pending-deletions.js';
import { parseInstance } from '../dicom/parse.js';
import type { DicomJson, ParsedInstance } from '../dicom/types.js';
import { writeProtected, type ProtectionDeps, type WrittenInstance } from './protected-fragments.js';
import { removeStoredInstance, type RemovalDeps } from './removals.js';
import { isGatewayError } from '../errors.js';
import { FailureReason, WarningReason, type StoreOutcome } from './stow-outcomes.js';

/** One received part of a STOW-RS request. */
export interface ReceivedPart {
  /** The part's Content-Type, when it had one. */
  contentType?: string;
  bytes: Uint8Array;
}

/** What the ingest of an instance needs. */
export interface StoreDeps extends ProtectionDeps {
  catalog: Catalog;
  onConflict: 'reject' | 'replace';
  /** Largest inflated size of a deflated data set (`limits.maxInflatedBytes`); beyond it the instance fails with 0xA700. */
  maxInflatedBytes: number;
  /**
   * The access policy's say on writing this instance into its study: undefined when allowed, else
   * why not (the instance then fails with 0x0124). Called after the instance is parsed.
   */
  authorize?(metadata: DicomJson, studyUid: string): Promise<string | undefined>;
}

/** An instance stored: its outcome. */
type Stored = Extract<StoreOutcome, { ok: true }>;
/** The SOP Class and Instance UIDs of a parsed instance, named in every outcome about it. */
type InstanceIds = { sopClassUid: string; sopInstanceUid: string };

/** Stores one received instance; never throws for bad input (the outcome says why it failed). */
export async function storeInstance(deps: StoreDeps, part: ReceivedPart, expectedStudy?: string): Promise<StoreOutcome> {
  const parsed = parseReceived(deps, part);
  if ('failureReason' in parsed) return parsed;
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
  const stored: Stored = { ok: true as const, ...ids, studyUid: parsed.studyInstanceUID, seriesUid: parsed.seriesInstanceUID };
  if (parsed.unreadablePixelData !== undefined) {
    stored.warning = { warningReason: WarningReason.doesNotMatch, reason: `${parsed.sopInstanceUID}: stored as received, its pixel data kept as opaque bytes: ${parsed.unreadablePixelData}` };
  }
  const seriesStudy = await deps.catalog.studyOfSeries(parsed.seriesInstanceUID);
  if (seriesStudy !== undefined && seriesStudy !== parsed.studyInstanceUID) {
    return {
      ok: false,
      ...ids,
      failureReason: FailureReason.doesNotMatch,
      // Not named: the subject may have no right to know that study (a denied study is as missing).
      reason: `Series Instance UID ${parsed.seriesInstanceUID} belongs to another study, not to ${parsed.studyInstanceUID}`,
    };
  }

  // Hashed in place: WebCrypto would hash on the thread pool but copy the instance first, and the
  // protection that follows runs on this thread anyway.
  const sha256 = createHash('sha256').update(part.bytes).digest('hex');
  Object.assign(stored, { sha256, length: part.bytes.length });
  const existing = await deps.catalog.findInstance(parsed.sopInstanceUID);
  if (existing && existing.sha256 === sha256) {
    // Identical bytes are stored already (an idempotent re-store), unless a DELETE that stopped
    // halfway left the row: its key may be gone and the next start removes it, so they are stored again.
    if (!(await new PendingDeletions(deps.catalog.db).includes(parsed.sopInstanceUID))) return stored;
  } else if (existing) {
    const refused = replacementRefusal(deps, existing, parsed, ids);
    if (refused !== undefined) return refused;
  }
  return placeAndCommit(deps, { bytes: part.bytes, parsed, sha256, existing, stored });
}

/** Parses a received part (its media type, then its bytes); the parsed instance, or why it cannot be stored. */
function parseReceived(deps: StoreDeps, part: ReceivedPart): ParsedInstance | Extract<StoreOutcome, { ok: false }> {
  const type = part.contentType?.split(';')[0].trim().toLowerCase();
  if (type !== undefined && type !== 'application/dicom') {
    return { ok: false, failureReason: FailureReason.cannotUnderstand, reason: `part media type ${type} is not application/dicom` };
  }
  if (part.bytes.length === 0) return { ok: false, failureReason: FailureReason.cannotUnderstand, reason: 'empty part' };
  try {
    return parseInstance(part.bytes, { maxInflatedBytes: deps.maxInflatedBytes });
  } catch (error) {
    if (isGatewayError(error, 'INVALID_DICOM')) return { ok: false, failureReason: FailureReason.cannotUnderstand, reason: error.message };
    if (isGatewayError(error, 'PAYLOAD_TOO_LARGE')) return { ok: false, failureReason: FailureReason.outOfResources, reason: `${error.message} (limits.maxInflatedBytes)` };
    deps.logger.error({ err: error }, 'unexpected error while parsing an instance');
    return { ok: false, failureReason: FailureReason.processingFailure, reason: 'the instance could not be processed' };
  }
}

/** Why an instance with other bytes under a stored SOP Instance UID may not replace it, or undefined when it may. */
function replacementRefusal(deps: StoreDeps, existing: InstanceRow, parsed: ParsedInstance, ids: InstanceIds): StoreOutcome | undefined {
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
  return undefined;
}

/** An instance checked and ready to store: its bytes, parse, SHA-256, the row it replaces, its outcome once stored. */
interface Admitted {
  bytes: Uint8Array;
  parsed: ParsedInstance;
  sha256: string;
  existing: InstanceRow | undefined;
  stored: Stored;
}

/**
 * Protects and places the instance on the backends, then commits its catalog row; a failed commit
 * removes what was written (unless a concurrent request recorded these same bytes), and a
 * replaced instance's bytes are removed once the new row is committed.
 */
async function placeAndCommit(deps: StoreDeps, instance: Admitted): Promise<StoreOutcome> {
  const { bytes, parsed, sha256, existing, stored } = instance;
  const ids = { sopClassUid: stored.sopClassUid, sopInstanceUid: stored.sopInstanceUid };
  let written: WrittenInstance | StoredWhole;
  try {
    written = deps.protection.mode === 'none' ? await writeWhole(deps, bytes, sha256) : await writeProtected(deps, bytes, parsed, sha256);
  } catch (error) {
    deps.logger.error({ err: error }, 'protecting or storing an instance failed');
    const backendError = isGatewayError(error, 'BACKEND_UNAVAILABLE') || isGatewayError(error, 'BACKEND_TIMEOUT') ? error : undefined;
    return { ok: false, ...ids, failureReason: FailureReason.outOfResources, reason: 'the backends could not store the instance', ...(backendError && { backendError }) };
  }
  const { locator } = written;
  try {
    await deps.catalog.addInstance(catalogEntry(parsed, bytes.length, sha256, written), { replace: existing !== undefined });
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
    layout: { bulkData: parsed.bulkData, pixelData: parsed.pixelData, deflated: parsed.deflated, ...(parsed.unreadablePixelData === undefined ? {} : { unreadablePixelData: parsed.unreadablePixelData }) },
    size,
    sha256,
    backend: written.backend,
    key: written.key,
    locator: written.locator,
    manifest: written.manifest && JSON.stringify(written.manifest),
    pacs: written.manifest === null ? undefined : written.pacs,
  };
}

/**
 * Removes the stored bytes of a catalog row: its shred key destroyed, then its fragments and
 * manifest copy, or the whole instance of a row from before protection (`removals.ts`).
 */
export async function removeStored(deps: RemovalDeps, row: { manifest: string | null; backend: string; locator: string }): Promise<void> {
  await removeStoredInstance(deps, row);
}
