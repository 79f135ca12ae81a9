/**
 * Interop: the real OHIF viewer (`@ohif/app@3.13.2`) in Debian's Chromium, talking DICOMweb to a real
 * Aegis gateway (started through its CLI), lists studies stored through Aegis (QIDO-RS) and renders
 * them from WADO-RS metadata and frames: an uncompressed CT, a JPEG 2000 and an RLE RGB multi-frame
 * instance. A second test breaks the frames route in the proxy in front of the gateway and proves
 * that the rendering check then fails.
 *
 * Needs `npm ci --prefix test/interop/vendor` (OHIF and playwright-core) and `/usr/bin/chromium`;
 * without them the tests fail and say so. Screenshots of what the browser showed are written to
 * `$TMPDIR/aegis-ohif-interop/` (replaced on every run) and their paths reported as diagnostics.
 *
 * `OHIF_INTEROP_DICOMWEB_URL=http://127.0.0.1:8042/dicom-web` runs the same checks against another
 * DICOMweb server (e.g. Orthanc) instead of starting Aegis, to tell viewer-setup problems from
 * gateway problems.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { launchChromium, loadPlaywrightCore, type Page, type RunningChromium } from '../support/chromium.js';
import { startGateway } from '../support/gateway.js';
import { assertOhifInstalled, startOhifServer, type OhifServer } from '../support/ohif.js';
import { findInStudyList, saveEvidence, waitForRenderedImage, type RenderResult } from './ohif-viewer.js';

const SAMPLES = '/usr/lib/python3/dist-packages/pydicom/data/test_files/';
const EVIDENCE_DIR = join(tmpdir(), 'aegis-ohif-interop');

/** Time allowed for a study to show up in the list, and for its image to render. */
const LIST_TIMEOUT_MS = 60_000;
const RENDER_TIMEOUT_MS = 90_000;
/** How long the broken-frames test watches for a rendered image that must not appear. */
const BROKEN_WATCH_MS = 30_000;

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
async function stow(dicomWebUrl: string, bytes: Buffer): Promise<{ status: number; body: string }> {
  const boundary = `aegis-${randomBytes(12).toString('hex')}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const response = await fetch(`${dicomWebUrl}/studies`, {
    method: 'POST',
    headers: {
      'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
      accept: 'application/dicom+json',
    },
    body,
  });
  return { status: response.status, body: await response.text() };
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
function report(
  study: SampleStudy,
  site: OhifServer,
  result: RenderResult | undefined,
  errors: string[],
  evidence: string[],
  gatewayLogs: string[],
): string {
  const requests = site.requests
    .filter((r) => r.path.includes(study.studyUid) || r.status >= 400 || r.status === 0)
    .map((r) => `  ${r.method} ${r.status}${r.broken ? ' (broken)' : ''} ${r.path.slice(0, 200)}`);
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

describe('OHIF viewer in Chromium over Aegis', { timeout: 10 * 60_000 }, () => {
  let dicomWebUrl = '';
  let gatewayLogs: string[] = [];
  let stopGateway: (() => Promise<void>) | undefined;
  let chromium: RunningChromium | undefined;

  before(async () => {
    // Fail (never skip) with an instruction when the vendor project is missing.
    assertOhifInstalled();
    loadPlaywrightCore();
    await rm(EVIDENCE_DIR, { recursive: true, force: true });
    await mkdir(EVIDENCE_DIR, { recursive: true });

    const external = process.env.OHIF_INTEROP_DICOMWEB_URL;
    if (external) {
      dicomWebUrl = external.replace(/\/$/, '');
    } else {
      const gateway = await startGateway();
      dicomWebUrl = gateway.dicomWebUrl;
      gatewayLogs = gateway.logs;
      stopGateway = () => gateway.stop();
    }
    for (const study of STUDIES) {
      const result = await stow(dicomWebUrl, await readFile(join(SAMPLES, study.file)));
      assert.equal(result.status, 200, `STOW of ${study.file} answered ${result.status}: ${result.body.slice(0, 500)}`);
    }
    chromium = await launchChromium();
  });

  after(async () => {
    await chromium?.close();
    await stopGateway?.();
  });

  test('lists each stored study and renders its image', async (t: TestContext) => {
    if (process.env.OHIF_INTEROP_DICOMWEB_URL) t.diagnostic(`against ${dicomWebUrl}, not a fresh Aegis gateway`);
    const site = await startOhifServer({ dicomWebUrl });
    try {
      for (const study of STUDIES) {
        await t.test(study.label, async (st: TestContext) => {
          const { page, errors } = await openPage(chromium!);
          let result: RenderResult | undefined;
          let evidence: string[] = [];
          try {
            const listed = await findInStudyList(page, site.url, study.patientName, LIST_TIMEOUT_MS);
            if (!listed) evidence = await saveEvidence(page, EVIDENCE_DIR, `${study.label}-list`);
            assert.ok(listed, `study list does not show ${study.patientName}\n${report(study, site, result, errors, evidence, gatewayLogs)}`);

            await page.goto(`${site.url}/viewer?StudyInstanceUIDs=${study.studyUid}`, { waitUntil: 'load', timeout: LIST_TIMEOUT_MS });
            result = await waitForRenderedImage(page, RENDER_TIMEOUT_MS);
            evidence = await saveEvidence(page, EVIDENCE_DIR, study.label);
            st.diagnostic(`rendered=${result.rendered} in ${result.elapsedMs} ms ${JSON.stringify(result.stats)}; ${evidence.join(', ')}`);
            assert.ok(result.rendered, `OHIF did not render the image\n${report(study, site, result, errors, evidence, gatewayLogs)}`);

            const frames = site.requests.filter((r) => r.path.includes(study.studyUid) && /\/frames\//.test(r.path));
            assert.ok(
              frames.some((r) => r.status === 200),
              `the image was not loaded through WADO-RS frames\n${report(study, site, result, errors, evidence, gatewayLogs)}`,
            );
          } finally {
            await page.close();
          }
        });
      }
    } finally {
      await site.stop();
    }
  });

  test('a broken frames route makes the render check fail', async (t: TestContext) => {
    const study = STUDIES[0]!;
    const site = await startOhifServer({ dicomWebUrl, breakFrames: true });
    const { page, errors } = await openPage(chromium!);
    try {
      await page.goto(`${site.url}/viewer?StudyInstanceUIDs=${study.studyUid}`, { waitUntil: 'load', timeout: LIST_TIMEOUT_MS });
      const result = await waitForRenderedImage(page, BROKEN_WATCH_MS);
      const evidence = await saveEvidence(page, EVIDENCE_DIR, `${study.label}-broken-frames`);
      t.diagnostic(`rendered=${result.rendered} after ${result.elapsedMs} ms ${JSON.stringify(result.stats)}; ${evidence.join(', ')}`);
      const details = report(study, site, result, errors, evidence, gatewayLogs);

      // The viewer got as far as asking for frames, and every answer was the corrupted one ...
      const frames = site.requests.filter((r) => r.path.includes(study.studyUid) && /\/frames\//.test(r.path));
      assert.ok(frames.length > 0, `OHIF never asked for frames, so the check proves nothing\n${details}`);
      assert.ok(frames.every((r) => r.broken), `a frame answer was not corrupted\n${details}`);
      // ... its metadata came through intact, so only the pixels were missing ...
      assert.ok(
        site.requests.some((r) => r.path.includes(study.studyUid) && r.path.endsWith('/metadata') && r.status === 200),
        `metadata was not retrieved\n${details}`,
      );
      // ... and the rendering check did not accept what was shown.
      assert.equal(result.rendered, false, `a rendered image was detected despite broken frames\n${details}`);
    } finally {
      await page.close();
      await site.stop();
    }
  });
});
