/**
 * `aegis start` refuses what would go wrong later, before it creates anything: a port another
 * process holds (plain message and hint, exit 1, no stack, no data folder), an address that is not
 * this machine's, a data folder another gateway runs on (named by its PID; the lock of a gateway
 * that died is taken over), and a development master key in production. The real CLI, as users
 * run it; the holder of a port is a `net.Server` of this test.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runAegis } from '../support/aegis-cli.js';
import { startGateway } from '../support/gateway.js';

/** Listens on 127.0.0.1 on a port the kernel picks; resolves with the server and its port. */
function holdPort(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

/** The environment of a start-up check: no key, config or data folder from the test's environment. */
const UNSET = ['AEGIS_MASTER_KEY', 'AEGIS_MASTER_KEY_ID', 'AEGIS_CONFIG', 'AEGIS_DATA_DIR', 'AEGIS_HOST', 'AEGIS_PORT', 'NODE_ENV'];

describe('aegis start refuses before it creates anything', { timeout: 120_000 }, () => {
  let scratch: string;
  let held: { server: Server; port: number };
  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'aegis-start-up-'));
    held = await holdPort();
  });
  after(() => {
    held.server.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  for (const workers of ['1', '2']) {
    it(`a busy port: one plain line with a hint, exit 1, no data folder (${workers} worker${workers === '1' ? '' : 's'})`, async () => {
      const dataDir = join(scratch, `busy-${workers}`);
      const run = await runAegis(['start', '--port', String(held.port), '--data', dataDir], { env: { AEGIS_WORKERS: workers, AEGIS_LOG_LEVEL: 'info' }, unset: UNSET });
      assert.equal(run.status, 1, `exit 1\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
      assert.equal(run.stderr, `aegis start: port ${held.port} on 127.0.0.1 is in use: stop what holds it or use --port N / AEGIS_PORT\n`);
      assert.equal(existsSync(dataDir), false, 'no data folder, no catalog, no admin password');
    });
  }

  it('an address that is not this machine: a plain line, exit 1, no data folder', async () => {
    const dataDir = join(scratch, 'bad-host');
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never an address of this machine.
    const run = await runAegis(['start', '--host', '192.0.2.1', '--port', '0', '--data', dataDir], { env: { AEGIS_WORKERS: '2' }, unset: UNSET });
    assert.equal(run.status, 1, `exit 1\nstderr: ${run.stderr}`);
    assert.equal(run.stderr, 'aegis start: 192.0.2.1 is not an address of this machine: use --host with one of its addresses (or 0.0.0.0 for all) / AEGIS_HOST\n');
    assert.equal(existsSync(dataDir), false);
  });

  it('NODE_ENV=production without a master key: refused, no development key, no data folder', async () => {
    const dataDir = join(scratch, 'production');
    const run = await runAegis(['start', '--port', '0', '--data', dataDir], { env: { NODE_ENV: 'production', AEGIS_WORKERS: '2' }, unset: UNSET });
    assert.equal(run.status, 1, `exit 1\nstderr: ${run.stderr}`);
    assert.equal(
      run.stderr,
      `aegis start: NODE_ENV is production and no master key is configured: set AEGIS_MASTER_KEY (base64 of 32 random bytes) and AEGIS_MASTER_KEY_ID, or run 'aegis keys generate --data ${dataDir}' first; a development key is never created in production\n`,
    );
    assert.equal(existsSync(dataDir), false);
  });
});

describe('one gateway per data folder', { timeout: 180_000 }, () => {
  it('a second gateway on the same data folder is refused, naming the holder; a stop releases the folder', async () => {
    const first = await startGateway({ keepData: true, env: { AEGIS_WORKERS: '1' } });
    try {
      // A cluster's primary refuses before it forks any worker.
      const second = await runAegis(['start', '--port', '0', '--data', first.dataDir], { env: { AEGIS_WORKERS: '2', AEGIS_LOG_LEVEL: 'info' }, unset: UNSET });
      assert.equal(second.status, 1, `exit 1\nstdout: ${second.stdout}\nstderr: ${second.stderr}`);
      assert.match(second.stderr, new RegExp(`^aegis start: data folder ${first.dataDir} is in use by aegis pid ${first.pid} \\(started \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\); stop it first\\n$`));
      assert.equal(second.stdout, '', 'nothing logged: no worker, no listening line');
      assert.equal(existsSync(join(first.dataDir, 'gateway.pid')), true, 'the holder is still recorded');
      await first.stop();
      assert.equal(existsSync(join(first.dataDir, 'gateway.pid')), false, 'a clean stop removes the holder record');
    } finally {
      await first.stop();
      rmSync(first.dataDir, { recursive: true, force: true });
    }
  });

  it('the lock of a gateway killed with SIGKILL is taken over, with a log line naming it', async () => {
    const killed = await startGateway({ keepData: true, env: { AEGIS_WORKERS: '1' } });
    try {
      killed.process.kill('SIGKILL');
      await new Promise((resolve) => killed.process.once('exit', resolve));
      const next = await startGateway({ dataDir: killed.dataDir, keepData: true, env: { AEGIS_WORKERS: '1' } });
      await next.stop();
      const takeover = next.logs.map((line) => JSON.parse(line) as { msg?: string; stalePid?: number }).find((entry) => entry.msg?.startsWith('taking over the data folder lock'));
      assert.ok(takeover, `a log line says the lock was taken over:\n${next.logs.join('\n')}`);
      assert.equal(takeover.stalePid, killed.pid);
    } finally {
      rmSync(killed.dataDir, { recursive: true, force: true });
    }
  });
});

describe('aegis users add in the wrong folder', () => {
  it('is refused with a hint, and creates no folder, catalog or key (the other commands: test/unit/cli/no-catalog.test.ts)', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'aegis-no-catalog-'));
    try {
      const dataDir = join(scratch, 'data');
      const run = await runAegis(['users', 'add', 'alice', '--role', 'admin', '--password-stdin', '--data', dataDir], { input: 'correct horse battery staple\n', unset: UNSET });
      assert.equal(run.status, 1, `exit 1\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
      assert.equal(run.stderr, `aegis users: no catalog in ${dataDir} (catalog.sqlite missing): is --data right? 'aegis start' creates one\n`);
      assert.deepEqual(readdirSync(scratch), [], 'nothing created');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
