/**
 * API keys for modalities and routers that cannot run an interactive sign-in: `aegis_<id>_<secret>`,
 * shown once when created, stored as a SHA-256 digest in the catalog (`api_keys`), each tied to a
 * local user whose role and attributes it carries. Revocable and optionally expiring.
 */
import type { Kysely } from 'kysely';
import type { CatalogDatabase } from '../../catalog/schema.js';
import { GatewayError } from '../../errors.js';
import { newSecret, secretDigest, secretMatches, splitSecret } from './secrets.js';

const PREFIX = 'aegis_';

/** An API key as listed (never its secret). */
export interface ApiKeyInfo {
  id: string;
  user: string;
  label: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/** API keys over the catalog's database. */
export class ApiKeyStore {
  private readonly db: Kysely<Pick<CatalogDatabase, 'api_keys' | 'users'>>;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any catalog schema that includes `api_keys`
  constructor(db: Kysely<any>) {
    this.db = db;
  }

  /** Creates a key for `user`; resolves to the key text, which is never shown again. */
  async create(user: string, options: { label?: string; expiresAt?: Date } = {}): Promise<{ key: string; info: ApiKeyInfo }> {
    const exists = await this.db.selectFrom('users').select('name').where('name', '=', user).executeTakeFirst();
    if (!exists) throw new GatewayError('USER_NOT_FOUND', `no user named '${user}'`);
    const { id, secret } = newSecret();
    const row = {
      id,
      user_name: user,
      label: options.label ?? '',
      secret_sha256: secretDigest(secret),
      created_at: new Date().toISOString(),
      expires_at: options.expiresAt?.toISOString() ?? null,
      revoked_at: null,
      last_used_at: null,
    };
    await this.db.insertInto('api_keys').values(row).execute();
    return { key: `${PREFIX}${id}_${secret}`, info: toInfo(row) };
  }

  /** The user a presented key belongs to, when it is genuine, unexpired and not revoked. */
  async verify(key: string, now = new Date()): Promise<string | undefined> {
    const parts = splitSecret(key, PREFIX, '_');
    if (!parts) return undefined;
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', parts.id).executeTakeFirst();
    if (!row || !secretMatches(parts.secret, row.secret_sha256)) return undefined;
    if (row.revoked_at !== null || (row.expires_at !== null && Date.parse(row.expires_at) <= now.getTime())) return undefined;
    await this.db.updateTable('api_keys').set({ last_used_at: now.toISOString() }).where('id', '=', row.id).execute();
    return row.user_name;
  }

  /** Revokes a key (idempotent). Throws NOT_FOUND for an unknown id. */
  async revoke(id: string): Promise<void> {
    const result = await this.db.updateTable('api_keys').set({ revoked_at: new Date().toISOString() }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0 && !(await this.db.selectFrom('api_keys').select('id').where('id', '=', id).executeTakeFirst())) {
      throw new GatewayError('NOT_FOUND', `no API key with id '${id}'`);
    }
  }

  /** The keys of a user (or of everyone), oldest first. */
  async list(user?: string): Promise<ApiKeyInfo[]> {
    let query = this.db.selectFrom('api_keys').selectAll();
    if (user !== undefined) query = query.where('user_name', '=', user);
    return (await query.orderBy('created_at').execute()).map(toInfo);
  }
}

function toInfo(row: { id: string; user_name: string; label: string; created_at: string; expires_at: string | null; revoked_at: string | null; last_used_at: string | null }): ApiKeyInfo {
  return { id: row.id, user: row.user_name, label: row.label, createdAt: row.created_at, expiresAt: row.expires_at, revokedAt: row.revoked_at, lastUsedAt: row.last_used_at };
}
