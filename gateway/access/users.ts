/**
 * Local users: name, role, subject attributes and an argon2id password hash, kept in the
 * catalog's `users` table (migration `0002-users`). The store never hands out hashes;
 * {@link UserStore.authenticate} costs the same whether or not the user exists. A password change
 * or a disable revokes the user's refresh tokens in the same transaction, whoever makes it (the
 * CLI or any other caller of the store); a password change also ends the user's sign-in delays.
 */
import type { Kysely, Selectable } from 'kysely';
import type { CatalogDatabase, UsersTable } from '../catalog/schema.js';
import { GatewayError } from '../errors.js';
import { clearSignInDelays } from './authn/login-throttle.js';
import { revokeUserRefreshTokens } from './authn/refresh-tokens.js';
import { dummyPasswordHash, hashPassword, passwordMatches } from './passwords.js';
import { attributeProblems, passwordProblems, roleProblems, USER_NAME_PATTERN, userNameProblems } from './user-rules.js';

/** The tables the user store reads and writes. */
export type UsersDatabase = Pick<CatalogDatabase, 'users'>;

/** A user as the store hands it out: everything but the password hash. */
export interface User {
  name: string;
  role: string;
  attributes: Record<string, string>;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
  passwordChangedAt: string;
}

/** What {@link UserStore.add} takes. */
export interface NewUser {
  name: string;
  role: string;
  attributes?: Record<string, string>;
  password: string;
}

/** The outcome of {@link UserStore.authenticate}; the reason is for the audit trail, never for the client. */
export type Authentication = { ok: true; user: User } | { ok: false; reason: 'unknown-user' | 'disabled' | 'wrong-password' };

/** Local users over the catalog's database. */
export class UserStore {
  private readonly db: Kysely<UsersDatabase>;

  /** `db` is the catalog's (`catalog.db`); its migrations have created the `users` table. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any catalog schema that includes `users`
  constructor(db: Kysely<any>) {
    this.db = db as Kysely<UsersDatabase>;
  }

  /** Adds a user. Throws INVALID_USER (every problem listed) or USER_EXISTS. */
  async add(user: NewUser): Promise<User> {
    const attributes = user.attributes ?? {};
    rejectProblems([...userNameProblems(user.name), ...roleProblems(user.role), ...attributeProblems(attributes), ...passwordProblems(user.password)]);
    if (await this.get(user.name)) throw exists(user.name);
    const passwordHash = await hashPassword(user.password);
    const now = new Date().toISOString();
    const row: UsersTable = {
      name: user.name,
      role: user.role,
      attributes: JSON.stringify(sortedObject(attributes)),
      password_hash: passwordHash,
      disabled: 0,
      created_at: now,
      updated_at: now,
      password_changed_at: now,
    };
    try {
      await this.db.insertInto('users').values(row).execute();
    } catch (error) {
      // Another process added the same name between the check and the insert.
      if (isUniqueViolation(error)) throw exists(user.name, error);
      throw error;
    }
    return toUser(row);
  }

  /** Replaces a user's password, revokes their refresh tokens and ends their sign-in delays. Throws INVALID_USER or USER_NOT_FOUND. */
  async setPassword(name: string, password: string): Promise<void> {
    rejectProblems(passwordProblems(password));
    if (!(await this.get(name))) throw notFound(name);
    const passwordHash = await hashPassword(password);
    const now = new Date();
    await this.db.transaction().execute(async (trx) => {
      await update(trx, name, { password_hash: passwordHash, password_changed_at: now.toISOString(), updated_at: now.toISOString() });
      await revokeUserRefreshTokens(trx, name, now);
      await clearSignInDelays(trx, name);
    });
  }

  /** Forbids a user to sign in and revokes their refresh tokens (idempotent). Throws USER_NOT_FOUND. */
  async disable(name: string): Promise<void> {
    const now = new Date();
    await this.db.transaction().execute(async (trx) => {
      await update(trx, name, { disabled: 1, updated_at: now.toISOString() });
      await revokeUserRefreshTokens(trx, name, now);
    });
  }

  /** Allows a disabled user to sign in again (idempotent); refresh tokens revoked stay revoked. Throws USER_NOT_FOUND. */
  async enable(name: string): Promise<void> {
    await update(this.db, name, { disabled: 0, updated_at: new Date().toISOString() });
  }

  /** The user of that name, or undefined. */
  async get(name: string): Promise<User | undefined> {
    if (!USER_NAME_PATTERN.test(name)) return undefined;
    const row = await this.db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst();
    return row && toUser(row);
  }

  /** True when there is no user at all. */
  async isEmpty(): Promise<boolean> {
    return (await this.db.selectFrom('users').select('name').limit(1).executeTakeFirst()) === undefined;
  }

  /** Every user, by name. */
  async list(): Promise<User[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('name').execute();
    return rows.map(toUser);
  }

  /**
   * Checks a name and password. An unknown name still costs one argon2id verification (against a
   * dummy hash), and a disabled user's password is still verified, so that the time taken tells
   * nothing about which users exist or are disabled.
   */
  async authenticate(name: string, password: string): Promise<Authentication> {
    const row = USER_NAME_PATTERN.test(name) ? await this.db.selectFrom('users').selectAll().where('name', '=', name).executeTakeFirst() : undefined;
    const matches = await passwordMatches(row?.password_hash ?? (await dummyPasswordHash()), password);
    if (!row) return { ok: false, reason: 'unknown-user' };
    if (!matches) return { ok: false, reason: 'wrong-password' };
    if (row.disabled !== 0) return { ok: false, reason: 'disabled' };
    return { ok: true, user: toUser(row) };
  }

  /** The user when `password` is theirs and they are enabled; otherwise undefined. */
  async verifyPassword(name: string, password: string): Promise<User | undefined> {
    const result = await this.authenticate(name, password);
    return result.ok ? result.user : undefined;
  }
}

/** Changes a user's row (in `db` or a transaction). Throws USER_NOT_FOUND. */
async function update(db: Kysely<UsersDatabase>, name: string, changes: Partial<UsersTable>): Promise<void> {
  if (!USER_NAME_PATTERN.test(name)) throw notFound(name);
  const result = await db.updateTable('users').set(changes).where('name', '=', name).executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) throw notFound(name);
}

function toUser(row: Selectable<UsersTable>): User {
  return {
    name: row.name,
    role: row.role,
    attributes: JSON.parse(row.attributes) as Record<string, string>,
    disabled: Number(row.disabled) !== 0,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    passwordChangedAt: row.password_changed_at,
  };
}

function rejectProblems(problems: string[]): void {
  if (problems.length > 0) throw new GatewayError('INVALID_USER', problems.join('; '));
}

function exists(name: string, cause?: unknown): GatewayError {
  return new GatewayError('USER_EXISTS', `user '${name}' already exists`, { cause });
}

function notFound(name: string): GatewayError {
  return new GatewayError('USER_NOT_FOUND', `no user named '${JSON.stringify(name).slice(1, -1)}'`);
}

function sortedObject(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A unique or primary key refused an insert (better-sqlite3, node:sqlite, or PostgreSQL's 23505). */
function isUniqueViolation(error: unknown): boolean {
  const { code, errcode } = (error ?? {}) as { code?: unknown; errcode?: unknown };
  // SQLITE_CONSTRAINT_PRIMARYKEY (1555) and SQLITE_CONSTRAINT_UNIQUE (2067).
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || errcode === 1555 || errcode === 2067 || code === '23505';
}
