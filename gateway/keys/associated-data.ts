/**
 * Canonical encodings of the associated data (AAD) that AES-256-GCM authenticates along with each
 * ciphertext (NIST SP 800-38D §5.2.1 "additional authenticated data": instance UID,
 * fragment role and index are bound). Every field is length-prefixed (4-byte big-endian
 * length, then UTF-8 bytes) or a fixed 4-byte integer, after a label naming the purpose, so no two
 * different field tuples encode to the same bytes and a fragment AAD can never pass as a key-wrap
 * AAD or the reverse.
 */
import { GatewayError } from '../errors.js';

/** Label opening every fragment AAD (domain separation). */
const FRAGMENT_LABEL = 'aegis/fragment';
/** Label opening every data-key-wrap AAD. */
const DATA_KEY_LABEL = 'aegis/data-key';

/** What a fragment's ciphertext is bound to: moving it to another instance, role or slot fails. */
export interface FragmentBinding {
  /** SOP Instance UID of the instance the fragment belongs to. */
  sopInstanceUid: string;
  /** Fragment role: `skeleton`, `identity`, `region-<i>`, or a redundancy share. */
  role: string;
  /** Index of the fragment among those of its role (0 when there is one). */
  index: number;
  /** Version of the manifest format the fragment was written under. */
  manifestVersion: number;
}

/** The canonical AAD of one fragment: label, manifest version, instance UID, role, index. */
export function fragmentAad(binding: FragmentBinding): Buffer {
  if (binding.sopInstanceUid.length === 0) throw new GatewayError('INTERNAL', 'fragmentAad: empty SOP Instance UID');
  if (binding.role.length === 0) throw new GatewayError('INTERNAL', 'fragmentAad: empty fragment role');
  return Buffer.concat([lengthPrefixed(FRAGMENT_LABEL), uint32(binding.manifestVersion, 'manifestVersion'), lengthPrefixed(binding.sopInstanceUid), lengthPrefixed(binding.role), uint32(binding.index, 'index')]);
}

/** The canonical AAD of a wrapped data key: label and the id of the master key that wraps it. */
export function dataKeyAad(keyId: string): Buffer {
  if (keyId.length === 0) throw new GatewayError('INTERNAL', 'dataKeyAad: empty key id');
  return Buffer.concat([lengthPrefixed(DATA_KEY_LABEL), lengthPrefixed(keyId)]);
}

/** 4-byte big-endian length, then the UTF-8 bytes of `text`. */
function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([uint32(bytes.length, 'length'), bytes]);
}

/** `value` as 4 bytes big-endian; refuses anything but an integer in [0, 2^32). */
function uint32(value: number, what: string): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new GatewayError('INTERNAL', `associated data: ${what} must be an integer from 0 to 2^32-1, got ${value}`);
  }
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value);
  return out;
}
