// The README's picture of a game in progress: `vrange play` on challenge-2-purge-or-keep (the
// thread's race, with its two goals as challenges), driven in headless Chromium to the moment the
// reclaim has prepared and A's nonvolatile races its commit; a screenshot, then Quit.
//
//   npm run play-picture [-- OUT.png]
//   default: docs/play-picture.png

import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './browser.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const scenario = join(root, 'scenarios', 'challenge-2-purge-or-keep.yaml');
const out = resolve(process.argv[2] ?? join(root, 'docs', 'play-picture.png'));

const game = spawn(process.execPath, [join(root, 'bin', 'vrange.js'), 'play', scenario], { stdio: ['ignore', 'pipe', 'inherit'] });
let printed = '';
game.stdout.on('data', (d: Buffer) => { printed += d.toString(); });
const exited = new Promise<number | null>((r) => game.on('exit', (c) => r(c)));
try {
  let url: string | undefined;
  for (let i = 0; i < 600 && !url; i++) {
    url = /open (http:\S+)/.exec(printed)?.[1];
    if (!url) await new Promise((r) => setTimeout(r, 50));
  }
  if (!url) throw new Error(`vrange play printed no URL: ${printed}`);
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1500, height: 1000 });
    await page.goto(url);
    // A's steps up to its signal, then the kernel's wait and the reclaim's prepare.
    for (const prefix of ['A #0', 'A #1', 'A #2', 'A #3', 'A #4', 'kernel #0', 'kernel: reclaim prepare']) {
      const labels = await page.$$eval('#options button.option', (bs) => bs.map((b) => b.textContent ?? ''));
      const at = labels.findIndex((l) => l.startsWith(prefix));
      if (at < 0) throw new Error(`no action "${prefix}..." among: ${labels.join(' | ')}`);
      await Promise.all([page.waitForEvent('load'), page.click(`#options button.option >> nth=${at}`)]);
    }
    await page.screenshot({ path: out, fullPage: true });
    process.stdout.write(`${out}: a game of ${scenario} in progress (the reclaim prepared, its commit racing A's nonvolatile)\n`);
    await page.click('#quit');
  } finally {
    await browser.close();
  }
  if (await exited !== 0) throw new Error(`vrange play exited ${game.exitCode}: ${printed}`);
} finally {
  if (game.exitCode === null) game.kill('SIGINT');
}
