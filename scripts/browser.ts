// Headless Chromium for the page tests and the README picture: Debian's package at
// /usr/bin/chromium (`.ci/run` installs it), driven by playwright-core. Never downloads a browser,
// never touches the network: every flag below turns off something that would phone home.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  close: () => Promise<void>;
  /** A new page, its Chromium target noted for closePage; within 30 s. */
  newPage: () => Promise<Page>;
  /**
   * Closes a page of newPage, within 20 s or an error. Chromium drops a `Target.closeTarget` that
   * races a navigation's commit and then never closes the page (crbug.com/536385539; playwright
   * issues 41900, 42068, 42366: playwright's `page.close()` then waits for ever). So: a close not
   * done within 5 s is sent again, at most three times; `note` is told when it is.
   */
  closePage: (page: Page, note?: (line: string) => void) => Promise<void>;
}

const pageWaitMs = 30_000;
const closeTryMs = 5_000;

/** `p` within `ms`, else an error naming `what`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms / 1000} s`)), ms); });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

const settles = (p: Promise<unknown>, ms: number) => within(p.then(() => true, () => true), ms, '').catch(() => false);

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
  const targets = new WeakMap<Page, string>();
  return {
    context,
    close: async () => {
      await within(context.close(), pageWaitMs, 'closing Chromium');
      rmSync(profile, { recursive: true, force: true });
    },
    newPage: async () => {
      const page = await within(context.newPage(), pageWaitMs, 'a new page in Chromium');
      page.setDefaultTimeout(pageWaitMs);
      const cdp = await within(context.newCDPSession(page), pageWaitMs, "the new page's CDP session");
      const { targetInfo } = await within(cdp.send('Target.getTargetInfo'), pageWaitMs, "the new page's target");
      await cdp.detach();
      targets.set(page, targetInfo.targetId);
      return page;
    },
    closePage: async (page, note) => {
      const closing = page.close();
      for (let attempt = 1; attempt <= 3; attempt++) {
        if (await settles(closing, closeTryMs)) return;
        const targetId = targets.get(page);
        const browser = context.browser();
        if (!targetId || !browser) break;
        note?.(`page.close() of ${page.url()} not done within ${(attempt * closeTryMs) / 1000} s: Target.closeTarget again (crbug.com/536385539)`);
        const cdp = await within(browser.newBrowserCDPSession(), pageWaitMs, 'a CDP session of Chromium');
        await within(cdp.send('Target.closeTarget', { targetId }), pageWaitMs, 'Target.closeTarget').catch(() => {});
        await cdp.detach().catch(() => {});
      }
      if (!await settles(closing, closeTryMs)) throw new Error(`the page ${page.url()} did not close within ${(4 * closeTryMs) / 1000} s (Target.closeTarget sent again three times)`);
    },
  };
}
