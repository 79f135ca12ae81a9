/**
 * Protection statistics (`aegis stats`, `GET /admin/stats`): how the catalog's instances were
 * protected — mode, what happened to the pixels and the identity, which carry a watermark and which
 * rest on the manifest alone, and why — and what that costs in storage per backend. One pass over
 * the catalog's manifests in pages (constant memory: only counters are kept), plus one aggregate
 * query for the rows recorded before protection, and the removal ledger's counts. Reads the catalog only: manifests are not verified
 * (no master key needed) and no backend is asked; the size of each manifest copy is computed from
 * the manifest (`manifestCopyLength`). Not a snapshot: instances stored or deleted during the pass
 * may or may not be counted.
 */
import type { Catalog } from '../../catalog/catalog.js';
import { RemovalLedger, type RemovalTotals } from '../../catalog/removal-ledger.js';
import { storedObjects, storedPieces, type Manifest } from '../../protection/manifest.js';
import { manifestCopyLength } from '../../protection/manifest-copy.js';
import { MANIFEST_COPY_PREFIX, manifestCopyId } from '../../protection/placement.js';

/** How many, and how many for each reason (short keys). */
export interface ReasonCounts {
  count: number;
  reasons: Record<string, number>;
}

/** Bytes a backend holds for the catalog's instances. */
export interface BackendBytes {
  /** Fragments (whole, or shards of one) and their bytes as stored. */
  fragments: number;
  fragmentBytes: number;
  /** Objects holding them: one per fragment or shard, one per bundle of an instance's whole fragments. */
  objects: number;
  /** Manifest copies (`m/<ab>/<id>`, next to the skeleton) and their bytes. */
  manifestCopies: number;
  manifestCopyBytes: number;
  /** Instances recorded before protection, stored whole, and their bytes. */
  unprotectedInstances: number;
  unprotectedBytes: number;
  /** fragmentBytes + manifestCopyBytes + unprotectedBytes. */
  bytes: number;
}

/** What {@link protectionStats} reports (the JSON of `aegis stats --json` and `GET /admin/stats`). */
export interface ProtectionStats {
  /** Every instance of the catalog: protected + unprotected. */
  instances: number;
  /** With a manifest (unreadable ones included). */
  protected: number;
  /** Recorded before protection (no manifest): the whole instance in one backend. */
  unprotected: number;
  /** Protected rows whose manifest text is not a manifest: counted here only. */
  unreadable: number;
  mode: { hardened: number; paper: number };
  /** By pixel protection kind, with why not segmented. */
  pixels: Record<'segmented' | 'striped' | 'none' | 'opaque', ReasonCounts> & Record<string, ReasonCounts>;
  /** Watermarked, or resting on the signed manifest only (with why no watermark). */
  watermark: { watermarked: number; manifestOnly: ReasonCounts };
  /** Identity values cut out of the skeleton, or left in it (with why). */
  identity: { split: number; opaque: ReasonCounts };
  bytes: {
    /** Bytes of the instances as received (manifest `length`; `size` of unprotected rows). */
    received: number;
    /** Bytes in all backends: fragments, manifest copies and unprotected instances. */
    stored: number;
    /** stored / received; null when nothing was received. */
    overheadRatio: number | null;
    backends: Record<string, BackendBytes>;
  };
  /**
   * Fragments of deleted instances awaiting physical removal (the removal ledger): deletes that
   * failed and are retried, and deletes a store made only best-effort (copies may remain elsewhere,
   * unreadable: their shred keys are destroyed).
   */
  awaitingRemoval: RemovalTotals;
}

/** Length of the id in a manifest copy key `m/<ab>/<id>` (a UUID without dashes). */
const COPY_ID_LENGTH = 32;

