// Debian's Chromium driven by playwright-core: headless, the flags this machine's closed network
// needs, and a fresh profile per run. Chromium is installed by apt when missing (root).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { repoRoot } from './paths.js';

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Installs Debian's chromium through the project's setup helper (adds it to the APT map for this call). */
export async function ensureChromium(): Promise<void> {
  const ensure = (await import(pathToFileURL(resolve(repoRoot, 'tools/setup/ensure.mjs')).href)) as {
    ensureSystemPackages(extra?: Record<string, string>): string[];
  };
  const missing = ensure.ensureSystemPackages({ chromium: 'chromium' });
  if (missing.includes('chromium')) throw new Error(`chromium is not installed and could not be (apt-get install -y chromium); the browser tests need ${CHROMIUM}`);
}

export interface Browser { context: BrowserContext; close(): Promise<void> }

export async function launchBrowser(): Promise<Browser> {
  const userDataDir = await mkdtemp(join(tmpdir(), 'thk-cabinet-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1360, height: 860 },
    locale: 'uk-UA',
    // Anywhere but Kyiv: the page must show Kyiv time whatever the browser's zone.
    timezoneId: 'America/New_York',
  });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
