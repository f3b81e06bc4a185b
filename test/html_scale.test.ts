// The --html page of larger runs, in headless Chromium at 1,400 px: real runs (real agents, real
// ZeroMQ) of 3, 8 and 16 processes. Every lane of the space-time diagram is on screen, the page
// never scrolls sideways, a band of equal pages expands into its pages (and each page's states
// are the history's), a long run is paged and the arrow keys walk on across its parts, a 63-step
// page map shows all its columns, and the rows come in the scenario's order.

import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Page } from 'playwright-core';
import { parseScenario } from '../shared/scenario.js';
import { runScenario } from '../harness/run.js';
import { configFor } from './helpers.js';
import { launchChromium, type Browser } from '../scripts/browser.js';
import { renderHtml } from '../report/html.js';
import type { HistoryEvent } from '../coordinator/history.js';
import { decodeSnapshots, drawnCells } from './html_helpers.js';

let browser: Browser;
test.before(async () => { browser = await launchChromium(); });
test.after.always(async () => { await browser?.close(); });

/**
 * `n` processes of `pages` + 4 anonymous pages: `pages` of them written, all marked volatile,
 * reclaimed, touched (SIGBUS handled), unmarked; the 4 never written share their states.
 */
function manyProcesses(n: number, pages: number): string {
  const procs: Record<string, unknown> = {};
  const kernel: unknown[] = [];
  for (let i = 1; i <= n; i++) {
    const steps: unknown[] = [{ op: 'mmap', as: 'buf', pages: pages + 4 }];
    for (let p = 0; p < pages; p++) steps.push({ op: 'write', map: 'buf', page: p, value: `v${p}` });
    steps.push({ op: 'vrange', map: 'buf', page: 0, pages: pages + 4, mode: 'volatile' }, { op: 'signal', name: `m${i}` }, { op: 'wait', name: 'go' },
      { op: 'read', map: 'buf', page: 0 }, { op: 'vrange', map: 'buf', page: 0, pages: pages + 4, mode: 'nonvolatile' });
    procs[`P${i}`] = { sigbus: 'handle', steps };
    kernel.push({ op: 'wait', name: `m${i}` });
  }
  kernel.push({ op: 'reclaim', all: true }, { op: 'signal', name: 'go' });
  return JSON.stringify({ name: `many-${n}`, memory: { frames: n * (pages + 4) + 16 }, processes: procs, kernel });
}

interface Opened { page: Page; history: HistoryEvent[]; errors: string[]; requests: string[] }

async function runAndOpen(text: string): Promise<Opened> {
  const s = parseScenario(text, 'scale.json');
  const { report, history } = await runScenario(s, configFor(s, { seed: 1 }), { pictures: true });
  const file = join(mkdtempSync(join(tmpdir(), 'vrange-html-scale-')), 'run.html');
  writeFileSync(file, renderHtml(report, [], history));
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  const requests: string[] = [];
  page.on('request', (req) => requests.push(req.url()));
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto(pathToFileURL(file).href);
  return { page, history, errors, requests };
}

/** Lane names outside the window, the page's sideways overflow, and the lanes drawn in the visible part. */
const layout = (page: Page) => page.evaluate(() => {
  const names = [...document.querySelectorAll('#spacetime-pane .lane-name')];
  const off = names.filter((el) => { const r = el.getBoundingClientRect(); return r.left < 0 || r.right > window.innerWidth || r.width < 20; }).map((el) => el.textContent);
  const pane = document.getElementById('spacetime-pane')!;
  return { names: names.map((el) => el.textContent ?? ''), off, overflow: document.documentElement.scrollWidth - window.innerWidth,
    paneOverflow: pane.scrollWidth - pane.clientWidth,
    lanes: [...document.querySelectorAll('#spacetime svg.st-win:not([style*="none"]) .lane')].map((el) => el.getAttribute('data-lane')) };
});

