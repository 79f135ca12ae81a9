/**
 * The adapter registry: one factory per backend kind, so that whoever opens the configured
 * backends asks for a kind and gets a {@link FragmentStore}, and a new kind is one entry here (and
 * its configuration schema). Each entry also says what stores of its kind can do, without opening
 * one, for checks made before anything is opened. The network adapters are loaded on their store's
 * first call (see {@link LazyFragmentStore}): their client libraries are large.
 */
import { DICOMWEB_CAPABILITIES, IPFS_CAPABILITIES, S3_CAPABILITIES } from './capabilities.js';
import type { DicomwebFragmentStoreOptions } from './dicomweb/dicomweb-store.js';
import type { FragmentStore, FragmentStoreCapabilities } from './fragment-store.js';
import { FS_CAPABILITIES, FsFragmentStore, type FsFragmentStoreOptions } from './fs/fs-store.js';
import type { IpfsFragmentStoreOptions } from './ipfs/ipfs-store.js';
import { LazyFragmentStore } from './lazy-store.js';
import type { S3FragmentStoreOptions } from './s3/s3-store.js';

/** The options of each kind's adapter. */
export interface AdapterOptions {
  fs: FsFragmentStoreOptions;
  s3: S3FragmentStoreOptions;
  ipfs: IpfsFragmentStoreOptions;
  dicomweb: DicomwebFragmentStoreOptions;
}

/** A backend kind. */
export type AdapterKind = keyof AdapterOptions;

/** How to open a store of one kind, and what such stores can do. */
interface AdapterEntry<K extends AdapterKind> {
  capabilities: FragmentStoreCapabilities;
  open(options: AdapterOptions[K]): FragmentStore;
}

const ADAPTERS: { [K in AdapterKind]: AdapterEntry<K> } = {
  fs: { capabilities: FS_CAPABILITIES, open: (options) => new FsFragmentStore(options) },
  s3: lazily('s3', S3_CAPABILITIES, async (options) => new (await import('./s3/s3-store.js')).S3FragmentStore(options)),
  ipfs: lazily('ipfs', IPFS_CAPABILITIES, async (options) => new (await import('./ipfs/ipfs-store.js')).IpfsFragmentStore(options)),
  dicomweb: lazily('dicomweb', DICOMWEB_CAPABILITIES, async (options) => new (await import('./dicomweb/dicomweb-store.js')).DicomwebFragmentStore(options)),
};

/** The entry of a kind whose adapter module is imported on its store's first call. */
function lazily<K extends AdapterKind>(kind: K, capabilities: FragmentStoreCapabilities, open: (options: AdapterOptions[K]) => Promise<FragmentStore>): AdapterEntry<K> {
  return { capabilities, open: (options) => new LazyFragmentStore({ name: options.name, kind, capabilities }, () => open(options)) };
}

/** Every kind the registry knows. */
export const ADAPTER_KINDS = Object.keys(ADAPTERS) as AdapterKind[];

/** Opens a store of `kind` (stores connect lazily: opening never touches the backend). */
export function openFragmentStore<K extends AdapterKind>(kind: K, options: AdapterOptions[K]): FragmentStore {
  const entry = ADAPTERS[kind] as AdapterEntry<K> | undefined;
  if (entry === undefined) throw new Error(`no adapter of kind '${String(kind)}' (known: ${ADAPTER_KINDS.join(', ')})`);
  return entry.open(options);
}

/** What stores of `kind` can do. */
export function adapterCapabilities(kind: AdapterKind): FragmentStoreCapabilities {
  return ADAPTERS[kind].capabilities;
}
