// (6) Death: a process holding N anonymous pages (it wrote each) is killed by a kernel `kill`
// step; the figure is the time from the SIGKILL (the history's `kill` event) to the end of its
// exit cleanup (the `cleanup` event): the OS delivering the signal and reaping the child, Node
// reporting the exit, and the kernel dropping every rmap entry, frame and fd.
// N = 10,000; baseline: the same process holding no page, killed in the same way.
//
// Run: node dist/bench/death.bench.js [--json [FILE]] [--quick] [--repeats N]

import { fileURLToPath } from 'node:url';
import { emit, parseArgs, summarise, type Row } from './lib.js';
import { runBench, scenarioOf } from './harness.js';

function deathScenario(pages: number): unknown {
  const steps: unknown[] = [{ op: 'mmap', as: 'a', pages: Math.max(1, pages) }];
  for (let j = 0; j < pages; j++) steps.push({ op: 'write', map: 'a', page: j, value: `v${j}` });
  steps.push({ op: 'signal', name: 'ready' }, { op: 'wait', name: 'never' });
  return { name: `bench-death-${pages}`, memory: { frames: pages + 16 }, processes: { V: { steps } },
    kernel: [{ op: 'wait', name: 'ready' }, { op: 'kill', process: 'V' }, { op: 'check', framesUsed: 0 }, { op: 'signal', name: 'never' }] };
}

async function deathMs(pages: number): Promise<number> {
  const run = await runBench(scenarioOf(deathScenario(pages)));
  const kill = run.history.find((e) => e.kind === 'kill')!;
  const cleanup = run.history.find((e) => e.kind === 'cleanup' && e.process === 'V')!;
  if ((cleanup.pagesUnmapped as number) !== pages) throw new Error(`cleanup unmapped ${cleanup.pagesUnmapped} pages, expected ${pages}`);
  return (cleanup.at - kill.at) / 1000;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const repeats = args.repeats ?? (args.quick ? 3 : 5);
  const pages = args.quick ? 2_000 : 10_000;
  const empty: number[] = [];
  const full: number[] = [];
  for (let r = 0; r < repeats; r++) { empty.push(await deathMs(0)); full.push(await deathMs(pages)); }
  const e = summarise(empty);
  const f = summarise(full);
  const rows: Row[] = [
    { name: 'SIGKILL to end of cleanup, 0 pages (baseline)', unit: 'ms', summary: e, ratio: 1, against: '0 pages' },
    { name: `SIGKILL to end of cleanup, ${pages.toLocaleString('en')} pages`, unit: 'ms', summary: f, ratio: f.median / e.median, against: '0 pages',
      extra: { cleanupUsPerPage: Math.max(0, (f.median - e.median) * 1000 / pages) } },
  ];
  emit({ bench: 'death', what: 'time from SIGKILL to the end of exit cleanup', rows }, args);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main().catch((e) => { console.error(e); process.exit(1); });
