/**
 * The delete use case: removes a study, a series or an instance from the catalog, then frees the
 * stored bytes. The catalog goes first so that nothing half-deleted is ever served; bytes whose
 * removal fails are logged as orphans (reclaimed by a later scrub), never left referenced.
 */
import type { Logger } from 'pino';
import type { FragmentStore } from '../../adapters/fragment-store.js';
import type { Catalog, InstanceScope } from '../catalog/catalog.js';
import { authorizeStudy, type RequestAccess } from './authorization.js';
import { removeStored } from './ingest.js';
import { notFound } from './resources.js';

/** What the delete service needs. */
export interface DeleteDeps {
  catalog: Catalog;
  stores: Map<string, FragmentStore>;
  logger: Logger;
}

/**
 * Deletes everything in `scope` once the policy allows `access` to delete in its study; NOT_FOUND
 * when there is nothing. Returns the number of instances removed.
 */
export async function deleteInstances(deps: DeleteDeps, access: RequestAccess, scope: InstanceScope): Promise<number> {
  await authorizeStudy(deps.catalog, access, 'delete', scope);
  const removed = await deps.catalog.removeInstances(scope);
  if (removed.length === 0) throw notFound(scope);
  await Promise.all(removed.map((row) => removeStored(deps, row)));
  return removed.length;
}
