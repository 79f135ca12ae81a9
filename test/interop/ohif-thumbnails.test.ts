/**
 * Interop: the real OHIF viewer in Chromium configured with `thumbnailRendering: 'rendered'` shows
 * the series thumbnails of its study browser from Aegis's rendered resources (PS3.18 §10.4.1.1.3),
 * with authentication on: OHIF fetches `.../rendered` with its bearer token, Aegis answers 200 with
 * a JPEG, and the thumbnail `<img>` elements of the page hold a decoded image (non-zero natural
 * size). The same launch as `ohif.test.ts`: an access token from `POST /auth/token` in the viewer
 * URL. Needs `npm ci --prefix test/interop/vendor` and `/usr/bin/chromium`; fails (never skips)
 * without them.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchChromium, loadPlaywrightCore, type RunningChromium } from '../support/chromium.js';
import { stowBody } from '../support/dicomweb.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { assertOhifInstalled, startOhifServer } from '../support/ohif.js';
import { saveEvidence, skipTourIfShown, viewerUrl } from './ohif-viewer.js';

const SAMPLES = '/usr/lib/python3/dist-packages/pydicom/data/test_files/';
const EVIDENCE_DIR = join(tmpdir(), 'aegis-ohif-thumbnails');
/** CT_small.dcm's study. */
const STUDY = '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322';
const THUMBNAIL_TIMEOUT_MS = 90_000;

/** The page members the in-page function reads (the project compiles without the DOM library). */
interface PageImage {
  src: string;
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
}
interface PageBody {
  querySelectorAll(selector: string): ArrayLike<PageImage>;
}

describe('OHIF thumbnails from Aegis rendered resources', { timeout: 5 * 60_000 }, () => {
  let gateway: RunningGateway;
  let chromium: RunningChromium | undefined;
  let token = '';

  before(async () => {
    assertOhifInstalled();
    loadPlaywrightCore();
    gateway = await startGateway({ secure: true });
    const password = (await readFile(join(gateway.dataDir, 'admin-password'), 'utf8')).trim();
    const { body, contentType } = stowBody([await readFile(join(SAMPLES, 'CT_small.dcm'))]);
    const stored = await fetch(`${gateway.dicomWebUrl}/studies`, { method: 'POST', headers: { 'content-type': contentType, authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` }, body });
    assert.equal(stored.status, 200, await stored.text());
    const grant = await fetch(`${gateway.url}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'password', username: 'admin', password }) });
    token = ((await grant.json()) as { access_token: string }).access_token;
    chromium = await launchChromium();
  });
  after(async () => {
    await chromium?.close();
    await gateway?.stop();
  });

  test("the study browser's thumbnails are Aegis's rendered JPEGs", async (t) => {
    const site = await startOhifServer({ dicomWebUrl: gateway.dicomWebUrl, thumbnailRendering: 'rendered' });
    const page = await chromium!.context.newPage();
    try {
      await page.goto(viewerUrl(site.url, STUDY, token), { waitUntil: 'load', timeout: THUMBNAIL_TIMEOUT_MS });
      const start = Date.now();
      let images: PageImage[] = [];
      for (;;) {
        await skipTourIfShown(page);
        images = await page.locator('body').evaluate(
          (body: PageBody) =>
            Array.from(body.querySelectorAll('img'))
              .filter((img) => img.src.startsWith('blob:'))
              .map(({ src, complete, naturalWidth, naturalHeight }) => ({ src, complete, naturalWidth, naturalHeight })),
          undefined,
        );
        if (images.some((img) => img.complete && img.naturalWidth > 0) || Date.now() - start > THUMBNAIL_TIMEOUT_MS) break;
        await page.waitForTimeout(500);
      }
      const evidence = await saveEvidence(page, EVIDENCE_DIR, 'rendered-thumbnails');
      const rendered = site.requests.filter((r) => /\/(rendered|thumbnail)(\?|$)/.test(r.path));
      const account = `images: ${JSON.stringify(images)}\nrequests:\n${rendered.map((r) => `  ${r.method} ${r.status} auth=${r.authorization} accept=${r.accept} ${r.path}`).join('\n')}\nscreenshots: ${evidence.join(', ')}`;
      t.diagnostic(account);
      assert.ok(rendered.length > 0, `OHIF asked for no rendered thumbnail\n${account}`);
      assert.ok(
        rendered.every((r) => r.status === 200 && r.authorization === 'Bearer'),
        `a rendered thumbnail request failed or went without OHIF's token\n${account}`,
      );
      const shown = images.filter((img) => img.complete && img.naturalWidth > 0 && img.naturalHeight > 0);
      assert.ok(shown.length > 0, `no thumbnail image was decoded\n${account}`);
    } finally {
      await page.close();
      await site.stop();
    }
  });
});