/** Counts the protection of every instance of `catalog`; `backends` (configured names) are listed even when empty. */
export async function protectionStats(catalog: Catalog, options: { backends?: readonly string[] } = {}): Promise<ProtectionStats> {
  const stats: ProtectionStats = {
    instances: 0,
    protected: 0,
    unprotected: 0,
    unreadable: 0,
    mode: { hardened: 0, paper: 0 },
    pixels: { segmented: counts(), striped: counts(), none: counts(), opaque: counts() },
    watermark: { watermarked: 0, manifestOnly: counts() },
    identity: { split: 0, opaque: counts() },
    bytes: { received: 0, stored: 0, overheadRatio: null, backends: {} },
    awaitingRemoval: { total: 0, failed: 0, bestEffort: 0, backends: {} },
  };
  const backend = (name: string) => (stats.bytes.backends[name] ??= { fragments: 0, fragmentBytes: 0, objects: 0, manifestCopies: 0, manifestCopyBytes: 0, unprotectedInstances: 0, unprotectedBytes: 0, bytes: 0 });
  for (const name of options.backends ?? []) backend(name);

  for await (const row of catalog.manifests()) {
    stats.protected++;
    let manifest: Manifest;
    try {
      manifest = JSON.parse(row.manifest) as Manifest;
      if (manifest === null || typeof manifest !== 'object' || !Array.isArray(manifest.fragments) || typeof manifest.pixels !== 'object') throw new Error('not a manifest');
    } catch {
      stats.unreadable++;
      continue;
    }
    stats.mode[manifest.mode === 'paper' ? 'paper' : 'hardened']++;
    const pixels = manifest.pixels;
    const striped = typeof (pixels.split as { reason?: unknown } | undefined)?.reason === 'string' ? (pixels.split as { reason: string }).reason : undefined;
    add((stats.pixels[pixels.kind] ??= counts()), pixels.kind === 'segmented' ? undefined : (striped ?? reasonKey(pixels.reason)));
    if (pixels.watermark?.applied === true) stats.watermark.watermarked++;
    else {
      const why = pixels.watermark?.reason;
      add(stats.watermark.manifestOnly, why === undefined ? 'no watermark record' : why.startsWith('not segmented') && striped ? `not segmented (${striped})` : reasonKey(why));
    }
    if (manifest.identity?.status === 'split') stats.identity.split++;
    else add(stats.identity.opaque, reasonKey(manifest.identity?.reason));

    stats.bytes.received += manifest.length;
    // A bundle's bytes are exactly its fragments': summing the fragments counts each stored byte once.
    for (const piece of manifest.fragments.flatMap(storedPieces)) {
      const b = backend(piece.backend);
      b.fragments++;
      b.fragmentBytes += piece.length;
    }
    for (const object of storedObjects(manifest.fragments)) backend(object.backend).objects++;
    const home = backend(row.backend);
    home.manifestCopies++;
    // The copy's id is in its key (never assume the locator is the key: an IPFS locator is a CID).
    home.manifestCopyBytes += manifestCopyLength(row.manifest, manifest, row.key.startsWith(MANIFEST_COPY_PREFIX) ? manifestCopyId(row.key) : '0'.repeat(COPY_ID_LENGTH));
  }

  for (const { backend: name, instances, bytes } of await catalog.unprotectedTotals()) {
    const b = backend(name);
    b.unprotectedInstances += instances;
    b.unprotectedBytes += bytes;
    stats.unprotected += instances;
    stats.bytes.received += bytes;
  }
  stats.instances = stats.protected + stats.unprotected;
  for (const b of Object.values(stats.bytes.backends)) {
    b.bytes = b.fragmentBytes + b.manifestCopyBytes + b.unprotectedBytes;
    stats.bytes.stored += b.bytes;
  }
  stats.bytes.overheadRatio = stats.bytes.received > 0 ? stats.bytes.stored / stats.bytes.received : null;
  stats.awaitingRemoval = await new RemovalLedger(catalog.db).totals();
  return stats;
}

/**
 * The short key a reason is counted under: the code of a segmentation refusal (`not segmented
 * (bit-packed): ...` gives `bit-packed`), else the text up to the first ':' (`insufficient
 * capacity: ...` gives `insufficient capacity`), at most 60 characters.
 */
export function reasonKey(text: string | undefined): string {
  if (text === undefined || text.trim() === '') return 'unspecified';
  const code = /^not segmented \(([\w-]+)\)/.exec(text);
  if (code) return code[1];
  const head = text.split(':')[0].trim();
  return head.length > 60 ? `${head.slice(0, 57)}...` : head;
}

function counts(): ReasonCounts {
  return { count: 0, reasons: {} };
}

function add(target: ReasonCounts, reason: string | undefined): void {
  target.count++;
  if (reason !== undefined) target.reasons[reason] = (target.reasons[reason] ?? 0) + 1;
}
