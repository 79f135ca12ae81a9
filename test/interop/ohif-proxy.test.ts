/**
 * Interop: Aegis in proxy mode in front of a real Orthanc (Debian), with authentication on, seen by
 * the real OHIF viewer in Chromium. Orthanc holds an "old" study stored directly into it (CT_small,
 * never seen by Aegis); a "new" study (MR_small) is stored through Aegis with STOW-RS. Through
 * Aegis, QIDO-RS lists each study exactly once (and paging one by one returns each once); OHIF,
 * launched with a bearer token as in `ohif.test.ts`, renders each study from WADO-RS metadata and
 * frames (the old one read through from Orthanc, the new one from Aegis's own storage), every
 * request of the study answered 200 with OHIF's token, its thumbnail (OHIF's `thumbnailRendering:
 * 'thumbnail'`) included, and its study list shows each study in
 * exactly one row. Needs `npm ci --prefix test/interop/vendor`, `/usr/bin/chromium` and Debian's
 * `orthanc` and `orthanc-dicomweb`; fails (never skips) without them. Screenshots go to
 * `$TMPDIR/aegis-ohif-proxy/`.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { launchChromium, loadPlaywrightCore, type RunningChromium } from '../support/chromium.js';
import { stowBody } from '../support/dicomweb.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { assertOhifInstalled, startOhifServer, type ProxiedRequest } from '../support/ohif.js';
import { startOrthanc, type RunningOrthanc } from '../support/orthanc.js';
import { returnToStudyList, saveEvidence, skipTourIfShown, studyListName, viewerUrl, waitForRenderedImage } from './ohif-viewer.js';

const SAMPLES = '/usr/lib/python3/dist-packages/pydicom/data/test_files/';
const EVIDENCE_DIR = join(tmpdir(), 'aegis-ohif-proxy');
const RENDER_TIMEOUT_MS = 30_000;
const LIST_TIMEOUT_MS = 20_000;

/** One pydicom sample in a study of its own, and where it is stored. */
interface Study {
  label: string;
  file: string;
  patientName: string;
  studyUid: string;
}
/** Stored directly into Orthanc: Aegis has never seen it. */
const OLD: Study = { label: 'old-in-orthanc', file: 'CT_small.dcm', patientName: 'CompressedSamples^CT1', studyUid: '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322' };
/** Stored through Aegis (STOW-RS), so into Aegis's protected storage only. */
const NEW: Study = { label: 'new-through-aegis', file: 'MR_small.dcm', patientName: 'CompressedSamples^MR1', studyUid: '1.3.6.1.4.1.5962.1.2.4.20040826185059.5457' };

/** One line per relayed request, for assertion messages. */
const lines = (requests: readonly ProxiedRequest[]): string => requests.map((r) => `  ${r.method} ${r.status} auth=${r.authorization ?? 'none'} ${r.path.slice(0, 200)}`).join('\n');

