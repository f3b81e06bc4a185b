// The `--html` page of a large run: 16 processes of 63 anonymous pages each (1,008 pages), every
// page written one step at a time, marked volatile, reclaimed, touched again (SIGBUS, handled) and
// marked non-volatile: about 1,100 lockstep steps. Measured: the run with the page's snapshots
// (`pictures`), the drawing of the page (renderHtml), its size, and headless Chromium's time to
// load and lay it out at 1,400 px (the load event, then a forced layout), plus whether every lane of
// the space-time diagram is on screen and the page has no horizontal overflow. The same run
// without --html is measured too: on a shared machine the run itself (16 agents, lockstep) is
// most of the time, and what the pictures add is the difference.
//
//   node dist/bench/html.bench.js [--quick] [--repeats N] [--json [FILE]]

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runScenario } from '../harness/run.js';
import { runConfigFor } from '../shared/run_config.js';
import { header, footer } from '../report/report.js';
import { renderHtml } from '../report/html.js';
import { reproduce } from '../harness/command.js';
import { launchChromium } from '../scripts/browser.js';
import { emit, nowMs, parseArgs, summarise, type Row } from './lib.js';
import { scenarioOf } from './harness.js';

/** `processes` processes of `pages` anonymous pages each (16 x 63 = 1,008 pages). */
export function bigScenario(processes: number, pages: number): unknown {
  const procs: Record<string, unknown> = {};
  const kernel: unknown[] = [];
  for (let i = 1; i <= processes; i++) {
    const steps: unknown[] = [{ op: 'mmap', as: 'buf', pages }];
    for (let p = 0; p < pages; p++) steps.push({ op: 'write', map: 'buf', page: p, value: `P${i}-${p}` });
    steps.push({ op: 'vrange', map: 'buf', page: 0, pages, mode: 'volatile' });
    steps.push({ op: 'signal', name: `marked${i}` }, { op: 'wait', name: 'reclaimed' });
    steps.push({ op: 'read', map: 'buf', page: 0 }, { op: 'vrange', map: 'buf', page: 0, pages, mode: 'nonvolatile' });
    procs[`P${i}`] = { sigbus: 'handle', steps };
    kernel.push({ op: 'wait', name: `marked${i}` });
  }
  kernel.push({ op: 'reclaim', all: true }, { op: 'signal', name: 'reclaimed' });
  return { name: `bench-html-${processes}x${pages}`, memory: { frames: processes * pages + 64 }, processes: procs, kernel };
}

const loadTimeoutMs = 100_000;

interface Sample { plainMs: number; plainCpuMs: number; cpuMs: number; runMs: number; renderMs: number; bytes: number; loadMs: number; lanesOff: number; overflow: number; heapMb: number }

async function once(processes: number, pages: number, dir: string, browser: Awaited<ReturnType<typeof launchChromium>> | undefined): Promise<Sample> {
  const scenario = scenarioOf(bigScenario(processes, pages));
  const config = runConfigFor(scenario, { seed: 1, schedule: 'lockstep' });
  const lines: string[] = [...header(scenario, config)];
  // The same run without the pictures: what the run costs whatever the page (the machine is shared).
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  const p0 = nowMs(), pc = cpu();
  await runScenario(scenario, config, {});
  const plainMs = nowMs() - p0, plainCpuMs = cpu() - pc;
  const t0 = nowMs(), tc = cpu();
  const { report, history } = await runScenario(scenario, config, { pictures: true, narrate: (l) => lines.push(l) });
  const t1 = nowMs();
  lines.push(...footer(report, reproduce('bench.json', config)));
  const html = renderHtml(report, lines, history, {});
  const t2 = nowMs(), cpuMs = cpu() - tc;
  const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
  const file = join(dir, 'run.html');
  writeFileSync(file, html);
  let loadMs = NaN, lanesOff = NaN, overflow = NaN;
  if (browser) {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1400, height: 1000 });
    const l0 = nowMs();
    process.stderr.write(`  run ${Math.round(t1 - t0)} ms, renderHtml ${Math.round(t2 - t1)} ms, ${Buffer.byteLength(html).toLocaleString('en')} bytes; loading in Chromium...\n`);
    try {
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load', timeout: loadTimeoutMs });
      await page.evaluate(() => document.body.getBoundingClientRect().height); // a forced layout
    } catch (e) {
      process.stderr.write(`  Chromium did not load the page in ${loadTimeoutMs / 1000} s: ${(e as Error).message.split('\n')[0]}\n`);
      await page.close();
      return { plainMs, plainCpuMs, cpuMs, runMs: t1 - t0, renderMs: t2 - t1, bytes: Buffer.byteLength(html), loadMs: Infinity, lanesOff, overflow, heapMb };
    }
    loadMs = nowMs() - l0;
    ({ lanesOff, overflow } = await page.evaluate(() => {
      const lanes = [...document.querySelectorAll('#spacetime-pane .lane-name')].filter((el) => (el as HTMLElement).offsetParent !== null);
      const off = lanes.filter((el) => { const r = el.getBoundingClientRect(); return r.right > window.innerWidth || r.left < 0; }).length;
      return { lanesOff: off, overflow: document.documentElement.scrollWidth - window.innerWidth };
    }));
    await page.close();
  }
  return { plainMs, plainCpuMs, cpuMs, runMs: t1 - t0, renderMs: t2 - t1, bytes: Buffer.byteLength(html), loadMs, lanesOff, overflow, heapMb };
}

