// (3) Local marking: `vrange` volatile/nonvolatile on anonymous memory inside one agent, run
// through the agent's own step interpreter (agents/steps.ts) on its mm (agents/mm.ts and its
// RangeSet), with 10, 1,000 and 100,000 ranges already marked. No message crosses a socket:
// anonymous volatility lives in the mm. Alternating volatile/nonvolatile calls of 1..8 pages at
// seeded random places. Baseline: the 10-range figure; goal: >= 1,000,000 marks/s and a cost
// that grows at most logarithmically with the ranges held (so ratio >= ~1/log2 growth).
// runStep returns such a vrange's outcome without a promise; the loop awaits only a promise.
// Two more figures per size, as extras: the same calls with an `await` on every outcome
// (what Agent.runOne does: one microtask a call) and straight on the mm's RangeSet.
//
// Run: node dist/bench/marking.bench.js [--json [FILE]] [--quick] [--repeats N]

import { fileURLToPath } from 'node:url';
import { Mm, Vma } from '../agents/mm.js';
import { runStep } from '../agents/steps.js';
import type { Agent } from '../agents/agent.js';
import type { ProcessStep, RunConfig } from '../shared/scenario-types.js';
import { emit, nowMs, parseArgs, summarise, type Row } from './lib.js';

const sizes = [10, 1_000, 100_000];
const pagesPerRange = 8;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** An agent with one anonymous mapping `a` and `ranges` volatile ranges in it; no socket. */
function agentWith(ranges: number): Agent {
  const pages = ranges * pagesPerRange + 16;
  const mm = new Mm();
  mm.insert(Vma.fresh(1, pages, 'anon', -1, 0));
  mm.bindings.set('map:a', { kind: 'map', addr: 1, pages });
  for (let i = 0; i < ranges; i++) mm.ranges.mark(1 + i * pagesPerRange, 1 + i * pagesPerRange + 2, i);
  const config: RunConfig = { policy: 'shared-file', access: 'sigbus', purgeUnit: 'range', frames: 1, seed: 1, schedule: 'free' };
  const fake = { mm, config, now: 0, held: new Map(), untilReleased: async () => {},
    call: () => { throw new Error('marking anonymous memory must not make a syscall'); } };
  return fake as unknown as Agent;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const repeats = args.repeats ?? (args.quick ? 3 : 7);
  const ops = args.quick ? 100_000 : 400_000;
  const rows: Row[] = [];
  let base = 0;
  for (const size of sizes) {
    const rand = prng(0x5eed + size);
    const space = size * pagesPerRange;
    const steps: ProcessStep[] = [];
    for (let k = 0; k < ops; k++) {
      const page = Math.floor(rand() * space);
      steps.push({ op: 'vrange', map: 'a', page, pages: 1 + Math.floor(rand() * 8), mode: k % 2 === 0 ? 'volatile' : 'nonvolatile' });
    }
    const rates: number[] = [];
    let held = 0;
    for (let r = -1; r < repeats; r++) { // r = -1: warm-up, not recorded
      const agent = agentWith(size);
      const t0 = nowMs();
      for (let k = 0; k < ops; k++) {
        agent.now = k;
        const ret = runStep(agent, steps[k]!);
        const out = ret instanceof Promise ? await ret : ret;
        if (!out.result.ok) throw new Error(`vrange failed: ${JSON.stringify(out.result)}`);
      }
      const ms = nowMs() - t0;
      if (r >= 0) rates.push(ops / (ms / 1000));
      held = agent.mm.ranges.size;
    }
    // The same, awaiting every outcome.
    const awaited: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const agent = agentWith(size);
      const t0 = nowMs();
      for (let k = 0; k < ops; k++) {
        agent.now = k;
        const out = await runStep(agent, steps[k]!);
        if (!out.result.ok) throw new Error(`vrange failed: ${JSON.stringify(out.result)}`);
      }
      awaited.push(ops / ((nowMs() - t0) / 1000));
    }
    // The same calls straight on the mm's RangeSet: what the interpreter around it costs.
    const raw: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const set = agentWith(size).mm.ranges;
      const t0 = nowMs();
      for (let k = 0; k < ops; k++) {
        const st = steps[k] as { page: number; pages: number; mode: string };
        if (st.mode === 'volatile') set.mark(1 + st.page, 1 + st.page + st.pages, k); else set.unmark(1 + st.page, 1 + st.page + st.pages);
      }
      raw.push(ops / ((nowMs() - t0) / 1000));
    }
    const summary = summarise(rates);
    if (size === sizes[0]) base = summary.median;
    rows.push({ name: `${size.toLocaleString('en')} ranges held`, unit: 'marks/s', summary, ratio: summary.median / base, against: '10 ranges',
      extra: { awaitedPerSec: summarise(awaited).median, rangeSetOnlyPerSec: summarise(raw).median, calls: ops, rangesAfter: held, nsPerMark: 1e9 / summary.median, log2Growth: Math.log2(size) / Math.log2(sizes[0]!) } });
  }
  const met = rows.every((r) => r.summary.median >= 1_000_000);
  emit({ bench: 'marking', what: 'vrange volatile/nonvolatile on anonymous memory through agents/steps.ts, one agent, no socket',
    goal: '>= 1,000,000 marks/s at every size; cost grows at most logarithmically', goalMet: met, rows }, args);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main().catch((e) => { console.error(e); process.exit(1); });
