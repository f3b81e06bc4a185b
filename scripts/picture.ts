// The README's picture: runs the demonstration scenario with --html through the real CLI, opens
// the page in headless Chromium, selects the reclaim step and saves a screenshot.
//
//   npm run picture [-- SCENARIO [OUT.png [STEP]]]
//   default: scenarios/fork-cow-purge.yaml, docs/run-picture.png, the first kernel reclaim step

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { launchChromium } from './browser.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const scenario = process.argv[2] ?? join(root, 'scenarios', 'fork-cow-purge.yaml');
const out = resolve(process.argv[3] ?? join(root, 'docs', 'run-picture.png'));
const html = join(mkdtempSync(join(tmpdir(), 'vrange-picture-')), 'run.html');

const run = spawnSync(process.execPath, [join(root, 'bin', 'vrange.js'), 'run', scenario, '--seed', '1', '--html', html], { encoding: 'utf8' });
if (run.status !== 0 && run.status !== 1) {
  process.stderr.write(run.stderr);
  process.exit(2);
}
const browser = await launchChromium();
try {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1500, height: 1000 });
  await page.goto(pathToFileURL(html).href);
  const step = process.argv[4] ?? await page.evaluate(() => {
    const rows = [...document.querySelectorAll<HTMLElement>('#steps > li.step-row')];
    const reclaim = rows.find((r) => r.textContent?.includes('reclaim'));
    return (reclaim ?? rows[0])?.dataset.step ?? '1';
  });
  // A long run is paged: first show the part of the run that holds the step.
  const part = await page.$eval(`#steps [data-step="${step}"]`, (el) => el.getAttribute('data-win'));
  if (part !== null && await page.$('#pager')) await page.selectOption('#part', part);
  await page.click(`#steps [data-step="${step}"]`);
  await page.screenshot({ path: out, fullPage: true });
  process.stdout.write(`${out}: ${scenario} with step ${step} selected (the page: ${html})\n`);
} finally {
  await browser.close();
}
