/**
 * The keyring: every master key the gateway knows, one of them active (envelope encryption with
 * key ids for rotation, `envelope.ts`). New data keys are wrapped under the active key; older keys
 * stay to unwrap what they wrapped until `aegis keys rotate` has rewrapped it. The active key is
 * the environment key (`AEGIS_MASTER_KEY`) when set, otherwise the highest-numbered file of
 * `DATA/keys/`. With no key at all, the embedded default creates a development key
 * and says so loudly, except with NODE_ENV=production, where the gateway refuses to start without
 * a real key. Key material is never logged.
 */
import { GatewayError } from '../errors.js';
import { unwrapDataKey, wrapDataKey } from './envelope.js';
import { createKeyFile, keyDirectory, readKeyDirectory } from './key-directory.js';
import { keyFromEnvironment, type MasterKey } from './master-key.js';
import type { ShredKeyStore } from './instance-keys.js';

/** Where a keyring is loaded from. */
export interface KeyringSources {
  /** The data directory; keys are read from `DATA/keys/`. */
  dataDir: string;
  /** Environment holding `AEGIS_MASTER_KEY` and `AEGIS_MASTER_KEY_ID`. */
  env: NodeJS.ProcessEnv;
}

/** A data key wrapped under a named master key. */
export interface WrappedKey {
  keyId: string;
  wrapped: Buffer;
}

/** The logger the development-key warning goes to (a pino logger fits). */
export interface KeyWarningLogger {
  warn(details: Record<string, unknown>, message: string): void;
}

/**
 * Master keys by id, one active. A keyring loaded from its sources can {@link Keyring.refresh}
 * itself, so that a running gateway sees a key that `aegis keys generate` added (and the manifests
 * `aegis keys rotate` signed under it) without a restart.
 */
export class Keyring {
  #keys: ReadonlyMap<string, MasterKey>;
  #active: MasterKey | undefined;
  #sources: KeyringSources | undefined;
  #refreshed = 0;
  #shredKeys: ShredKeyStore | undefined;

  /** Builds a keyring; `active` must be one of `keys`. Throws `KEYRING_INVALID` on duplicate ids. */
  constructor(keys: readonly MasterKey[], active: MasterKey | undefined, sources?: KeyringSources) {
    this.#keys = Keyring.byId(keys, active);
    this.#active = active;
    this.#sources = sources;
  }

  /** The key new data keys are wrapped under; undefined when the keyring is empty. */
  get active(): MasterKey | undefined {
    return this.#active;
  }

