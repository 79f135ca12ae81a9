/**
 * The keyed hash chain of the audit trail. Record n carries
 * `mac_n = HMAC-SHA-256(K, JSON [prev_mac, seq, at, event])` where `prev_mac` is `mac_(n-1)` (64
 * zeros for the first record) and `event` the canonical JSON text; the head carries
 * `HMAC-SHA-256(K, JSON ["head", seq, mac])` of the last record. The parts are encoded as one JSON
 * array, so no two different tuples give the same bytes. K is derived from a master key with
 * HKDF-SHA-256 (info `aegis audit chain v1`): whoever can write the database but holds no master key
 * cannot recompute a MAC, so cannot alter, remove, insert or reorder records unseen.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { deriveKey } from '../../keys/derive.js';
import type { MasterKey } from '../../keys/master-key.js';

/** The `prev_mac` of the first record. */
export const GENESIS_MAC = '0'.repeat(64);

/** HKDF info of the chain key: a new version of the chain would take a new one. */
const CHAIN_KEY_INFO = 'aegis audit chain v1';

const chainKeys = new WeakMap<MasterKey, KeyObject>();

/** The chain key derived from a master key (cached per key object). */
export function chainKey(master: MasterKey): KeyObject {
  let key = chainKeys.get(master);
  if (key === undefined) {
    key = createSecretKey(deriveKey(master.secret, CHAIN_KEY_INFO));
    chainKeys.set(master, key);
  }
  return key;
}

/** The fields of a record that its MAC covers. */
export interface ChainedFields {
  prevMac: string;
  seq: number;
  at: string;
  /** Canonical JSON text of the event, as stored. */
  event: string;
}

/** The MAC (hex) of a record under a master key. */
export function recordMac(master: MasterKey, fields: ChainedFields): string {
  return hmacHex(master, JSON.stringify([fields.prevMac, fields.seq, fields.at, fields.event]));
}

/** The signature (hex) of the head naming record `seq` with MAC `mac`. */
export function headSignature(master: MasterKey, seq: number, mac: string): string {
  return hmacHex(master, JSON.stringify(['head', seq, mac]));
}

function hmacHex(master: MasterKey, message: string): string {
  return createHmac('sha256', chainKey(master)).update(message, 'utf8').digest('hex');
}
