/**
 * Brute-force protection for password sign-ins (OWASP ASVS V2.2.1, NIST SP 800-63B §5.2.2), kept
 * in the catalog so every worker process and gateway replica sees the same counts:
 *
 * - Wrong passwords are counted per (user name, client) (`sign_in_delays`). After `maxFailures`,
 *   sign-ins of that name from that client are delayed, the delay doubling with every further
 *   wrong password up to `maxDelaySeconds`; the count is forgotten after `windowSeconds` without a
 *   failure once the delay is over. An attacker from one client thus slows down only themself: the
 *   same user signs in from anywhere else, and nobody can lock an account out (the hard per-name
 *   lock this replaces let anyone lock out any user, admin included).
 * - Failed sign-ins of any name from one client are counted too (`login_throttle`); too many in the
 *   window lock the client out for `lockSeconds`, whatever names it tries.
 *
 * While delayed or locked, no password is even checked. Names are counted whether or not such a
 * user exists, so a delay tells nothing about which users exist. IPv6 clients are counted by their
 * /64 prefix, which one host typically controls whole.
 */
import ipaddr from 'ipaddr.js';
import { sql, type Kysely } from 'kysely';
import type { CatalogDatabase } from '../../catalog/schema.js';

/** Limits of the throttle (config `auth.lockout`). */
export interface ThrottleLimits {
  maxFailures: number;
  delaySeconds: number;
  maxDelaySeconds: number;
  maxClientFailures: number;
  windowSeconds: number;
  lockSeconds: number;
}

/**
 * Whether a sign-in may be attempted now: `user` scope is the name from this client. `counted`:
 * wrong passwords of the name from this client are on record (a success should clear them).
 */
export type ThrottleState = { locked: false; counted: boolean } | { locked: true; scope: 'user' | 'client'; retryAfterSeconds: number };

/** A delay or lock that a failure has just started. */
export interface Lockout {
  scope: 'user' | 'client';
  seconds: number;
}

type ThrottleDatabase = Pick<CatalogDatabase, 'login_throttle' | 'sign_in_delays'>;

/** Failed sign-in counting over the catalog's database. */
export class LoginThrottle {
  private readonly db: Kysely<ThrottleDatabase>;

  constructor(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any catalog schema that includes the throttle tables
    db: Kysely<any>,
    private readonly limits: ThrottleLimits,
  ) {
    this.db = db;
  }

  /** Whether `user` from `client` must wait at `now`. */
  async check(user: string, client: string, now = Date.now()): Promise<ThrottleState> {
    const key = pairKey(user, client);
    const [pair, clientRow] = await Promise.all([
      this.db.selectFrom('sign_in_delays').select('delayed_until').where('user_name', '=', key.user).where('client', '=', key.client).executeTakeFirst(),
      this.db.selectFrom('login_throttle').select('locked_until').where('key', '=', clientKey(client)).executeTakeFirst(),
    ]);
    for (const [scope, until] of [
      ['user', pair?.delayed_until],
      ['client', clientRow?.locked_until],
    ] as const) {
      const ms = until === null || until === undefined ? 0 : Number(until);
      if (ms > now) return { locked: true, scope, retryAfterSeconds: Math.ceil((ms - now) / 1000) };
    }
    return { locked: false, counted: pair !== undefined };
  }

  /** Counts a wrong password of `user` from `client`; tells which delays or locks it has just started. */
  async recordFailure(user: string, client: string, now = Date.now()): Promise<Lockout[]> {
    const [delay, clientLocked] = await Promise.all([this.countPair(user, client, now), this.countClient(client, now)]);
    return [...(delay > 0 ? [{ scope: 'user' as const, seconds: delay }] : []), ...(clientLocked ? [{ scope: 'client' as const, seconds: this.limits.lockSeconds }] : [])];
  }

