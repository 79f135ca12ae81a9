/**
 * Refresh tokens of `POST /auth/token` (RFC 6749 §6): opaque `aegisr_<id>.<secret>`, single use,
 * rotated on every use (OAuth 2.0 Security BCP, RFC 9700 §4.14.2). Presenting a token that was
 * already used revokes its whole family, since either the client or a thief holds a copy.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { CatalogDatabase } from '../../catalog/schema.js';
import { newSecret, secretDigest, secretMatches, splitSecret } from './secrets.js';

const PREFIX = 'aegisr_';

/** The outcome of redeeming a refresh token. */
export type Redemption =
  | { ok: true; user: string; token: string }
  | { ok: false; reason: 'unknown' | 'expired' | 'revoked' | 'reused' };

/** Refresh tokens over the catalog's database. */
export class RefreshTokens {
  private readonly db: Kysely<Pick<CatalogDatabase, 'refresh_tokens'>>;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any catalog schema that includes `refresh_tokens`
  constructor(db: Kysely<any>, private readonly lifetimeSeconds: number) {
    this.db = db;
  }

  /** A new token for `user`, starting a family (sign-in) or continuing one (rotation). */
  async issue(user: string, family = randomBytes(8).toString('hex'), now = new Date()): Promise<string> {
    const { id, secret } = newSecret();
    await this.db
      .insertInto('refresh_tokens')
      .values({
        id,
        family,
        user_name: user,
        secret_sha256: secretDigest(secret),
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + this.lifetimeSeconds * 1000).toISOString(),
        used_at: null,
        revoked_at: null,
      })
      .execute();
    return `${PREFIX}${id}.${secret}`;
  }

  /** Redeems `text`: marks it used and issues its successor in the same family. */
  async redeem(text: string, now = new Date()): Promise<Redemption> {
    const parts = splitSecret(text, PREFIX, '.');
    if (!parts) return { ok: false, reason: 'unknown' };
    const row = await this.db.selectFrom('refresh_tokens').selectAll().where('id', '=', parts.id).executeTakeFirst();
    if (!row || !secretMatches(parts.secret, row.secret_sha256)) return { ok: false, reason: 'unknown' };
    if (row.revoked_at !== null) return { ok: false, reason: 'revoked' };
    if (Date.parse(row.expires_at) <= now.getTime()) return { ok: false, reason: 'expired' };
    // Mark it used only if nobody did first: of two concurrent redemptions, one wins.
    const used = await this.db
      .updateTable('refresh_tokens')
      .set({ used_at: now.toISOString() })
      .where('id', '=', row.id)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    if (Number(used.numUpdatedRows) === 0) {
      await this.revokeFamily(row.family, now);
      return { ok: false, reason: 'reused' };
    }
    return { ok: true, user: row.user_name, token: await this.issue(row.user_name, row.family, now) };
  }

  /** Revokes every token of a family. */
  async revokeFamily(family: string, now = new Date()): Promise<void> {
    await this.db.updateTable('refresh_tokens').set({ revoked_at: now.toISOString() }).where('family', '=', family).where('revoked_at', 'is', null).execute();
  }

  /** Forgets tokens that expired before `before` (housekeeping). */
  async purgeExpired(before = new Date()): Promise<void> {
    await this.db.deleteFrom('refresh_tokens').where('expires_at', '<', before.toISOString()).execute();
  }
}
