/**
 * The `placement` section of the configuration: which backend (or group of backends) holds each
 * role of fragment, the redundancy groups, and the start-up rule that no provider can rebuild two
 * pixel regions of one instance. Part of the configuration module (`config.ts`), which validates it
 * at start-up with everything else.
 *
 * A group spreads every fragment placed on it over its n backends (shard j on backend j): with
 * `erasure`, any k of the n shards rebuild the fragment (Reed-Solomon; 2-of-4 is DepSky-CA's
 * choice, twice the bytes, any two backends may be lost); with `replication`, each backend holds a
 * whole copy (k = 1). A provider is whoever runs a backend (`providers` maps backends to a shared
 * provider; by default each backend is its own): a provider rebuilds a fragment when it holds at
 * least k of its shards, or holds it whole. The rule: when `placement.regions` is given, no
 * provider may rebuild two regions of one instance, unless `allowSharedProvider` says so. Without
 * `placement.regions` every fragment stays with the instances backend or group: the single-store
 * layout, which splits nothing across providers and is meant for storage the hospital runs itself.
 */
import { z } from 'zod';
import { BackendName } from './config-backends.js';

/** Most shards of one fragment: the coding library's 24 data + 6 parity. */
const MAX_GROUP = 30;

const Group = z.strictObject({
  /** `erasure`: k-of-n Reed-Solomon; `replication`: n whole copies. */
  scheme: z.enum(['erasure', 'replication']),
  /** Shards needed to rebuild a fragment (replication: 1). */
  k: z.number().int().min(1).max(24),
  /** The n backends, shard j on backends[j]; each once. */
  backends: z.array(z.string()).min(2).max(MAX_GROUP),
});

/** The `placement` section. */
export const Placement = z
  .strictObject({
    /** The backend or group of each instance's skeleton, identity and label fragments; its first backend keeps the manifest copy. */
    instances: z.string().default('local'),
    /** The backends or groups of the pixel regions, region i on regions[i mod n]; default: the instances backend. */
    regions: z.array(z.string()).min(1).optional(),
    /** Redundancy groups by name, usable wherever a backend name is. */
    groups: z.record(BackendName, Group).default({}),
    /** Backends run by one provider (one host, one cloud account): backend name -> provider name. Default: each backend its own provider. */
    providers: z.record(z.string(), z.string().min(1)).default({}),
    /** Lets one provider rebuild two regions of an instance (refused at start-up otherwise). */
    allowSharedProvider: z.boolean().default(false),
    /** Shard reads and writes in flight at once for one instance. */
    concurrency: z.number().int().min(1).max(256).default(8),
    /**
     * How long the first k shard reads of a fragment may take before the other shards are read as
     * well (a slow or hanging backend). A shard not read because k others were faster is not
     * checked by that read: `aegis scrub` checks every shard.
     */
    hedgeMilliseconds: z.number().int().min(0).max(60_000).default(300),
  })
  .prefault({});

/** The parsed `placement` section. */
export type PlacementConfig = z.infer<typeof Placement>;

/** What a role target (a backend or a group name) means: its backends and how many shards rebuild a fragment. */
export function targetOf(placement: Pick<PlacementConfig, 'groups'>, name: string): { backends: readonly string[]; k: number } {
  const group = Object.hasOwn(placement.groups, name) ? placement.groups[name] : undefined;
  return group === undefined ? { backends: [name], k: 1 } : { backends: group.backends, k: group.k };
}

/**
 * Problems of a parsed placement against the backends' names and the number of pixel regions:
 * unknown names, groups that cannot be coded or list a backend twice, and a provider able to
 * rebuild two regions of one instance (see the module header).
 */
export function placementProblems(placement: PlacementConfig, backendNames: ReadonlySet<string>, regionCount: number): string[] {
  const problems: string[] = [];
  for (const [name, group] of Object.entries(placement.groups)) {
    if (backendNames.has(name)) problems.push(`placement.groups.${name}: a backend has this name too`);
    group.backends.forEach((b, j) => {
      if (!backendNames.has(b)) problems.push(`placement.groups.${name}.backends.${j}: no backend named '${b}'`);
    });
    if (new Set(group.backends).size !== group.backends.length) problems.push(`placement.groups.${name}.backends: a backend is listed twice (it would hold two shards of each fragment)`);
    const n = group.backends.length;
    if (group.scheme === 'replication' && group.k !== 1) problems.push(`placement.groups.${name}.k: replication stores whole copies, k is 1`);
    if (group.scheme === 'erasure' && !(group.k < n && n - group.k <= 6)) problems.push(`placement.groups.${name}: erasure coding needs k < n and at most 6 parity shards (n - k); got k=${group.k}, n=${n}`);
  }
  for (const backend of Object.keys(placement.providers)) if (!backendNames.has(backend)) problems.push(`placement.providers.${backend}: no backend named '${backend}'`);
  if (placement.regions === undefined || placement.allowSharedProvider) return problems;
  const providerOf = (backend: string) => (Object.hasOwn(placement.providers, backend) ? placement.providers[backend] : backend);
  const rebuilt = new Map<string, number[]>();
  for (let region = 0; region < regionCount; region++) {
    const target = targetOf(placement, placement.regions[region % placement.regions.length]);
    const held = new Map<string, number>();
    for (const backend of target.backends) held.set(providerOf(backend), (held.get(providerOf(backend)) ?? 0) + 1);
    for (const [provider, shards] of held) if (shards >= target.k) rebuilt.set(provider, [...(rebuilt.get(provider) ?? []), region]);
  }
  for (const [provider, regions] of rebuilt) {
    if (regions.length >= 2)
      problems.push(`placement: provider '${provider}' could rebuild regions ${regions.join(', ')} of every instance; spread the regions over more providers (or groups with k >= 2), or set placement.allowSharedProvider`);
  }
  return problems;
}
