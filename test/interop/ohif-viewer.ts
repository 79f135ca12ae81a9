/**
 * Drives the OHIF viewer page in Chromium for the interop tests: opens the viewer (with a token),
 * goes back to the study list and finds a study there, dismisses the first-run tour, and decides
 * whether an image was really rendered by reading the pixels of OHIF's `canvas.cornerstone-canvas`
 * (cornerstone3D draws each viewport into a 2D canvas).
 *
 * "Rendered" means: a large share of non-black pixels and many distinct colors. A viewport that shows
 * nothing (black) or a flat fill (what OHIF shows when a frame decodes to garbage) is not rendered.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from '../support/chromium.js';

/** The DOM members the in-page functions use (the project compiles without the DOM library). */
interface PageCanvas {
  width: number;
  height: number;
  getContext(
    kind: '2d',
    options?: { willReadFrequently?: boolean },
  ): {
    getImageData(x: number, y: number, width: number, height: number): { data: Uint8ClampedArray };
  } | null;
  toDataURL(type: string): string;
}
interface PageElement {
  querySelectorAll(selector: string): ArrayLike<PageCanvas>;
  querySelector(selector: string): PageCanvas | null;
}

/** What the pixels of the best cornerstone canvas on the page look like. */
export interface CanvasStats {
  /** Number of `canvas.cornerstone-canvas` elements on the page. */
  canvases: number;
  width: number;
  height: number;
  /** Pixels whose RGB is not (0, 0, 0). */
  nonBlack: number;
  /** Distinct RGB values. */
  distinct: number;
}

/** Minimum share of non-black pixels for an image to count as rendered. */
export const MIN_NON_BLACK_SHARE = 0.05;
/**
 * Minimum number of distinct colors for an image to count as rendered. A flat fill (what OHIF shows
 * for a frame that decodes to garbage) has 3. Measured with OHIF 3.13.2: CT 256, JPEG 2000 NM 248,
 * the RLE RGB colour bars 162 (ten bars, the rest from OHIF's linear interpolation when scaling up).
 */
export const MIN_DISTINCT_COLORS = 32;

/** True when the stats show a real image rather than an empty or flat viewport. */
export function looksRendered(stats: CanvasStats | undefined): boolean {
  if (!stats || stats.width === 0 || stats.height === 0) return false;
  return stats.nonBlack / (stats.width * stats.height) >= MIN_NON_BLACK_SHARE && stats.distinct >= MIN_DISTINCT_COLORS;
}

/** Reads every cornerstone canvas and returns the stats of the one with most distinct colors. */
export async function canvasStats(page: Page): Promise<CanvasStats | undefined> {
  return page.locator('body').evaluate((body: PageElement) => {
    const canvases = Array.from(body.querySelectorAll('canvas.cornerstone-canvas'));
    let best: CanvasStats | undefined;
    for (const canvas of canvases) {
      if (canvas.width === 0 || canvas.height === 0) continue;
      const context = canvas.getContext('2d', { willReadFrequently: true });
      if (!context) continue;
      const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
      const colors = new Set<number>();
      let nonBlack = 0;
      for (let i = 0; i < data.length; i += 4) {
        const rgb = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
        if (rgb !== 0) nonBlack++;
        colors.add(rgb);
      }
      const stats = { canvases: canvases.length, width: canvas.width, height: canvas.height, nonBlack, distinct: colors.size };
      if (!best || stats.distinct > best.distinct) best = stats;
    }
    return best ?? (canvases.length ? { canvases: canvases.length, width: 0, height: 0, nonBlack: 0, distinct: 0 } : undefined);
  }, undefined);
}

/** Outcome of {@link waitForRenderedImage}. */
export interface RenderResult {
  rendered: boolean;
  /** The last stats read (undefined when no cornerstone canvas ever appeared). */
  stats: CanvasStats | undefined;
  elapsedMs: number;
}

/**
 * Polls the canvas until it shows a rendered image or `timeoutMs` passes, clicking past the
 * first-run tour whenever it shows up.
 */
export async function waitForRenderedImage(page: Page, timeoutMs: number): Promise<RenderResult> {
  const start = Date.now();
  let stats: CanvasStats | undefined;
  for (;;) {
    await skipTourIfShown(page);
    stats = await canvasStats(page).catch(() => undefined);
    if (looksRendered(stats)) return { rendered: true, stats, elapsedMs: Date.now() - start };
    if (Date.now() - start >= timeoutMs) return { rendered: false, stats, elapsedMs: Date.now() - start };
    await page.waitForTimeout(500);
  }
}

/** Clicks "Skip all" on OHIF's first-run tour if it is on screen. */
export async function skipTourIfShown(page: Page): Promise<void> {
  const skip = page.getByRole('button', { name: 'Skip all' }).first();
  if (await skip.isVisible().catch(() => false)) await skip.click({ timeout: 5_000 }).catch(() => undefined);
}

/** How OHIF's study list shows a DICOM person name: `Family^Given` becomes `Family, Given`. */
export function studyListName(personName: string): string {
  const [family = '', given = ''] = personName.split('^');
  return given ? `${family}, ${given}` : family;
}

/**
 * The viewer route for one study. `token` is handed to OHIF as a launcher (portal, EHR) would:
 * OHIF sends it as `Authorization: Bearer` on every later DICOMweb request of the page.
 */
export function viewerUrl(siteUrl: string, studyUid: string, token?: string): string {
  const query = new URLSearchParams({ StudyInstanceUIDs: studyUid });
  if (token !== undefined) query.set('token', token);
  return `${siteUrl}/viewer?${query.toString()}`;
}

/**
 * Goes from the viewer back to the study list the way a user does, with the return arrow of OHIF's
 * header: navigation inside the app, so whatever OHIF was told (its bearer token) still applies.
 */
export async function returnToStudyList(page: Page, timeoutMs: number): Promise<void> {
  await skipTourIfShown(page);
  await page.locator('[data-cy="return-to-work-list"]').first().click({ timeout: timeoutMs });
}

/**
 * Waits until a row of the study list on the page shows `personName` (as OHIF formats it). Returns
 * false when it did not appear within `timeoutMs`.
 */
export async function findInStudyList(page: Page, personName: string, timeoutMs: number): Promise<boolean> {
  const cell = page.getByText(studyListName(personName), { exact: true }).first();
  return cell
    .waitFor({ state: 'visible', timeout: timeoutMs })
    .then(() => true)
    .catch(() => false);
}

/**
 * Saves what the test saw: a screenshot of the page and the exact pixels of the canvas (PNG), as
 * `<dir>/<label>-page.png` and `<dir>/<label>-canvas.png`. Returns the paths written.
 */
export async function saveEvidence(page: Page, dir: string, label: string): Promise<string[]> {
  const written: string[] = [];
  const pagePath = join(dir, `${label}-page.png`);
  if (
    await page.screenshot({ path: pagePath, timeout: 10_000 }).then(
      () => true,
      () => false,
    )
  )
    written.push(pagePath);
  const dataUrl = await page
    .locator('body')
    .evaluate((body: PageElement) => {
      const canvas = body.querySelector('canvas.cornerstone-canvas');
      return canvas && canvas.width > 0 ? canvas.toDataURL('image/png') : undefined;
    }, undefined)
    .catch(() => undefined);
  if (dataUrl) {
    const canvasPath = join(dir, `${label}-canvas.png`);
    await writeFile(canvasPath, Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64'));
    written.push(canvasPath);
  }
  return written;
}
