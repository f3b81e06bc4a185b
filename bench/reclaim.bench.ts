// (4) Reclaim: one process writes N anonymous pages, marks them volatile and forks 15 children,
// so 16 agents share N volatile pages copy-on-write; then the kernel runs one `reclaim all`.
// Figures, from the reclaim step's start to its end in the history: pages purged per second,
// and kernel-agent messages (both directions) per purged page. N = 25,000, 50,000, 100,000: the
// time should grow linearly, so the rate stays flat. Baseline: the smallest N.
// Goal: under 0.01 messages per purged page (the exchange is batched, not per page).
//
// Run: node dist/bench/reclaim.bench.js [--json [FILE]] [--quick] [--repeats N]

import { fileURLToPath } from 'node:url';
import { emit, parseArgs, summarise, type Row } from './lib.js';
import { runBench, scenarioOf } from './harness.js';

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
  return {
    name: `bench-reclaim-${pages}`, memory: { frames: pages + 64 }, processes,
    kernel: [{ op: 'wait', name: 'forked' }, { op: 'reclaim', all: true, expect: { freed: pages } }, { op: 'signal', name: 'purged' }],
  };
}

export interface ReclaimSample { ms: number; messages: number; freed: number }

export async function measureReclaim(pages: number): Promise<ReclaimSample> {
  let t0 = 0; let m0 = 0;
  let sample: ReclaimSample | undefined;
  await runBench(scenarioOf(reclaimScenario(pages)), {}, {
    onEvent: (e, k) => {
      if (e.process !== 'kernel') return;
      if (e.kind === 'invoke' && (e.step as { op: string }).op === 'reclaim') { t0 = e.at; m0 = k.messagesIn + k.messagesOut; }
      if (e.kind === 'complete' && e.op === 'reclaim') {
        sample = { ms: (e.at - t0) / 1000, messages: k.messagesIn + k.messagesOut - m0, freed: e.result.freed as number };
      }
    },
  });
  if (!sample) throw new Error('the reclaim step did not complete');
  return sample;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const repeats = args.repeats ?? 3;
  const sizes = args.quick ? [5_000, 10_000, 20_000] : [25_000, 50_000, 100_000];
  const rows: Row[] = [];
  let base = 0;
  for (const pages of sizes) {
    const samples: ReclaimSample[] = [];
    for (let r = 0; r < repeats; r++) samples.push(await measureReclaim(pages));
    const rate = summarise(samples.map((s) => s.freed / (s.ms / 1000)));
    const perPage = Math.max(...samples.map((s) => s.messages / s.freed));
    if (pages === sizes[0]) base = rate.median;
    rows.push({ name: `${pages.toLocaleString('en')} pages x ${agents} agents`, unit: 'pages/s', summary: rate, ratio: rate.median / base,
      against: `${sizes[0]!.toLocaleString('en')} pages (1 = linear)`,
      extra: { reclaimMsMedian: summarise(samples.map((s) => s.ms)).median, messages: samples[0]!.messages, messagesPerPage: perPage } });
  }
  emit({ bench: 'reclaim', what: `one "reclaim all" of N volatile anonymous pages shared by ${agents} agents after fork`,
    goal: '< 0.01 kernel-agent messages per purged page at the largest N; time linear in pages', goalMet: rows[rows.length - 1]!.extra!.messagesPerPage as number < 0.01, rows }, args);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main().catch((e) => { console.error(e); process.exit(1); });