for (const [n, pages] of [[3, 4], [8, 6], [16, 8]] as const) {
  test(`${n} processes: every lane on screen at 1,400 px, no sideways scroll, bands expand into the history's pages`, async (t) => {
    const { page, history, errors } = await runAndOpen(manyProcesses(n, pages));
    const l = await layout(page);
    const procs = Array.from({ length: n }, (_, i) => `P${i + 1}`);
    t.deepEqual([...l.names].sort(), ['kernel', ...procs].sort());
    t.deepEqual(l.off, [], 'lane names off-screen');
    t.is(l.overflow, 0, 'the page scrolls sideways');
    t.is(l.paneOverflow, 0, 'the diagram scrolls sideways');
    t.deepEqual([...l.lanes].sort(), ['kernel', ...procs].sort(), 'every lane is drawn in the first part');

    // In the part of the run that holds the reclaim, the 4 pages never written share their
    // states (absent, then volatile, then not), so they form one band at least.
    const reclaim = history.find((e) => e.kind === 'complete' && e.process === 'kernel' && e.op === 'reclaim')!;
    const step = history.filter((e) => e.kind === 'complete').findIndex((e) => e.seq === reclaim.seq) + 1;
    // (a long run: first the part of the run that holds it)
    const part = await page.$eval(`#steps li[data-step="${step}"]`, (el) => el.getAttribute('data-win'));
    if (await page.$('#pager')) await page.selectOption('#part', part!);
    await page.click(`#steps li[data-step="${step}"]`);
    const bands = await page.$$eval('#pagemap .pm-win:not([hidden]) .band', (els) => els.map((el) => [el.getAttribute('data-first'), el.getAttribute('data-n')]));
    t.true(bands.length > 0);
    // Bands tile each row: the total of their pages is every page of every row in the window.
    const rowsInWindow = await page.$$eval('#pagemap .pm-win:not([hidden]) .pm-row', (els) => els.length);
    t.is(bands.reduce((a, [, c]) => a + Number(c), 0), rowsInWindow * (pages + 4));
    const many = await page.$('#pagemap .pm-win:not([hidden]) .band.many');
    t.true(bands.some(([f, c]) => Number(f) + Number(c) === pages + 4 && Number(c) >= 4), 'the untouched pages are one band');
    t.truthy(many, 'some pages share their states and are drawn as one band');
    const count = Number(await many!.getAttribute('data-n'));
    const first = Number(await many!.getAttribute('data-first'));
    const before = await page.$$eval('#pagemap .pm-win:not([hidden]) .band:not(.open)', (els) => els.length);
    await (await many!.$('.pageno'))!.click();
    const clones = await page.$$eval('#pagemap .pm-win:not([hidden]) .band.clone', (els) => els.map((el) => [el.getAttribute('data-first'), el.querySelector('.pageno')!.textContent]));
    t.deepEqual(clones, Array.from({ length: count }, (_, i) => [String(first + i), `page ${first + i}`]));
    t.is(await page.$$eval('#pagemap .pm-win:not([hidden]) .band:not(.open)', (els) => els.length), before - 1 + count);
    t.is((await layout(page)).overflow, 0);
    // Folded again by the same label.
    await (await many!.$('.pageno'))!.click();
    t.is(await page.$$eval('#pagemap .band.clone', (els) => els.length), 0);

    // Every band expanded, each page's state in each column of the part is the history's.
    const decoded = decodeSnapshots(history);
    const shown = new Set(await page.$$eval('#pagemap .pm-win:not([hidden]) .col', (els) => els.map((el) => el.getAttribute('data-snap'))));
    const want: string[] = [];
    decoded.forEach((rows, i) => { if (shown.has(String(i))) for (const [k, letters] of Object.entries(rows)) [...letters].forEach((c, p) => want.push(`${i} ${k} ${p} ${c}`)); });
    t.deepEqual((await drawnCells(page)).map((c) => c.join(' ')).sort(), want.sort());

    // The map never needs a sideways scroll either: every column of the window is on screen.
    const cols = await page.$$eval('#pagemap .pm-win:not([hidden]) .col', (els) => els.map((el) => el.getBoundingClientRect().right));
    t.true(cols.length > 0 && cols.every((r) => r <= 1400), `columns end at ${Math.max(...cols)} px`);
    t.deepEqual(errors, []);
    await page.close();
  });
}

