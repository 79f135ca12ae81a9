/**
 * Interop: the real OHIF viewer (`@ohif/app@3.13.2`) in Debian's Chromium, talking DICOMweb to a real
 * Aegis gateway (started through its CLI) with AUTHENTICATION ON, lists studies stored through Aegis
 * (QIDO-RS) and renders them from WADO-RS metadata and frames: an uncompressed CT, a JPEG 2000 and an
 * RLE RGB multi-frame instance. The viewer itself sends the credentials; the proxy in front of the
 * gateway (same origin as OHIF) adds none, and records the Authorization scheme of every request.
 *
 * How OHIF gets its credentials: the way a portal or EHR launcher opens it. The test trades admin's
 * password for an access token at `POST /auth/token` and opens `/viewer?StudyInstanceUIDs=...&token=T`;
 * OHIF's own launch code (`updateAuthServiceAndCleanUrl`) makes its user-authentication service answer
 * `Authorization: Bearer T` for every later request of the app (QIDO, metadata, frames, thumbnails)
 * and strips the token from the address bar. OHIF's study list route (`/`) does not read `token`, so
 * the list is reached from the viewer with the header's return arrow: in-app navigation, where the
 * token still applies. Chosen over answering the gateway's `WWW-Authenticate: Basic` challenge with
 * Playwright's `httpCredentials`, because there the browser, not OHIF, would supply the credentials,
 * and it would silently repair any request OHIF sent without them (retried with Basic after a 401).
 * Here one mechanism covers list and viewer, and no request may reach the gateway without
 * credentials: every relayed request must carry `Bearer` and none may get 401.
 *
 * Tests: (1) per study: the viewer renders it, then the study list (after in-app navigation) shows it,
 * every request carrying OHIF's bearer token; (2) a broken frames route in the proxy makes the render
 * check fail (the check can fail); (3) OHIF opened without a token gets 401 for every DICOMweb
 * request and renders nothing (the gateway really demands the credentials OHIF sends). STOW in
 * `before` uses HTTP Basic with admin's password (`DATA/admin-password`).
 *
 * Needs `npm ci --prefix test/interop/vendor` (OHIF and playwright-core) and `/usr/bin/chromium`;
 * without them the tests fail and say so. Screenshots of what the browser showed are written to
 * `$TMPDIR/aegis-ohif-interop/` (replaced on every run) and their paths reported as diagnostics.
 *
 * `OHIF_INTEROP_DICOMWEB_URL=http://127.0.0.1:8042/dicom-web` runs the same checks against another
 * DICOMweb server (e.g. Orthanc) instead of starting Aegis, to tell viewer-setup problems from
 * gateway problems. `OHIF_INTEROP_TOKEN` is then the bearer token OHIF gets and
 * `OHIF_INTEROP_AUTHORIZATION` the Authorization header for STOW; without a token the server must
 * accept any (an open server ignores it) and the check without a token is skipped.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { launchChromium, loadPlaywrightCore, type Page, type RunningChromium } from '../support/chromium.js';
import { startGateway } from '../support/gateway.js';
import { assertOhifInstalled, startOhifServer, type OhifServer, type ProxiedRequest } from '../support/ohif.js';
import { findInStudyList, returnToStudyList, saveEvidence, viewerUrl, waitForRenderedImage, type RenderResult } from './ohif-viewer.js';

const SAMPLES = '/usr/lib/python3/dist-packages/pydicom/data/test_files/';
const EVIDENCE_DIR = join(tmpdir(), 'aegis-ohif-interop');

/** Time allowed for a study to show up in the list, and for its image to render. */
const LIST_TIMEOUT_MS = 60_000;
const RENDER_TIMEOUT_MS = 90_000;
/** How long the broken-frames test watches for a rendered image that must not appear. */
const BROKEN_WATCH_MS = 30_000;
/** How long the test without a token watches (OHIF is refused its first QIDO/metadata request at once). */
const UNAUTHENTICATED_WATCH_MS = 15_000;
/** The user OHIF acts as: the first admin the gateway creates. */
const USER = 'admin';

/** One sample file from Debian's python3-pydicom, stored in a study of its own. */
interface SampleStudy {
  label: string;
  file: string;
  patientName: string;
  studyUid: string;
}

