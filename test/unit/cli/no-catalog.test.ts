/**
 * Every command but `aegis start` (and `reindex`, which rebuilds a lost catalog in an existing
 * folder) refuses a data folder without a catalog, and creates nothing there: no folder, no
 * catalog, no keys. In process, with the commands' I/O injected; `aegis users add` through the
 * real binary is in test/integration/start-up.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { apiKeysCommand } from '../../../gateway/cli/apikeys.js';
import { auditCommand } from '../../../gateway/cli/audit.js';
import { keysCommand } from '../../../gateway/cli/keys.js';
import { migrateCommand } from '../../../gateway/cli/migrate.js';
import { policyCommand } from '../../../gateway/cli/policy.js';
import { reindexCommand } from '../../../gateway/cli/reindex.js';
import { repairCommand, scrubCommand } from '../../../gateway/cli/scrub.js';
import { statsCommand } from '../../../gateway/cli/stats.js';
import { statusCommand } from '../../../gateway/cli/status.js';
import { usersCommand } from '../../../gateway/cli/users.js';
import type { CommandIo } from '../../../gateway/cli/command.js';

/** A master key in the environment: the commands that need one get past that check. */
const ENV = { AEGIS_MASTER_KEY_ID: 'env1', AEGIS_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') };

async function run(command: (argv: string[], io: CommandIo) => Promise<number>, argv: string[], dataDir: string) {
  let stdout = '';
  let stderr = '';
  const io: CommandIo = {
    stdin: Readable.from(['correct horse battery staple\n']),
    stdout: new Writable({ write: (chunk, _e, done) => ((stdout += chunk.toString()), done()) }),
    stderr: new Writable({ write: (chunk, _e, done) => ((stderr += chunk.toString()), done()) }),
    env: ENV,
  };
  const status = await command([...argv, '--data', dataDir], io);
  return { status, stdout, stderr };
}

describe('commands other than start never create a catalog', () => {
  let scratch: string;
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'aegis-no-catalog-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  const commands: Array<[string, (argv: string[], io: CommandIo) => Promise<number>, string[]]> = [
    ['users', usersCommand, ['users', 'add', 'alice', '--role', 'admin', '--password-stdin']],
    ['users', usersCommand, ['users', 'list']],
    ['apikeys', apiKeysCommand, ['apikeys', 'list']],
    ['audit', auditCommand, ['audit', 'verify']],
    ['stats', statsCommand, ['stats']],
    ['scrub', scrubCommand, ['scrub']],
    ['repair', repairCommand, ['repair']],
    ['policy', policyCommand, ['policy', 'check', '--user', 'alice', '--action', 'read', '--study', '1.2.3']],
    ['migrate', migrateCommand, ['migrate', '--all']],
    ['keys', keysCommand, ['keys', 'rotate']],
  ];
  for (const [name, command, argv] of commands) {
    it(`aegis ${argv.join(' ')}: refused, nothing created`, async () => {
      const dataDir = join(scratch, argv.slice(0, 2).join('-'), 'data');
      const result = await run(command, argv, dataDir);
      assert.equal(result.status, 1, `exit 1\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
      assert.equal(result.stderr, `aegis ${name}: no catalog in ${dataDir} (catalog.sqlite missing): is --data right? 'aegis start' creates one\n`);
      assert.equal(existsSync(dataDir), false, `${dataDir} not created`);
    });
  }

  it('aegis users add in an existing folder without a catalog leaves it empty', async () => {
    const dataDir = mkdtempSync(join(scratch, 'empty-'));
    const result = await run(usersCommand, ['users', 'add', 'alice', '--role', 'admin', '--password-stdin'], dataDir);
    assert.equal(result.status, 1, result.stderr);
    assert.deepEqual(readdirSync(dataDir), []);
  });

  it('aegis status reports a folder without a catalog as not ready, but refuses a folder that does not exist', async () => {
    const dataDir = join(scratch, 'status', 'data');
    const result = await run(statusCommand, ['status', '--json'], dataDir);
    assert.equal(result.status, 1, result.stderr);
    assert.equal(result.stderr, `aegis status: no data folder ${dataDir}: is --data right? 'aegis start' creates one\n`);
    assert.equal(existsSync(join(scratch, 'status')), false);
  });

  it('aegis reindex rebuilds a catalog only in a data folder that exists', async () => {
    const dataDir = join(scratch, 'reindex', 'data');
    const result = await run(reindexCommand, ['reindex'], dataDir);
    assert.equal(result.status, 1, result.stderr);
    assert.equal(result.stderr, `aegis reindex: no data folder ${dataDir}: is --data right? To rebuild the catalog in a new one, create it first (mkdir -m 700 ${dataDir})\n`);
    assert.equal(existsSync(dataDir), false);
  });
});
