/**
 * `aegis apikeys ...` against a running secure gateway on the same data: a key created by the CLI
 * is printed once, lets a modality store and search, is listed without its secret, and stops
 * working when revoked. Usage errors exit 2, unknown users and keys exit 1.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { runAegis, type AegisRun } from '../support/aegis-cli.js';
import { stowBody } from '../support/dicomweb.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';

function expectExit(run: AegisRun, status: number, what: string): void {
  assert.equal(run.status, status, `${what}: exit ${run.status}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

describe('aegis apikeys', () => {
  let gateway: RunningGateway;
  const data = () => ['--data', gateway.dataDir];
  before(async () => {
    gateway = await startGateway({ secure: true, config: { auth: { credentialCacheSeconds: 0 } } });
  });
  after(() => gateway.stop());

  it('creates a key that a modality stores and searches with, lists it without the secret, revokes it', async () => {
    expectExit(await runAegis(['users', 'add', 'ct-scanner', '--role', 'admin', '--password-stdin', ...data()], { input: 'a long enough password\n' }), 0, 'users add');
    const created = await runAegis(['apikeys', 'create', 'ct-scanner', '--label', 'CT room 3', ...data()]);
    expectExit(created, 0, 'create');
    const key = created.stdout.trim();
    assert.match(key, /^aegis_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/, 'the key alone on stdout');
    const id = key.slice(6, 22);

    const { body, contentType } = stowBody([syntheticInstance({ studyInstanceUID: newUid() })]);
    const stored = await fetch(`${gateway.dicomWebUrl}/studies`, { method: 'POST', headers: { 'content-type': contentType, 'x-api-key': key }, body });
    assert.equal(stored.status, 200, 'STOW with the key');
    assert.equal((await fetch(`${gateway.dicomWebUrl}/studies`, { headers: { authorization: `ApiKey ${key}` } })).status, 200, 'QIDO with the key');

    const listed = await runAegis(['apikeys', 'list', 'ct-scanner', '--json', ...data()]);
    expectExit(listed, 0, 'list');
    const keys = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
    assert.equal(keys.length, 1);
    assert.equal(keys[0].id, id);
    assert.equal(keys[0].label, 'CT room 3');
    assert.ok(keys[0].lastUsedAt, 'last use recorded');
    assert.ok(!listed.stdout.includes(key.slice(23)), 'no secret in the listing');

    expectExit(await runAegis(['apikeys', 'revoke', id, ...data()]), 0, 'revoke');
    assert.equal((await fetch(`${gateway.dicomWebUrl}/studies`, { headers: { 'x-api-key': key } })).status, 401, 'revoked');
    assert.match((await runAegis(['apikeys', 'list', ...data()])).stdout, /revoked/);
  });

  it('refuses what it cannot do', async () => {
    expectExit(await runAegis(['apikeys', 'create', 'nobody', ...data()]), 1, 'unknown user');
    expectExit(await runAegis(['apikeys', 'revoke', '0123456789abcdef', ...data()]), 1, 'unknown key');
    expectExit(await runAegis(['apikeys', 'create', ...data()]), 2, 'no user');
    expectExit(await runAegis(['apikeys', 'create', 'x', '--expires', 'yesterday', ...data()]), 2, 'bad date');
    expectExit(await runAegis(['apikeys', 'frobnicate', ...data()]), 2, 'unknown sub-command');
  });
});
