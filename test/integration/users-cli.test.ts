/**
 * `aegis users ...` as users run it (`node bin/aegis.mjs`), on a temporary data directory: password
 * from stdin or a file and never from the command line, list output without hashes, disable and
 * enable seen by password checks, exit codes, and changes made while a gateway runs on the same data.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runAegis, type AegisRun } from '../support/aegis-cli.js';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { startGateway } from '../support/gateway.js';
import { createCatalog } from '../support/catalog-file.js';

const PASSWORD = 'correct horse battery staple';

/** Runs `aegis ARGS` with `input` on stdin (async: a gateway child may be logging meanwhile). */
function aegis(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<AegisRun> {
  return runAegis(args, options);
}

/** Checks a password against the catalog of `dataDir`, as the gateway will. */
async function verify(dataDir: string, name: string, password: string): Promise<boolean> {
  const catalog = await Catalog.openSqlite(join(dataDir, 'catalog.sqlite'));
  try {
    return (await new UserStore(catalog.db).verifyPassword(name, password)) !== undefined;
  } finally {
    await catalog.close();
  }
}

/**
 * Runs `run` over `items` three at a time, results in order: nine CLI processes started at once
 * outran the per-run time limit on a loaded two-core machine.
 */
async function threeAtATime<T>(items: T[], run: (item: T) => Promise<AegisRun>): Promise<AegisRun[]> {
  const runs: AegisRun[] = [];
  for (let i = 0; i < items.length; i += 3) runs.push(...(await Promise.all(items.slice(i, i + 3).map(run))));
  return runs;
}

function expectExit(run: AegisRun, status: number, what: string): void {
  assert.equal(run.status, status, `${what}: exit ${run.status}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

describe('aegis users', () => {
  let dataDir: string;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'aegis-users-cli-'));
    // As `aegis start` leaves it: the CLI never creates a catalog.
    await createCatalog(dataDir);
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('adds a user with the password from stdin and lists users without hashes', async () => {
    const add = await aegis(['users', 'add', 'alice', '--role', 'radiologist', '--attr', 'department=radiology', '--attr', 'institution=chu-rabat', '--password-stdin', '--data', dataDir], { input: `${PASSWORD}\n` });
    expectExit(add, 0, 'users add');
    assert.equal(add.stdout, "added user 'alice' (role radiologist)\n");
    assert.equal(await verify(dataDir, 'alice', PASSWORD), true, 'the stdin password (without its line break) is the password');

    const list = await aegis(['users', 'list', '--data', dataDir]);
    expectExit(list, 0, 'users list');
    assert.equal(list.stdout, 'NAME   ROLE         STATUS   ATTRIBUTES\nalice  radiologist  enabled  department=radiology institution=chu-rabat\n');

    const json = await aegis(['--data', dataDir, 'users', 'list', '--json']);
    expectExit(json, 0, 'users list --json');
    const users = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    assert.equal(users.length, 1);
    assert.deepEqual(Object.keys(users[0]).sort(), ['attributes', 'createdAt', 'disabled', 'name', 'passwordChangedAt', 'role', 'updatedAt']);
    assert.deepEqual(users[0].attributes, { department: 'radiology', institution: 'chu-rabat' });
    for (const out of [list, json, add]) {
      assert.equal(/argon2|hash/i.test(out.stdout + out.stderr), false, 'no hash in the output');
      assert.equal((out.stdout + out.stderr).includes(PASSWORD), false, 'no password in the output');
    }
  });

  it('refuses a password on the command line without echoing it, and adds nobody', async () => {
    for (const args of [
      ['users', 'add', 'mallory', '--role', 'admin', '--password', 'hunter2-but-longer', '--data', dataDir],
      ['users', 'add', 'mallory', '--role', 'admin', '--password=hunter2-but-longer', '--data', dataDir],
      ['--password', 'hunter2-but-longer', 'users', 'passwd', 'alice', '--data', dataDir],
    ]) {
      const run = await aegis(args);
      expectExit(run, 2, args.join(' '));
      assert.match(run.stderr, /--password is not accepted/);
      assert.equal((run.stdout + run.stderr).includes('hunter2'), false, 'the password is not echoed');
    }
    const list = await aegis(['users', 'list', '--json', '--data', dataDir]);
    assert.deepEqual(
      (JSON.parse(list.stdout) as Array<{ name: string }>).map((u) => u.name),
      ['alice'],
    );
  });

  it('disables and enables a user: a disabled user fails verification', async () => {
    expectExit(await aegis(['users', 'disable', 'alice', '--data', dataDir]), 0, 'users disable');
    assert.equal(await verify(dataDir, 'alice', PASSWORD), false, 'a disabled user does not verify');
    const list = await aegis(['users', 'list', '--data', dataDir]);
    assert.match(list.stdout, /^alice +radiologist +disabled +department=radiology/m);
    expectExit(await aegis(['users', 'enable', 'alice'], { env: { AEGIS_DATA_DIR: dataDir } }), 0, 'users enable with AEGIS_DATA_DIR');
    assert.equal(await verify(dataDir, 'alice', PASSWORD), true, 'enabled again');
  });

  it('changes a password from a file', async () => {
    const file = join(dataDir, 'new-password.txt');
    writeFileSync(file, 'a much better passphrase\r\n', { mode: 0o600 });
    const run = await aegis(['users', 'passwd', 'alice', '--password-file', file, '--data', dataDir]);
    expectExit(run, 0, 'users passwd --password-file');
    assert.equal(run.stdout, "password of 'alice' changed\n");
    assert.equal(await verify(dataDir, 'alice', PASSWORD), false, 'the old password is gone');
    assert.equal(await verify(dataDir, 'alice', 'a much better passphrase'), true, 'the new one works');
  });

  it('exits 2 on usage errors and 1 with a clear message on refusals', async () => {
    const usage: Array<[string[], RegExp]> = [
      [['users'], /which sub-command\?/],
      [['users', 'frobnicate'], /unknown sub-command 'frobnicate'/],
      [['users', 'add', 'bob', '--password-stdin'], /'add' needs --role ROLE/],
      [['users', 'add', 'bob', '--role', 'admin'], /exactly one of --password-stdin and --password-file/],
      [['users', 'add', 'bob', '--role', 'admin', '--attr', 'nonsense', '--password-stdin'], /attribute 'nonsense' is not KEY=VALUE/],
      [['users', 'disable'], /'disable' needs a user name/],
      [['users', 'list', 'extra'], /unexpected argument 'extra'/],
      [['users', 'list', '--role', 'admin'], /'list' takes no --role/],
      [['users', 'list', '--port', '80'], /Unknown option '--port'/],
    ];
    // None of these changes anything: run them side by side.
    const usageRuns = await threeAtATime(usage, ([args]) => aegis([...args, '--data', dataDir], { input: `${PASSWORD}\n` }));
    usage.forEach(([args, message], i) => {
      expectExit(usageRuns[i], 2, args.join(' '));
      assert.match(usageRuns[i].stderr, message);
    });
    const refusals: Array<[string[], string, RegExp]> = [
      [['users', 'add', 'alice', '--role', 'admin', '--password-stdin'], PASSWORD, /user 'alice' already exists/],
      [['users', 'add', 'bob', '--role', 'admin', '--password-stdin'], 'too short\n', /at least 12 characters/],
      [['users', 'add', 'bob', '--role', 'admin', '--password-stdin'], `${PASSWORD}\nsecond line\n`, /a single line/],
      [['users', 'add', 'bob', '--role', 'admin', '--password-stdin'], '', /no password on standard input/],
      [['users', 'add', 'Bob', '--role', 'admin', '--password-stdin'], PASSWORD, /user name 'Bob' must start with a lower-case letter/],
      [['users', 'add', 'bob', '--role', 'admin', '--password-file', join(dataDir, 'missing')], '', /cannot read the password file .*missing: ENOENT/],
      [['users', 'disable', 'nobody'], '', /no user named 'nobody'/],
    ];
    const refusalRuns = await threeAtATime(refusals, ([args, input]) => aegis([...args, '--data', dataDir], { input }));
    refusals.forEach(([args, , message], i) => {
      expectExit(refusalRuns[i], 1, args.join(' '));
      assert.match(refusalRuns[i].stderr, message);
      assert.equal(/too short|second line/.test(refusalRuns[i].stderr), false, 'no password in messages');
    });
    const missing = await aegis(['users', 'list', '--data', join(dataDir, 'nowhere')]);
    expectExit(missing, 1, 'users list on a missing catalog');
    assert.match(missing.stderr, /no catalog in .*nowhere \(catalog\.sqlite missing\): is --data right\? 'aegis start' creates one\n$/);
  });

  it('prints its usage with --help, and the top-level usage names the users command', async () => {
    const help = await aegis(['users', '--help']);
    expectExit(help, 0, 'users --help');
    assert.match(help.stdout, /add NAME --role ROLE \[--attr KEY=VALUE \.\.\.\] \(--password-stdin \| --password-file FILE\)/);
    const top = await aegis(['--help']);
    assert.match(top.stdout, /users +manage local users/);
  });
});

describe('aegis users while a gateway runs on the same data', () => {
  it('adds, lists and disables users; the gateway keeps serving', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aegis-users-live-'));
    const gateway = await startGateway({ dataDir, keepData: true, env: { AEGIS_WORKERS: '2' } });
    try {
      const add = await aegis(['users', 'add', 'modality-ct1', '--role', 'modality', '--attr', 'institution=chu', '--password-stdin', '--data', dataDir], { input: PASSWORD });
      expectExit(add, 0, 'users add while the gateway runs');
      expectExit(await aegis(['users', 'disable', 'modality-ct1', '--data', dataDir]), 0, 'users disable while the gateway runs');
      const list = await aegis(['users', 'list', '--json', '--data', dataDir]);
      expectExit(list, 0, 'users list while the gateway runs');
      assert.deepEqual(
        (JSON.parse(list.stdout) as Array<{ name: string; disabled: boolean }>).map((u) => [u.name, u.disabled]),
        [['modality-ct1', true]],
      );
      assert.equal(await verify(dataDir, 'modality-ct1', PASSWORD), false, 'disabled');
      const ready = await fetch(`${gateway.url}/readyz`);
      assert.equal(ready.status, 200, 'the gateway still reaches its catalog');
      await ready.arrayBuffer();
    } finally {
      await gateway.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
