/**
 * `aegis keys generate|list|rotate` as operators run it (`node bin/aegis.mjs`), on a temporary data
 * directory: exit codes, the active key, refused permissions, the environment key, and no key
 * material in any output (checked against the key files' bytes and base64).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runAegis, type AegisRun } from '../support/aegis-cli.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { retrieveAsStored, stow } from '../support/dicomweb.js';
import { startGateway } from '../support/gateway.js';
import { createCatalog } from '../support/catalog-file.js';

const POSIX = process.platform !== 'win32';

/** SHA-256 of every file under `dir`, by relative path. */
function fragmentDigests(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, name);
    if (statSync(path).isFile()) out[name] = createHash('sha256').update(readFileSync(path)).digest('hex');
  }
  return out;
}

/** Runs `aegis ARGS` with no inherited AEGIS_* key variables unless given. */
function aegis(args: string[], env: Record<string, string> = {}): Promise<AegisRun> {
  return runAegis(args, { env, unset: ['AEGIS_MASTER_KEY', 'AEGIS_MASTER_KEY_ID', 'AEGIS_CONFIG', 'AEGIS_DATA_DIR'] });
}

function expectExit(run: AegisRun, status: number, what: string): void {
  assert.equal(run.status, status, `${what}: exit ${run.status}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

/** Every form of every key in `dataDir` that must never be printed: base64, hex, raw bytes (latin1). */
function secretsOf(dataDir: string): string[] {
  const dir = join(dataDir, 'keys');
  return readdirSync(dir).flatMap((name) => {
    const text = readFileSync(join(dir, name), 'utf8');
    const key = (JSON.parse(text) as { key: string }).key;
    const bytes = Buffer.from(key, 'base64');
    return [key, key.slice(0, 16), bytes.toString('hex'), bytes.toString('latin1'), bytes.toString('base64url')];
  });
}

function assertNoSecrets(runs: AegisRun[], secrets: string[]): void {
  for (const run of runs) {
    for (const secret of secrets) {
      assert.equal(run.stdout.includes(secret) || run.stderr.includes(secret), false, 'key material in the output');
    }
  }
}

describe('aegis keys', () => {
  let dataDir: string;
  const runs: AegisRun[] = [];
  const keys = async (args: string[], env?: Record<string, string>) => {
    const run = await aegis(['keys', ...args], env);
    runs.push(run);
    return run;
  };
  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'aegis-keys-cli-'));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('lists nothing on a fresh data directory', async () => {
    const list = await keys(['list', '--data', dataDir]);
    expectExit(list, 0, 'keys list');
    assert.match(list.stdout, /^no master keys in .* and no AEGIS_MASTER_KEY/);
  });

  it('generates k1 then k2, owner-only; the newest is active', async () => {
    const first = await keys(['generate', '--data', dataDir]);
    expectExit(first, 0, 'generate');
    assert.match(first.stdout, /^generated master key k1 in .*keys; it is now the active key/);
    const second = await keys(['generate', '--data', dataDir]);
    expectExit(second, 0, 'generate again');
    assert.match(second.stdout, /^generated master key k2 /);
    if (POSIX) {
      assert.equal(statSync(join(dataDir, 'keys')).mode & 0o777, 0o700, 'directory 0700');
      assert.equal(statSync(join(dataDir, 'keys', 'k2.key')).mode & 0o777, 0o600, 'file 0600');
    }

    const list = await keys(['list', '--data', dataDir]);
    expectExit(list, 0, 'list');
    const lines = list.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3, list.stdout);
    assert.match(lines[0], /^ID +ACTIVE +CREATED +SOURCE$/);
    assert.match(lines[1], /^k1 +\d{4}-\d\d-\d\dT[\d:.]+Z +file$/);
    assert.match(lines[2], /^k2 +yes +\d{4}-\d\d-\d\dT[\d:.]+Z +file$/);

    const json = await aegis(['--data', dataDir, 'keys', 'list', '--json']);
    runs.push(json);
    expectExit(json, 0, 'list --json');
    const listed = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      listed.map((k) => [k.id, k.active, k.source, k.development]),
      [
        ['k1', false, 'file', false],
        ['k2', true, 'file', false],
      ],
    );
    assert.deepEqual(Object.keys(listed[0]).sort(), ['active', 'createdAt', 'development', 'id', 'source']);
  });

  it('refuses to rotate without a catalog: a wrong --data is said, not counted as nothing to rewrap', async () => {
    const rotate = await keys(['rotate', '--data', dataDir]);
    expectExit(rotate, 1, 'rotate');
    assert.equal(rotate.stderr, `aegis keys: no catalog in ${dataDir} (catalog.sqlite missing): is --data right? 'aegis start' creates one\n`);
  });

  it('rewraps the data keys of stored instances under a new key without touching fragments; they read back byte-identical', async () => {
    const gateway = await startGateway({ keepData: true });
    const data = gateway.dataDir;
    try {
      const instances = [1, 2, 3].map((seed) => syntheticInstance({ studyInstanceUID: newUid(), seed }));
      const urls: string[] = [];
      for (const bytes of instances) {
        const res = await stow(gateway.dicomWebUrl, [bytes]);
        assert.equal(res.status, 200);
        urls.push(res.json!['00081199'].Value[0]['00081190'].Value[0] as string);
      }
      const fragmentsBefore = fragmentDigests(join(data, 'stores', 'local', 'f'));
      expectExit(await keys(['generate', '--data', data]), 0, 'generate k2');
      const rotate = await keys(['rotate', '--data', data]);
      expectExit(rotate, 0, 'rotate');
      assert.match(rotate.stdout, /^3 data keys rewrapped under k2; 0 already under it; 0 changed meanwhile; 0 failed$/m);
      assert.deepEqual(fragmentDigests(join(data, 'stores', 'local', 'f')), fragmentsBefore, 'no fragment was rewritten');
      const again = await keys(['rotate', '--data', data]);
      assert.match(again.stdout, /^0 data keys rewrapped under k2; 3 already under it/m, 'a second rotation has nothing to do');
      for (const [i, url] of urls.entries()) {
        const [part] = await retrieveAsStored(url);
        assert.ok(part.bytes.equals(instances[i]), `instance ${i} reads back byte-identical under k2`);
      }
    } finally {
      await gateway.stop();
      rmSync(data, { recursive: true, force: true });
    }
  });

  it('takes --data from AEGIS_DATA_DIR and --config', async () => {
    const viaEnv = await keys(['list'], { AEGIS_DATA_DIR: dataDir });
    expectExit(viaEnv, 0, 'AEGIS_DATA_DIR');
    assert.match(viaEnv.stdout, /^k2 +yes/m);
    const badConfig = await keys(['list', '--config', join(dataDir, 'missing.yaml')]);
    expectExit(badConfig, 1, 'missing config');
  });

  it('refuses a key file readable by others, with exit 1 and the fix', { skip: !POSIX && 'modes mean nothing on Windows' }, async () => {
    const file = join(dataDir, 'keys', 'k1.key');
    chmodSync(file, 0o644);
    try {
      for (const sub of ['list', 'generate', 'rotate']) {
        const run = await keys([sub, '--data', dataDir]);
        expectExit(run, 1, `${sub} with a loose key file`);
        assert.match(run.stderr, /^aegis keys: refusing master key file .*k1\.key: mode 644 lets group or others access it; run 'chmod 600 /);
      }
      assert.deepEqual(readdirSync(join(dataDir, 'keys')).sort(), ['k1.key', 'k2.key'], 'generate wrote nothing');
    } finally {
      chmodSync(file, 0o600);
    }
  });

  it('uses AEGIS_MASTER_KEY as the active key, and refuses to generate while it is set', async () => {
    const material = randomBytes(32).toString('base64');
    const env = { AEGIS_MASTER_KEY: material, AEGIS_MASTER_KEY_ID: 'vault-1' };
    const list = await keys(['list', '--data', dataDir], env);
    expectExit(list, 0, 'list with env key');
    assert.match(list.stdout, /^vault-1 +yes +- +AEGIS_MASTER_KEY$/m);
    assert.match(list.stdout, /^k2 {2,}\d{4}/m, 'k2 no longer active');
    const generate = await keys(['generate', '--data', dataDir], env);
    expectExit(generate, 1, 'generate with env key');
    assert.match(generate.stderr, /AEGIS_MASTER_KEY is set, so its key 'vault-1' stays the active key/);
    await createCatalog(dataDir); // as the gateway's first start leaves it: rotate needs a catalog
    const rotate = await keys(['rotate', '--data', dataDir], env);
    expectExit(rotate, 0, 'rotate with env key');
    assert.match(rotate.stdout, /active key vault-1\n$/);
    const bad = await keys(['list', '--data', dataDir], { AEGIS_MASTER_KEY: 'too-short' });
    expectExit(bad, 1, 'malformed env key');
    assert.match(bad.stderr, /AEGIS_MASTER_KEY must be the base64 of 32 random bytes/);
    assertNoSecrets(runs, [material, Buffer.from(material, 'base64').toString('hex'), 'too-short']);
  });

  it('answers usage errors with 2 and --help with 0', async () => {
    expectExit(await keys(['--data', dataDir]), 2, 'no sub-command');
    expectExit(await keys(['burn', '--data', dataDir]), 2, 'unknown sub-command');
    expectExit(await keys(['rotate', '--json', '--data', dataDir]), 2, 'rotate --json');
    const help = await keys(['--help']);
    expectExit(help, 0, 'help');
    assert.match(help.stdout, /^usage: aegis keys <sub-command>/);
    const top = await aegis(['--help']);
    assert.match(top.stdout, /^ {2}keys {4}manage master keys/m, 'listed in the top-level help');
  });

  it('never printed any key material', () => {
    assert.ok(runs.length >= 15, `all runs were recorded (${runs.length})`);
    assertNoSecrets(runs, secretsOf(dataDir));
  });
});