test('16 processes: a long run is paged; the pager and the arrow keys move across parts; every snapshot is a column of one part', async (t) => {
  const { page, history, errors, requests } = await runAndOpen(manyProcesses(16, 8));
  t.deepEqual(requests.filter((u) => !u.startsWith('file:')), [], 'one page, nothing fetched');
  const completes = history.filter((e) => e.kind === 'complete');
  const snapshots = history.filter((e) => e.kind === 'snapshot');
  const parts = await page.$$eval('#part option', (els) => els.map((el) => el.textContent));
  t.true(parts.length >= 3, `${completes.length} steps in ${parts.length} part(s)`);
  t.is(parts[0], `part 1 of ${parts.length}: steps 1\u201380`);
  // Each snapshot is one column, in one part only; each part's columns are consecutive.
  const cols = await page.$$eval('#pagemap .col', (els) => els.map((el) => Number(el.getAttribute('data-snap'))));
  t.deepEqual(cols, snapshots.map((_, i) => i));
  // One part visible at a time, in each view.
  const visible = () => page.evaluate(() => ({
    steps: [...document.querySelectorAll('#steps > li')].filter((el) => !(el as HTMLElement).hidden).map((el) => el.getAttribute('data-step')),
    maps: [...document.querySelectorAll('#pagemap .pm-win')].filter((el) => !(el as HTMLElement).hidden).map((el) => el.getAttribute('data-win')),
    diagrams: [...document.querySelectorAll('#spacetime svg.st-win')].filter((el) => (el as SVGElement).style.display !== 'none').map((el) => el.getAttribute('data-win')),
  }));
  let v = await visible();
  t.is(v.steps.length, 80);
  t.deepEqual([v.maps, v.diagrams], [['0'], ['0']]);
  await page.click('#pager button[data-move="1"]');
  v = await visible();
  t.deepEqual([v.maps, v.diagrams], [['1'], ['1']]);
  t.is(v.steps[0], '81');
  // From step 80, the down arrow selects step 81 and shows its part.
  await page.selectOption('#part', '0');
  t.deepEqual((await visible()).maps, ['0']);
  await page.click('#steps li[data-step="80"]');
  await page.keyboard.press('ArrowDown');
  t.deepEqual(await attrsOf(page, '#steps li.hl'), ['81']);
  v = await visible();
  t.deepEqual([v.maps, v.diagrams], [['1'], ['1']]);
  t.is(await page.$eval('#part', (el) => (el as HTMLSelectElement).value), '1', 'the pager follows');
  t.deepEqual(await attrsOf(page, '#pagemap .col.hl'), ['81'], 'the column of step 81 is lit');
  // Every arrow is drawn once, in the part of its step.
  t.is(await page.$$eval('#spacetime .arrow', (els) => els.length), history.filter((e) => e.kind === 'message').length);
  t.deepEqual(errors, []);
  await page.close();
});

const attrsOf = (page: Page, sel: string) => page.$$eval(sel, (els) => els.map((el) => el.getAttribute('data-step')));

test('a 63-step page map shows all its columns at 1,400 px (none cut off at column 52)', async (t) => {
  const steps: unknown[] = [{ op: 'mmap', as: 'buf', pages: 4 }];
  for (let i = 0; i < 61; i++) steps.push({ op: 'write', map: 'buf', page: i % 4, value: `v${i}` });
  steps.push({ op: 'vrange', map: 'buf', page: 0, pages: 4, mode: 'volatile' });
  const { page, history, errors } = await runAndOpen(JSON.stringify({ name: 'sixty-three', processes: { A: { steps } } }));
  t.is(history.filter((e) => e.kind === 'complete').length, 63);
  const snaps = history.filter((e) => e.kind === 'snapshot').length;
  const cols = await page.$$eval('#pagemap .pm-win:not([hidden]) .col', (els) => els.map((el) => { const r = el.getBoundingClientRect(); return [r.left, r.right]; }));
  t.is(cols.length, snaps, 'every snapshot is a column of the one part');
  const visibleRight = await page.$eval('#pagemap', (el) => el.closest('.scroll-x')!.getBoundingClientRect().right);
  t.true(cols.every(([, r]) => r! <= visibleRight), `last column ends at ${cols[cols.length - 1]![1]} px, the map's box at ${visibleRight} px`);
  t.is(await page.$eval('#pagemap', (el) => { const box = el.closest('.scroll-x')!; return box.scrollWidth - box.clientWidth; }), 0);
  t.is(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth), 0);
  t.deepEqual(errors, []);
  await page.close();
});

test('page-map rows come in the scenario\'s order, not in the order the processes appeared', async (t) => {
  // Z is declared first but forked by A: A's binding appears first in the history.
  const { page, errors } = await runAndOpen(JSON.stringify({ name: 'row-order', files: [{ name: 'f', pages: 2 }], processes: {
    Z: { forked: true, steps: [{ op: 'mmap', as: 'own', pages: 2 }, { op: 'write', map: 'own', page: 0, value: 'z' }] },
    A: { steps: [{ op: 'mmap', as: 'a1', pages: 2 }, { op: 'open', file: 'f' }, { op: 'mmap', as: 'a2', fd: 'f', pages: 2 }, { op: 'fork', child: 'Z' }, { op: 'waitpid', process: 'Z' }] },
  } }));
  const labels = await page.$$eval('#pagemap .pm-win:not([hidden]) .rowlabel', (els) => els.map((el) => el.firstChild!.textContent!.trim()));
  t.deepEqual(labels, ['Z \u00b7 a1', 'Z \u00b7 a2', 'Z \u00b7 own', 'A \u00b7 a1', 'A \u00b7 a2', 'file f']);
  t.deepEqual(errors, []);
  await page.close();
});

