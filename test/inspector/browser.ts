import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { isCi } from '../support/postgres.js';

/** Debian's Chromium: `.ci/run` installs it when it is missing (Playwright's own download cannot work here). */
export const CHROMIUM = process.env['SAGAFLOW_TEST_CHROMIUM'] ?? '/usr/bin/chromium';

/** Whether a browser is there; in CI a missing one fails the run (a skipped browser test proves nothing). */
export function chromiumForTests(): boolean {
  if (existsSync(CHROMIUM)) return true;
  const message = `Chromium is not installed at ${CHROMIUM}: apt-get install -y chromium (or point SAGAFLOW_TEST_CHROMIUM at one).`;
  if (isCi()) throw new Error(`${message} (CI is set, so a missing browser fails the run)`);
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\nSKIPPING the browser tests: ${message}\n${bar}\n`);
  return false;
}

/** A headless Chromium with a profile of its own, for one test file. */
export async function launchBrowser(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'sagaflow-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Serves a handler on 127.0.0.1 at a free port. */
export async function serve(handler: RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
