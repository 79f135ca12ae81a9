/**
 * Finishing the deletes a process did not finish. A DELETE records its instances as being deleted,
 * destroys their shred keys, then removes their rows (`delete.ts`); killed in between, it leaves
 * instances that are still catalogued but may no longer open. At start, before serving, each
 * process finishes them the way the DELETE would have: the keys destroyed (again: destroying a key
 * that is gone changes nothing), the rows removed, the destruction audited, the stored bytes
 * deleted. The destruction is audited once the keys are gone and before the rows go, so that a
 * process killed while finishing leaves no destroyed key unaudited; a failed destruction is audited
 * as such. Two processes starting at once share the removal (a row is removed by one of them only)
 * and may both record the destruction.
 */
import { hostname } from 'node:os';
import type { InstanceRow } from '../catalog/catalog.js';
import { PendingDeletions } from '../catalog/pending-deletions.js';
import { shredReason, type DeleteDeps } from './delete.js';
import { removeFragments, shredInstances, type ShredReport } from './removals.js';

/** Finishes the deletes that did not finish; resolves to the number of instances removed. Throws when the keys cannot be destroyed (the records stay for the next start). */
export async function finishInterruptedDeletes(deps: DeleteDeps): Promise<number> {
  const rows = await new PendingDeletions(deps.catalog.db).interrupted();
  if (rows.length === 0) return 0;
  let report: ShredReport;
  try {
    report = shredInstances(
      deps.keyring,
      rows.map((row) => row.manifest),
    );
  } catch (error) {
    await recordDestruction(deps, rows, 'error', `crypto-shredding failed: the shred keys of ${rows.length} instances could not all be destroyed; tried again at the next start`);
    throw error;
  }
  // Audited as soon as the keys are gone, before the rows go: a process killed while removing them
  // leaves no destroyed key unaudited (the next start records the instances left once more).
  await recordDestruction(deps, rows, 'success', `finished at start-up: ${shredReason(report)}`);
  const removed: InstanceRow[] = [];
  for (const row of rows) removed.push(...(await deps.catalog.removeInstances({ study: row.study_uid, series: row.series_uid, instance: row.sop_instance_uid })));
  if (removed.length === 0) return 0;
  // A row another worker stored meanwhile under a recorded SOP Instance UID went too: its key goes as well.
  const listed = new Set(rows.map(storedAs));
  shredInstances(
    deps.keyring,
    removed.filter((row) => !listed.has(storedAs(row))).map((row) => row.manifest),
  );
  deps.logger.warn({ instances: removed.length }, 'finished deletes that a stopped gateway had not finished');
  await Promise.all(removed.map((row) => removeFragments(deps, row.manifest, row)));
  return removed.length;
}

/** What tells one stored instance from another of the same SOP Instance UID. */
function storedAs(row: InstanceRow): string {
  return `${row.sop_instance_uid}\0${row.backend}\0${row.locator}`;
}

/** Records the destruction of the keys of `rows` (or its failure) in the audit trail; never throws. */
async function recordDestruction(deps: DeleteDeps, rows: InstanceRow[], outcome: 'success' | 'error', reason: string): Promise<void> {
  await deps.audit
    .recordNow({
      kind: 'admin',
      operation: 'key-destruction',
      actor: { name: `aegis@${hostname()}`, method: 'local' },
      action: 'delete',
      resources: rows.map((row) => ({ study: row.study_uid, series: row.series_uid, instance: row.sop_instance_uid })),
      outcome,
      reason: `a delete the gateway did not finish before it stopped, ${reason}`,
    })
    .catch((error: unknown) => deps.logger.error({ err: error }, 'finishing an interrupted delete could not be recorded in the audit trail'));
}
