/**
 * Rebuilds the catalog from the backends alone (`aegis reindex`): every manifest copy
 * (`m/<ab>/<id>`) in every backend is opened, its signature verified, its instance fetched, reassembled
 * and verified like a WADO-RS read, parsed, and recorded as STOW would record it. Instances the
 * catalog already holds with the same SHA-256 are left alone; anything that does not verify is
 * reported, never recorded.
 *
 * Finding the copies needs a backend that lists its fragments by key (`capabilities.list`: fs, s3).
 * Backends that cannot (ipfs) are named in the report as not searched; when the instances backend,
 * where the copies are written, cannot list, reindex refuses with UNSUPPORTED.
 */
import type { Logger } from 'pino';
import type { FragmentStore } from '../../../adapters/fragment-store.js';
import type { Catalog } from '../../catalog/catalog.js';
import { parseInstance } from '../../dicom/parse.js';
import { GatewayError, isGatewayError } from '../../errors.js';
import type { Keyring } from '../../keys/keyring.js';
import { verifyManifest } from '../../protection/manifest.js';
import { openManifestCopy } from '../../protection/manifest-copy.js';
import { MANIFEST_COPY_PREFIX } from '../../protection/placement.js';
import { pacsInstancesOf, readProtected } from '../protected-fragments.js';
import { catalogEntry } from '../ingest.js';

/** What a reindex did. */
export interface ReindexReport {
  manifests: number;
  restored: number;
  alreadyPresent: number;
  failed: Array<{ backend: string; locator: string; reason: string }>;
  /** Backends not searched: they cannot list their fragments. */
  unlisted: Array<{ backend: string; kind: string }>;
}

/** Scans every backend for manifest copies and records what verifies. */
export async function reindex(deps: { catalog: Catalog; stores: Map<string, FragmentStore>; keyring: Keyring; logger: Logger; instances?: string }): Promise<ReindexReport> {
  const report: ReindexReport = { manifests: 0, restored: 0, alreadyPresent: 0, failed: [], unlisted: [] };
  const home = deps.instances === undefined ? undefined : deps.stores.get(deps.instances);
  if (home !== undefined && !listsByKey(home)) {
    throw new GatewayError('UNSUPPORTED', `reindex lists the manifest copies in the instances backend '${home.name}', and a ${home.kind} backend cannot list its fragments: reindex needs instances on a backend that can (fs, s3)`);
  }
  for (const store of deps.stores.values()) {
    if (!listsByKey(store)) {
      report.unlisted.push({ backend: store.name, kind: store.kind });
      continue;
    }
    for await (const locator of store.list(MANIFEST_COPY_PREFIX)) {
      report.manifests++;
      try {
        const copy = openManifestCopy(await store.get(locator), deps.keyring);
        const manifest = verifyManifest(copy, deps.keyring);
        const existing = await deps.catalog.findInstance(manifest.sopInstanceUid);
        if (existing?.sha256 === manifest.sha256) {
          report.alreadyPresent++;
          continue;
        }
        const bytes = await readProtected(deps, JSON.stringify(copy), manifest.sopInstanceUid);
        const parsed = parseInstance(bytes);
        await deps.catalog.addInstance(catalogEntry(parsed, bytes.length, manifest.sha256, { manifest: copy, backend: store.name, key: locator, locator, pacs: pacsInstancesOf(copy, deps.stores) }), { replace: existing !== undefined });
        report.restored++;
      } catch (error) {
        if (!isGatewayError(error) && !(error instanceof SyntaxError)) throw error;
        deps.logger.warn({ err: error, backend: store.name, locator }, 'reindex: a manifest copy did not verify');
        report.failed.push({ backend: store.name, locator, reason: error.message });
      }
    }
  }
  return report;
}

/** A store whose listing gives its keys: it lists, and its locators are its keys. */
function listsByKey(store: FragmentStore): boolean {
  return store.capabilities.list && !store.capabilities.contentAddressed;
}