/** The history with its delta snapshots rewritten in the older form: every live row in full, `at`/`total` for a long row. */
function asFullSnapshots(history: HistoryEvent[]): HistoryEvent[] {
  const decoded = decodeSnapshots(history);
  const kinds = new Map<string, Record<string, unknown>>();
  let i = 0;
  return history.map((e) => {
    if (e.kind !== 'snapshot') return e;
    const rows = decoded[i++]!;
    for (const r of [...e.maps, ...e.files] as Array<Record<string, unknown>>) {
      kinds.set(r.process !== undefined ? `${String(r.process)}:${String(r.name)}` : `file ${String(r.file)}`, r);
    }
    const full = (k: string, letters: string) => {
      const { set: _set, size, sparse, ...rest } = kinds.get(k)! as { set: unknown; size: number; sparse?: boolean };
      if (!sparse) return { ...rest, pages: letters };
      const at = [...(kinds.get(`${k}#at`) as unknown as number[] ?? [])];
      return { ...rest, pages: letters, at, total: size };
    };
    // A long row's page numbers: those its runs named so far.
    for (const r of [...e.maps, ...e.files] as Array<{ sparse?: boolean; set: Array<[number, number, string]>; process?: string; name?: string; file?: string }>) {
      if (!r.sparse) continue;
      const k = r.process !== undefined ? `${r.process}:${r.name}` : `file ${r.file}`;
      const at = new Set((kinds.get(`${k}#at`) as unknown as number[]) ?? []);
      for (const [p, n] of r.set) for (let j = 0; j < n; j++) at.add(p + j);
      kinds.set(`${k}#at`, [...at].sort((a, b) => a - b) as unknown as Record<string, unknown>);
    }
    const { delta: _d, gone: _g, ...rest } = e;
    return { ...rest, maps: Object.entries(rows).filter(([k]) => !k.startsWith('file ')).map(([k, l]) => full(k, l)),
      files: Object.entries(rows).filter(([k]) => k.startsWith('file ')).map(([k, l]) => full(k, l)) } as unknown as HistoryEvent;
  });
}

test('a history of the older form (full rows, `at` for a long row) draws the same page map as its delta form', async (t) => {
  const s = parseScenario(`name: old-form
files: [{ name: f, pages: 4 }]
processes:
  A:
    steps:
      - { op: mmap, as: big, pages: 300 }
      - { op: write, map: big, page: 5, value: x }
      - { op: write, map: big, page: 250, value: y }
      - { op: vrange, map: big, page: 0, pages: 300, mode: volatile }
      - { op: open, file: f }
      - { op: mmap, as: m, fd: f, pages: 4 }
      - { op: write, map: m, page: 1, value: z }
      - { op: fork, child: B }
      - { op: signal, name: forked }
      - { op: wait, name: done }
  B: { forked: true, steps: [{ op: write, map: big, page: 7, value: b }] }
kernel: [{ op: wait, name: forked }, { op: waitpid, process: B }, { op: reclaim, all: true }, { op: signal, name: done }]
`, 'old-form.yaml');
  const { report, history } = await runScenario(s, configFor(s, { seed: 1 }), { pictures: true });
  const map = (h: HistoryEvent[]) => /<div id="pagemap">[\s\S]*?<\/section>/.exec(renderHtml(report, [], h))![0];
  const delta = map(history);
  t.true(history.some((e) => e.kind === 'snapshot' && (e.maps as Array<{ sparse?: boolean }>).some((r) => r.sparse)), 'a long row');
  t.true(history.some((e) => e.kind === 'snapshot' && e.gone !== undefined), 'a row gone (B died)');
  const old = asFullSnapshots(history);
  t.false(old.some((e) => e.kind === 'snapshot' && (e.delta || e.maps.some((r) => !('pages' in r)))));
  t.is(map(old), delta);
  t.regex(delta, /300 pages, only the 3 touched drawn/);
});
