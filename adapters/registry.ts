/**
 * The adapter registry: one factory per backend kind, so that whoever opens the configured
 * backends asks for a kind and gets a {@link FragmentStore}, and a new kind is one entry here (and
 * its configuration schema). Each entry also says what stores of its kind can do, without opening
 * one, for checks made before anything is opened.
 */
import type { FragmentStore, FragmentStoreCapabilities } from './fragment-store.js';
import { DICOMWEB_CAPABILITIES, DicomwebFragmentStore, type DicomwebFragmentStoreOptions } from './dicomweb/dicomweb-store.js';
import { FS_CAPABILITIES, FsFragmentStore, type FsFragmentStoreOptions } from './fs/fs-store.js';
import { IPFS_CAPABILITIES, IpfsFragmentStore, type IpfsFragmentStoreOptions } from './ipfs/ipfs-store.js';
import { S3_CAPABILITIES, S3FragmentStore, type S3FragmentStoreOptions } from './s3/s3-store.js';

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
  s3: { capabilities: S3_CAPABILITIES, open: (options) => new S3FragmentStore(options) },
  ipfs: { capabilities: IPFS_CAPABILITIES, open: (options) => new IpfsFragmentStore(options) },
  dicomweb: { capabilities: DICOMWEB_CAPABILITIES, open: (options) => new DicomwebFragmentStore(options) },
};

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
