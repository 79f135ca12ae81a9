/**
 * Finishing the deletes a process did not finish. A DELETE records its instances as being deleted,
 * destroys their shred keys, then removes their rows (`delete.ts`); killed in between, it leaves
 * instances that are still catalogued but may no longer open. At start, before serving, each
 * process finishes them the way the DELETE would have: the keys destroyed (again: destroying a key
 * that is gone changes nothing), the rows removed, the destruction audited, the stored bytes
 * deleted. Two processes starting at once share the work: a row is removed by one of them only.
 */
import { hostname } from 'node:os';
import type { InstanceRow } from '../catalog/catalog.js';
import { PendingDeletions } from '../catalog/pending-deletions.js';
import { shredReason, type DeleteDeps } from './delete.js';
import { removeFragments, shredInstances } from './removals.js';

/** Finishes the deletes that did not finish; resolves to the number of instances removed. Throws when the keys cannot be destroyed (the records stay for the next start). */
export async function finishInterruptedDeletes(deps: DeleteDeps): Promise<number> {
  const rows = await new PendingDeletions(deps.catalog.db).interrupted();
  if (rows.length === 0) return 0;
  const report = shredInstances(
    deps.keyring,
    rows.map((row) => row.manifest),
  );
  const removed: InstanceRow[] = [];
  for (const row of rows) removed.push(...(await deps.catalog.removeInstances({ study: row.study_uid, series: row.series_uid, instance: row.sop_instance_uid })));
  if (removed.length === 0) return 0;
  await deps.audit
    .recordNow({
      kind: 'admin',
      operation: 'key-destruction',
      actor: { name: `aegis@${hostname()}`, method: 'local' },
      action: 'delete',
      resources: removed.map((row) => ({ study: row.study_uid, series: row.series_uid, instance: row.sop_instance_uid })),
      outcome: 'success',
      reason: `a delete the gateway did not finish before it stopped, finished at start-up: ${shredReason(report)}`,
    })
    .catch((error: unknown) => deps.logger.error({ err: error }, 'finishing an interrupted delete could not be recorded in the audit trail'));
  deps.logger.warn({ instances: removed.length }, 'finished deletes that a stopped gateway had not finished');
  await Promise.all(removed.map((row) => removeFragments(deps, row.manifest, row)));
  return removed.length;
}
