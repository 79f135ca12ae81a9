/**
 * Break-glass (emergency access): a subject the policy allows declares an emergency with a reason;
 * for a limited time their requests that declare purpose ETREAT carry the break-glass flag, which
 * emergency rules of the policy can grant access on (their other requests stay ordinary). Grants
 * live in the catalog (`break_glass_grants`) so every worker sees them; each is audited loudly by
 * the caller. A grant belongs to a subject as {@link subjectKey} identifies it (issuer and `sub`
 * for external identities), not to a name: an OIDC subject whose name claim equals a local user's
 * name neither sees nor ends that user's grant.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { CatalogDatabase } from '../catalog/schema.js';
import { subjectKey, type Environment, type Subject } from './model.js';

/** An active grant. */
export type BreakGlassGrant = NonNullable<Environment['breakGlass']>;

/** How long another worker may take to see a new grant (ms). */
const LOOKUP_CACHE_MS = 2000;

/** Break-glass grants over the catalog's database. */
export class BreakGlassGrants {
  private readonly db: Kysely<Pick<CatalogDatabase, 'break_glass_grants'>>;
  readonly #active = new LRUCache<string, { grant: BreakGlassGrant | null }>({ max: 10_000, ttl: LOOKUP_CACHE_MS });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any catalog schema that includes `break_glass_grants`
  constructor(db: Kysely<any>) {
    this.db = db;
  }

  /** Records a grant for `subject` lasting `minutes`. */
  async grant(subject: Subject, reason: string, minutes: number, now = new Date()): Promise<BreakGlassGrant> {
    const key = subjectKey(subject);
    const id = randomBytes(8).toString('hex');
    const expiresAt = new Date(now.getTime() + minutes * 60_000);
    await this.db.insertInto('break_glass_grants').values({ id, subject_key: key, user_name: subject.name, reason, purpose: 'ETREAT', granted_at: now.toISOString(), expires_at: expiresAt.getTime(), revoked_at: null }).execute();
    const grant = { id, reason, expiresAt };
    this.#active.set(key, { grant });
    return grant;
  }

  /** Ends a subject's active grants early. */
  async end(subject: Subject, now = new Date()): Promise<number> {
    const key = subjectKey(subject);
    const result = await this.db.updateTable('break_glass_grants').set({ revoked_at: now.toISOString() }).where('subject_key', '=', key).where('revoked_at', 'is', null).where('expires_at', '>', now.getTime()).executeTakeFirst();
    this.#active.delete(key);
    return Number(result.numUpdatedRows);
  }

  /** The grant in force for `subject` at `now`, if any (cached for two seconds). */
  async active(subject: Subject, now = new Date()): Promise<BreakGlassGrant | undefined> {
    const key = subjectKey(subject);
    const cached = this.#active.get(key);
    if (cached !== undefined) return cached.grant !== null && cached.grant.expiresAt > now ? cached.grant : undefined;
    const row = await this.db
      .selectFrom('break_glass_grants')
      .select(['id', 'reason', 'expires_at'])
      .where('subject_key', '=', key)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now.getTime())
      .orderBy('expires_at', 'desc')
      .executeTakeFirst();
    const grant = row ? { id: row.id, reason: row.reason, expiresAt: new Date(Number(row.expires_at)) } : null;
    this.#active.set(key, { grant });
    return grant ?? undefined;
  }
}
