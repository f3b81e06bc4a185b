// The README's picture of a game in progress: `vrange play` on challenge-2-purge-or-keep (the
// thread's race, with its two goals as challenges), driven in headless Chromium to the moment the
// reclaim has prepared and A's nonvolatile races its commit; a screenshot, then Quit.
//
//   npm run play-picture [-- OUT.png]
//   default: docs/play-picture.png (`npm run picture` makes it too, before the run's picture)
//
// Every wait is bounded (a stuck game or page is an error naming it, never a hang).

import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, within } from './browser.js';

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
    // The model's classes first (the page reloads itself while it waits for them; the picture shows them).
    const u = new URL(url);
    for (let i = 0; ; i++) {
      const r = await fetch(`${u.origin}/state${u.search}`, { signal: AbortSignal.timeout(20_000) });
      if (((await r.json()) as { classes: { state: string } }).classes.state !== 'computing') break;
      if (i === 600) throw new Error('the classes were still being computed after 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    const page = await browser.newPage();
    await within(page.setViewportSize({ width: 1500, height: 1000 }), 30_000, 'the page: setViewportSize');
    await page.goto(url);
    // A's steps up to its signal, then the kernel's wait and the reclaim's prepare.
    for (const prefix of ['A #0', 'A #1', 'A #2', 'A #3', 'A #4', 'kernel #0', 'kernel: reclaim prepare']) {
      const labels = await within(page.$$eval('#options button.option', (bs) => bs.map((b) => b.textContent ?? '')), 30_000, 'the page: the option buttons');
      const at = labels.findIndex((l) => l.startsWith(prefix));
      if (at < 0) throw new Error(`no action "${prefix}..." among: ${labels.join(' | ')}`);
      await Promise.all([page.waitForEvent('load'), page.click(`#options button.option >> nth=${at}`)]);
    }
    await page.screenshot({ path: out, fullPage: true });
    process.stdout.write(`${out}: a game of ${scenario} in progress (the reclaim prepared, its commit racing A's nonvolatile)\n`);
    await Promise.all([page.waitForEvent('load'), page.click('#quit')]);
    await browser.closePage(page, (l) => process.stderr.write(`${l}\n`));
  } finally {
    await browser.close();
  }
  if (await within(exited, 60_000, 'vrange play to exit after Quit') !== 0) throw new Error(`vrange play exited ${game.exitCode}: ${printed}`);
} finally {
  if (game.exitCode === null) game.kill('SIGINT');
}
