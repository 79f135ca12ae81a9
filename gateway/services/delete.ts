/**
 * The delete use case: removes a study, a series or an instance from the catalog, then frees the
 * stored bytes. The catalog goes first so that nothing half-deleted is ever served; bytes whose
 * removal fails are logged as orphans (reclaimed by a later scrub), never left referenced.
 */
import type { Logger } from 'pino';
import type { FragmentStore } from '../../adapters/fragment-store.js';
import type { Catalog, InstanceScope } from '../catalog/catalog.js';
import { GatewayError } from '../errors.js';
import { removeStored } from './store.js';

/** What the delete service needs. */
export interface DeleteDeps {
  catalog: Catalog;
  stores: Map<string, FragmentStore>;
  logger: Logger;
}

/** Deletes everything in `scope`; NOT_FOUND when there is nothing. Returns the number of instances removed. */
export async function deleteInstances(deps: DeleteDeps, scope: InstanceScope): Promise<number> {
  const removed = await deps.catalog.removeInstances(scope);
  if (removed.length === 0) throw new GatewayError('NOT_FOUND', `no ${scope.instance ? 'instance' : scope.series ? 'series' : 'study'} with that UID`);
  await Promise.all(removed.map((row) => removeStored(deps, row)));
  return removed.length;
}
