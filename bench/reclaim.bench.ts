// (4) Reclaim: one process writes N anonymous pages, marks them volatile and forks 15 children,
// so 16 agents share N volatile pages copy-on-write; then the kernel runs one `reclaim all`.
// Figures, from the reclaim step's start (after the forced GC, below) to its end in the history: pages purged per second,
// and kernel-agent messages (both directions) per purged page. N = 25,000, 50,000, 100,000: the
// time should grow linearly, so the rate stays flat. Baseline: the smallest N. Also the kernel
// heap's growth over the reclaim step (heapUsed + arrayBuffers at its end minus at its start,
// after a full GC at its start when node runs with --expose-gc).
// Goals: under 0.01 messages per purged page (the exchange is batched, not per page); at least
// 1,000,000 pages/s at 100,000 pages and a heap growth under 100 MB (issue 14).
//
// Cold and warm (issue 14, "rate flat"): the figures above are the cold ones, each run's first
// reclaim, in a fresh kernel and 16 fresh agents (the first run of the bench process also pays
// V8's first compile of the reclaim path). Each run then goes on: the parent maps, writes and
// marks a second region of N pages and forks 15 new children, and the kernel runs a second
// `reclaim all` of N pages, timed the same way: the warm figure, printed beside the cold one, never
// instead of it (the same kernel, its reclaim path run once; the 15 children are new processes).
// And, for judging "flat": the marginal rate between each size and the one before (pages added
// over time added, medians), and a least-squares fit over every sample, time = fixed + pages x
// per-page, printed as the fixed ms and the per-page rate (1 / per-page), cold and warm.
//
// Run: node [--expose-gc] dist/bench/reclaim.bench.js [--json [FILE]] [--quick] [--repeats N] [--sizes N,N,...]
// --sizes 1000000: the largest size the scenario limits allow in one scenario is under 250,000
// pages (stepsPerProcessMax: one write step a page); past that the bench builds the scenario
// without the loader's limits (the same schema otherwise) and gives the run a bound of 3 ms a step.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { emit, parseArgs, summarise, type Row } from './lib.js';
import { runBench, scenarioOf } from './harness.js';
import type { Scenario } from '../shared/scenario-types.js';
import { stepsPerProcessMax } from '../shared/limits.js';
import { roundFloor } from './transport.bench.js';

const agents = 16;

export function reclaimScenario(pages: number): unknown {
  const parent: unknown[] = [{ op: 'mmap', as: 'a', pages }];
  for (let j = 0; j < pages; j++) parent.push({ op: 'write', map: 'a', page: j, value: `p${j}` });
  parent.push({ op: 'vrange', map: 'a', page: 0, pages, mode: 'volatile' });
  const processes: Record<string, unknown> = { P: { steps: parent } };
  for (let c = 1; c < agents; c++) {
    parent.push({ op: 'fork', child: `C${c}` });
    processes[`C${c}`] = { forked: true, steps: [{ op: 'wait', name: 'purged' }] };
  }
  parent.push({ op: 'signal', name: 'forked' }, { op: 'wait', name: 'purged' });
  // The warm round: a second region of N pages shared by the parent and 15 new children (the first
  // 15 have ended), reclaimed by the same kernel. Written from its last page down: the frames the
  // first reclaim freed come back last-freed first (frames.ts), so page j gets frame j again and the
  // region is one run of frames, as the first was (written upwards, it would be N runs of one page).
  parent.push({ op: 'mmap', as: 'b', pages });
  for (let j = pages - 1; j >= 0; j--) parent.push({ op: 'write', map: 'b', page: j, value: `q${j}` });
  parent.push({ op: 'vrange', map: 'b', page: 0, pages, mode: 'volatile' });
  for (let c = 1; c < agents; c++) {
    parent.push({ op: 'fork', child: `D${c}` });
    processes[`D${c}`] = { forked: true, steps: [{ op: 'wait', name: 'purged2' }] };
  }
  parent.push({ op: 'signal', name: 'forked2' }, { op: 'wait', name: 'purged2' });
  return {
    name: `bench-reclaim-${pages}`, memory: { frames: pages + 64 }, processes,
    kernel: [{ op: 'wait', name: 'forked' }, { op: 'reclaim', all: true, expect: { freed: pages } }, { op: 'signal', name: 'purged' },
      { op: 'wait', name: 'forked2' }, { op: 'reclaim', all: true, expect: { freed: pages } }, { op: 'signal', name: 'purged2' }],
  };
}

/** `cpuMs`: the kernel's own CPU time over the window (user + system of this process, where the kernel runs; the agents are other processes). */
/** `mainCpuMs`: the kernel's main thread alone (Linux /proc schedstat; NaN elsewhere): `cpuMs` also counts V8's background compiler threads and libzmq's I/O thread. */
export interface ReclaimSample { ms: number; messages: number; freed: number; heapMb: number; cpuMs: number; mainCpuMs: number }

/** CPU nanoseconds of this process's main thread so far (Linux), NaN where /proc has no schedstat. */
const mainThreadNs = (): number => {
  try { return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]); } catch { return NaN; }
};

