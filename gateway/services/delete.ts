/**
 * The delete use case: destroys the shred keys of the instances of a study, a series or an
 * instance (crypto-shredding: whatever of them a backend keeps is unreadable from then on, and the
 * audit trail records it), removes them from the catalog, then frees the stored bytes. Nothing
 * half-deleted is ever served: an instance whose key is gone fails verification (502), and the
 * catalog records the delete as in progress before any key goes, so that a delete the process did
 * not finish is finished at the next start (`interrupted-deletes.ts`). Bytes whose removal fails,
 * or that a store deletes only best-effort, go into the removal ledger (`removals.ts`).
 */
import type { Logger } from 'pino';
import type { FragmentStore } from '../../adapters/fragment-store.js';
import type { AuditEvent } from '../access/audit/event.js';
import type { Catalog, InstanceRow, InstanceScope } from '../catalog/catalog.js';
import { PendingDeletions } from '../catalog/pending-deletions.js';
import { GatewayError } from '../errors.js';
import type { Keyring } from '../keys/keyring.js';
import { authorizeStudy, type RequestAccess } from './authorization.js';
import { removeFragments, shredInstances, type ShredReport } from './removals.js';
import { notFound } from './resources.js';

/** What the delete service needs. */
export interface DeleteDeps {
  catalog: Catalog;
  stores: Map<string, FragmentStore>;
  logger: Logger;
  keyring: Keyring;
  /** The audit trail the key destruction is recorded in. */
  audit: { recordNow(event: AuditEvent): Promise<void> };
}

/**
 * Deletes everything in `scope` once the policy allows `access` to delete in its study; NOT_FOUND
 * when there is nothing. Returns the number of instances removed. The shred keys go before the
 * catalog rows, never an erasure undone with the keys still in the vault; a delete interrupted
 * between the two is recorded as in progress and finished at the next start.
 */
export async function deleteInstances(deps: DeleteDeps, access: RequestAccess, scope: InstanceScope, requestId?: string): Promise<number> {
  await authorizeStudy(deps.catalog, access, 'delete', scope);
  const listed = await deps.catalog.listInstances(scope);
  if (listed.length === 0) throw notFound(scope);
  const shredded = new Map<string, InstanceRow>(listed.map((row) => [storedAs(row), row]));
  const pending = new PendingDeletions(deps.catalog.db);
  await pending.begin(listed);
  let failure = shred(deps, listed);
  if (failure instanceof Error) {
    // Keys that cannot be destroyed: nothing is deleted, so the client sees it and can try again.
    await pending.cancel(listed.map((row) => row.sop_instance_uid));
    await recordShredding(deps, access, listed, failure, requestId);
    throw new GatewayError('INTERNAL', 'the shred keys could not be destroyed: nothing was deleted', { cause: failure });
  }
  let removed: InstanceRow[];
  try {
    removed = await deps.catalog.removeInstances(scope);
    // Instances stored into the scope meanwhile are removed too: their keys go as well (also an
    // instance stored again under a listed SOP Instance UID: other bytes, another key).
    const late = removed.filter((row) => !shredded.has(storedAs(row)));
    for (const row of late) shredded.set(storedAs(row), row);
    failure = shred(deps, late, failure);
  } finally {
    await recordShredding(deps, access, [...shredded.values()], failure, requestId);
  }
  await Promise.all(removed.map((row) => removeFragments(deps, row.manifest, row)));
  return removed.length;
}

/** What tells one stored instance from another of the same SOP Instance UID stored before or after it. */
function storedAs(row: InstanceRow): string {
  return `${row.sop_instance_uid}\0${row.backend}\0${row.locator}`;
}

/** Destroys the shred keys of `rows`, adding to the report; the report, or the error when destroying failed. */
function shred(deps: DeleteDeps, rows: InstanceRow[], sofar: ShredReport | Error = { destroyed: 0, withoutShredKey: 0, unencrypted: 0 }): ShredReport | Error {
  if (sofar instanceof Error || rows.length === 0) return sofar;
  try {
    const report = shredInstances(
      deps.keyring,
      rows.map((row) => row.manifest),
    );
    return { destroyed: sofar.destroyed + report.destroyed, withoutShredKey: sofar.withoutShredKey + report.withoutShredKey, unencrypted: sofar.unencrypted + report.unencrypted };
  } catch (error) {
    deps.logger.error({ err: error }, 'destroying the shred keys of deleted instances failed');
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** Records the key destruction (or its failure) in the audit trail; never throws. */
async function recordShredding(deps: DeleteDeps, access: RequestAccess, rows: InstanceRow[], outcome: ShredReport | Error, requestId: string | undefined): Promise<void> {
  const { subject, environment } = access;
  await deps.audit
    .recordNow({
      requestId,
      kind: 'admin',
      operation: 'key-destruction',
      actor: { name: subject.name, role: subject.role, method: subject.method, issuer: subject.issuer, clientAddress: environment.clientAddress },
      action: 'delete',
      resources: rows.map((row) => ({ study: row.study_uid, series: row.series_uid, instance: row.sop_instance_uid })),
      outcome: outcome instanceof Error ? 'error' : 'success',
      reason: outcome instanceof Error ? `crypto-shredding failed: the shred keys of ${rows.length} instances could not all be destroyed` : shredReason(outcome),
    })
    .catch((error: unknown) => deps.logger.error({ err: error }, 'the key destruction could not be recorded in the audit trail'));
}

/** The audit reason of a key destruction that succeeded. */
export function shredReason(report: ShredReport): string {
  const parts = [`crypto-shredding: shred keys of ${report.destroyed} instances destroyed`];
  if (report.withoutShredKey > 0) parts.push(`${report.withoutShredKey} stored before shred keys had none (their manifest copies still open with the master key)`);
  if (report.unencrypted > 0) parts.push(`${report.unencrypted} were stored unencrypted`);
  return parts.join('; ');
}
