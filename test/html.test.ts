// The --html page in a real browser: real runs through the CLI (real agents, real ZeroMQ) write
// the page and the --trace history; headless Chromium (Debian's /usr/bin/chromium) loads the page
// from a file, and the lanes, arrows, page cells, markers and step selection are checked against
// the history. The page must log no error and fetch nothing but itself.

import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { cli, configFor, scenarioPath, runFile } from './helpers.js';
import { loadScenario } from '../shared/scenario.js';
import { runScenario } from '../harness/run.js';
import { launchChromium, type Browser } from '../scripts/browser.js';
import { renderHtml } from '../report/html.js';
import type { HistoryEvent } from '../coordinator/history.js';
import { decodeSnapshots, drawnCells } from './html_helpers.js';

let browser: Browser;
test.before(async () => { browser = await launchChromium(); });
test.after.always(async () => { await browser?.close(); });

interface Loaded { page: Page; history: HistoryEvent[]; errors: string[]; requests: string[] }

/** `vrange run NAME --seed 1 --html --trace`, then the page opened from its file. */
async function runAndOpen(name: string): Promise<Loaded> {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-html-'));
  const html = join(dir, 'run.html');
  const trace = join(dir, 'run.jsonl');
  const r = await cli(['run', scenarioPath(name), '--seed', '1', '--html', html, '--trace', trace]);
  if (r.code !== 0) throw new Error(`vrange run ${name} exited ${r.code}: ${r.stderr}`);
  const history = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as HistoryEvent);
  const page = await browser.context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (req) => requests.push(req.url()));
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto(pathToFileURL(html).href);
  return { page, history, errors, requests };
}

const attrs = (page: Page, selector: string, names: string[]) =>
  page.$$eval(selector, (els, names) => els.map((el) => names.map((n) => el.getAttribute(n) ?? '')), names);

test('fork-cow-purge: lanes, arrows and page cells are the history\'s; a click selects a step everywhere', async (t) => {
  const { page, history, errors, requests } = await runAndOpen('fork-cow-purge');

  // One lane per process and one for the kernel.
  const births = history.filter((e) => e.kind === 'birth').map((e) => e.process as string);
  t.deepEqual(births, ['A', 'B']);
  t.deepEqual((await attrs(page, '#spacetime .lane', ['data-lane'])).map(([l]) => l), ['kernel', ...births]);

  // One arrow per message event, same direction, agent and message type, in the same order.
  const messages = history.filter((e) => e.kind === 'message');
  t.true(messages.length > 30, `${messages.length} messages`);
  t.deepEqual(await attrs(page, '#spacetime .arrow', ['data-seq', 'data-dir', 'data-agent', 'data-t']),
    messages.map((e) => [String(e.seq), e.dir as string, e.agent as string, (e.msg as { t: string }).t]));

  // Every page cell is the state the snapshot recorded, and there is no other cell.
  const snapshots = history.filter((e) => e.kind === 'snapshot');
  const completes = history.filter((e) => e.kind === 'complete');
  const cleanups = history.filter((e) => e.kind === 'cleanup');
  t.is(snapshots.length, completes.length + cleanups.length, 'one snapshot after each step and each cleanup');
  t.true(snapshots.every((s) => s.delta === true), 'the history records only what changed');
  const decoded = decodeSnapshots(history);
  const want: string[][] = [];
  decoded.forEach((rows, i) => { for (const [k, letters] of Object.entries(rows)) [...letters].forEach((c, p) => want.push([String(i), k, String(p), c])); });
  const cells = await drawnCells(page);
  t.deepEqual(cells.map((c) => c.join(' ')).sort(), want.map((c) => c.join(' ')).sort());

  // The snapshots themselves tell the story of the scenario.
  const after = (process: string, index: number) => {
    const c = completes.find((e) => e.process === process && e.index === index)!;
    return decoded[snapshots.findIndex((x) => x.after === c.seq)]!;
  };
  t.deepEqual(after('A', 3), { 'A:buf': 'RRAA' }, 'two pages written, all four marked volatile');
  t.deepEqual(after('A', 4), { 'A:buf': 'CCAA', 'B:buf': 'CCAA' }, 'after fork both share the frames copy-on-write');
  t.deepEqual(after('B', 0), { 'A:buf': 'CRAA', 'B:buf': 'CRAA' }, 'B\'s write broke the sharing of page 1');
  t.deepEqual(after('kernel', 2), { 'A:buf': 'PPAA', 'B:buf': 'PPAA' }, 'reclaim purged every resident volatile page');
  // (Seed 1 runs A's nonvolatile before B's last read: B, not yet dead of SIGBUS, keeps its own marks.)
  t.deepEqual(after('A', 7), { 'A:buf': 'aaaa', 'B:buf': 'PPAA' }, 'nonvolatile clears volatility and the purged marks in its own mm only');

  // Clicking the reclaim step highlights it in the list, the diagram and the page map.
  const reclaim = completes.findIndex((e) => e.process === 'kernel' && e.op === 'reclaim');
  const key = String(reclaim + 1);
  await page.click(`#steps li[data-step="${key}"]`);
  t.deepEqual(await attrs(page, '#steps li.hl', ['data-step']), [[key]]);
  t.is(await page.textContent('#selected'), `Step ${key}: kernel #2 reclaim all=true \u2192 ok freed=3`);
  t.deepEqual(await attrs(page, '#spacetime .bar.hl', ['data-step', 'data-process']), [[key, 'kernel']]);
  const col = snapshots.findIndex((s) => s.after === completes[reclaim]!.seq);
  t.deepEqual(await attrs(page, '#pagemap .col.hl', ['data-snap']), [[String(col)]]);
  const lit = (await attrs(page, '#spacetime .arrow.hl', ['data-t', 'data-agent'])).map(([m, a]) => `${m} ${a}`).sort();
  t.deepEqual(lit, ['commit A', 'commit B', 'committed A', 'committed B', 'prepare A', 'prepare B', 'prepared A', 'prepared B']);
  const decisions = history.filter((e) => e.kind === 'decision').length;
  t.is(decisions, 3);
  t.is((await page.$$('#spacetime .marker.decision.hl')).length, decisions);
  t.is(await page.$$eval('.hl', (els) => els.filter((el) => el.getAttribute('data-step') !== els[0]!.getAttribute('data-step')).length), 0);

  // The arrow keys walk the list: one step down selects the next entry.
  await page.keyboard.press('ArrowDown');
  t.deepEqual(await attrs(page, '#steps li.hl', ['data-step']), [[String(reclaim + 2)]]);

  t.deepEqual(errors, []);
  t.true(requests.every((u) => u.startsWith('file:')), `the page fetched ${requests.join(', ')}`);
  await page.close();
});