  /**
   * The shred key vault that instance keys need (`instance-keys.ts`). Throws `KEY_NOT_FOUND` when
   * none was attached: instances are never sealed without a key that can be destroyed.
   */
  get shredKeys(): ShredKeyStore {
    if (this.#shredKeys === undefined) throw new GatewayError('KEY_NOT_FOUND', 'no shred key vault is open: protected instances can be neither written nor read');
    return this.#shredKeys;
  }

  /** Attaches the shred key vault (the composition root opens it); returns this keyring. */
  useShredKeys(store: ShredKeyStore): this {
    this.#shredKeys = store;
    return this;
  }

  /** Loads the environment key and the key files; does not create anything. */
  static async load(sources: KeyringSources): Promise<Keyring> {
    const { keys, active } = await Keyring.read(sources);
    return new Keyring(keys, active, sources);
  }

  /**
   * Reads the sources again (at most once a second; a keyring built from keys alone does nothing).
   * Keys only join: a key file removed later stays known to this process until it restarts.
   */
  async refresh(): Promise<void> {
    if (this.#sources === undefined || Date.now() - this.#refreshed < 1000) return;
    this.#refreshed = Date.now();
    const { keys, active } = await Keyring.read(this.#sources);
    const merged = new Map(this.#keys);
    for (const key of keys) if (!merged.has(key.id)) merged.set(key.id, key);
    this.#active = active === undefined ? this.#active : merged.get(active.id);
    this.#keys = merged;
  }

  private static async read(sources: KeyringSources): Promise<{ keys: MasterKey[]; active: MasterKey | undefined }> {
    const fromEnv = keyFromEnvironment(sources.env);
    const files = await readKeyDirectory(keyDirectory(sources.dataDir));
    return { keys: fromEnv ? [...files, fromEnv] : files, active: fromEnv ?? files.at(-1) };
  }

  private static byId(keys: readonly MasterKey[], active: MasterKey | undefined): Map<string, MasterKey> {
    const byId = new Map<string, MasterKey>();
    for (const key of keys) {
      if (byId.has(key.id)) throw new GatewayError('KEYRING_INVALID', `two master keys have the id '${key.id}' (${byId.get(key.id)!.source} and ${key.source})`);
      byId.set(key.id, key);
    }
    if (active !== undefined && byId.get(active.id) !== active) throw new GatewayError('INTERNAL', 'the active master key is not in the keyring');
    return byId;
  }

  /** Every key, file keys in number order then the environment key. */
  get keys(): readonly MasterKey[] {
    return [...this.#keys.values()];
  }

  /** The key with this id, if known. */
  find(id: string): MasterKey | undefined {
    return this.#keys.get(id);
  }

  /** Wraps a data key under the active master key. Throws `KEY_NOT_FOUND` when there is none. */
  wrap(dataKey: Uint8Array): WrappedKey {
    const active = this.active;
    if (active === undefined) throw new GatewayError('KEY_NOT_FOUND', 'no master key to wrap data keys with (set AEGIS_MASTER_KEY or run aegis keys generate)');
    return { keyId: active.id, wrapped: wrapDataKey(active.secret, active.id, dataKey) };
  }

  /**
   * Unwraps a data key. Throws `KEY_NOT_FOUND` when `keyId` is not in the keyring and
   * `INTEGRITY_FAILURE` when the wrapped bytes do not authenticate under it.
   */
  unwrap({ keyId, wrapped }: WrappedKey): Buffer {
    const key = this.#keys.get(keyId);
    if (key === undefined) throw new GatewayError('KEY_NOT_FOUND', `master key '${keyId}' is not in the keyring (was its file removed, or AEGIS_MASTER_KEY changed?)`);
    return unwrapDataKey(key.secret, keyId, wrapped);
  }
}

/**
 * With NODE_ENV=production, refuses (KEY_NOT_FOUND) a keyring without a master key or whose active
 * key is a development key: production never runs on a key generated next to the data it protects.
 */
export function refuseDevelopmentKeyInProduction(keyring: Keyring, dataDir: string, env: NodeJS.ProcessEnv): void {
  if (env.NODE_ENV !== 'production') return;
  const active = keyring.active;
  if (active === undefined) {
    throw new GatewayError(
      'KEY_NOT_FOUND',
      `NODE_ENV is production and no master key is configured: set AEGIS_MASTER_KEY (base64 of 32 random bytes) and AEGIS_MASTER_KEY_ID, or run 'aegis keys generate --data ${dataDir}' first; a development key is never created in production`,
    );
  }
  if (active.development) {
    throw new GatewayError(
      'KEY_NOT_FOUND',
      `NODE_ENV is production and the active master key '${active.id}' is the development key created in ${keyDirectory(dataDir)} when no key was configured: ` +
        "set AEGIS_MASTER_KEY and AEGIS_MASTER_KEY_ID (or run 'aegis keys generate'), then 'aegis keys rotate'",
    );
  }
}

/**
 * Loads the keyring of `dataDir`; when there is no key at all (no `AEGIS_MASTER_KEY`, no key file),
 * first creates a development key in `DATA/keys/` and logs one warning. Later loads find and reuse
 * that key without a warning. Safe against concurrent starts: only one process creates `k1`. With
 * NODE_ENV=production, refuses instead ({@link refuseDevelopmentKeyInProduction}).
 */
export async function ensureDevelopmentKey(dataDir: string, logger: KeyWarningLogger, env: NodeJS.ProcessEnv = process.env): Promise<Keyring> {
  const keyring = await Keyring.load({ dataDir, env });
  refuseDevelopmentKeyInProduction(keyring, dataDir, env);
  if (keyring.active !== undefined) return keyring;
  const dir = keyDirectory(dataDir);
  const created = await createKeyFile(dir, { development: true, id: 'k1' });
  if (created !== undefined) {
    logger.warn(
      { keyId: created.id, keyDirectory: dir, event: 'development-master-key' },
      `DEVELOPMENT MASTER KEY CREATED: no master key was configured, so Aegis generated '${created.id}' and stored it in ${dir}, next to the data it protects. ` +
        'Anyone who can read the data directory can decrypt everything. Do not use this in production: set AEGIS_MASTER_KEY (and AEGIS_MASTER_KEY_ID) from a secret store, ' +
        "or keep DATA/keys/ on separate protected storage, then run 'aegis keys rotate'.",
    );
  }
  return Keyring.load({ dataDir, env });
}
