/**
 * Master keys (the key-encryption keys of the envelope, `envelope.ts`): what one is, the
 * format of a key file in `DATA/keys/`, and the key from the environment (`AEGIS_MASTER_KEY`,
 * base64 of 32 random bytes, id from `AEGIS_MASTER_KEY_ID`, required). Key material lives
 * only in a secret `KeyObject` (node:crypto), which prints and serializes without its bytes.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import { GatewayError } from '../errors.js';
import { KEY_BYTES } from './envelope.js';

/** A master key with its id; `secret` never appears in logs, JSON or `util.inspect`. */
export interface MasterKey {
  /** Key id, recorded with every data key it wraps (`k1`, `k2`, ... for key files). */
  readonly id: string;
  /** The 256-bit key material. */
  readonly secret: KeyObject;
  /** When the key was generated; unknown for the environment key. */
  readonly createdAt: Date | undefined;
  /** Where the key came from. */
  readonly source: 'file' | 'environment';
  /** True for the development key created when no key existed: to be replaced in production. */
  readonly development: boolean;
}

/** Ids of key files: `k` and a number, so generating picks the next one and the highest is active. */
export const KEY_FILE_ID = /^k[1-9][0-9]{0,8}$/;
/** Ids a key may have at all (the environment key may be named freely within this). */
export const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** The `format` field of a key file. */
const FILE_FORMAT = 'aegis-master-key';

/** The JSON content of a key file. */
interface KeyFileContent {
  format: typeof FILE_FORMAT;
  version: 1;
  id: string;
  createdAt: string;
  development: boolean;
  /** Base64 of the 32 key bytes. */
  key: string;
}

/** Serializes a new key file for `id` holding `material` (32 bytes). */
export function formatKeyFile(id: string, material: Buffer, createdAt: Date, development: boolean): string {
  const content: KeyFileContent = { format: FILE_FORMAT, version: 1, id, createdAt: createdAt.toISOString(), development, key: material.toString('base64') };
  return `${JSON.stringify(content, null, 2)}\n`;
}

/** Parses a key file; `expectedId` comes from the file name. Throws `KEYRING_INVALID`. */
export function parseKeyFile(text: string, expectedId: string, path: string): MasterKey {
  const invalid = (why: string) => new GatewayError('KEYRING_INVALID', `master key file ${path}: ${why}`);
  let content: Partial<KeyFileContent>;
  try {
    content = JSON.parse(text) as Partial<KeyFileContent>;
  } catch {
    throw invalid('not JSON');
  }
  if (content === null || typeof content !== 'object' || content.format !== FILE_FORMAT || content.version !== 1) throw invalid(`not an ${FILE_FORMAT} version 1 file`);
  if (content.id !== expectedId) throw invalid(`its id '${String(content.id)}' does not match its file name`);
  const createdAt = new Date(String(content.createdAt));
  if (typeof content.createdAt !== 'string' || Number.isNaN(createdAt.getTime())) throw invalid('createdAt is not a date');
  if (typeof content.development !== 'boolean') throw invalid('development is not true or false');
  const material = decodeKey(content.key);
  if (material === undefined) throw invalid(`key is not the base64 of ${KEY_BYTES} bytes`);
  return { id: expectedId, secret: toSecret(material), createdAt, source: 'file', development: content.development };
}

/**
 * The master key from `AEGIS_MASTER_KEY` and `AEGIS_MASTER_KEY_ID`, or undefined when the first is
 * unset or empty. Throws `KEYRING_INVALID` (without echoing the value) when it is malformed or
 * when `AEGIS_MASTER_KEY_ID` is unset, empty or not a key id.
 */
export function keyFromEnvironment(env: NodeJS.ProcessEnv): MasterKey | undefined {
  const value = env.AEGIS_MASTER_KEY;
  if (value === undefined || value === '') return undefined;
  const material = decodeKey(value.trim());
  if (material === undefined) throw new GatewayError('KEYRING_INVALID', `AEGIS_MASTER_KEY must be the base64 of ${KEY_BYTES} random bytes (e.g. 'openssl rand -base64 32')`);
  // No default id: wrapped data keys, tokens and the audit chain record the id, so it must say which key it is.
  const id = env.AEGIS_MASTER_KEY_ID;
  if (id === undefined || !KEY_ID.test(id)) {
    material.fill(0);
    throw new GatewayError(
      'KEYRING_INVALID',
      id === undefined || id === ''
        ? "AEGIS_MASTER_KEY_ID must name the key in AEGIS_MASTER_KEY (letters, digits, '.', '_', '-'; at most 64), e.g. vault-2025"
        : `AEGIS_MASTER_KEY_ID '${id}' is not a key id (letters, digits, '.', '_', '-'; at most 64)`,
    );
  }
  return { id, secret: toSecret(material), createdAt: undefined, source: 'environment', development: false };
}

/** Strict base64 of exactly {@link KEY_BYTES} bytes, or undefined. */
function decodeKey(text: unknown): Buffer | undefined {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== KEY_BYTES || bytes.toString('base64') !== text) return undefined;
  return bytes;
}

/** Copies the material into a KeyObject and wipes the buffer it came in. */
function toSecret(material: Buffer): KeyObject {
  const secret = createSecretKey(material);
  material.fill(0);
  return secret;
}
