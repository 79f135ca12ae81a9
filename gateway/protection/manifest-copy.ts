/**
 * The copy of a signed manifest kept in a backend next to the skeleton, so that `aegis reindex` can
 * rebuild the catalog from the backends alone. In hardened mode the manifest is sealed with
 * AES-256-GCM under a key derived (HKDF) from the master key its signature names, the storage id
 * bound as associated data; in paper mode it is stored plain. Either way it sits in a small JSON
 * envelope, and its signature is verified after it is opened.
 */
import { GatewayError } from '../errors.js';
import { deriveKey } from '../keys/derive.js';
import { decryptFragment, encryptFragment, SEALED_OVERHEAD } from '../keys/envelope.js';
import type { Keyring } from '../keys/keyring.js';
import type { Manifest } from './manifest.js';

/**
 * The manifest copy kept in a backend: the signed manifest, sealed under a key derived from the
 * active master key (hardened) or plain (paper mode), in a small JSON envelope.
 */
export function sealManifestCopy(manifest: Manifest, keyring: Keyring, id: string): Buffer {
  const text = Buffer.from(JSON.stringify(manifest), 'utf8');
  if (manifest.mode === 'paper') return Buffer.from(JSON.stringify({ format: 'aegis-manifest', id, manifest }), 'utf8');
  const keyId = manifest.signature.keyId;
  const sealed = encryptFragment(copyKey(keyring, keyId), text, copyAad(id));
  return Buffer.from(JSON.stringify({ format: 'aegis-manifest', id, keyId, sealed: sealed.toString('base64') }), 'utf8');
}

/**
 * Bytes of the manifest copy {@link sealManifestCopy} writes for a manifest whose catalog text is
 * `text` (`JSON.stringify` of the signed manifest, as recorded), computed without reading the
 * backend (stats): the same envelope, with the length of the sealed text in base64.
 */
export function manifestCopyLength(text: string, manifest: Pick<Manifest, 'mode' | 'signature'>, id: string): number {
  const length = Buffer.byteLength(text, 'utf8');
  if (manifest.mode === 'paper') return Buffer.byteLength(JSON.stringify({ format: 'aegis-manifest', id, manifest: 0 }), 'utf8') - 1 + length;
  const envelope = Buffer.byteLength(JSON.stringify({ format: 'aegis-manifest', id, keyId: manifest.signature.keyId, sealed: '' }), 'utf8');
  return envelope + 4 * Math.ceil((SEALED_OVERHEAD + length) / 3);
}

/** Opens a manifest copy (reindex); INTEGRITY_FAILURE when it was altered. Verify its signature next. */
export function openManifestCopy(bytes: Uint8Array, keyring: Keyring): Manifest {
  let envelope: { format?: string; id?: string; keyId?: string; sealed?: string; manifest?: Manifest };
  try {
    envelope = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new GatewayError('INTEGRITY_FAILURE', 'a manifest copy is not JSON', { cause: error });
  }
  if (envelope.format !== 'aegis-manifest' || typeof envelope.id !== 'string') throw new GatewayError('INTEGRITY_FAILURE', 'not a manifest copy');
  if (envelope.manifest) return envelope.manifest;
  if (typeof envelope.keyId !== 'string' || typeof envelope.sealed !== 'string') throw new GatewayError('INTEGRITY_FAILURE', 'a manifest copy without its sealed manifest');
  const text = decryptFragment(copyKey(keyring, envelope.keyId), Buffer.from(envelope.sealed, 'base64'), copyAad(envelope.id));
  return JSON.parse(text.toString('utf8')) as Manifest;
}

function copyKey(keyring: Keyring, keyId: string): Buffer {
  const master = keyring.find(keyId);
  if (master === undefined) throw new GatewayError('KEY_NOT_FOUND', `master key '${keyId}' of a manifest copy is not in the keyring`);
  return deriveKey(master.secret, 'aegis manifest copy v1');
}

function copyAad(id: string): Buffer {
  return Buffer.from(`aegis/manifest-copy\0${id}`, 'utf8');
}