const heapNow = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };

/** The scenario as a Scenario: through the loader while it allows the size, else the small one's shape with the big one's steps. */
export function scenarioFor(pages: number, loaderMax = stepsPerProcessMax): Scenario {
  if (2 * pages + 40 <= loaderMax) return scenarioOf(reclaimScenario(pages));
  const big = reclaimScenario(pages) as { processes: Record<string, { steps: unknown[] }> };
  const s = scenarioOf(reclaimScenario(1));
  const small = s as unknown as { name: string; memory: { frames: number }; processes: Array<{ name: string; steps: unknown[] }>;
    kernel: Array<{ op: string; expect?: { freed?: number } }> };
  for (const st of small.kernel) if (st.op === 'reclaim') st.expect = { ...st.expect, freed: pages };
  small.name = `bench-reclaim-${pages}`;
  small.memory.frames = pages + 64;
  const parent = small.processes.find((p) => p.name === 'P')!;
  // The small scenario's parsed steps, each write repeated over the pages (in the order reclaimScenario
  // writes them: region a upwards, b downwards), each mmap and vrange as large.
  parent.steps = (parent.steps as Array<Record<string, unknown>>).flatMap((st) => (st.op === 'write'
    ? Array.from({ length: pages }, (_, i) => { const j = st.map === 'b' ? pages - 1 - i : i; return { ...st, page: j, value: `${String(st.value).slice(0, 1)}${j}` }; })
    : st.op === 'mmap' || st.op === 'vrange' ? [{ ...st, pages }] : [st]));
  if (parent.steps.length !== big.processes.P!.steps.length) throw new Error('bench: the big scenario lost steps');
  return s;
}

/** The run's two reclaims: the first (cold: a fresh kernel) and the second (warm: the same kernel). */
export async function measureReclaim(pages: number): Promise<{ cold: ReclaimSample; warm: ReclaimSample }> {
  let t0 = 0; let m0 = 0; let h0 = 0; let c0 = process.cpuUsage(); let n0 = 0;
  const samples: ReclaimSample[] = [];
  const gc = (globalThis as { gc?: () => void }).gc;
  await runBench(scenarioFor(pages), {}, {
    timeoutMs: 2 * pages + 40 <= stepsPerProcessMax ? undefined : 120_000 + 6 * pages,
    onEvent: (e, k) => {
      if (e.process !== 'kernel') return;
      // The window opens after the full GC the bench forces (at 100,000 pages it took 300 ms, which the
      // window counted until the last stop): the kernel's clock is read again once the GC is done.
      if (e.kind === 'invoke' && (e.step as { op: string }).op === 'reclaim') { gc?.(); h0 = heapNow(); c0 = process.cpuUsage(); n0 = mainThreadNs(); t0 = k.history.now(); m0 = k.messagesIn + k.messagesOut; }
      if (e.kind === 'complete' && e.op === 'reclaim') {
        const c = process.cpuUsage(c0);
        samples.push({ ms: (e.at - t0) / 1000, messages: k.messagesIn + k.messagesOut - m0, freed: e.result.freed as number, heapMb: (heapNow() - h0) / 2 ** 20,
          cpuMs: (c.user + c.system) / 1000, mainCpuMs: (mainThreadNs() - n0) / 1e6 });
      }
    },
  });
  if (samples.length !== 2) throw new Error(`${samples.length} of the 2 reclaim steps completed`);
  return { cold: samples[0]!, warm: samples[1]! };
}

/** Least squares over (pages, ms): time = fixedMs + pages x perPageMs; undefined with fewer than two sizes. */
export function fitLine(points: Array<{ pages: number; ms: number }>): { fixedMs: number; perPageMs: number } | undefined {
  const n = points.length;
  const mx = points.reduce((a, p) => a + p.pages, 0) / n;
  const my = points.reduce((a, p) => a + p.ms, 0) / n;
  const sxx = points.reduce((a, p) => a + (p.pages - mx) ** 2, 0);
  if (n < 2 || sxx === 0) return undefined;
  const perPageMs = points.reduce((a, p) => a + (p.pages - mx) * (p.ms - my), 0) / sxx;
  return { fixedMs: my - perPageMs * mx, perPageMs };
}

const medianOf = (xs: number[]) => summarise(xs).median;

/** One row a size: the rate, beside it what else the window cost (and the marginal rate from the size before). */
function sizeRow(label: string, pages: number, samples: ReclaimSample[], base: number, first: number, before?: { pages: number; ms: number }): Row {
  const rate = summarise(samples.map((s) => s.freed / (s.ms / 1000)));
  const ms = medianOf(samples.map((s) => s.ms));
  return { name: `${pages.toLocaleString('en')} pages x ${agents} agents, ${label}`, unit: 'pages/s', summary: rate, ratio: rate.median / base,
    against: `${first.toLocaleString('en')} pages, cold (1 = linear)`,
    extra: { reclaimMsMedian: ms, firstRunMs: samples[0]!.ms, messages: samples[0]!.messages,
      messagesPerPage: Math.max(...samples.map((s) => s.messages / s.freed)),
      heapGrowthMbMedian: Math.round(medianOf(samples.map((s) => s.heapMb))),
      kernelCpuPagesPerSecMedian: Math.round(medianOf(samples.map((s) => s.freed / (s.cpuMs / 1000)))),
      kernelMainThreadCpuMsMedian: Number(medianOf(samples.map((s) => s.mainCpuMs)).toFixed(1)),
      ...(before ? { marginalPagesPerSec: Math.round((pages - before.pages) / ((ms - before.ms) / 1000)) } : {}) } };
}

