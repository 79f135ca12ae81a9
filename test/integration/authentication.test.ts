/**
 * Authentication over real HTTP (issue 4): the route inventory (every route but the probes and the
 * token endpoint answers 401 with WWW-Authenticate without credentials), the first admin created on
 * first start, HTTP Basic, API keys, access and refresh tokens, OIDC bearer tokens checked against a
 * JWKS served by this test, and the lockout after repeated wrong passwords.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { ApiKeyStore } from '../../gateway/access/authn/api-keys.js';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { routeInventory } from '../../gateway/http/app.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { runAegis } from '../support/aegis-cli.js';
import { stowBody } from '../support/dicomweb.js';
import { startGateway } from '../support/gateway.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';
import { readTrail } from '../support/trail.js';

const PASSWORD = 'correct horse battery staple';
const PUBLIC_ROUTES = new Set(['GET /healthz', 'GET /readyz', 'GET /.well-known/aegis-receipt-keys', 'POST /auth/token', 'ALL /auth/token']);

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** A concrete request path for a route pattern. */
function concretePath(pattern: string): string {
  return pattern.replace(':study', '1.2.3').replace(':series', '1.2.3.4').replace(':instance', '1.2.3.4.5').replace(':frames', '1').replace('*path', 'bulk/00420011');
}

/** Opens the gateway's catalog beside it (SQLite allows several connections) to add users and keys. */
async function withCatalog<T>(gateway: TestGateway, use: (catalog: Catalog) => Promise<T>): Promise<T> {
  const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
  try {
    return await use(catalog);
  } finally {
    await catalog.close();
  }
}

async function addUser(gateway: TestGateway, name: string, role = 'admin', attributes: Record<string, string> = {}) {
  await withCatalog(gateway, (catalog) => new UserStore(catalog.db).add({ name, role, attributes, password: PASSWORD }));
}

