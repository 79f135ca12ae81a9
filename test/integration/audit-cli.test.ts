/**
 * `aegis audit verify|export` as operators run it (`node bin/aegis.mjs`), on a temporary data
 * directory whose trail the test writes: exit codes, the intact count, the first broken seq after
 * tampering with the database directly, JSON lines that parse, the export recorded in the trail,
 * and a clear refusal without a master key or with wrong arguments.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { AuditTrail } from '../../gateway/access/audit/trail.js';
import { createKeyFile, keyDirectory } from '../../gateway/keys/key-directory.js';
import { Keyring } from '../../gateway/keys/keyring.js';
import { runAegis, type AegisRun } from '../support/aegis-cli.js';
import { recordingLogger, sampleEvent } from '../support/audit.js';

const EVENTS = 20;

function aegis(args: string[]): Promise<AegisRun> {
  return runAegis(args, { unset: ['AEGIS_MASTER_KEY', 'AEGIS_MASTER_KEY_ID', 'AEGIS_CONFIG', 'AEGIS_DATA_DIR'] });
}

function expectExit(run: AegisRun, status: number, what: string): void {
  assert.equal(run.status, status, `${what}: exit ${run.status}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
}

/** The JSON lines of an export. */
function lines(text: string): Array<{ seq: number; mac: string; EventIdentification: { EventID: { 'csd-code': string }; EventDateTime: string } }> {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
}

describe('aegis audit', () => {
  let dataDir: string;
  const catalogFile = () => join(dataDir, 'catalog.sqlite');

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'aegis-audit-cli-'));
    await createKeyFile(keyDirectory(dataDir), { development: false });
    const catalog = await Catalog.openSqlite(catalogFile());
    const trail = new AuditTrail(catalog.db, await Keyring.load({ dataDir, env: {} }), recordingLogger());
    for (let i = 1; i <= EVENTS; i++) trail.record(sampleEvent(i));
    await trail.close();
    await catalog.close();
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('verify: exit 0 on an intact trail, with the record count', async () => {
    const run = await aegis(['audit', 'verify', '--data', dataDir]);
    expectExit(run, 0, 'verify');
    assert.match(run.stdout, new RegExp(`^audit trail intact: ${EVENTS} records \\(head: record ${EVENTS}, MAC [0-9a-f]{64}\\)\\n$`));
  });

  it('export: JSON lines that parse, to stdout or a 0600 file, by time; recorded as Audit Log Used', async () => {
    const all = await aegis(['audit', 'export', '--data', dataDir]);
    expectExit(all, 0, 'export');
    const messages = lines(all.stdout);
    assert.deepEqual(
      messages.map((m) => m.seq),
      Array.from({ length: EVENTS }, (_, i) => i + 1),
    );
    assert.ok(
      messages.every((m) => m.EventIdentification.EventID['csd-code'] === '110104' && /^[0-9a-f]{64}$/.test(m.mac)),
      'WADO reads as DICOM Instances Transferred, with their MACs',
    );

    const out = join(dataDir, 'export.jsonl');
    const some = await aegis(['audit', 'export', '--data', dataDir, '--from', '2025-01-01T08:00:00.003Z', '--to', '2025-01-01T08:00:00.006Z', '--out', out]);
    expectExit(some, 0, 'export --from --to --out');
    assert.equal(some.stdout, '', 'nothing on stdout with --out');
    assert.match(some.stderr, /^exported 3 audit records to /);
    assert.deepEqual(
      lines(readFileSync(out, 'utf8')).map((m) => m.seq),
      [3, 4, 5],
    );
    if (process.platform !== 'win32') assert.equal(statSync(out).mode & 0o777, 0o600, 'the export file is owner-only');

    // Each export appended an Audit Log Used record, and the trail still verifies.
    const verify = await aegis(['audit', 'verify', '--data', dataDir]);
    expectExit(verify, 0, 'verify after the exports');
    assert.match(verify.stdout, new RegExp(`^audit trail intact: ${EVENTS + 2} records`));
    const latest = lines((await aegis(['audit', 'export', '--data', dataDir, '--from', '2026-01-01'])).stdout);
    assert.deepEqual(
      latest.map((m) => [m.seq, m.EventIdentification.EventID['csd-code']]),
      [
        [EVENTS + 1, '110101'],
        [EVENTS + 2, '110101'],
      ],
    );
  });

  it('verify: exit 1 naming the first broken record after the database was altered', async () => {
    const catalog = await Catalog.openSqlite(catalogFile());
    const row = await catalog.db.selectFrom('audit_events').select('event').where('seq', '=', 7).executeTakeFirstOrThrow();
    await catalog.db
      .updateTable('audit_events')
      .set({ event: row.event.replace('alice', 'mallory') })
      .where('seq', '=', 7)
      .execute();
    await catalog.close();
    const run = await aegis(['audit', 'verify', '--data', dataDir]);
    expectExit(run, 1, 'verify after tampering');
    assert.match(run.stdout, /^audit trail BROKEN at record 7: its MAC does not match: the record was altered/);
    assert.match(run.stdout, /\n6 records before it verified intact\n$/);
  });

  it('is listed in the top-level help and has its own', async () => {
    const top = await aegis(['--help']);
    expectExit(top, 0, 'aegis --help');
    assert.match(top.stdout, /^ {2}audit {3}check or export the audit trail/m);
    const own = await aegis(['audit', '--help']);
    expectExit(own, 0, 'aegis audit --help');
    assert.match(own.stdout, /^usage: aegis audit <sub-command>/);
  });

  it('refuses without a master key, without a catalog, and on wrong arguments', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'aegis-audit-cli-nokey-'));
    try {
      await (await Catalog.openSqlite(join(bare, 'catalog.sqlite'))).close();
      const noKey = await aegis(['audit', 'verify', '--data', bare]);
      expectExit(noKey, 1, 'verify without a key');
      assert.match(noKey.stderr, /^aegis audit: no master key/);
      assert.equal(existsSync(join(bare, 'keys')), false, 'no key was created');
      const noCatalog = await aegis(['audit', 'export', '--data', join(bare, 'nowhere')]);
      expectExit(noCatalog, 1, 'export without a catalog');
      assert.match(noCatalog.stderr, /no catalog in .*nowhere \(catalog\.sqlite missing\)/);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
    for (const [args, message] of [
      [['audit'], /which sub-command/],
      [['audit', 'erase'], /unknown sub-command 'erase'/],
      [['audit', 'export', '--from', 'yesterday'], /--from: 'yesterday' is not an ISO 8601/],
      [['audit', 'export', '--from', '2025-02-01', '--to', '2025-01-01'], /--from must be before --to/],
      [['audit', 'verify', '--out', 'x'], /'verify' takes no --out/],
    ] as const) {
      const run = await aegis([...args, '--data', dataDir]);
      expectExit(run, 2, args.join(' '));
      assert.match(run.stderr, message);
    }
  });
});