  /** A successful sign-in clears the count of that name from that client (not the client's: one good account must not reset it). */
  async recordSuccess(user: string, client: string): Promise<void> {
    const key = pairKey(user, client);
    await this.db.deleteFrom('sign_in_delays').where('user_name', '=', key.user).where('client', '=', key.client).execute();
  }

  /**
   * One more wrong password of the pair (one atomic upsert), then its delay when the count has
   * reached the limit: `delaySeconds` doubled for every failure beyond `maxFailures`, at most
   * `maxDelaySeconds`. Resolves to the delay started, in seconds (0: none).
   */
  private async countPair(user: string, client: string, now: number): Promise<number> {
    const key = pairKey(user, client);
    const forgotten = now - this.limits.windowSeconds * 1000;
    const result = await sql<{ failures: number }>`
      insert into sign_in_delays (user_name, client, failures, last_failure_at, delayed_until)
      values (${key.user}, ${key.client}, 1, ${now}, null)
      on conflict (user_name, client) do update set
        failures = case when coalesce(sign_in_delays.delayed_until, 0) <= ${forgotten} and sign_in_delays.last_failure_at <= ${forgotten}
                        then 1 else sign_in_delays.failures + 1 end,
        last_failure_at = ${now}
      returning failures`.execute(this.db);
    const failures = Number(result.rows[0]?.failures);
    if (!(failures >= this.limits.maxFailures)) return 0;
    const seconds = Math.min(this.limits.maxDelaySeconds, this.limits.delaySeconds * 2 ** Math.min(failures - this.limits.maxFailures, 40));
    const until = now + Math.round(seconds * 1000);
    // Concurrent failures may finish in any order: a delay only ever grows.
    await this.db
      .updateTable('sign_in_delays')
      .set({ delayed_until: sql`case when delayed_until is null or delayed_until < ${until} then ${until} else delayed_until end` })
      .where('user_name', '=', key.user)
      .where('client', '=', key.client)
      .execute();
    return seconds;
  }

  /** One atomic upsert of the client's count: a new window after the old one (or a lock) expired, else one more failure. */
  private async countClient(client: string, now: number): Promise<boolean> {
    const max = this.limits.maxClientFailures;
    const windowStart = now - this.limits.windowSeconds * 1000;
    const lockUntil = now + this.limits.lockSeconds * 1000;
    const fresh = sql`(login_throttle.window_started_at <= ${windowStart} or (login_throttle.locked_until is not null and login_throttle.locked_until <= ${now}))`;
    const failures = sql`case when ${fresh} then 1 else login_throttle.failures + 1 end`;
    const result = await sql<{ failures: number; locked_until: number | null }>`
      insert into login_throttle (key, failures, window_started_at, locked_until)
      values (${clientKey(client)}, 1, ${now}, ${max <= 1 ? lockUntil : null})
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

/**
 * Forgets the wrong passwords counted against `user` from every client, ending their delays
 * (`aegis users unlock`, a password change). Takes the caller's transaction. Resolves to the number
 * of clients that had a count.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any catalog schema (or transaction) that includes `sign_in_delays`
export async function clearSignInDelays(db: Kysely<any>, user: string): Promise<number> {
  const result = await (db as Kysely<ThrottleDatabase>).deleteFrom('sign_in_delays').where('user_name', '=', userName(user)).executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The client a failure is counted against: an IPv4 address, an IPv6 /64 prefix, or the text as given. */
export function throttledClient(address: string): string {
  if (!ipaddr.isValid(address)) return address.slice(0, 64);
  const parsed = ipaddr.process(address.replace(/%.*$/, ''));
  if (parsed.kind() === 'ipv4') return parsed.toString();
  const prefix = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((part) => part.toString(16));
  return `${prefix.join(':')}::/64`;
}

function pairKey(user: string, client: string): { user: string; client: string } {
  return { user: userName(user), client: throttledClient(client) };
}

function userName(user: string): string {
  return user.slice(0, 100);
}

function clientKey(client: string): string {
  return `client:${throttledClient(client)}`;
}
