/**
 * Protection statistics: `GET /admin/stats` and `aegis stats` count the stored instances by
 * protection kind with their reasons, and the bytes per backend equal what the backends' files
 * hold (fragments under f/, in one object per instance and backend; manifest copies under m/). Only
 * the admin action may read them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UserStore } from '../../gateway/access/users.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import type { ProtectionStats } from '../../gateway/services/admin/stats.js';
import { syntheticInstance } from '../fixtures/synthetic.js';
import { runAegis } from '../support/aegis-cli.js';
import { corpusFiles } from '../support/corpus.js';
import { stowBody } from '../support/dicomweb.js';
import { startTestGateway, type TestGateway } from '../support/in-process.js';

const PASSWORD = 'correct horse battery staple';
const POLICY = `
version: 1
rules:
  - id: viewers-search
    subjects: { role: viewer }
    actions: search
`;
const STORAGE = {
  backends: [
    { name: 'local', kind: 'fs' },
    { name: 'remote', kind: 'fs' },
  ],
  placement: { instances: 'local', regions: ['local', 'remote'] },
};

function basic(user: string): string {
  return `Basic ${Buffer.from(`${user}:${PASSWORD}`).toString('base64')}`;
}

/** Bytes of every file below `dir` (0 when it does not exist). */
async function bytesUnder(dir: string): Promise<{ files: number; bytes: number }> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { files: 0, bytes: 0 };
    throw error;
  }
  let bytes = 0;
  let files = 0;
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    files++;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { files, bytes };
}