/** The fit as a row: the per-page rate (1 / per-page), with the fixed ms. */
function fitRow(label: string, samples: Array<{ pages: number; s: ReclaimSample }>): Row | undefined {
  const fit = fitLine(samples.map(({ pages, s }) => ({ pages, ms: s.ms })));
  if (!fit) return undefined;
  // A time that did not grow with the pages (noise larger than the per-page cost) has no per-page rate: NaN, said so.
  const rate = fit.perPageMs > 0 ? 1000 / fit.perPageMs : NaN;
  return { name: `fit over every ${label} sample: time = fixed + pages x per-page`, unit: 'pages/s', summary: summarise([rate]),
    extra: { fixedMs: Number(fit.fixedMs.toFixed(1)), perPageUs: Number((fit.perPageMs * 1000).toFixed(4)), samples: samples.length,
      ...(fit.perPageMs > 0 ? {} : { note: 'the time did not grow with the pages: noise exceeds the per-page cost' }) } };
}

async function main(): Promise<void> {
  const args = parseArgs();
  const repeats = args.repeats ?? 3;
  const sizes = args.sizes ?? (args.quick ? [5_000, 10_000, 20_000] : [25_000, 50_000, 100_000]);
  const rows: Row[] = [];
  const warmRows: Row[] = [];
  const all: { cold: Array<{ pages: number; s: ReclaimSample }>; warm: Array<{ pages: number; s: ReclaimSample }> } = { cold: [], warm: [] };
  let base = 0;
  let before: { cold?: { pages: number; ms: number }; warm?: { pages: number; ms: number } } = {};
  for (const pages of sizes) {
    const runs: Array<{ cold: ReclaimSample; warm: ReclaimSample }> = [];
    for (let r = 0; r < repeats; r++) runs.push(await measureReclaim(pages));
    const cold = runs.map((x) => x.cold);
    const warm = runs.map((x) => x.warm);
    if (pages === sizes[0]) base = medianOf(cold.map((s) => s.freed / (s.ms / 1000)));
    rows.push(sizeRow('cold (a fresh kernel\'s first reclaim)', pages, cold, base, sizes[0]!, before.cold));
    warmRows.push(sizeRow('warm (its second reclaim, 15 new children)', pages, warm, base, sizes[0]!, before.warm));
    before = { cold: { pages, ms: medianOf(cold.map((s) => s.ms)) }, warm: { pages, ms: medianOf(warm.map((s) => s.ms)) } };
    all.cold.push(...cold.map((s) => ({ pages, s })));
    all.warm.push(...warm.map((s) => ({ pages, s })));
  }
  for (const [label, list] of [['cold', all.cold], ['warm', all.warm]] as const) {
    const row = fitRow(label, list);
    if (row) (label === 'cold' ? rows : warmRows).push(row);
  }
  // The floor under the fixed cost: one bare round of messages to as many processes as the
  // exchange asks, each after 50 ms idle (as the mappers wait in a step), free on both CPUs and on
  // one (a lockstep run binds the kernel and its agents to one: coordinator/cpu_pin.ts). With a
  // per-page cost c, a fixed cost F gives a rate at N pages of N / (F + N c): flat within 2x from
  // 25,000 to 1,000,000 pages needs F under about 2.6 ms at c = 0.1 us (40 (F + 25,000 c) <= 2 (F + 1,000,000 c)).
  const floorRows: Row[] = [];
  for (const oneCpu of [false, true]) {
    const xs = await roundFloor(agents, args.quick ? 9 : 21, 50, oneCpu);
    floorRows.push({ name: `floor: one round to ${agents} client processes (a message each, then every answer), 50 ms idle before, ${oneCpu ? 'all on one CPU' : 'free on every CPU'}`,
      unit: 'ms', summary: summarise(xs), extra: { rounds: xs.length } });
  }
  const last = rows.filter((r) => r.extra?.messagesPerPage !== undefined).at(-1)!;
  emit({ bench: 'reclaim', what: `one "reclaim all" of N volatile anonymous pages shared by ${agents} agents after fork (cold), then a second in the same kernel (warm)`,
    goal: '< 0.01 kernel-agent messages per purged page at the largest N; time linear in pages', goalMet: last.extra!.messagesPerPage as number < 0.01,
    rows: [...rows, ...warmRows, ...floorRows] }, args);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main().catch((e) => { console.error(e); process.exit(1); });