const STUDIES: SampleStudy[] = [
  {
    label: 'ct-uncompressed',
    file: 'CT_small.dcm', // Explicit VR Little Endian, 128x128, 16-bit
    patientName: 'CompressedSamples^CT1',
    studyUid: '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322',
  },
  {
    label: 'jpeg2000',
    file: 'JPEG2000.dcm', // JPEG 2000 (1.2.840.10008.1.2.4.91), NM 1024x256, 16-bit
    patientName: 'CompressedSamples^NM1',
    studyUid: '1.3.6.1.4.1.5962.1.2.8.20040826185059.5457',
  },
  {
    label: 'rle-rgb-multiframe',
    file: 'SC_rgb_rle_2frame.dcm', // RLE Lossless, RGB, 100x100, 2 frames
    patientName: 'Lestrade^G',
    studyUid: '1.2.826.0.1.3680043.8.498.12406831542731051035295345080039845114',
  },
];

/** STOW-RS of one Part 10 file as a single-part multipart/related request. */
async function stow(dicomWebUrl: string, bytes: Buffer, authorization: string | undefined): Promise<{ status: number; body: string }> {
  const boundary = `aegis-${randomBytes(12).toString('hex')}`;
  const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  const response = await fetch(`${dicomWebUrl}/studies`, {
    method: 'POST',
    headers: {
      'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
      accept: 'application/dicom+json',
      ...(authorization === undefined ? {} : { authorization }),
    },
    body,
  });
  return { status: response.status, body: await response.text() };
}

/** An access token for `user` from the gateway's `POST /auth/token` (password grant), as a launcher gets one. */
async function accessToken(gatewayUrl: string, user: string, password: string): Promise<string> {
  const response = await fetch(`${gatewayUrl}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username: user, password }),
  });
  const json = (await response.json()) as { access_token?: unknown; token_type?: unknown };
  assert.equal(response.status, 200, `POST /auth/token answered ${response.status}: ${JSON.stringify(json)}`);
  assert.equal(json.token_type, 'Bearer', 'POST /auth/token issues bearer tokens');
  assert.ok(typeof json.access_token === 'string' && json.access_token !== '', 'POST /auth/token returned no access_token');
  return json.access_token;
}

/** One line per relayed request that did not carry OHIF's bearer token or was refused for want of credentials. */
function unauthenticated(requests: readonly ProxiedRequest[]): string[] {
  return requests.filter((r) => r.authorization !== 'Bearer' || r.status === 401).map((r) => `  ${r.method} ${r.status} auth=${r.authorization ?? 'none'} ${r.path.slice(0, 200)}`);
}

/** Opens a fresh page that records console errors. */
async function openPage(chromium: RunningChromium): Promise<{ page: Page; errors: string[] }> {
  const page = await chromium.context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text().slice(0, 500));
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message.slice(0, 500)}`));
  return { page, errors };
}

/** A readable account of what happened, for assertion messages. */
function report(study: SampleStudy, site: OhifServer, result: RenderResult | undefined, errors: string[], evidence: string[], gatewayLogs: string[]): string {
  const requests = site.requests
    .filter((r) => r.path.includes(study.studyUid) || r.status >= 400 || r.status === 0)
    .map((r) => `  ${r.method} ${r.status} auth=${r.authorization ?? 'none'}${r.broken ? ' (broken)' : ''} ${r.path.slice(0, 200)}`);
  return [
    `study ${study.label} (${study.file}, ${study.studyUid})`,
    `canvas: ${JSON.stringify(result?.stats)} after ${result?.elapsedMs ?? '?'} ms`,
    `screenshots: ${evidence.join(', ') || 'none'}`,
    `DICOMweb requests for this study or failed:`,
    ...requests.slice(-40),
    `browser errors:`,
    ...errors.slice(-10).map((e) => `  ${e}`),
    `gateway log (last lines):`,
    ...gatewayLogs.slice(-15).map((l) => `  ${l.slice(0, 300)}`),
  ].join('\n');
}