async function token(gateway: TestGateway, body: Record<string, string>) {
  const res = await fetch(`${gateway.url}/auth/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, any> };
}

async function qido(gateway: TestGateway, headers: Record<string, string> = {}) {
  const res = await fetch(`${gateway.dicomWebUrl}/studies`, { headers });
  await res.arrayBuffer();
  return res;
}

describe('route inventory', () => {
  let gateway: TestGateway;
  before(async () => {
    // Lockout limits high: this test sends many wrong credentials on purpose.
    gateway = await startTestGateway({ auth: { bootstrapAdmin: false, lockout: { maxFailures: 100_000, maxClientFailures: 100_000 } } });
  });
  after(() => gateway.stop());

  it('lists every route, and each one that is not public answers 401 with WWW-Authenticate without credentials', async () => {
    const routes = routeInventory(gateway.app);
    const names = routes.map((r) => `${r.method} ${r.path}`);
    for (const expected of ['POST /dicom-web/studies', 'GET /dicom-web/studies', 'GET /dicom-web/studies/:study/series/:series/instances/:instance/frames/:frames', 'DELETE /dicom-web/studies/:study']) {
      assert.ok(names.includes(expected), `the inventory includes ${expected}`);
    }
    assert.ok(routes.length >= 25, `the inventory holds every route (${routes.length})`);
    let checked = 0;
    for (const route of routes) {
      if (PUBLIC_ROUTES.has(`${route.method} ${route.path}`)) continue;
      const methods = route.method === 'GET' ? ['GET', 'HEAD'] : [route.method];
      for (const method of methods) {
        for (const authorization of [undefined, 'Basic bm9ib2R5Ondyb25n', 'Bearer not.a.token', 'Digest abc']) {
          const res = await fetch(`${gateway.url}${concretePath(route.path)}`, { method, headers: authorization ? { authorization } : {} });
          await res.arrayBuffer();
          assert.equal(res.status, 401, `${method} ${route.path} with ${authorization ?? 'no credentials'}`);
          assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="aegis".*Bearer realm="aegis"/, `${method} ${route.path} challenges`);
          checked++;
        }
      }
    }
    assert.ok(checked >= 100, `checked ${checked} requests`);
  });

  it('unknown paths answer 401 too (no probing without credentials); the public routes do not', async () => {
    for (const path of ['/nothing', '/dicom-web/nothing', '/auth/whatever']) {
      const res = await fetch(`${gateway.url}${path}`);
      await res.arrayBuffer();
      assert.equal(res.status, 401, path);
    }
    for (const path of ['/healthz', '/readyz']) assert.equal((await fetch(`${gateway.url}${path}`)).status, 200, path);
    assert.equal((await token(gateway, { grant_type: 'password', username: 'x', password: 'y' })).status, 400, 'the token endpoint answers without credentials');
  });

  it('a config that opens the routes lets requests without credentials through as the anonymous subject', async () => {
    const open = await startTestGateway({ auth: { anonymous: { role: 'admin' }, bootstrapAdmin: false } });
    try {
      for (const route of routeInventory(open.app)) {
        if (route.method !== 'GET') continue;
        const res = await fetch(`${open.url}${concretePath(route.path)}`);
        await res.arrayBuffer();
        assert.notEqual(res.status, 401, `${route.path} is open`);
      }
    } finally {
      await open.stop();
    }
  });
});

describe('first start', () => {
  it('creates admin with a random password printed once and kept in an owner-only file', async () => {
    const gateway = await startGateway({ secure: true, keepData: true });
    let restarted: Awaited<ReturnType<typeof startGateway>> | undefined;
    try {
      const file = join(gateway.dataDir, 'admin-password');
      const password = (await readFile(file, 'utf8')).trim();
      assert.match(password, /^[A-Za-z0-9_-]{24}$/, 'a 144-bit random password');
      assert.equal((await stat(file)).mode & 0o777, 0o600, 'the file is readable by its owner only');
      assert.ok(gateway.stderr().includes(`password: ${password}`), 'the password is printed on the terminal');
      assert.ok(!gateway.logs.some((line) => line.includes(password)), 'the password is not in the JSON log');
      const res = await fetch(`${gateway.url}/dicom-web/studies`, { headers: { authorization: basic('admin', password) } });
      assert.equal(res.status, 200, 'admin signs in with it');
      assert.equal((await fetch(`${gateway.url}/dicom-web/studies`)).status, 401, 'nothing is open by default');
      await gateway.stop();
      restarted = await startGateway({ secure: true, dataDir: gateway.dataDir });
      assert.ok(!restarted.stderr().includes('password:'), 'a later start prints no password');
      assert.equal((await readFile(file, 'utf8')).trim(), password, 'and keeps the first one');
    } finally {
      await gateway.stop();
      await restarted?.stop();
    }
  });
});

describe('credentials', () => {
  let gateway: TestGateway;
  let jwks: Server;
  let jwksUrl: string;
  let idpKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  let idpPublic: JWK;
  const ISSUER = 'https://idp.example.org/realms/hospital';

  before(async () => {
    const pair = await generateKeyPair('RS256');
    idpKey = pair.privateKey;
    idpPublic = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [idpPublic] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/certs`;
    gateway = await startTestGateway({
      auth: {
        bootstrapAdmin: false,
        credentialCacheSeconds: 0,
        oidc: [
          {
            issuer: ISSUER,
            audience: 'aegis-gateway',
            jwksUri: jwksUrl,
            claims: { name: 'preferred_username', role: 'realm_role', attributes: { institution: 'org' }, purpose: 'purpose_of_use' },
            roles: { 'hospital-radiologist': 'radiologist', 'hospital-admin': 'admin' },
          },
        ],
      },
    });
    await addUser(gateway, 'alice');
    await addUser(gateway, 'bob');
  });
  after(async () => {
    await gateway.stop();
    await new Promise((resolve) => jwks.close(resolve));
  });

  it('HTTP Basic: the right password passes, a wrong one gets 401 with the challenge', async () => {
    assert.equal((await qido(gateway, { authorization: basic('alice', PASSWORD) })).status, 200);
    const wrong = await qido(gateway, { authorization: basic('alice', 'not the password') });
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get('www-authenticate') ?? '', /Basic realm="aegis"/);
    assert.equal((await qido(gateway, { authorization: basic('nobody', PASSWORD) })).status, 401, 'unknown user');
  });

  it('STOW with Basic credentials stores (modalities)', async () => {
    const { body, contentType } = stowBody([syntheticInstance({ studyInstanceUID: newUid() })]);
    const res = await fetch(`${gateway.dicomWebUrl}/studies`, { method: 'POST', headers: { 'content-type': contentType, authorization: basic('alice', PASSWORD) }, body });
    assert.equal(res.status, 200, await res.text());
  });

  it('API keys: accepted in Authorization: ApiKey and X-API-Key; a revoked or forged key is not', async () => {
    const { key, info } = await withCatalog(gateway, (catalog) => new ApiKeyStore(catalog.db).create('bob', { label: 'CT scanner 1' }));
    assert.match(key, /^aegis_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.equal((await qido(gateway, { authorization: `ApiKey ${key}` })).status, 200);
    assert.equal((await qido(gateway, { 'x-api-key': key })).status, 200);
    const forged = `${key.slice(0, -4)}AAAA`;
    assert.equal((await qido(gateway, { 'x-api-key': forged })).status, 401, 'a key with another secret');
    await withCatalog(gateway, (catalog) => new ApiKeyStore(catalog.db).revoke(info.id));
    assert.equal((await qido(gateway, { 'x-api-key': key })).status, 401, 'revoked');
  });

  it('POST /auth/token: password grant, bearer use, refresh rotation and reuse detection', async () => {
    const bad = await token(gateway, { grant_type: 'password', username: 'alice', password: 'nope nope nope' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, 'invalid_grant');
    assert.equal((await token(gateway, { grant_type: 'client_credentials' })).json.error, 'unsupported_grant_type');
    const first = await token(gateway, { grant_type: 'password', username: 'alice', password: PASSWORD });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('cache-control'), 'no-store');
    assert.equal(first.json.token_type, 'Bearer');
    assert.equal(first.json.expires_in, 900);
    assert.equal((await qido(gateway, { authorization: `Bearer ${first.json.access_token}` })).status, 200);
    const tampered = first.json.access_token.slice(0, -3) + (first.json.access_token.endsWith('AAA') ? 'BBB' : 'AAA');
    const rejected = await qido(gateway, { authorization: `Bearer ${tampered}` });
    assert.equal(rejected.status, 401, 'a tampered token');
    assert.match(rejected.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

    const second = await token(gateway, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token });
    assert.equal(second.status, 200, 'the refresh token is redeemed once');
    assert.notEqual(second.json.refresh_token, first.json.refresh_token, 'and rotated');
    const reuse = await token(gateway, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token });
    assert.equal(reuse.json.error, 'invalid_grant', 'a used refresh token is refused');
    const afterReuse = await token(gateway, { grant_type: 'refresh_token', refresh_token: second.json.refresh_token });
    assert.equal(afterReuse.json.error, 'invalid_grant', 'reuse revoked the whole family');

    const json = await fetch(`${gateway.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'password', username: 'alice', password: PASSWORD }) });
    assert.equal(json.status, 200, 'JSON bodies are accepted too');
    assert.equal((await fetch(`${gateway.url}/auth/token`)).status, 405, 'GET /auth/token');
  });

  it('the audit trail names the user of every refresh grant, a reused refresh token, and a sign-in with an empty user name', async () => {
    await addUser(gateway, 'dave');
    const first = await token(gateway, { grant_type: 'password', username: 'dave', password: PASSWORD });
    assert.equal(first.status, 200);
    assert.equal((await token(gateway, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token })).status, 200);
    assert.equal((await token(gateway, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token })).json.error, 'invalid_grant');
    assert.equal((await token(gateway, { grant_type: 'refresh_token', refresh_token: `aegisr_${'0'.repeat(16)}.${'A'.repeat(43)}` })).json.error, 'invalid_grant');
    assert.equal((await token(gateway, { grant_type: 'password', username: '', password: 'a guess at nobody' })).json.error, 'invalid_grant');
    const { events } = await readTrail(gateway.dataDir);
    const signIns = events
      .slice(events.findIndex((e) => e.kind === 'authentication' && e.actor.name === 'dave'))
      .filter((e) => e.kind === 'authentication')
      .map((e) => `${e.actor.name} ${e.actor.method} ${e.outcome}: ${e.reason}`);
    assert.deepEqual(signIns, [
      'dave password success: password',
      'dave token success: refresh token redeemed',
      'dave token denied: refresh token refused (reused: every token of its sign-in is revoked)',
      '(unknown) token denied: refresh token refused (unknown)',
      '(unknown) password denied: unknown-user',
    ]);
  });

  it('a token stops working when its user is disabled', async () => {
    await addUser(gateway, 'carol');
    const issued = await token(gateway, { grant_type: 'password', username: 'carol', password: PASSWORD });
    assert.equal((await qido(gateway, { authorization: `Bearer ${issued.json.access_token}` })).status, 200);
    await withCatalog(gateway, (catalog) => new UserStore(catalog.db).disable('carol'));
    assert.equal((await qido(gateway, { authorization: `Bearer ${issued.json.access_token}` })).status, 401);
  });

  it('refresh tokens die with aegis users passwd and disable (enable brings none back)', async () => {
    await addUser(gateway, 'frank');
    const cli = (args: string[], input = '') => runAegis(['users', ...args, '--data', gateway.dataDir], { input, unset: ['AEGIS_CONFIG', 'AEGIS_DATA_DIR'] });
    const beforePasswd = await token(gateway, { grant_type: 'password', username: 'frank', password: PASSWORD });
    assert.equal(beforePasswd.status, 200);
    const passwd = await cli(['passwd', 'frank', '--password-stdin'], 'a much better passphrase\n');
    assert.equal(passwd.status, 0, passwd.stderr);
    const afterPasswd = await token(gateway, { grant_type: 'refresh_token', refresh_token: beforePasswd.json.refresh_token });
    assert.equal(afterPasswd.status, 400, 'a refresh token from before the password change');
    assert.equal(afterPasswd.json.error, 'invalid_grant');

    const beforeDisable = await token(gateway, { grant_type: 'password', username: 'frank', password: 'a much better passphrase' });
    assert.equal(beforeDisable.status, 200);
    for (const sub of ['disable', 'enable']) {
      const run = await cli([sub, 'frank']);
      assert.equal(run.status, 0, run.stderr);
    }
    const afterDisable = await token(gateway, { grant_type: 'refresh_token', refresh_token: beforeDisable.json.refresh_token });
    assert.equal(afterDisable.json.error, 'invalid_grant', 'a refresh token from before the user was disabled, even once enabled again');
    const fresh = await token(gateway, { grant_type: 'password', username: 'frank', password: 'a much better passphrase' });
    assert.equal((await token(gateway, { grant_type: 'refresh_token', refresh_token: fresh.json.refresh_token })).status, 200, 'a new sign-in starts a good family');
  });

  it('OIDC bearer tokens: verified against the JWKS, claims mapped; wrong audience, expiry, key or role refused', async () => {
    const sign = (claims: Record<string, unknown>, options: { audience?: string; expires?: string; key?: typeof idpKey; kid?: string } = {}) =>
      new SignJWT({ preferred_username: 'dr.house', realm_role: 'hospital-radiologist', org: 'St Mary', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'idp-1' })
        .setIssuer(ISSUER)
        .setSubject('f2b1c3')
        .setAudience(options.audience ?? 'aegis-gateway')
        .setIssuedAt()
        .setExpirationTime(options.expires ?? '5m')
        .sign(options.key ?? idpKey);
    assert.equal((await qido(gateway, { authorization: `Bearer ${await sign({})}` })).status, 200, 'a valid token');
    assert.equal((await qido(gateway, { authorization: `Bearer ${await sign({}, { audience: 'another-app' })}` })).status, 401, 'audience');
    assert.equal((await qido(gateway, { authorization: `Bearer ${await sign({}, { expires: '-2m' })}` })).status, 401, 'expired');
    const other = await generateKeyPair('RS256');
    assert.equal((await qido(gateway, { authorization: `Bearer ${await sign({}, { key: other.privateKey })}` })).status, 401, 'another key, same kid');
    assert.equal((await qido(gateway, { authorization: `Bearer ${await sign({ realm_role: 'janitor' })}` })).status, 401, 'an unmapped role');
    assert.equal((await qido(gateway, { authorization: `Bearer ${await sign({ preferred_username: undefined })}` })).status, 401, 'no name claim (the sub claim does not stand in for it)');
  });

  it("an OIDC subject named like a local user neither inherits nor ends that user's break-glass grant", async () => {
    await addUser(gateway, 'grace', 'radiologist', { institution: 'St Mary' });
    const local = { authorization: basic('grace', PASSWORD) };
    const oidc = {
      authorization: `Bearer ${await new SignJWT({ preferred_username: 'grace', realm_role: 'hospital-radiologist', org: 'St Mary' })
        .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
        .setIssuer(ISSUER)
        .setSubject('0b7e1c')
        .setAudience('aegis-gateway')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(idpKey)}`,
    };
    // A grant serves only the requests that declare emergency treatment.
    const whoami = async (headers: Record<string, string>) => {
      const res = await fetch(`${gateway.url}/auth/whoami`, { headers: { ...headers, 'x-purpose-of-use': 'ETREAT' } });
      assert.equal(res.status, 200);
      return (await res.json()) as { name: string; method: string; breakGlass: { id: string } | null };
    };
    const declare = await fetch(`${gateway.url}/auth/break-glass`, {
      method: 'POST',
      headers: { ...local, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'trauma patient, unconscious, no consent possible', purpose: 'ETREAT', minutes: 5 }),
    });
    assert.equal(declare.status, 201, await declare.text());
    assert.notEqual((await whoami(local)).breakGlass, null, 'the local user has the grant');
    const external = await whoami(oidc);
    assert.deepEqual([external.name, external.method], ['grace', 'oidc'], 'the OIDC subject bears the same name');
    assert.equal(external.breakGlass, null, 'but not the grant');
    const end = await fetch(`${gateway.url}/auth/break-glass`, { method: 'DELETE', headers: oidc });
    assert.equal(end.status, 204);
    assert.notEqual((await whoami(local)).breakGlass, null, 'and cannot end it');
    assert.equal((await fetch(`${gateway.url}/auth/break-glass`, { method: 'DELETE', headers: local })).status, 204);
    assert.equal((await whoami(local)).breakGlass, null, 'the local user ends their own grant');
  });

  it('an unknown purpose of use is a bad request', async () => {
    const res = await qido(gateway, { authorization: basic('alice', PASSWORD), 'x-purpose-of-use': 'MARKETING' });
    assert.equal(res.status, 400);
  });
});

describe('lockout', () => {
  /** Client B: requests leave from another loopback address, so the gateway sees another client. */
  const CLIENT_B = '127.0.0.2';

  /** A request from `localAddress` (node:http, which can pick the source address). */
  function requestFrom(localAddress: string, url: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; retryAfter?: string }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers, localAddress }, (res) => {
        res.resume();
        res.once('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] }));
      });
      req.once('error', reject);
      req.end(options.body);
    });
  }

  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  async function withCatalogAt<T>(dataDir: string, use: (catalog: Catalog) => Promise<T>): Promise<T> {
    const catalog = await Catalog.openSqlite(join(dataDir, 'catalog.sqlite'));
    try {
      return await use(catalog);
    } finally {
      await catalog.close();
    }
  }

  it('an attacker hammering admin from client A gets growing delays (429, Retry-After); admin signs in from client B meanwhile', async () => {
    const gateway = await startGateway({
      env: { AEGIS_WORKERS: '2' },
      config: { auth: { bootstrapAdmin: false, lockout: { maxFailures: 5, delaySeconds: 2, maxDelaySeconds: 60, windowSeconds: 600, maxClientFailures: 1000 } } },
    });
    try {
      await withCatalogAt(gateway.dataDir, (catalog) => new UserStore(catalog.db).add({ name: 'admin', role: 'admin', password: PASSWORD }));
      const fromA = async (user: string, password: string) => {
        const res = await fetch(`${gateway.dicomWebUrl}/studies`, { headers: { authorization: basic(user, password) } });
        await res.arrayBuffer();
        return { status: res.status, retryAfter: res.headers.get('retry-after') ?? undefined };
      };
      const fromB = (user: string, password: string) => requestFrom(CLIENT_B, `${gateway.dicomWebUrl}/studies`, { headers: { authorization: basic(user, password) } });

      const first = [];
      for (let i = 0; i < 5; i++) first.push((await fromA('admin', `wrong password ${i}`)).status);
      assert.deepEqual(first, [401, 401, 401, 401, 401], 'five wrong passwords are checked');
      const delayed = [];
      for (let i = 0; i < 20; i++) delayed.push(await fromA('admin', `wrong password ${i}`));
      assert.ok(
        delayed.every((r) => r.status === 429 && /^[12]$/.test(r.retryAfter ?? '')),
        `then 429 with Retry-After 1-2: ${JSON.stringify(delayed.slice(0, 3))}`,
      );
      const rightFromA = await fromA('admin', PASSWORD);
      assert.equal(rightFromA.status, 429, 'from A even the right password waits');

      assert.equal((await fromB('admin', PASSWORD)).status, 200, 'admin signs in from client B');
      const tokenFromB = await requestFrom(CLIENT_B, `${gateway.url}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', username: 'admin', password: PASSWORD }).toString(),
      });
      assert.equal(tokenFromB.status, 200, 'and gets a token from client B');
      assert.equal((await fromB('admin', 'a typo from B')).status, 401, "B's own wrong password is checked, not delayed");

      // The delay grows: after it ends, one more wrong password from A is checked and doubles it.
      await wait(2100);
      assert.equal((await fromA('admin', 'wrong again')).status, 401);
      const longer = await fromA('admin', 'wrong again');
      assert.equal(longer.status, 429);
      assert.match(longer.retryAfter ?? '', /^[34]$/, 'the second delay is twice the first');
      await wait(4100);
      assert.equal((await fromA('admin', PASSWORD)).status, 200, 'the right password from A once the delay is over');
      assert.equal((await fromA('admin', 'wrong once')).status, 401, 'a success from A cleared its count');
      assert.equal((await fromA('admin', 'wrong twice')).status, 401);

      // A name nobody has gets the same answers: the delays tell nothing about which users exist.
      const ghost = [];
      for (let i = 0; i < 6; i++) ghost.push((await fromA('nobody', `wrong password ${i}`)).status);
      assert.deepEqual(ghost, [401, 401, 401, 401, 401, 429]);

      await wait(300);
      const events = await withCatalogAt(gateway.dataDir, async (catalog) => (await catalog.db.selectFrom('audit_events').select('event').orderBy('seq').execute()).map((r) => JSON.parse(r.event) as Record<string, any>));
      const signIns = events.filter((e) => e.kind === 'authentication' && e.actor.name === 'admin');
      const fromClientA = signIns.filter((e) => e.actor.clientAddress !== CLIENT_B);
      const wrong = fromClientA.filter((e) => e.outcome === 'denied' && /^wrong-password/.test(e.reason));
      assert.equal(wrong.length, 8, 'every checked wrong password from A');
      assert.match(wrong[4].reason, /now locked: user name from this client for 2 s/, 'the fifth started a delay');
      assert.match(wrong[5].reason, /now locked: user name from this client for 4 s/, 'the sixth doubled it');
      assert.equal(fromClientA.filter((e) => e.outcome === 'denied' && /^locked out/.test(e.reason)).length, 22, 'every attempt refused while delayed');
      assert.equal(signIns.filter((e) => e.actor.clientAddress === CLIENT_B && e.outcome === 'success').length, 2, "B's sign-ins");
      const warnings = gateway.logs.map((line) => JSON.parse(line) as Record<string, any>).filter((l) => l.level === 40 && l.event === 'sign-in-lockout');
      assert.ok(
        warnings.some((l) => l.user === 'admin' && l.client === '127.0.0.1' && l.scope === 'user' && l.seconds === 2),
        `the lockout is logged at warn level: ${JSON.stringify(warnings)}`,
      );
      assert.ok(
        warnings.every((l) => !/wrong password \d|wrong again/.test(JSON.stringify(l))),
        'without the passwords tried',
      );
    } finally {
      await gateway.stop();
    }
  });

  it('aegis users unlock NAME ends the delays at once while the gateway runs; aegis users passwd does too', async () => {
    // One worker: its credential cache is the one every request meets.
    const gateway = await startGateway({
      env: { AEGIS_WORKERS: '1' },
      config: { auth: { bootstrapAdmin: false, lockout: { maxFailures: 3, delaySeconds: 600, maxDelaySeconds: 600, windowSeconds: 600, maxClientFailures: 1000 } } },
    });
    try {
      await withCatalogAt(gateway.dataDir, (catalog) => new UserStore(catalog.db).add({ name: 'erin', role: 'admin', password: PASSWORD }));
      const attempt = async (password: string) => {
        const res = await fetch(`${gateway.dicomWebUrl}/studies`, { headers: { authorization: basic('erin', password) } });
        await res.arrayBuffer();
        return res.status;
      };
      const hammer = async () => {
        const statuses = [];
        for (let i = 0; i < 4; i++) statuses.push(await attempt(`wrong password ${i}`));
        assert.deepEqual(statuses, [401, 401, 401, 429]);
      };
      const cli = (args: string[], input = '') => runAegis(['users', ...args, '--data', gateway.dataDir], { input, unset: ['AEGIS_CONFIG', 'AEGIS_DATA_DIR'] });

      assert.equal(await attempt(PASSWORD), 200, 'erin signs in (and the credential is cached)');
      await hammer();
      assert.equal(await attempt(PASSWORD), 429, 'while delayed even the right password waits, though verified moments ago');
      const unlock = await cli(['unlock', 'erin']);
      assert.equal(unlock.status, 0, unlock.stderr);
      assert.equal(unlock.stdout, "sign-in delays of 'erin' cleared (1 client)\n");
      assert.equal(await attempt(PASSWORD), 200, 'erin signs in right after the unlock');

      await hammer();
      const passwd = await cli(['passwd', 'erin', '--password-stdin'], 'a much better passphrase\n');
      assert.equal(passwd.status, 0, passwd.stderr);
      assert.equal(await attempt('a much better passphrase'), 200, 'a new password clears the delays');

      const unknown = await cli(['unlock', 'nobody']);
      assert.equal(unknown.status, 0, unknown.stderr);
      assert.equal(unknown.stdout, "sign-in delays of 'nobody' cleared (0 clients)\n");
    } finally {
      await gateway.stop();
    }
  });

  it('too many failures from one client lock the client out, whatever names it tries', async () => {
    const gateway = await startTestGateway({ auth: { bootstrapAdmin: false, lockout: { maxFailures: 5, maxClientFailures: 8, lockSeconds: 60, windowSeconds: 60 } } });
    try {
      await addUser(gateway, 'erin');
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) statuses.push((await qido(gateway, { authorization: basic(`guess${i}`, 'wrong password') })).status);
      assert.deepEqual(statuses, [401, 401, 401, 401, 401, 401, 401, 401, 429, 429, 429, 429]);
      assert.equal((await qido(gateway, { authorization: basic('erin', PASSWORD) })).status, 429, 'the client is locked for every user');
    } finally {
      await gateway.stop();
    }
  });
});
