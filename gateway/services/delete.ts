/**
 * The delete use case: removes a study, a series or an instance from the catalog, destroys the
 * instances' shred keys (crypto-shredding: whatever of them a backend keeps is unreadable from
 * then on, and the audit trail records it), then frees the stored bytes. The catalog goes first so
 * that nothing half-deleted is ever served; bytes whose removal fails, or that a store deletes only
 * best-effort, go into the removal ledger (`removals.ts`).
 */
import type { Logger } from 'pino';
import type { FragmentStore } from '../../adapters/fragment-store.js';
import type { AuditEvent } from '../access/audit/event.js';
import type { Catalog, InstanceRow, InstanceScope } from '../catalog/catalog.js';
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
 * when there is nothing. Returns the number of instances removed.
 */
export async function deleteInstances(deps: DeleteDeps, access: RequestAccess, scope: InstanceScope, requestId?: string): Promise<number> {
  await authorizeStudy(deps.catalog, access, 'delete', scope);
  const removed = await deps.catalog.removeInstances(scope);
  if (removed.length === 0) throw notFound(scope);
  await shredAndRecord(deps, access, removed, requestId);
  await Promise.all(removed.map((row) => removeFragments(deps, row.manifest, row)));
  return removed.length;
}

/** Destroys the shred keys of the removed instances and records that (or its failure) in the audit trail. */
async function shredAndRecord(deps: DeleteDeps, access: RequestAccess, removed: InstanceRow[], requestId: string | undefined): Promise<void> {
  let outcome: AuditEvent['outcome'] = 'success';
  let reason: string;
  try {
    reason = shredReason(
      shredInstances(
        deps.keyring,
        removed.map((row) => row.manifest),
      ),
    );
  } catch (error) {
    deps.logger.error({ err: error }, 'destroying the shred keys of deleted instances failed');
    outcome = 'error';
    reason = `crypto-shredding failed: the shred keys of ${removed.length} deleted instances could not be destroyed`;
  }
  const { subject, environment } = access;
  await deps.audit
    .recordNow({
      requestId,
      kind: 'admin',
      operation: 'key-destruction',
      actor: { name: subject.name, role: subject.role, method: subject.method, issuer: subject.issuer, clientAddress: environment.clientAddress },
      action: 'delete',
      resources: removed.map((row) => ({ study: row.study_uid, series: row.series_uid, instance: row.sop_instance_uid })),
      outcome,
      reason,
    })
    .catch((error: unknown) => deps.logger.error({ err: error }, 'the key destruction could not be recorded in the audit trail'));
}

function shredReason(report: ShredReport): string {
  const parts = [`crypto-shredding: shred keys of ${report.destroyed} instances destroyed`];
  if (report.withoutShredKey > 0) parts.push(`${report.withoutShredKey} stored before shred keys had none (their manifest copies still open with the master key)`);
  if (report.unencrypted > 0) parts.push(`${report.unencrypted} were stored unencrypted`);
  return parts.join('; ');
}
