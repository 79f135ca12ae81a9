/**
 * A data folder with an empty, current catalog, as `aegis start` leaves it, for tests of the CLI
 * commands (which never create a catalog themselves).
 */
import { mkdirSync } from 'node:fs';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { catalogFile } from '../../gateway/cli/data-directory.js';

/** Creates `dataDir` (0700) if missing and an empty catalog in it. */
export async function createCatalog(dataDir: string): Promise<void> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  await (await Catalog.openSqlite(catalogFile(dataDir))).close();
}
