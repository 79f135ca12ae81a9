/**
 * Issue 3, acceptance 5: `aegis reindex` on a wiped catalog restores QIDO and WADO for every
 * instance, from the manifest copies and fragments in the backends alone. A manifest copy that was
 * tampered with is reported, not recorded.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { newUid, syntheticInstance } from '../fixtures/synthetic.js';
import { runAegis } from '../support/aegis-cli.js';
import { corpusFiles } from '../support/corpus.js';
import { retrieveAsStored, stow } from '../support/dicomweb.js';
import { startGateway } from '../support/gateway.js';

describe('aegis reindex', () => {
  it('rebuilds the catalog from the backends: every instance searchable and byte-identical again', { timeout: 300_000 }, async () => {
    const picks = corpusFiles().filter((f) => /\/(CT_small|MR_small|JPEG2000|SC_rgb_rle_2frame|ExplVR_BigEnd|image_dfl|emri_small)\.dcm$/.test(f));
    const instances = [...(await Promise.all(picks.map((f) => readFile(f)))), ...[1, 2, 3].map((seed) => syntheticInstance({ studyInstanceUID: newUid(), seed, rows: 33, columns: 17 }))];
    const first = await startGateway({ keepData: true });
    const dataDir = first.dataDir;
    const urls: string[] = [];
    let studies: unknown;
    try {
      for (const bytes of instances) {
        const res = await stow(first.dicomWebUrl, [bytes]);
        assert.equal(res.status, 200, `STOW: ${JSON.stringify(res.json)}`);
        urls.push(res.json!['00081199'].Value[0]['00081190'].Value[0] as string);
      }
      studies = await (await fetch(`${first.dicomWebUrl}/studies?includefield=all`)).json();
    } finally {
      await first.stop();
    }
    for (const name of await readdir(dataDir)) if (name.startsWith('catalog.sqlite')) await rm(join(dataDir, name));

    const run = await runAegis(['reindex', '--data', dataDir, '--json']);
    assert.equal(run.status, 0, `reindex: ${run.stdout}\n${run.stderr}`);
    const report = JSON.parse(run.stdout) as { manifests: number; restored: number; failed: unknown[] };
    assert.equal(report.manifests, instances.length);
    assert.equal(report.restored, instances.length);
    assert.deepEqual(report.failed, []);
    const again = await runAegis(['reindex', '--data', dataDir, '--json']);
    assert.equal((JSON.parse(again.stdout) as { alreadyPresent: number }).alreadyPresent, instances.length, 'a second run changes nothing');

    const second = await startGateway({ dataDir, keepData: true });
    try {
      const base = first.url;
      const now = await (await fetch(`${second.dicomWebUrl}/studies?includefield=all`)).json();
      assert.deepEqual(now, JSON.parse(JSON.stringify(studies).replaceAll(base, second.url)), 'QIDO answers as before');
      for (const [i, url] of urls.entries()) {
        const parts = await retrieveAsStored(url.replace(base, second.url));
        assert.equal(parts.length, 1);
        assert.ok(parts[0].bytes.equals(instances[i]), `instance ${i} byte-identical after reindex`);
      }
    } finally {
      await second.stop();
    }

    // A manifest copy altered in the backend is refused by the next reindex.
    const store = join(dataDir, 'stores', 'local', 'm');
    const victim = ((await readdir(store, { recursive: true })) as string[]).find((name) => /^[0-9a-f]{2}\/[0-9a-f]{32}$/.test(name))!;
    assert.ok(victim, 'a manifest copy m/<ab>/<id>');
    const text = await readFile(join(store, victim), 'utf8');
    await writeFile(
      join(store, victim),
      text.replace(/"sealed":"(.)/, (_, c: string) => `"sealed":"${c === 'A' ? 'B' : 'A'}`),
    );
    for (const name of await readdir(dataDir)) if (name.startsWith('catalog.sqlite')) await rm(join(dataDir, name));
    const tampered = await runAegis(['reindex', '--data', dataDir, '--json']);
    assert.equal(tampered.status, 1, 'exit 1 when a manifest does not verify');
    const tamperedReport = JSON.parse(tampered.stdout) as { restored: number; failed: Array<{ locator: string }> };
    assert.equal(tamperedReport.restored, instances.length - 1);
    assert.deepEqual(
      tamperedReport.failed.map((f) => f.locator),
      [`m/${victim}`],
    );
    await rm(dataDir, { recursive: true, force: true });
  });
});
