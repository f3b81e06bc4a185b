// Headless Chromium for the page tests and the README picture: Debian's package at
// /usr/bin/chromium (`.ci/run` installs it), driven by playwright-core. Never downloads a browser,
// never touches the network: every flag below turns off something that would phone home.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

export interface Browser { context: BrowserContext; close: () => Promise<void> }

/** A fresh headless Chromium with its own throw-away profile directory. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} is missing: install Debian's chromium (apt-get install -y chromium; .ci/run does it)`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'vrange-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