describe('OHIF viewer in Chromium over Aegis with authentication on', { timeout: 10 * 60_000 }, () => {
  let dicomWebUrl = '';
  let gatewayLogs: string[] = [];
  let stopGateway: (() => Promise<void>) | undefined;
  let chromium: RunningChromium | undefined;
  /** A fresh access token for OHIF (one per viewer launch, as a launcher would). */
  let launchToken: () => Promise<string> = async () => '';
  /** False against an external server opened without OHIF_INTEROP_TOKEN (it cannot refuse anyone). */
  let authenticated = true;

  before(async () => {
    // Fail (never skip) with an instruction when the vendor project is missing.
    assertOhifInstalled();
    loadPlaywrightCore();
    await rm(EVIDENCE_DIR, { recursive: true, force: true });
    await mkdir(EVIDENCE_DIR, { recursive: true });

    const external = process.env.OHIF_INTEROP_DICOMWEB_URL;
    let stowAuthorization: string | undefined;
    if (external) {
      dicomWebUrl = external.replace(/\/$/, '');
      stowAuthorization = process.env.OHIF_INTEROP_AUTHORIZATION;
      const token = process.env.OHIF_INTEROP_TOKEN;
      authenticated = token !== undefined;
      launchToken = async () => token ?? 'no-token-configured';
    } else {
      const gateway = await startGateway({ secure: true });
      dicomWebUrl = gateway.dicomWebUrl;
      gatewayLogs = gateway.logs;
      stopGateway = () => gateway.stop();
      const password = (await readFile(join(gateway.dataDir, 'admin-password'), 'utf8')).trim();
      stowAuthorization = `Basic ${Buffer.from(`${USER}:${password}`).toString('base64')}`;
      launchToken = () => accessToken(gateway.url, USER, password);
    }
    for (const study of STUDIES) {
      const result = await stow(dicomWebUrl, await readFile(join(SAMPLES, study.file)), stowAuthorization);
      assert.equal(result.status, 200, `STOW of ${study.file} answered ${result.status}: ${result.body.slice(0, 500)}`);
    }
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    await stopGateway?.();
  });

  test('renders each stored study and lists it, OHIF sending its bearer token', async (t: TestContext) => {
    if (process.env.OHIF_INTEROP_DICOMWEB_URL) t.diagnostic(`against ${dicomWebUrl}, not a fresh Aegis gateway`);
    const site = await startOhifServer({ dicomWebUrl });
    try {
      for (const study of STUDIES) {
        await t.test(study.label, async (st: TestContext) => {
          const { page, errors } = await openPage(chromium!);
          let result: RenderResult | undefined;
          let evidence: string[] = [];
          try {
            await page.goto(viewerUrl(site.url, study.studyUid, await launchToken()), { waitUntil: 'load', timeout: LIST_TIMEOUT_MS });
            result = await waitForRenderedImage(page, RENDER_TIMEOUT_MS);
            evidence = await saveEvidence(page, EVIDENCE_DIR, study.label);
            st.diagnostic(`rendered=${result.rendered} in ${result.elapsedMs} ms ${JSON.stringify(result.stats)}; ${evidence.join(', ')}`);
            assert.ok(result.rendered, `OHIF did not render the image\n${report(study, site, result, errors, evidence, gatewayLogs)}`);

            const ofStudy = site.requests.filter((r) => r.path.includes(study.studyUid));
            const frames = ofStudy.filter((r) => /\/frames\//.test(r.path));
            assert.ok(
              frames.some((r) => r.status === 200),
              `the image was not loaded through WADO-RS frames\n${report(study, site, result, errors, evidence, gatewayLogs)}`,
            );
            const retrievals = ofStudy.filter((r) => /\/frames\//.test(r.path) || /\/metadata(\?|$)/.test(r.path));
            assert.ok(
              retrievals.every((r) => r.authorization === 'Bearer'),
              `a frames or metadata request did not carry OHIF's bearer token\n${report(study, site, result, errors, evidence, gatewayLogs)}`,
            );

            // Back to the study list inside the app: its QIDO-RS search carries the same token.
            const listFrom = site.requests.length;
            await returnToStudyList(page, LIST_TIMEOUT_MS);
            const listed = await findInStudyList(page, study.patientName, LIST_TIMEOUT_MS);
            if (!listed) evidence = await saveEvidence(page, EVIDENCE_DIR, `${study.label}-list`);
            assert.ok(listed, `study list does not show ${study.patientName}\n${report(study, site, result, errors, evidence, gatewayLogs)}`);
            const searches = site.requests.slice(listFrom).filter((r) => r.method === 'GET' && r.path.startsWith('/dicom-web/studies?'));
            assert.ok(searches.length > 0, `the study list made no QIDO-RS study search\n${report(study, site, result, errors, evidence, gatewayLogs)}`);
            assert.ok(
              searches.every((r) => r.authorization === 'Bearer' && r.status === 200),
              `a study list search went without OHIF's bearer token or failed\n${report(study, site, result, errors, evidence, gatewayLogs)}`,
            );
          } finally {
            await page.close();
          }
        });
      }
      // Not one request of the whole run reached the gateway without OHIF's credentials.
      const missing = unauthenticated(site.requests);
      t.diagnostic(`${site.requests.length} DICOMweb requests relayed, all with Authorization: Bearer`);
      assert.ok(missing.length === 0, `requests without OHIF's bearer token, or refused with 401:\n${missing.join('\n')}`);
    } finally {
      await site.stop();
    }
  });

  test('a broken frames route makes the render check fail', async (t: TestContext) => {
    const study = STUDIES[0]!;
    const site = await startOhifServer({ dicomWebUrl, breakFrames: true });
    const { page, errors } = await openPage(chromium!);
    try {
      await page.goto(viewerUrl(site.url, study.studyUid, await launchToken()), { waitUntil: 'load', timeout: LIST_TIMEOUT_MS });
      const result = await waitForRenderedImage(page, BROKEN_WATCH_MS);
      const evidence = await saveEvidence(page, EVIDENCE_DIR, `${study.label}-broken-frames`);
      t.diagnostic(`rendered=${result.rendered} after ${result.elapsedMs} ms ${JSON.stringify(result.stats)}; ${evidence.join(', ')}`);
      const details = report(study, site, result, errors, evidence, gatewayLogs);

      // The viewer got as far as asking for frames, and every answer was the corrupted one ...
      const frames = site.requests.filter((r) => r.path.includes(study.studyUid) && /\/frames\//.test(r.path));
      assert.ok(frames.length > 0, `OHIF never asked for frames, so the check proves nothing\n${details}`);
      assert.ok(
        frames.every((r) => r.broken),
        `a frame answer was not corrupted\n${details}`,
      );
      // ... its metadata came through intact, so only the pixels were missing (not the credentials) ...
      assert.ok(
        site.requests.some((r) => r.path.includes(study.studyUid) && r.path.endsWith('/metadata') && r.status === 200),
        `metadata was not retrieved\n${details}`,
      );
      const missing = unauthenticated(site.requests);
      assert.ok(missing.length === 0, `requests without OHIF's bearer token, or refused with 401:\n${missing.join('\n')}\n${details}`);
      // ... and the rendering check did not accept what was shown.
      assert.equal(result.rendered, false, `a rendered image was detected despite broken frames\n${details}`);
    } finally {
      await page.close();
      await site.stop();
    }
  });

  test('OHIF opened without a token is refused (401) and renders nothing', async (t: TestContext) => {
    if (!authenticated) {
      t.skip('the external server was given no OHIF_INTEROP_TOKEN: it is taken to be open');
      return;
    }
    const study = STUDIES[0]!;
    const site = await startOhifServer({ dicomWebUrl });
    const { page, errors } = await openPage(chromium!);
    try {
      await page.goto(viewerUrl(site.url, study.studyUid), { waitUntil: 'load', timeout: LIST_TIMEOUT_MS });
      const result = await waitForRenderedImage(page, UNAUTHENTICATED_WATCH_MS);
      const evidence = await saveEvidence(page, EVIDENCE_DIR, `${study.label}-no-token`);
      t.diagnostic(`rendered=${result.rendered} after ${result.elapsedMs} ms ${JSON.stringify(result.stats)}; ${evidence.join(', ')}`);
      const details = report(study, site, result, errors, evidence, gatewayLogs);

      // OHIF did ask the gateway (so the check is not vacuous), without credentials, and every
      // answer was 401; nothing was retrieved, and nothing was drawn.
      const answered = site.requests.filter((r) => r.status !== 0);
      t.diagnostic(`answered: ${answered.map((r) => `${r.method} ${r.status} ${r.path.split('?')[0]!.slice(0, 120)}`).join('; ')}`);
      assert.ok(answered.length > 0, `OHIF made no DICOMweb request, so the check proves nothing\n${details}`);
      assert.ok(
        site.requests.every((r) => r.authorization === undefined),
        `OHIF sent credentials it was never given\n${details}`,
      );
      assert.ok(
        answered.every((r) => r.status === 401),
        `the gateway answered a request without credentials with other than 401\n${details}`,
      );
      assert.equal(result.rendered, false, `OHIF rendered an image without credentials\n${details}`);
    } finally {
      await page.close();
      await site.stop();
    }
  });
});
