/**
 * The token sweep: for every way the gateway verifies a credential (our access tokens, refresh
 * tokens, API keys, OIDC bearer tokens, HTTP Basic), credentials forged with every key the code
 * could fall back to or reach (zero bytes of several lengths, the empty key, the OIDC provider's
 * public key as an HMAC secret, the master key itself or a key derived from it for another purpose,
 * another or no key id), with `alg: none`, another algorithm, another `typ`, issuer or audience, or
 * expired, are refused with 401 and `WWW-Authenticate` on `/auth/whoami`, a DICOMweb route and
 * `/admin/stats`. Each forgery differs from a genuine credential (accepted by the control test) in
 * one respect only, so each case fails if the check it aims at is missing.
 */
import assert from 'node:assert/strict';
import { createHmac, createSign, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiKeyStore } from '../../gateway/access/authn/api-keys.js';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { deriveKey } from '../../gateway/keys/derive.js';
import { Keyring } from '../../gateway/keys/keyring.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';

const PASSWORD = 'correct horse battery staple';
const ADMIN = 'root';
const ISSUER = 'https://idp.example.org/realms/hospital';
const AUDIENCE = 'aegis-gateway';
/** Routes every forged credential is tried on: the session, DICOMweb and administration. */
const ROUTES = ['/auth/whoami', '/dicom-web/studies', '/admin/stats'];

type Headers = Record<string, string>;

function base64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** A compact JWS signed with HMAC-SHA-`bits` under `key` (any length, the empty key included). */
function hmacJwt(header: Record<string, unknown>, payload: Record<string, unknown>, key: Uint8Array | string, bits = 256): string {
  const input = `${base64url(header)}.${base64url(payload)}`;
  return `${input}.${createHmac(`sha${bits}`, key).update(input).digest('base64url')}`;
}

/** A compact JWS signed with RSASSA-PKCS1-v1_5 SHA-256 under `key`. */
function rs256Jwt(header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${base64url(header)}.${base64url(payload)}`;
  return `${input}.${createSign('RSA-SHA256').update(input).sign(key).toString('base64url')}`;
}

const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` });
const basic = (user: string, password: string): Headers => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

