/**
 * The manifest of a repaired instance: signed again when a rewritten shard got a new locator,
 * recorded in the catalog only if the row still holds the manifest repair read (compare and set),
 * and copied, sealed, to the manifest copy's backend under its key (a new copy locator recorded the
 * same way; the old copy let go).
 */
import type { FragmentStore } from '../../../adapters/fragment-store.js';
import type { Catalog } from '../../catalog/catalog.js';
import type { Keyring } from '../../keys/keyring.js';
import { signManifest, type Manifest, type ManifestBody } from '../../protection/manifest.js';
import { sealManifestCopy } from '../../protection/manifest-copy.js';
import { MANIFEST_COPY_PREFIX, manifestCopyId } from '../../protection/placement.js';

/**
 * Signs `body` and records it in place of `row.manifest` (without `body`: keeps the recorded
 * manifest), then rewrites the manifest copy; false when the row changed meanwhile.
 */
export async function rewriteManifest(
  deps: { catalog: Catalog; stores: Map<string, FragmentStore>; keyring: Keyring },
  row: { sopInstanceUid: string; manifest: string; backend: string; key: string; locator: string },
  body?: ManifestBody,
): Promise<boolean> {
  const manifest = body === undefined ? (JSON.parse(row.manifest) as Manifest) : signManifest(body, deps.keyring);
  const text = body === undefined ? row.manifest : JSON.stringify(manifest);
  if (body !== undefined && !(await deps.catalog.replaceManifest(row.sopInstanceUid, row.manifest, text))) return false;
  const home = deps.stores.get(row.backend);
  if (home === undefined || !row.key.startsWith(MANIFEST_COPY_PREFIX)) return true;
  const { locator } = await home.put(row.key, sealManifestCopy(manifest, deps.keyring, manifestCopyId(row.key)));
  if (locator !== row.locator && (await deps.catalog.replaceCopyLocator(row.sopInstanceUid, text, row.locator, locator))) await home.delete(row.locator).catch(() => undefined);
  return true;
}
