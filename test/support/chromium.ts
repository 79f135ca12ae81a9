/**
 * Launches Debian's Chromium (`/usr/bin/chromium`) through playwright-core, taken from the interop
 * vendor project (`npm ci --prefix test/interop/vendor`), with a fresh profile directory that is
 * removed when the browser is closed. Flags as measured in INFRA.md: headless, no sandbox, no GPU
 * (WebGL runs on SwiftShader), no QUIC, and no background traffic to Google services.
 *
 * playwright-core is not a dependency of the gateway, so it is loaded at run time and typed here by
 * the few members the tests use; type-checking never needs the vendor folder installed.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Debian's Chromium build. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for headless Chromium on a build machine without GPU or internet. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const VENDOR_PACKAGE_JSON = fileURLToPath(new URL('../interop/vendor/package.json', import.meta.url));

/** The parts of a Playwright `Locator` the tests use. */
export interface Locator {
  first(): Locator;
  click(options?: { timeout?: number }): Promise<void>;
  count(): Promise<number>;
  isVisible(): Promise<boolean>;
  waitFor(options?: { state?: 'attached' | 'detached' | 'visible' | 'hidden'; timeout?: number }): Promise<void>;
  screenshot(options?: { path?: string; timeout?: number }): Promise<Buffer>;
  /**
   * Runs `fn` in the page with the matched element. The element is typed `any` because the project
   * compiles without the DOM library; callers describe the few DOM members they touch.
   */
  evaluate<R, A>(fn: (element: any, arg: A) => R | Promise<R>, arg: A, options?: { timeout?: number }): Promise<R>;
}

/** The parts of a Playwright `Page` the tests use. */
export interface Page {
  goto(url: string, options?: { waitUntil?: 'load' | 'domcontentloaded' | 'networkidle' | 'commit'; timeout?: number }): Promise<unknown>;
  locator(selector: string): Locator;
  getByText(text: string | RegExp, options?: { exact?: boolean }): Locator;
  getByRole(role: string, options?: { name?: string | RegExp; exact?: boolean }): Locator;
  screenshot(options?: { path?: string; fullPage?: boolean; timeout?: number }): Promise<Buffer>;
  waitForTimeout(ms: number): Promise<void>;
  url(): string;
  close(): Promise<void>;
  on(event: 'console', listener: (message: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
}

/** The parts of a Playwright `BrowserContext` the tests use. */
export interface BrowserContext {
  newPage(): Promise<Page>;
  pages(): Page[];
  close(): Promise<void>;
}

interface PlaywrightCore {
  chromium: {
    launchPersistentContext(userDataDir: string, options: Record<string, unknown>): Promise<BrowserContext>;
  };
}

/** A running Chromium with its own profile. */
export interface RunningChromium {
  context: BrowserContext;
  profileDir: string;
  /** Closes the browser and removes the profile directory. */
  close(): Promise<void>;
}

/** Loads playwright-core from the vendor project, or throws saying how to install it. */
export function loadPlaywrightCore(): PlaywrightCore {
  const require = createRequire(VENDOR_PACKAGE_JSON);
  try {
    return require('playwright-core') as PlaywrightCore;
  } catch (cause) {
    throw new Error('playwright-core not installed in test/interop/vendor: run `npm ci --prefix test/interop/vendor`.', { cause });
  }
}

/** Options for {@link launchChromium}. */
export interface LaunchChromiumOptions {
  viewport?: { width: number; height: number };
}

/** Launches Debian's Chromium headless with a fresh profile (a persistent context). */
export async function launchChromium(options: LaunchChromiumOptions = {}): Promise<RunningChromium> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} not found: install Debian's build with \`apt-get install -y chromium\`.`);
  }
  const { chromium } = loadPlaywrightCore();
  const profileDir = await mkdtemp(join(tmpdir(), 'aegis-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: options.viewport ?? { width: 1280, height: 900 },
      // OHIF registers a service worker that caches the site; keep every run from a clean slate.
      serviceWorkers: 'block',
      timeout: 60_000,
    });
  } catch (error) {
    await rm(profileDir, { recursive: true, force: true });
    throw error;
  }
  let closed = false;
  return {
    context,
    profileDir,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await context.close();
      } finally {
        await rm(profileDir, { recursive: true, force: true, maxRetries: 3 });
      }
    },
  };
}
