/**
 * The local user store over a real SQLite catalog: argon2id hashes that never leave the store,
 * password checks (wrong, disabled, unknown), and the validation rules for names, roles,
 * attributes and passwords.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Catalog } from '../../../gateway/catalog/catalog.js';
import { isGatewayError } from '../../../gateway/errors.js';
import { dummyPasswordHash, hashPassword, passwordMatches } from '../../../gateway/access/passwords.js';
import { parseAttributeArguments, passwordProblems } from '../../../gateway/access/user-rules.js';
import { UserStore } from '../../../gateway/access/users.js';

const PASSWORD = 'correct horse battery staple';

/** Asserts that `promise` rejects with a GatewayError of `code` whose message matches `message`. */
async function rejectsWith(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal(isGatewayError(error), true, `expected a GatewayError, got ${String(error)}`);
    assert.equal((error as { code: string }).code, code, `error code of: ${(error as Error).message}`);
    assert.match((error as Error).message, message);
    return true;
  });
}

describe('UserStore', () => {
  let dir: string;
  let catalog: Catalog;
  let users: UserStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aegis-users-'));
    catalog = await Catalog.openSqlite(join(dir, 'catalog.sqlite'));
    users = new UserStore(catalog.db);
  });
  after(async () => {
    await catalog.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('adds a user and stores an argon2id hash with the library defaults, never handed out', async () => {
    const added = await users.add({ name: 'alice', role: 'radiologist', attributes: { institution: 'chu-rabat', department: 'radiology' }, password: PASSWORD });
    assert.deepEqual(Object.keys(added).sort(), ['attributes', 'createdAt', 'disabled', 'name', 'passwordChangedAt', 'role', 'updatedAt']);
    assert.deepEqual(added.attributes, { department: 'radiology', institution: 'chu-rabat' });
    assert.equal(added.disabled, false);
    const row = await catalog.db.withTables<{ users: { name: string; password_hash: string } }>().selectFrom('users').select('password_hash').where('name', '=', 'alice').executeTakeFirstOrThrow();
    assert.match(row.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/, 'argon2id PHC string with m=19456, t=2');
    assert.equal(row.password_hash.includes(PASSWORD), false, 'the hash does not hold the password');
    assert.deepEqual(await users.get('alice'), added);
    const listed = await users.list();
    assert.deepEqual(listed, [added]);
    assert.equal(JSON.stringify(listed).includes('argon2'), false, 'list() carries no hash');
  });

  it('verifies the right password and refuses a wrong one, an unknown user and a disabled user', async () => {
    await users.add({ name: 'bob.smith', role: 'admin', password: PASSWORD });
    assert.equal((await users.verifyPassword('bob.smith', PASSWORD))?.name, 'bob.smith');
    assert.equal(await users.verifyPassword('bob.smith', `${PASSWORD}!`), undefined);
    assert.equal(await users.verifyPassword('nobody', PASSWORD), undefined);
    assert.equal(await users.verifyPassword('Not A Name', PASSWORD), undefined);
    assert.deepEqual(await users.authenticate('nobody', PASSWORD), { ok: false, reason: 'unknown-user' });
    assert.deepEqual(await users.authenticate('bob.smith', 'wrong password!'), { ok: false, reason: 'wrong-password' });

    await users.disable('bob.smith');
    assert.equal((await users.get('bob.smith'))?.disabled, true);
    assert.equal(await users.verifyPassword('bob.smith', PASSWORD), undefined);
    assert.deepEqual(await users.authenticate('bob.smith', PASSWORD), { ok: false, reason: 'disabled' });
    await users.disable('bob.smith'); // idempotent
    await users.enable('bob.smith');
    assert.equal((await users.verifyPassword('bob.smith', PASSWORD))?.disabled, false);
  });

  it('changes a password: the old one stops working, the new one works', async () => {
    await users.add({ name: 'carol', role: 'research', password: PASSWORD });
    const before = await users.get('carol');
    await new Promise((r) => setTimeout(r, 5));
    await users.setPassword('carol', 'a brand new passphrase');
    assert.equal(await users.verifyPassword('carol', PASSWORD), undefined);
    const after = await users.verifyPassword('carol', 'a brand new passphrase');
    assert.equal(after?.name, 'carol');
    assert.notEqual(after?.passwordChangedAt, before?.passwordChangedAt, 'passwordChangedAt moves');
  });

  it('checks an unknown user against a dummy hash with the parameters of real ones', async () => {
    // Not a timing assertion (tests never assert durations): the dummy costs what a real hash does.
    const real = await catalog.db.withTables<{ users: { name: string; password_hash: string } }>().selectFrom('users').select('password_hash').where('name', '=', 'alice').executeTakeFirstOrThrow();
    const params = (phc: string) => phc.split('$').slice(1, 4).join('$');
    assert.equal(params(await dummyPasswordHash()), params(real.password_hash), 'same algorithm, version and costs');
    const unknown = await users.authenticate('ghost', PASSWORD);
    assert.deepEqual(unknown, { ok: false, reason: 'unknown-user' });
    const tooLong = await users.authenticate('alice', 'x'.repeat(2000));
    assert.deepEqual(tooLong, { ok: false, reason: 'wrong-password' });
  });

  it('refuses a second user of the same name, and unknown names for changes', async () => {
    await rejectsWith(users.add({ name: 'alice', role: 'radiologist', password: PASSWORD }), 'USER_EXISTS', /user 'alice' already exists/);
    await rejectsWith(users.disable('dave'), 'USER_NOT_FOUND', /no user named 'dave'/);
    await rejectsWith(users.enable('dave'), 'USER_NOT_FOUND', /no user named 'dave'/);
    await rejectsWith(users.setPassword('dave', PASSWORD), 'USER_NOT_FOUND', /no user named 'dave'/);
    assert.equal(await users.get('dave'), undefined);
  });

  it('reports every validation problem at once, never quoting the password', async () => {
    const secret = 'short';
    await assert.rejects(users.add({ name: '9lives', role: 'Admin', attributes: { Dept: 'x', role: 'admin', site: '' }, password: secret }), (error: unknown) => {
      assert.equal(isGatewayError(error, 'INVALID_USER'), true, `expected INVALID_USER, got ${String(error)}`);
      const message = (error as Error).message;
      assert.match(message, /user name '9lives'/);
      assert.match(message, /role 'Admin'/);
      assert.match(message, /attribute key 'Dept'/);
      assert.match(message, /attribute key 'role' is reserved/);
      assert.match(message, /attribute 'site' needs a value/);
      assert.match(message, /at least 12 characters/);
      assert.equal(message.includes(secret), false, 'the message does not quote the password');
      return true;
    });
    await rejectsWith(users.add({ name: 'a'.repeat(65), role: 'x', password: PASSWORD }), 'INVALID_USER', /user name/);
    await rejectsWith(users.add({ name: 'erin', role: 'x', attributes: { 'x-ray': 'a\nb' }, password: PASSWORD }), 'INVALID_USER', /attribute 'x-ray' needs a value/);
    await rejectsWith(users.setPassword('alice', 'é'.repeat(600)), 'INVALID_USER', /at most 1024 bytes/);
    assert.equal(await users.get('9lives'), undefined);
  });

  it('accepts the edges of the rules', async () => {
    const name = `z${'a'.repeat(63)}`;
    await users.add({ name, role: 'front-desk_2.0', attributes: { licenceNumber: 'MA-123', 'x_y-z': 'any text, even = signs' }, password: 'twelve chars' });
    assert.equal((await users.verifyPassword(name, 'twelve chars'))?.role, 'front-desk_2.0');
    assert.deepEqual(passwordProblems('ü'.repeat(12)), [], 'twelve characters, whatever their bytes');
    assert.deepEqual(passwordProblems('x'.repeat(1024)), []);
  });
});

describe('passwords', () => {
  it('matches the NFKC form of a password, so composed and decomposed input agree', async () => {
    const phc = await hashPassword('Ame\u0301lie-passphrase');
    assert.equal(await passwordMatches(phc, 'Am\u00e9lie-passphrase'), true, 'composed é matches decomposed é');
    assert.equal(await passwordMatches(phc, 'Amelie-passphrase'), false, 'plain e does not');
  });

  it('parses KEY=VALUE arguments at the first = and reports malformed or repeated keys', () => {
    assert.deepEqual(parseAttributeArguments(['a=1', 'b=x=y']), { attributes: { a: '1', b: 'x=y' }, problems: [] });
    assert.deepEqual(parseAttributeArguments(['novalue', '=v', 'a=1', 'a=2']).problems, ["attribute 'novalue' is not KEY=VALUE", "attribute '=v' is not KEY=VALUE", "attribute 'a' is given more than once"]);
  });
});
