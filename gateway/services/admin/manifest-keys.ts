/**
 * The wrapped data keys of protected instances, as `aegis keys rotate` sees them: each
 * lives in its instance's signed manifest (with the id of its shred key, which rotation keeps). Rewrapping replaces the manifest's data key, signs the
 * manifest again under the active master key, records it in the catalog (compare and set on the
 * old manifest) and rewrites the manifest copy in the backend under its key. A store that cannot
 * overwrite (content-addressed, IPFS) gives the rewritten copy a new locator: it is recorded in the
 * catalog (compare and set again) and the old copy deleted. Fragments are not rewritten.
 */
import type { FragmentStore } from '../../../adapters/fragment-store.js';
import type { Catalog } from '../../catalog/catalog.js';
import type { Keyring } from '../../keys/keyring.js';
import type { WrappedDataKey, WrappedKeyStore } from '../../keys/rotation.js';
import { signManifest, verifyManifest, type Manifest } from '../../protection/manifest.js';
import { sealManifestCopy } from '../../protection/manifest-copy.js';
import { MANIFEST_COPY_PREFIX, manifestCopyId } from '../../protection/placement.js';

/** What a rewritten manifest copy may log. */
interface Warn {
  warn(details: object, message: string): void;
}

/** The catalog's manifests as a {@link WrappedKeyStore}. */
export class ManifestKeyStore implements WrappedKeyStore {
  constructor(
    private readonly catalog: Catalog,
    private readonly stores: Map<string, FragmentStore>,
    private readonly keyring: Keyring,
    private readonly logger?: Warn,
  ) {}

  async *list(): AsyncIterable<WrappedDataKey> {
    for await (const row of this.catalog.manifests()) {
      const manifest = JSON.parse(row.manifest) as Manifest;
      if (manifest.dataKey === undefined) continue; // paper mode: nothing encrypted
      yield { id: row.sopInstanceUid, keyId: manifest.dataKey.keyId, wrapped: Buffer.from(manifest.dataKey.wrapped, 'base64') };
    }
  }

  async replace(next: WrappedDataKey, expectedKeyId: string): Promise<boolean> {
    const row = await this.catalog.findInstance(next.id);
    if (!row?.manifest) return false;
    const body = verifyManifest(JSON.parse(row.manifest) as Manifest, this.keyring, next.id);
    if (body.dataKey?.keyId !== expectedKeyId) return false;
    // The shred key id stays: rotation rewraps the data key, never the shred key in the vault.
    const manifest = signManifest({ ...body, dataKey: { ...body.dataKey, keyId: next.keyId, wrapped: next.wrapped.toString('base64') } }, this.keyring);
    const text = JSON.stringify(manifest);
    if (!(await this.catalog.replaceManifest(next.id, row.manifest, text))) return false;
    const home = this.stores.get(row.backend);
    const key = row.storage_key;
    if (home === undefined || !key.startsWith(MANIFEST_COPY_PREFIX)) return true;
    const { locator } = await home.put(key, sealManifestCopy(manifest, this.keyring, manifestCopyId(key)));
    if (locator === row.locator) return true;
    // A new locator (content-addressed store): record it, then let go of the old copy.
    if (await this.catalog.replaceCopyLocator(next.id, text, row.locator, locator)) {
      await home.delete(row.locator).catch((error: unknown) => this.logger?.warn({ err: error, backend: home.name, locator: row.locator }, 'orphaned manifest copy: deleting it failed'));
    } else {
      await home.delete(locator).catch(() => undefined);
    }
    return true;
  }
}