async function main(): Promise<void> {
  const args = parseArgs();
  const repeats = args.repeats ?? (args.quick ? 1 : 3);
  const [processes, pages] = args.quick ? [8, 32] : [16, 63];
  const dir = mkdtempSync(join(tmpdir(), 'vrange-bench-html-'));
  const browser = process.env.VRANGE_BENCH_NO_BROWSER ? undefined : await launchChromium();
  const samples: Sample[] = [];
  try {
    for (let r = 0; r < repeats; r++) samples.push(await once(processes, pages, dir, browser));
  } finally {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const col = (f: (s: Sample) => number) => summarise(samples.map(f));
  const total = col((s) => s.runMs + s.renderMs);
  const rows: Row[] = [
    { name: 'run with --html pictures + render', unit: 'ms', summary: total, ratio: total.median / 2000, against: 'the 2 s goal' },
    { name: '  of which the run', unit: 'ms', summary: col((s) => s.runMs) },
    { name: '  of which renderHtml', unit: 'ms', summary: col((s) => s.renderMs) },
    { name: 'the same run without --html', unit: 'ms', summary: col((s) => s.plainMs) },
    { name: 'kernel-process CPU: run + render with --html', unit: 'ms', summary: col((s) => s.cpuMs) },
    { name: 'kernel-process CPU: the run without --html', unit: 'ms', summary: col((s) => s.plainCpuMs) },
    { name: 'what --html adds (run + render - plain run)', unit: 'ms', summary: col((s) => s.runMs + s.renderMs - s.plainMs), ratio: col((s) => s.runMs + s.renderMs - s.plainMs).median / 2000, against: 'the 2 s goal' },
    { name: 'page size', unit: 'bytes', summary: col((s) => s.bytes), ratio: col((s) => s.bytes).median / 5e6, against: 'the 5 MB goal' },
    { name: 'Chromium load + layout at 1,400 px', unit: 'ms', summary: col((s) => s.loadMs), ratio: col((s) => s.loadMs).median / 3000, against: 'the 3 s goal' },
    { name: 'lanes off-screen / horizontal overflow', unit: 'lanes / px', summary: col((s) => s.lanesOff), extra: { overflowPx: col((s) => s.overflow).median, heapMbAfterRender: col((s) => s.heapMb).median } },
  ];
  const met = total.median < 2000 && col((s) => s.bytes).median < 5e6 && col((s) => s.loadMs).median < 3000 && col((s) => s.lanesOff).max === 0;
  emit({ bench: 'html', what: `--html of a ${processes}-process, ${processes * pages}-page lockstep run (seed 1)`,
    goal: 'under 2 s, a page under 5 MB, Chromium renders it in under 3 s, no lane off-screen at 1,400 px', goalMet: met, rows }, args);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main().catch((e) => { console.error(e); process.exit(1); });