test('anon-sigbus: SIGBUS is marked on each lane that got it, and A\'s death and cleanup', async (t) => {
  const { page, history, errors } = await runAndOpen('anon-sigbus');
  const sigbus = history.filter((e) => e.kind === 'complete' && (e.result as { ok: boolean; signal?: string }).signal === 'SIGBUS'
    && !(e.result as { ok: boolean }).ok).map((e) => e.process as string);
  t.deepEqual([...sigbus].sort(), ['A', 'B', 'B'], 'A dies of its SIGBUS; B handles two');
  t.deepEqual((await attrs(page, '#spacetime .marker.sigbus', ['data-lane'])).map(([l]) => l).sort(), [...sigbus].sort());
  const cleanups = await page.$$eval('#spacetime .marker.cleanup', (els) => els.map((el) => `${el.getAttribute('data-lane')}: ${el.textContent}`));
  t.true(cleanups.some((c) => c.startsWith('A: killed by SIGBUS')), cleanups.join(' | '));
  t.deepEqual(errors, []);
  await page.close();
});

test('kill-cleanup: the kernel\'s SIGKILL is marked on V\'s lane, the crash as C\'s death', async (t) => {
  const { page, history, errors } = await runAndOpen('kill-cleanup');
  t.is(history.filter((e) => e.kind === 'kill').length, 1);
  t.deepEqual(await attrs(page, '#spacetime .marker.kill', ['data-lane']), [['V']]);
  const cleanups = await page.$$eval('#spacetime .marker.cleanup', (els) => els.map((el) => `${el.getAttribute('data-lane')}: ${el.textContent}`));
  t.true(cleanups.some((c) => c.startsWith('V: killed by SIGKILL')));
  t.true(cleanups.some((c) => c.startsWith('C: killed by SIGKILL')));
  // A death's page-map column (marked with a dagger) selects its cleanup in the list.
  const deathCols = await page.$$('#pagemap .col text.death');
  t.is(deathCols.length, history.filter((e) => e.kind === 'cleanup').length);
  await deathCols[0]!.click();
  const row = await page.$eval('#steps li.hl', (el) => el.textContent ?? '');
  t.regex(row, /V killed by SIGKILL; cleanup freed/);
  t.deepEqual(errors, []);
  await page.close();
});

test('without --html a run records no snapshots and no messages, and its page says so', async (t) => {
  const outcome = await runFile(scenarioPath('fork-cow-purge'));
  t.false(outcome.history.some((e) => e.kind === 'snapshot' || e.kind === 'message'));
  const html = renderHtml(outcome.report, [], outcome.history);
  t.regex(html, /no page snapshots/);
  t.regex(html, /no messages/);
  t.regex(html, /class="step-row/);
});

test('file-private-mapper: snapshots show the page cache, the shared and the private mapping', async (t) => {
  const s = loadScenario(scenarioPath('file-private-mapper'));
  const { history } = await runScenario(s, configFor(s), { pictures: true });
  const reclaim = history.find((e) => e.kind === 'complete' && e.process === 'kernel' && e.op === 'reclaim')!;
  const snaps = history.filter((e) => e.kind === 'snapshot');
  const rows = decodeSnapshots(history)[snaps.findIndex((e) => e.after === reclaim.seq)]!;
  t.deepEqual(rows, {
    'S:m': 'PRPP',   // pages 0, 2, 3 purged; page 1 kept, still volatile in the file
    'P:m': 'acra',   // page 1 shares the page-cache page; page 2 is P's own copy
    'file f': 'PCPP', // the file's own view: page 1 shared with P's private mapping
  });
});
