/**
 * The start-up claims in process: the port (a real listener of this test holds it), the messages
 * of the listen errors a user can cause, the data folder's lock (held, refused with the holder,
 * released, a dead holder's record taken over) and the development key in production. The real
 * CLI runs them in test/integration/start-up.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lockDataDirectory, lockFiles, readLockHolder } from '../../../gateway/cli/data-lock.js';
import { claimPort, portProblem, releasePort } from '../../../gateway/cli/port-claim.js';
import { GatewayError } from '../../../gateway/errors.js';
import { ensureDevelopmentKey, Keyring } from '../../../gateway/keys/keyring.js';
import { createKeyFile, keyDirectory } from '../../../gateway/keys/key-directory.js';

function recorder() {
  const warnings: Array<{ details: Record<string, unknown>; message: string }> = [];
  return { warnings, logger: { warn: (details: Record<string, unknown>, message: string) => void warnings.push({ details, message }) } };
}

describe('claimPort', () => {
  let held: Server;
  let port: number;
  before(async () => {
    held = createServer();
    await new Promise<void>((resolve) => held.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve));
    port = (held.address() as { port: number }).port;
  });
  after(() => held.close());

  it('refuses a port another listener holds with PORT_UNAVAILABLE, the message and the system error as cause', async () => {
    const error = await claimPort('127.0.0.1', port).then(
      () => assert.fail('claimed a busy port'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof GatewayError);
    assert.equal(error.code, 'PORT_UNAVAILABLE');
    assert.equal(error.message, `port ${port} on 127.0.0.1 is in use: stop what holds it or use --port N / AEGIS_PORT`);
    assert.equal((error.cause as NodeJS.ErrnoException).code, 'EADDRINUSE');
  });

  it('claims a free port and gives it back', async () => {
    const claimed = await claimPort('127.0.0.1', 0);
    const { port: free } = claimed.address() as { port: number };
    assert.notEqual(free, 0);
    await releasePort(claimed);
    const again = await claimPort('127.0.0.1', free);
    await releasePort(again);
  });

  it('says what to do for each listen error a user causes, and nothing for the others', () => {
    assert.equal(
      portProblem('EACCES', '0.0.0.0', 443),
      'port 443 on 0.0.0.0 needs privileges this account does not have (ports below 1024 do): use --port N / AEGIS_PORT with a port of 1024 or above, behind a reverse proxy if clients need 443',
    );
    assert.equal(portProblem('EADDRNOTAVAIL', '10.9.9.9', 8080), '10.9.9.9 is not an address of this machine: use --host with one of its addresses (or 0.0.0.0 for all) / AEGIS_HOST');
    assert.equal(portProblem('ENOTFOUND', 'gatewy.local', 8080), 'gatewy.local is neither an address nor a name this machine can resolve: use --host with one of its addresses (or 0.0.0.0 for all) / AEGIS_HOST');
    assert.equal(portProblem('EMFILE', '127.0.0.1', 8080), undefined);
  });
});

describe('lockDataDirectory', () => {
  let dataDir: string;
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'aegis-lock-'));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('holds the folder: a second lock is refused naming this process, a release frees it', () => {
    const { warnings, logger } = recorder();
    const lock = lockDataDirectory(dataDir, logger);
    const holder = readLockHolder(dataDir);
    assert.equal(holder?.pid, process.pid);
    assert.equal(holder?.hostname, hostname());
    assert.throws(
      () => lockDataDirectory(dataDir, logger),
      (error: unknown) => error instanceof GatewayError && error.code === 'DATA_DIRECTORY_LOCKED' && error.message === `data folder ${dataDir} is in use by aegis pid ${process.pid} (started ${holder!.startedAt}); stop it first`,
    );
    lock.release();
    assert.equal(readLockHolder(dataDir), undefined, 'the holder record is removed');
    lockDataDirectory(dataDir, logger).release();
    assert.deepEqual(warnings, [], 'nothing was stale');
  });

  it('takes over the record of a holder that died, with a warning naming it', () => {
    const stale = { pid: 999_999, startedAt: '2026-01-02T03:04:05.000Z', hostname: hostname() };
    writeFileSync(lockFiles(dataDir).holder, JSON.stringify(stale));
    const { warnings, logger } = recorder();
    const lock = lockDataDirectory(dataDir, logger);
    try {
      assert.deepEqual(warnings, [
        {
          details: { dataDir, stalePid: 999_999, staleStartedAt: stale.startedAt, staleHostname: stale.hostname },
          message: 'taking over the data folder lock of aegis pid 999999, which is no longer running',
        },
      ]);
      assert.equal((JSON.parse(readFileSync(lockFiles(dataDir).holder, 'utf8')) as { pid: number }).pid, process.pid);
    } finally {
      lock.release();
    }
  });

  it('refuses a lock file that is a symbolic link or not one Aegis made, saying what to do, and creates nothing through the link', () => {
    const { logger } = recorder();
    const elsewhere = join(dataDir, 'elsewhere.lock');
    const { lock } = lockFiles(dataDir);
    const refusal = (reason: string) => (error: unknown) =>
      error instanceof GatewayError && error.code === 'LOCK_FILE_INVALID' && error.message === `data folder ${dataDir}: ${lock} ${reason}; stop any gateway on this folder, then delete it`;
    rmSync(lock, { force: true });
    symlinkSync(elsewhere, lock);
    try {
      assert.throws(() => lockDataDirectory(dataDir, logger), refusal('is not a regular file (a symbolic link, a directory?), not the lock file of Aegis'));
      assert.equal(existsSync(elsewhere), false, 'nothing was created through the link');
      rmSync(lock);
      writeFileSync(lock, 'not a database\n', { mode: 0o600 });
      assert.throws(() => lockDataDirectory(dataDir, logger), refusal('is not the lock file of Aegis (file is not a database)'));
    } finally {
      rmSync(lock, { force: true });
    }
    lockDataDirectory(dataDir, logger).release();
  });
});

describe('the development key in production', () => {
  let dataDir: string;
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'aegis-production-key-'));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const silent = { warn: () => undefined };

  it('is never created: with no key at all, NODE_ENV=production refuses and writes nothing', async () => {
    await assert.rejects(
      ensureDevelopmentKey(dataDir, silent, { NODE_ENV: 'production' }),
      (error: unknown) => error instanceof GatewayError && error.code === 'KEY_NOT_FOUND' && /^NODE_ENV is production and no master key is configured/.test(error.message),
    );
    assert.deepEqual((await Keyring.load({ dataDir, env: {} })).keys, []);
  });

  it('is refused when one was made before, and a real key is taken', async () => {
    await createKeyFile(keyDirectory(dataDir), { development: true, id: 'k1' });
    await assert.rejects(
      ensureDevelopmentKey(dataDir, silent, { NODE_ENV: 'production' }),
      (error: unknown) => error instanceof GatewayError && error.code === 'KEY_NOT_FOUND' && /the active master key 'k1' is the development key/.test(error.message),
    );
    const env = { NODE_ENV: 'production', AEGIS_MASTER_KEY_ID: 'prod1', AEGIS_MASTER_KEY: Buffer.alloc(32, 9).toString('base64') };
    assert.equal((await ensureDevelopmentKey(dataDir, silent, env)).active?.id, 'prod1');
  });
});
