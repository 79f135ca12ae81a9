/**
 * Refresh tokens of `POST /auth/token` (RFC 6749 §6): opaque `aegisr_<id>.<secret>`, single use,
 * rotated on every use (OAuth 2.0 Security BCP, RFC 9700 §4.14.2). Presenting a token that was
 * already used revokes its whole family, since either the client or a thief holds a copy.
 *
 * A family is one sign-in. Each token lives for the configured lifetime, but never beyond the
 * family's start plus its absolute lifetime (RFC 9700 §4.14.2: refresh tokens expire), so a stolen
 * token cannot be rotated forever. A password change or a disable revokes every family of the user
 * ({@link revokeUserRefreshTokens}, called by the user store in the same transaction).
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { CatalogDatabase } from '../../catalog/schema.js';
import { newSecret, secretDigest, secretMatches, splitSecret } from './secrets.js';

const PREFIX = 'aegisr_';

/** The outcome of redeeming a refresh token. */
export type Redemption = { ok: true; user: string; token: string } | { ok: false; reason: 'unknown' | 'expired' | 'revoked' | 'reused'; /** The token's user, when the token is genuine (for the audit trail). */ user?: string };

type RefreshDatabase = Pick<CatalogDatabase, 'refresh_tokens'>;

/** Refresh tokens over the catalog's database. */
export class RefreshTokens {
  private readonly db: Kysely<RefreshDatabase>;

  /**
   * `lifetimeSeconds`: how long one token lives; `absoluteLifetimeSeconds`: how long a family (a
   * sign-in) lives, rotations included.
   */
  constructor(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any catalog schema that includes `refresh_tokens`
    db: Kysely<any>,
    private readonly lifetimeSeconds: number,
    private readonly absoluteLifetimeSeconds: number,
  ) {
    this.db = db;
  }

  /** A token for `user` that starts a new family (a sign-in). */
  async issue(user: string, now = new Date()): Promise<string> {
    return this.insert(user, randomBytes(8).toString('hex'), now.toISOString(), now);
  }

  /** Redeems `text`: marks it used and issues its successor in the same family. */
  async redeem(text: string, now = new Date()): Promise<Redemption> {
    const parts = splitSecret(text, PREFIX, '.');
    if (!parts) return { ok: false, reason: 'unknown' };
    const row = await this.db.selectFrom('refresh_tokens').selectAll().where('id', '=', parts.id).executeTakeFirst();
    if (!row || !secretMatches(parts.secret, row.secret_sha256)) return { ok: false, reason: 'unknown' };
    if (row.revoked_at !== null) return { ok: false, reason: 'revoked', user: row.user_name };
    // Written so that a missing or unreadable time (NaN) counts as expired.
    const alive = Date.parse(row.expires_at) > now.getTime() && this.familyEnd(row.family_started_at) > now.getTime();
    if (!alive) return { ok: false, reason: 'expired', user: row.user_name };
    // Mark it used only if nobody did first: of two concurrent redemptions, one wins.
    const used = await this.db.updateTable('refresh_tokens').set({ used_at: now.toISOString() }).where('id', '=', row.id).where('used_at', 'is', null).where('revoked_at', 'is', null).executeTakeFirst();
    if (Number(used.numUpdatedRows) === 0) {
      await this.revokeFamily(row.family, now);
      return { ok: false, reason: 'reused', user: row.user_name };
    }
    return { ok: true, user: row.user_name, token: await this.insert(row.user_name, row.family, row.family_started_at, now) };
  }

  /** Revokes every token of a family. */
  async revokeFamily(family: string, now = new Date()): Promise<void> {
    await this.db.updateTable('refresh_tokens').set({ revoked_at: now.toISOString() }).where('family', '=', family).where('revoked_at', 'is', null).execute();
  }

  /** Forgets tokens that expired before `before` (housekeeping). */
  async purgeExpired(before = new Date()): Promise<void> {
    await this.db.deleteFrom('refresh_tokens').where('expires_at', '<', before.toISOString()).execute();
  }

  private async insert(user: string, family: string, familyStartedAt: string, now: Date): Promise<string> {
    const { id, secret } = newSecret();
    const expiresAt = Math.min(now.getTime() + this.lifetimeSeconds * 1000, this.familyEnd(familyStartedAt));
    await this.db
      .insertInto('refresh_tokens')
      .values({
        id,
        family,
        user_name: user,
        secret_sha256: secretDigest(secret),
        created_at: now.toISOString(),
        family_started_at: familyStartedAt,
        expires_at: new Date(expiresAt).toISOString(),
        used_at: null,
        revoked_at: null,
      })
      .execute();
    return `${PREFIX}${id}.${secret}`;
  }

  /** When a family started at `startedAt` ends (NaN when the time is unreadable). */
  private familyEnd(startedAt: string): number {
    return Date.parse(startedAt) + this.absoluteLifetimeSeconds * 1000;
  }
}

/**
 * Revokes every refresh-token family of `user` (a password change, a disable). Takes the caller's
 * transaction, so the change and the revocation happen together.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any catalog schema (or transaction) that includes `refresh_tokens`
export async function revokeUserRefreshTokens(db: Kysely<any>, user: string, now = new Date()): Promise<void> {
  await (db as Kysely<RefreshDatabase>).updateTable('refresh_tokens').set({ revoked_at: now.toISOString() }).where('user_name', '=', user).where('revoked_at', 'is', null).execute();
}