describe('OHIF over Aegis in proxy mode in front of Orthanc, authentication on', { timeout: 5 * 60_000 }, () => {
  let orthanc: RunningOrthanc;
  let gateway: RunningGateway;
  let chromium: RunningChromium | undefined;
  let basic = '';
  let token = '';

  before(async () => {
    assertOhifInstalled();
    loadPlaywrightCore();
    await rm(EVIDENCE_DIR, { recursive: true, force: true });
    await mkdir(EVIDENCE_DIR, { recursive: true });
    orthanc = await startOrthanc();
    const direct = await fetch(`${orthanc.url}/instances`, { method: 'POST', body: await readFile(join(SAMPLES, OLD.file)) });
    assert.equal(direct.status, 200, `stored into Orthanc: ${await direct.text()}`);
    gateway = await startGateway({ secure: true, config: { upstream: { url: orthanc.dicomWebUrl, headersTimeoutSeconds: 10 } } });
    const password = (await readFile(join(gateway.dataDir, 'admin-password'), 'utf8')).trim();
    basic = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
    const { body, contentType } = stowBody([await readFile(join(SAMPLES, NEW.file))]);
    const stored = await fetch(`${gateway.dicomWebUrl}/studies`, { method: 'POST', headers: { 'content-type': contentType, accept: 'application/dicom+json', authorization: basic }, body });
    assert.equal(stored.status, 200, `STOW through Aegis: ${await stored.text()}`);
    const grant = await fetch(`${gateway.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'password', username: 'admin', password }) });
    assert.equal(grant.status, 200);
    token = ((await grant.json()) as { access_token: string }).access_token;
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await gateway?.stop();
    await orthanc?.stop();
  });

  /** The Study Instance UIDs of a QIDO-RS study search through Aegis, in order. */
  async function studies(query: string): Promise<string[]> {
    const res = await fetch(`${gateway.dicomWebUrl}/studies${query}`, { headers: { authorization: basic, accept: 'application/dicom+json' } });
    assert.equal(res.status, 200, `QIDO ${query}: ${res.status}`);
    return ((await res.json()) as Array<Record<string, { Value: string[] }>>).map((match) => match['0020000D']!.Value[0]!);
  }

  test('QIDO-RS through Aegis lists each study once, and paging returns each once', async () => {
    // Newest study date first: MR_small (2004-08-26) before CT_small (2004-01-19).
    assert.deepEqual(await studies(''), [NEW.studyUid, OLD.studyUid]);
    const paged: string[] = [];
    for (let offset = 0; offset < 3; offset++) paged.push(...(await studies(`?limit=1&offset=${offset}`)));
    assert.deepEqual(paged, [NEW.studyUid, OLD.studyUid]);
    const inOrthanc = await fetch(`${orthanc.dicomWebUrl}/studies`, { headers: { accept: 'application/dicom+json' } });
    assert.equal(((await inOrthanc.json()) as unknown[]).length, 1, 'the new study is in Aegis only, not in Orthanc');
  });

  test('OHIF renders the old and the new study, and its study list shows each once', async (t: TestContext) => {
    // Thumbnails from the server's thumbnail resources: Orthanc has none, Aegis makes them for both studies.
    const site = await startOhifServer({ dicomWebUrl: gateway.dicomWebUrl, thumbnailRendering: 'thumbnail' });
    const page = await chromium!.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message.slice(0, 300)));
    try {
      for (const study of [OLD, NEW]) {
        const from = site.requests.length;
        await page.goto(viewerUrl(site.url, study.studyUid, token), { waitUntil: 'load', timeout: RENDER_TIMEOUT_MS });
        const result = await waitForRenderedImage(page, RENDER_TIMEOUT_MS);
        // The study browser's thumbnail is asked for beside the frames: wait until it is answered.
        const thumbnails = () => site.requests.slice(from).filter((r) => r.path.includes(study.studyUid) && /\/thumbnail(\?|$)/.test(r.path));
        for (let waited = 0; waited < LIST_TIMEOUT_MS && !(thumbnails().length > 0 && thumbnails().every((r) => r.status !== 0)); waited += 250) await page.waitForTimeout(250);
        const evidence = await saveEvidence(page, EVIDENCE_DIR, study.label);
        const ofStudy = site.requests.slice(from).filter((r) => r.path.includes(study.studyUid));
        const account = `${study.label}: rendered=${result.rendered} in ${result.elapsedMs} ms ${JSON.stringify(result.stats)}; ${evidence.join(', ')}\n${lines(ofStudy)}\nerrors: ${errors.join(' | ')}\ngateway:\n${gateway.logs.slice(-10).join('\n')}`;
        t.diagnostic(account.split('\n')[0]!);
        assert.ok(result.rendered, `OHIF did not render the study\n${account}`);
        assert.ok(
          ofStudy.some((r) => r.path.endsWith('/metadata') && r.status === 200),
          `no metadata of the study was retrieved\n${account}`,
        );
        assert.ok(
          ofStudy.some((r) => /\/frames\/\d+$/.test(r.path) && r.status === 200),
          `no frame of the study was retrieved\n${account}`,
        );
        assert.ok(
          ofStudy.some((r) => /\/thumbnail(\?|$)/.test(r.path) && r.status === 200),
          `no thumbnail of the study was retrieved\n${account}`,
        );
        assert.deepEqual(
          ofStudy.filter((r) => r.status !== 200 || r.authorization !== 'Bearer'),
          [],
          `every request of the study is answered 200, with OHIF's token\n${account}`,
        );
      }

      const from = site.requests.length;
      await returnToStudyList(page, LIST_TIMEOUT_MS);
      const names = [OLD, NEW].map((s) => studyListName(s.patientName));
      for (const name of names) await page.getByText(name, { exact: true }).first().waitFor({ state: 'visible', timeout: LIST_TIMEOUT_MS });
      await skipTourIfShown(page);
      const counts = await Promise.all(names.map((name) => page.getByText(name, { exact: true }).count()));
      const searches = site.requests.slice(from).filter((r) => r.path.startsWith('/dicom-web/studies?'));
      const evidence = await saveEvidence(page, EVIDENCE_DIR, 'study-list');
      const account = `counts ${JSON.stringify(counts)}; ${evidence.join(', ')}\n${lines(searches)}`;
      t.diagnostic(account);
      assert.deepEqual(counts, [1, 1], `the study list shows each study in exactly one row\n${account}`);
      assert.ok(searches.length > 0 && searches.every((r) => r.status === 200 && r.authorization === 'Bearer'), `the study list's searches\n${account}`);
      assert.deepEqual(
        site.requests.filter((r) => r.authorization !== 'Bearer' || r.status === 401),
        [],
        "no request went without OHIF's token",
      );
    } finally {
      await page.close();
      await site.stop();
    }
  });
});