describe('token sweep: forged credentials are refused with 401 on every kind of route', () => {
  let gateway: TestGateway;
  let jwks: Server;
  /** The key our access tokens are signed with (derived from the active master key `k1`). */
  let accessKey: Buffer;
  let masterSecret: KeyObject;
  let idpPrivate: KeyObject;
  let idpPublicPem: string;
  let idpPublicDer: Buffer;
  let idpPublicJwk: Record<string, unknown>;
  let apiKey: string;
  const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });

  const now = () => Math.floor(Date.now() / 1000);
  /** The claims of a genuine access token of ours for the admin. */
  const ourClaims = (): Record<string, unknown> => ({ sub: ADMIN, iss: 'aegis', aud: 'aegis', iat: now(), exp: now() + 600, jti: randomBytes(8).toString('hex') });
  /** Our header, naming `kid` (none when absent). */
  const ourHeader = (kid?: string): Record<string, unknown> => ({ alg: 'HS256', typ: 'at+jwt', ...(kid !== undefined && { kid }) });
  /** The claims of a genuine OIDC token of the provider, mapped to the admin role. */
  const idpClaims = (): Record<string, unknown> => ({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'f2b1c3',
    preferred_username: 'dr.house',
    realm_role: 'hospital-admin',
    iat: now(),
    exp: now() + 300,
  });

  async function expectRefused(headers: Headers): Promise<void> {
    for (const route of ROUTES) {
      const res = await fetch(`${gateway.url}${route}`, { headers });
      const body = await res.text();
      assert.equal(res.status, 401, `${route}: ${body.slice(0, 200)}`);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="aegis", charset="UTF-8", Bearer realm="aegis"/, `${route} challenges`);
    }
  }

  async function expectAccepted(headers: Headers): Promise<void> {
    for (const route of ROUTES) {
      const res = await fetch(`${gateway.url}${route}`, { headers });
      assert.equal(res.status, 200, `${route}: ${(await res.text()).slice(0, 200)}`);
    }
  }

  async function withCatalog<T>(use: (catalog: Catalog) => Promise<T>): Promise<T> {
    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    try {
      return await use(catalog);
    } finally {
      await catalog.close();
    }
  }

  async function refreshGrant(body: Record<string, string>): Promise<{ status: number; json: Record<string, any> }> {
    const res = await fetch(`${gateway.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
    return { status: res.status, json: (await res.json()) as Record<string, any> };
  }

  before(async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    idpPrivate = pair.privateKey;
    idpPublicPem = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    idpPublicDer = pair.publicKey.export({ type: 'spki', format: 'der' });
    idpPublicJwk = { ...pair.publicKey.export({ format: 'jwk' }), kid: 'idp-1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [idpPublicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const jwksUri = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/certs`;
    gateway = await startTestGateway({
      auth: {
        bootstrapAdmin: false,
        // Many wrong passwords on purpose: no throttling in the way.
        lockout: { maxFailures: 100_000, maxClientFailures: 100_000 },
        oidc: [{ issuer: ISSUER, audience: AUDIENCE, jwksUri, claims: { name: 'preferred_username', role: 'realm_role' }, roles: { 'hospital-admin': 'admin' } }],
      },
    });
    apiKey = await withCatalog(async (catalog) => {
      await new UserStore(catalog.db).add({ name: ADMIN, role: 'admin', password: PASSWORD });
      return (await new ApiKeyStore(catalog.db).create(ADMIN, { label: 'sweep' })).key;
    });
    const keyring = await Keyring.load({ dataDir: gateway.dataDir, env: {} });
    const master = keyring.find('k1');
    assert.ok(master, 'the gateway created its development master key k1');
    masterSecret = master.secret;
    accessKey = deriveKey(masterSecret, 'aegis access token v1');
  });

  after(async () => {
    await gateway?.stop();
    await new Promise((resolve) => jwks.close(resolve));
  });

  it('controls: the genuine credential of every kind is accepted on every route', async () => {
    await expectAccepted(bearer(hmacJwt(ourHeader('k1'), ourClaims(), accessKey)));
    await expectAccepted(bearer(rs256Jwt({ alg: 'RS256', kid: 'idp-1' }, idpClaims(), idpPrivate)));
    await expectAccepted({ authorization: `ApiKey ${apiKey}` });
    await expectAccepted({ 'x-api-key': apiKey });
    await expectAccepted(basic(ADMIN, PASSWORD));
    const issued = await refreshGrant({ grant_type: 'password', username: ADMIN, password: PASSWORD });
    assert.equal(issued.status, 200);
    await expectAccepted(bearer(issued.json.access_token));
  });

  describe('our access tokens', () => {
    const zero = (length: number) => new Uint8Array(length);
    const cases: Array<[string, () => string]> = [
      ['32 zero bytes, unknown kid (the reported forgery)', () => hmacJwt(ourHeader('nope'), ourClaims(), zero(32))],
      ['32 zero bytes, no kid', () => hmacJwt(ourHeader(), ourClaims(), zero(32))],
      ['32 zero bytes, empty kid', () => hmacJwt(ourHeader(''), ourClaims(), zero(32))],
      ['32 zero bytes, kid of the existing master key', () => hmacJwt(ourHeader('k1'), ourClaims(), zero(32))],
      ['16 zero bytes, unknown kid', () => hmacJwt(ourHeader('nope'), ourClaims(), zero(16))],
      ['64 zero bytes, unknown kid', () => hmacJwt(ourHeader('nope'), ourClaims(), zero(64))],
      ['64 zero bytes, no kid', () => hmacJwt(ourHeader(), ourClaims(), zero(64))],
      ['1 zero byte, unknown kid', () => hmacJwt(ourHeader('nope'), ourClaims(), zero(1))],
      ['128 zero bytes, unknown kid', () => hmacJwt(ourHeader('nope'), ourClaims(), zero(128))],
      ['the empty key, unknown kid', () => hmacJwt(ourHeader('nope'), ourClaims(), zero(0))],
      ['the empty key, no kid', () => hmacJwt(ourHeader(), ourClaims(), '')],
      ['the empty key, kid of the existing master key', () => hmacJwt(ourHeader('k1'), ourClaims(), '')],
      ['a random key under the existing kid', () => hmacJwt(ourHeader('k1'), ourClaims(), randomBytes(32))],
      ['the master key itself, not the derived token key', () => hmacJwt(ourHeader('k1'), ourClaims(), masterSecret.export())],
      ['the key derived from the master key for manifests', () => hmacJwt(ourHeader('k1'), ourClaims(), deriveKey(masterSecret, 'aegis manifest v1'))],
      ['the OIDC provider public key (PEM) as HMAC secret', () => hmacJwt(ourHeader('k1'), ourClaims(), idpPublicPem)],
      ['the right key under an unknown kid', () => hmacJwt(ourHeader('k2'), ourClaims(), accessKey)],
      ['the right key without a kid', () => hmacJwt(ourHeader(), ourClaims(), accessKey)],
      ['alg none, no signature', () => `${base64url({ alg: 'none', typ: 'at+jwt', kid: 'k1' })}.${base64url(ourClaims())}.`],
      [
        'alg none, the right signature',
        () => {
          const good = hmacJwt(ourHeader('k1'), ourClaims(), accessKey).split('.');
          return `${base64url({ alg: 'none', typ: 'at+jwt', kid: 'k1' })}.${good[1]}.${good[2]}`;
        },
      ],
      ['HS512 under the right key', () => hmacJwt({ ...ourHeader('k1'), alg: 'HS512' }, ourClaims(), accessKey, 512)],
      ['typ JWT instead of at+jwt', () => hmacJwt({ ...ourHeader('k1'), typ: 'JWT' }, ourClaims(), accessKey)],
      ['no typ', () => hmacJwt({ alg: 'HS256', kid: 'k1' }, ourClaims(), accessKey)],
      ['expired', () => hmacJwt(ourHeader('k1'), { ...ourClaims(), iat: now() - 1200, exp: now() - 600 }, accessKey)],
      [
        'no exp',
        () => {
          const { exp: _exp, ...claims } = ourClaims();
          return hmacJwt(ourHeader('k1'), claims, accessKey);
        },
      ],
      ['another issuer', () => hmacJwt(ourHeader('k1'), { ...ourClaims(), iss: ISSUER }, accessKey)],
      ['another audience', () => hmacJwt(ourHeader('k1'), { ...ourClaims(), aud: AUDIENCE }, accessKey)],
      [
        'no audience',
        () => {
          const { aud: _aud, ...claims } = ourClaims();
          return hmacJwt(ourHeader('k1'), claims, accessKey);
        },
      ],
      ['a user that does not exist', () => hmacJwt(ourHeader('k1'), { ...ourClaims(), sub: 'ghost' }, accessKey)],
      [
        'no subject',
        () => {
          const { sub: _sub, ...claims } = ourClaims();
          return hmacJwt(ourHeader('k1'), claims, accessKey);
        },
      ],
    ];
    for (const [name, forge] of cases) it(name, () => expectRefused(bearer(forge())));
  });

  describe('OIDC bearer tokens', () => {
    const rsHeader = (kid?: string) => ({ alg: 'RS256', ...(kid !== undefined && { kid }) });
    const confused = (secret: Uint8Array | string) => hmacJwt({ alg: 'HS256', kid: 'idp-1' }, idpClaims(), secret);
    const cases: Array<[string, () => string]> = [
      ['HS256 with the JWKS public key (PEM) as HMAC secret', () => confused(idpPublicPem)],
      ['HS256 with the JWKS public key (DER) as HMAC secret', () => confused(idpPublicDer)],
      ['HS256 with the JWKS public key (JWK JSON) as HMAC secret', () => confused(JSON.stringify(idpPublicJwk))],
      ['HS256 with the JWKS modulus as HMAC secret', () => confused(Buffer.from(String(idpPublicJwk.n), 'base64url'))],
      ['HS256 with the public key, typed like our tokens', () => hmacJwt({ alg: 'HS256', typ: 'at+jwt', kid: 'idp-1' }, idpClaims(), idpPublicPem)],
      ['HS256 with 32 zero bytes', () => confused(new Uint8Array(32))],
      ['HS256 with the empty key', () => confused('')],
      ['alg none', () => `${base64url({ alg: 'none', kid: 'idp-1' })}.${base64url(idpClaims())}.`],
      ['another key under the provider kid', () => rs256Jwt(rsHeader('idp-1'), idpClaims(), attacker.privateKey)],
      ['another key under an unknown kid', () => rs256Jwt(rsHeader('idp-2'), idpClaims(), attacker.privateKey)],
      ['another key without a kid', () => rs256Jwt(rsHeader(), idpClaims(), attacker.privateKey)],
      ['another key embedded in the header (jwk)', () => rs256Jwt({ alg: 'RS256', jwk: attacker.publicKey.export({ format: 'jwk' }) }, idpClaims(), attacker.privateKey)],
      ['another key set named in the header (jku)', () => rs256Jwt({ alg: 'RS256', kid: 'idp-2', jku: 'http://127.0.0.1:9/certs' }, idpClaims(), attacker.privateKey)],
      ['expired', () => rs256Jwt(rsHeader('idp-1'), { ...idpClaims(), iat: now() - 1200, exp: now() - 600 }, idpPrivate)],
      ['another issuer', () => rs256Jwt(rsHeader('idp-1'), { ...idpClaims(), iss: 'https://idp.example.org/realms/other' }, idpPrivate)],
      ['our issuer', () => rs256Jwt(rsHeader('idp-1'), { ...idpClaims(), iss: 'aegis' }, idpPrivate)],
      ['another audience', () => rs256Jwt(rsHeader('idp-1'), { ...idpClaims(), aud: 'another-app' }, idpPrivate)],
      [
        'a tampered payload',
        () => {
          const good = rs256Jwt(rsHeader('idp-1'), idpClaims(), idpPrivate).split('.');
          return `${good[0]}.${base64url({ ...idpClaims(), preferred_username: 'root' })}.${good[2]}`;
        },
      ],
    ];
    for (const [name, forge] of cases) it(name, () => expectRefused(bearer(forge())));
  });

  describe('refresh tokens', () => {
    /** A fresh genuine refresh token of the admin. */
    async function genuine(): Promise<string> {
      const issued = await refreshGrant({ grant_type: 'password', username: ADMIN, password: PASSWORD });
      assert.equal(issued.status, 200);
      return issued.json.refresh_token as string;
    }
    /** The forged refresh token is refused at the token endpoint, and the genuine one it came from still works. */
    async function expectRefusedGrant(forge: (token: string) => string): Promise<void> {
      const token = await genuine();
      const forged = forge(token);
      assert.notEqual(forged, token);
      const refused = await refreshGrant({ grant_type: 'refresh_token', refresh_token: forged });
      assert.equal(refused.status, 400);
      assert.equal(refused.json.error, 'invalid_grant');
      await expectRefused(bearer(forged));
      const redeemed = await refreshGrant({ grant_type: 'refresh_token', refresh_token: token });
      assert.equal(redeemed.status, 200, 'the genuine token was not consumed by the forgery');
    }
    const secretOf = (token: string) => token.slice(token.indexOf('.') + 1);
    const cases: Array<[string, (token: string) => string]> = [
      ['the last character of the secret changed', (t) => `${t.slice(0, -1)}${t.endsWith('A') ? 'B' : 'A'}`],
      ['a guessed secret (32 zero bytes)', (t) => t.replace(secretOf(t), Buffer.alloc(32).toString('base64url'))],
      ['a random secret', (t) => t.replace(secretOf(t), randomBytes(32).toString('base64url'))],
      ['the empty secret', (t) => t.replace(secretOf(t), '')],
      ['the right secret under another id', (t) => t.replace(/^aegisr_[0-9a-f]{16}/, `aegisr_${randomBytes(8).toString('hex')}`)],
    ];
    for (const [name, forge] of cases) it(name, () => expectRefusedGrant(forge));

    it('a genuine refresh token is no access credential', async () => {
      await expectRefused(bearer(await genuine()));
    });
  });

  describe('API keys', () => {
    const idOf = () => apiKey.slice('aegis_'.length, 'aegis_'.length + 16);
    const cases: Array<[string, () => string]> = [
      ['the id right, the secret random', () => `aegis_${idOf()}_${randomBytes(32).toString('base64url')}`],
      ['the id right, the secret 32 zero bytes', () => `aegis_${idOf()}_${Buffer.alloc(32).toString('base64url')}`],
      ['the id right, the last character of the secret changed', () => `${apiKey.slice(0, -1)}${apiKey.endsWith('A') ? 'B' : 'A'}`],
      ['the id right, the secret empty', () => `aegis_${idOf()}_`],
      ['the secret right, another id', () => apiKey.replace(idOf(), randomBytes(8).toString('hex'))],
    ];
    for (const [name, forge] of cases) {
      it(`${name} (Authorization: ApiKey)`, () => expectRefused({ authorization: `ApiKey ${forge()}` }));
      it(`${name} (X-API-Key)`, () => expectRefused({ 'x-api-key': forge() }));
    }
  });

  describe('HTTP Basic', () => {
    const cases: Array<[string, () => Headers]> = [
      ['a wrong password', () => basic(ADMIN, 'not the password at all')],
      ['the empty password', () => basic(ADMIN, '')],
      ['the password with a character changed', () => basic(ADMIN, `${PASSWORD.slice(0, -1)}E`)],
      ['the right password for a user that does not exist', () => basic('ghost', PASSWORD)],
      ['the right password, the name in capitals', () => basic(ADMIN.toUpperCase(), PASSWORD)],
      ['the API key as the password', () => basic(ADMIN, apiKey)],
    ];
    for (const [name, forge] of cases) it(name, () => expectRefused(forge()));
  });
});