async function adminStats(gateway: TestGateway, user: string) {
  const res = await fetch(`${gateway.url}/admin/stats`, { headers: { authorization: basic(user) } });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

describe('protection statistics', () => {
  let gateway: TestGateway;
  let dir: string;
  let configFile: string;
  const sizes: number[] = [];
  let tiny: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aegis-stats-'));
    const policyFile = join(dir, 'policy.yaml');
    await writeFile(policyFile, POLICY);
    configFile = join(dir, 'aegis.json');
    await writeFile(configFile, JSON.stringify(STORAGE));
    gateway = await startTestGateway({ auth: { bootstrapAdmin: false }, policy: policyFile, ...STORAGE });
    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    try {
      const users = new UserStore(catalog.db);
      await users.add({ name: 'root', role: 'admin', password: PASSWORD });
      await users.add({ name: 'viewer', role: 'viewer', password: PASSWORD });
    } finally {
      await catalog.close();
    }
    const picks = corpusFiles().filter((f) => /\/(CT_small|JPEG2000|image_dfl)\.dcm$/.test(f));
    assert.equal(picks.length, 3, `the corpus has CT_small, JPEG2000 and image_dfl (${picks.join(', ')})`);
    tiny = syntheticInstance({ rows: 4, columns: 4 });
    const instances = [...(await Promise.all(picks.map((f) => readFile(f)))), tiny];
    sizes.push(...instances.map((b) => b.length));
    const { body, contentType } = stowBody(instances);
    const res = await fetch(`${gateway.dicomWebUrl}/studies`, { method: 'POST', headers: { authorization: basic('root'), 'Content-Type': contentType, Accept: 'application/dicom+json' }, body });
    assert.equal(res.status, 200, `STOW of the 4 instances: ${await res.text()}`);
  });
  after(async () => {
    await gateway.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts instances by protection kind with reasons, and bytes per backend as the backends hold them', async () => {
    const { status, json } = await adminStats(gateway, 'root');
    assert.equal(status, 200, `admin reads the stats: ${JSON.stringify(json)}`);
    const stats = json as ProtectionStats;
    assert.equal(stats.instances, 4);
    assert.equal(stats.protected, 4);
    assert.equal(stats.unprotected, 0);
    assert.equal(stats.unreadable, 0);
    assert.deepEqual(stats.mode, { hardened: 4, paper: 0 });
    assert.deepEqual(stats.pixels, {
      segmented: { count: 2, reasons: {} },
      striped: { count: 1, reasons: { encapsulated: 1 } },
      none: { count: 0, reasons: {} },
      opaque: { count: 1, reasons: { 'deflated data set': 1 } },
    });
    assert.deepEqual(stats.watermark, {
      watermarked: 1,
      manifestOnly: { count: 3, reasons: { 'encapsulated pixel data': 1, 'deflated data set': 1, 'insufficient capacity': 1 } },
    });
    assert.deepEqual(stats.identity, { split: 3, opaque: { count: 1, reasons: { 'deflated data set': 1 } } });

    assert.equal(
      stats.bytes.received,
      sizes.reduce((a, b) => a + b, 0),
      'received: the bytes of the 4 files',
    );
    assert.deepEqual(Object.keys(stats.bytes.backends).sort(), ['local', 'remote']);
    let stored = 0;
    for (const name of ['local', 'remote']) {
      const b = stats.bytes.backends[name];
      const fragments = await bytesUnder(join(gateway.dataDir, 'stores', name, 'f'));
      const copies = await bytesUnder(join(gateway.dataDir, 'stores', name, 'm'));
      assert.equal(b.fragmentBytes, fragments.bytes, `${name}: fragment bytes equal the files under f/`);
      assert.equal(b.objects, fragments.files, `${name}: one file per stored object`);
      assert.equal(b.manifestCopyBytes, copies.bytes, `${name}: manifest copy bytes equal the files under m/`);
      assert.equal(b.manifestCopies, copies.files, `${name}: one file per manifest copy`);
      assert.equal(b.bytes, fragments.bytes + copies.bytes, `${name}: total`);
      stored += b.bytes;
    }
    assert.ok(stats.bytes.backends.remote.fragments > 0, 'regions went to the second backend too');
    assert.equal(stats.bytes.backends.local.objects, 4, 'one object (a bundle) per instance on the instances backend');
    assert.ok(stats.bytes.backends.local.fragments > 4, 'holding several fragments each');
    assert.equal(stats.bytes.backends.local.manifestCopies, 4, 'the manifest copies are next to the skeletons');
    assert.equal(stats.bytes.stored, stored, 'stored: the sum over the backends');
    assert.equal(stats.bytes.overheadRatio, stored / stats.bytes.received, 'overhead ratio = stored / received');
    assert.ok(stats.bytes.overheadRatio! > 1, `sealing and manifests cost something (${stats.bytes.overheadRatio})`);

    const cli = await runAegis(['stats', '--json', '--config', configFile, '--data', gateway.dataDir]);
    assert.equal(cli.status, 0, `aegis stats --json: ${cli.stderr}`);
    assert.deepEqual(JSON.parse(cli.stdout), json, 'the CLI and the endpoint agree');
    const table = await runAegis(['stats', '--config', configFile, '--data', gateway.dataDir]);
    assert.equal(table.status, 0, `aegis stats: ${table.stderr}`);
    assert.match(table.stdout, /^instances\s+4$/m, 'the table counts the instances');
    assert.match(table.stdout, /^ {4}insufficient capacity\s+1$/m, 'the table lists the reasons');
    assert.match(table.stdout, new RegExp(`^  overhead ratio\\s+${stats.bytes.overheadRatio!.toFixed(4)}$`, 'm'), 'the table gives the ratio');
  });

  it('counts rows recorded before protection as unprotected, stored whole', async () => {
    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    let before: ProtectionStats;
    try {
      before = (await adminStats(gateway, 'root')).json as ProtectionStats;
      const row = await catalog.db.selectFrom('instances').select(['sop_instance_uid', 'manifest']).where('size', '=', tiny.length).executeTakeFirstOrThrow();
      await catalog.db.updateTable('instances').set({ manifest: null }).where('sop_instance_uid', '=', row.sop_instance_uid).execute();
      try {
        const { json } = await adminStats(gateway, 'root');
        const stats = json as ProtectionStats;
        assert.equal(stats.instances, 4);
        assert.equal(stats.protected, 3);
        assert.equal(stats.unprotected, 1);
        assert.equal(stats.pixels.segmented.count, 1);
        assert.deepEqual(stats.watermark.manifestOnly.reasons, { 'encapsulated pixel data': 1, 'deflated data set': 1 });
        assert.equal(stats.bytes.received, before.bytes.received, 'an unprotected row counts its size as received');
        const local = stats.bytes.backends.local;
        assert.equal(local.unprotectedInstances, 1);
        assert.equal(local.unprotectedBytes, tiny.length, 'stored whole');
        assert.equal(local.bytes, local.fragmentBytes + local.manifestCopyBytes + tiny.length);
      } finally {
        await catalog.db.updateTable('instances').set({ manifest: row.manifest }).where('sop_instance_uid', '=', row.sop_instance_uid).execute();
      }
    } finally {
      await catalog.close();
    }
  });

  it('answers 401 without credentials and 403 to a subject the policy does not allow admin, and audits the decision', async () => {
    const anonymous = await fetch(`${gateway.url}/admin/stats`);
    await anonymous.arrayBuffer();
    assert.equal(anonymous.status, 401, 'no credentials: 401');
    const viewer = await adminStats(gateway, 'viewer');
    assert.equal(viewer.status, 403, `a viewer (search only) is refused: ${JSON.stringify(viewer.json)}`);
    assert.equal(viewer.json.error?.code, 'FORBIDDEN');
    const studies = await fetch(`${gateway.dicomWebUrl}/studies`, { headers: { authorization: basic('viewer') } });
    await studies.arrayBuffer();
    assert.equal(studies.status, 200, 'the viewer may search');

    const catalog = await Catalog.openSqlite(join(gateway.dataDir, 'catalog.sqlite'));
    try {
      const events = (await catalog.db.selectFrom('audit_events').select('event').execute()).map((r) => JSON.parse(r.event) as Record<string, any>);
      const refused = events.find((e) => e.http?.path === '/admin/stats' && e.actor?.name === 'viewer');
      assert.ok(refused, `the refusal is in the audit trail (${events.length} events)`);
      assert.equal(refused.action, 'admin');
      assert.equal(refused.outcome, 'denied');
      assert.match(refused.reason, /no rule allows admin/);
    } finally {
      await catalog.close();
    }
  });

  it('aegis stats without a catalog exits 1', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'aegis-stats-empty-'));
    try {
      const run = await runAegis(['stats', '--data', empty]);
      assert.equal(run.status, 1, `exit 1: ${run.stdout}${run.stderr}`);
      assert.match(run.stderr, /^aegis stats: no catalog in .* \(catalog\.sqlite missing\)/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
