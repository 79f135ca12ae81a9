/**
 * What the stores of each network kind can do, declared apart from their adapters so that the
 * registry knows it without loading an adapter (and its client library). Each adapter's module
 * says why its kind cannot promise more.
 */
import type { FragmentStoreCapabilities } from './fragment-store.js';

/** S3 and its clones: overwrite, list, ranges, certain deletes. */
export const S3_CAPABILITIES: FragmentStoreCapabilities = Object.freeze({ overwrite: true, list: true, rangeRead: true, contentAddressed: false, delete: 'certain', network: true });

/** IPFS: content-addressed, no listing of ours, best-effort deletes (unpin and collect). */
export const IPFS_CAPABILITIES: FragmentStoreCapabilities = Object.freeze({ overwrite: false, list: false, rangeRead: true, contentAddressed: true, delete: 'best-effort', network: true });

/** A PACS over DICOMweb: no overwrite, no listing, no ranges, best-effort deletes. */
export const DICOMWEB_CAPABILITIES: FragmentStoreCapabilities = Object.freeze({ overwrite: false, list: false, rangeRead: false, contentAddressed: false, delete: 'best-effort', network: true });
