/**
 * A DELETE the process did not finish is finished at the next start. The two states a SIGKILL can
 * leave are made on a stopped gateway's data folder exactly as the DELETE leaves them: instances
 * recorded as being deleted with their shred key already destroyed (killed after the keys, before
 * the rows), and recorded with the key still there (killed before the keys). The gateway started
 * again on that folder serves neither (404, not listed), destroyed the remaining key, deleted their
 * stored pieces, audited it, and left every other instance byte-identical. An instance stored again
 * with the same bytes after such a DELETE stopped is stored, not taken for the one being deleted.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startServer, type RunningServer } from '../../gateway/cli/start.js';
import { Catalog } from '../../gateway/catalog/catalog.js';
import { PendingDeletions } from '../../gateway/catalog/pending-deletions.js';
import { ShredKeyVault, shredKeyVaultFile } from '../../gateway/catalog/shred-key-vault.js';
import { loadConfig } from '../../gateway/config.js';
import { storedObjects, type ManifestBody } from '../../gateway/protection/manifest.js';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { get, retrieveAsStored, stow } from '../support/dicomweb.js';
import { OPEN_ACCESS } from '../support/in-process.js';
import { readTrail } from '../support/trail.js';

const STORED = 'multipart/related; type="application/dicom"; transfer-syntax=*';

async function start(dataDir: string): Promise<RunningServer> {
  return startServer(loadConfig({ object: { log: { level: 'silent' }, ...OPEN_ACCESS, dataDir, server: { port: 0 } } }));
}

/** Every file below `dir`, relative paths. */
async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name));
}

describe('a DELETE killed halfway', () => {
  const dirs: string[] = [];
  after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('is finished at the next start: the instances are gone (keys, rows, stored pieces), audited, and the others untouched', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'aegis-interrupted-delete-'));
    dirs.push(dataDir);
    const study = newUid();
    const series = newUid();
    const sent = [0, 1, 2].map(() => syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, rows: 32, columns: 32 }));
    let gw = await start(dataDir);
    const url = `${gw.url}/dicom-web`;
    const stored = await stow(url, sent);
    assert.equal(stored.status, 200);
    const sops = (stored.json!['00081199'].Value as Array<Record<string, { Value: string[] }>>).map((item) => item['00081155'].Value[0]);
    await gw.close();

    // The states a kill leaves: [0] recorded and its key destroyed, [1] recorded only, [2] untouched.
    const catalog = await Catalog.openSqlite(join(dataDir, 'catalog.sqlite'));
    const rows = await Promise.all(sops.map(async (sop) => (await catalog.findInstance(sop))!));
    // The bundle of its fragments (one file on the one fs backend) and its manifest copy.
    const piecesOf = (i: number) => storedObjects((JSON.parse(rows[i].manifest!) as ManifestBody).fragments).length + 1;
    const shredKeyOf = (i: number) => (JSON.parse(rows[i].manifest!) as ManifestBody).dataKey!.shredKeyId!;
    await new PendingDeletions(catalog.db).begin(rows.slice(0, 2));
    await catalog.close();
    const vault = ShredKeyVault.open(shredKeyVaultFile(dataDir));
    assert.equal(vault.destroy([shredKeyOf(0)]), 1);
    const keysBefore = vault.count();
    vault.close();
    const filesBefore = await files(join(dataDir, 'stores'));

    gw = await start(dataDir);
    try {
      const base = `${gw.url}/dicom-web/studies/${study}/series/${series}/instances`;
      for (const sop of sops.slice(0, 2)) assert.equal((await get(`${base}/${sop}`, STORED)).status, 404, sop);
      const listed = await get(`${gw.url}/dicom-web/studies/${study}/instances`, 'application/dicom+json');
      assert.deepEqual(
        (JSON.parse(listed.body.toString()) as Array<Record<string, { Value: string[] }>>).map((item) => item['00080018'].Value[0]),
        [sops[2]],
      );
      assert.ok((await retrieveAsStored(`${base}/${sops[2]}`))[0].bytes.equals(sent[2]), 'the other instance is byte-identical');

      const { events, verification } = await readTrail(dataDir);
      assert.equal(verification.ok, true);
      const finished = events.filter((e) => e.operation === 'key-destruction' && /finished at start-up/.test(e.reason ?? ''));
      assert.equal(finished.length, 1);
      assert.deepEqual(finished[0].resources?.map((r) => r.instance).sort(), sops.slice(0, 2).sort());
    } finally {
      await gw.close();
    }
    const after = ShredKeyVault.open(shredKeyVaultFile(dataDir));
    assert.equal(after.count(), keysBefore - 1, 'the key left of the second instance is destroyed too');
    after.close();
    const filesAfter = await files(join(dataDir, 'stores'));
    assert.equal(piecesOf(0), 2, 'a bundle and a manifest copy');
    assert.equal(filesBefore.length - filesAfter.length, piecesOf(0) + piecesOf(1), 'the pieces of both instances are deleted, no other');
    const reopened = await Catalog.openSqlite(join(dataDir, 'catalog.sqlite'));
    try {
      assert.deepEqual(await new PendingDeletions(reopened.db).interrupted(), []);
      assert.equal((await reopened.db.selectFrom('pending_deletions').selectAll().execute()).length, 0);
    } finally {
      await reopened.close();
    }
  });

  it('does not take an instance stored again with the same bytes, after the DELETE stopped, for the deleted one', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'aegis-interrupted-delete-'));
    dirs.push(dataDir);
    const [study, series] = [newUid(), newUid()];
    const sent = syntheticInstance({ studyInstanceUID: study, seriesInstanceUID: series, rows: 32, columns: 32 });
    let gw = await start(dataDir);
    const stored = await stow(`${gw.url}/dicom-web`, [sent]);
    assert.equal(stored.status, 200);
    const sop = (stored.json!['00081199'].Value as Array<Record<string, { Value: string[] }>>)[0]['00081155'].Value[0];
    // A worker of the cluster is killed in a DELETE of the instance after its key went, before its row did; the others serve on.
    const catalog = await Catalog.openSqlite(join(dataDir, 'catalog.sqlite'));
    const row = (await catalog.findInstance(sop))!;
    await new PendingDeletions(catalog.db).begin([row]);
    await catalog.close();
    const vault = ShredKeyVault.open(shredKeyVaultFile(dataDir));
    assert.equal(vault.destroy([(JSON.parse(row.manifest!) as ManifestBody).dataKey!.shredKeyId!]), 1);
    vault.close();
    const url = `${gw.url}/dicom-web/studies/${study}/series/${series}/instances/${sop}`;
    try {
      // The client stores the instance again, the same bytes.
      assert.equal((await stow(`${gw.url}/dicom-web`, [sent])).status, 200);
      assert.ok((await retrieveAsStored(url))[0].bytes.equals(sent), 'the instance stored again is served');
    } finally {
      await gw.close();
    }
    gw = await start(dataDir);
    try {
      assert.ok((await retrieveAsStored(`${gw.url}/dicom-web/studies/${study}/series/${series}/instances/${sop}`))[0].bytes.equals(sent), 'and still after the next start');
    } finally {
      await gw.close();
    }
  });
});
