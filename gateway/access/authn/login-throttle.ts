/**
 * Brute-force protection for password sign-ins (OWASP ASVS V2.2.1, NIST SP 800-63B §5.2.2):
 * failures are counted per user name and per client address in the catalog (`login_throttle`), so
 * every worker process and gateway replica sees the same counts. Too many failures within the
 * window lock the name (or the client) for a while; while locked, no password is even checked.
 * Names are counted whether or not such a user exists, so a lockout tells nothing about users.
 */
import { sql, type Kysely } from 'kysely';
import type { CatalogDatabase } from '../../catalog/schema.js';

/** Limits of the throttle (config `auth.lockout`). */
export interface ThrottleLimits {
  maxFailures: number;
  maxClientFailures: number;
  windowSeconds: number;
  lockSeconds: number;
}

/** Whether a sign-in may be attempted now. */
export type ThrottleState = { locked: false } | { locked: true; scope: 'user' | 'client'; retryAfterSeconds: number };

/** Failed sign-in counting over the catalog's database. */
export class LoginThrottle {
  private readonly db: Kysely<Pick<CatalogDatabase, 'login_throttle'>>;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any catalog schema that includes `login_throttle`
  constructor(db: Kysely<any>, private readonly limits: ThrottleLimits) {
    this.db = db;
  }

  /** Whether `user` from `client` is locked out at `now`. */
  async check(user: string, client: string, now = Date.now()): Promise<ThrottleState> {
    const rows = await this.db
      .selectFrom('login_throttle')
      .select(['key', 'locked_until'])
      .where('key', 'in', [userKey(user), clientKey(client)])
      .execute();
    for (const scope of ['user', 'client'] as const) {
      const row = rows.find((r) => r.key === (scope === 'user' ? userKey(user) : clientKey(client)));
      const until = row?.locked_until === null || row === undefined ? 0 : Number(row.locked_until);
      if (until > now) return { locked: true, scope, retryAfterSeconds: Math.ceil((until - now) / 1000) };
    }
    return { locked: false };
  }

  /** Counts a failure of `user` from `client`; tells which of them it has just locked. */
  async recordFailure(user: string, client: string, now = Date.now()): Promise<{ userLocked: boolean; clientLocked: boolean }> {
    const [userLocked, clientLocked] = await Promise.all([
      this.count(userKey(user), this.limits.maxFailures, now),
      this.count(clientKey(client), this.limits.maxClientFailures, now),
    ]);
    return { userLocked, clientLocked };
  }

  /** A successful sign-in clears the name's count (not the client's: one good account must not reset it). */
  async recordSuccess(user: string): Promise<void> {
    await this.db.deleteFrom('login_throttle').where('key', '=', userKey(user)).execute();
  }

  /** One atomic upsert: a new window after the old one (or a lock) expired, else one more failure. */
  private async count(key: string, max: number, now: number): Promise<boolean> {
    const windowStart = now - this.limits.windowSeconds * 1000;
    const lockUntil = now + this.limits.lockSeconds * 1000;
    const fresh = sql`(login_throttle.window_started_at <= ${windowStart} or (login_throttle.locked_until is not null and login_throttle.locked_until <= ${now}))`;
    const failures = sql`case when ${fresh} then 1 else login_throttle.failures + 1 end`;
    const result = await sql<{ failures: number; locked_until: number | null }>`
      insert into login_throttle (key, failures, window_started_at, locked_until)
      values (${key}, 1, ${now}, ${max <= 1 ? lockUntil : null})
      on conflict (key) do update set
        locked_until = case when ${failures} >= ${max} then ${lockUntil}
                            when ${fresh} then null else login_throttle.locked_until end,
        window_started_at = case when ${fresh} then ${now} else login_throttle.window_started_at end,
        failures = ${failures}
      returning failures, locked_until`.execute(this.db);
    const row = result.rows[0];
    return row !== undefined && Number(row.failures) === max;
  }
}

function userKey(user: string): string {
  return `user:${user.slice(0, 100)}`;
}

function clientKey(client: string): string {
  return `client:${client}`;
}
