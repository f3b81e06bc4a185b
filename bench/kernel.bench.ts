// (2) Kernel call throughput: 16 agents in the free schedule, each looping over its own pages
// with the calls that cross the socket: write and read of a shared file page, fvrange volatile
// and nonvolatile, and a write fault on fresh anonymous memory followed by a read of it.
// Figure: syscalls per second, from the first looped step's start to the last one's end, read
// from the run's history. Baseline, measured in the same run: the transport ceiling with 16
// synchronous clients (bench/transport.bench.ts), since an agent's step has one call in flight.
// Goal: at least 0.8 of it.
//
// Run: node dist/bench/kernel.bench.js [--json [FILE]] [--quick] [--repeats N]

import { fileURLToPath } from 'node:url';
import { emit, parseArgs, summarise } from './lib.js';
import { runBench, scenarioOf, spanUs } from './harness.js';
import { transportCeiling16 } from './transport.bench.js';

const agents = 16;
const setupSteps = 3;
const callsPerIteration = 6;

export function throughputScenario(pagesEach: number): unknown {
  const processes: Record<string, unknown> = {};
  for (let i = 0; i < agents; i++) {
    const steps: unknown[] = [
      { op: 'open', file: 'f' },
      { op: 'mmap', as: 'm', fd: 'f', pages: pagesEach, offset: i * pagesEach },
      { op: 'mmap', as: 'a', pages: pagesEach },
    ];
    for (let j = 0; j < pagesEach; j++) {
      steps.push(
        { op: 'write', map: 'm', page: j, value: `f${j}` },
        { op: 'read', map: 'm', page: j },
        { op: 'fvrange', fd: 'f', page: i * pagesEach + j, pages: 1, mode: 'volatile' },
        { op: 'fvrange', fd: 'f', page: i * pagesEach + j, pages: 1, mode: 'nonvolatile' },
        { op: 'write', map: 'a', page: j, value: `a${j}` },
        { op: 'read', map: 'a', page: j },
      );
    }
    processes[`P${i}`] = { steps };
  }
  return { name: 'bench-kernel-throughput', memory: { frames: agents * pagesEach * 2 + 64 },
    files: [{ name: 'f', pages: agents * pagesEach }], processes };
}

async function main(): Promise<void> {
  const args = parseArgs();
  const repeats = args.repeats ?? (args.quick ? 3 : 5);
  const pagesEach = args.quick ? 100 : 250;
  const scenario = scenarioOf(throughputScenario(pagesEach));
  const calls = agents * pagesEach * callsPerIteration;
  const rates: number[] = [];
  const transport: number[] = [];
  for (let r = 0; r < repeats; r++) {
    // Interleaved with the kernel runs, so that both see the same load.
    transport.push(...(await transportCeiling16(1, Math.ceil(calls / agents / 2))));
    const run = await runBench(scenario);
    const us = spanUs(run.history, (e) => e.kind === 'invoke' && e.process !== 'kernel' && (e.index as number) >= setupSteps,
      (e) => e.kind === 'complete' && e.process !== 'kernel');
    rates.push(calls / (us / 1e6));
  }
  const t = summarise(transport);
  const k = summarise(rates);
  const ratio = k.median / t.median;
  emit({
    bench: 'kernel', what: `syscalls/s from ${agents} agents, free schedule (write/read file page, fvrange vol/nonvol, anon write fault, anon read)`,
    goal: 'kernel calls/s >= 0.8 x transport (16 clients, synchronous)', goalMet: ratio >= 0.8,
    rows: [
      { name: 'transport, 16 clients sync (baseline)', unit: 'calls/s', summary: t, ratio: 1, against: 'itself' },
      { name: `kernel, ${agents} agents`, unit: 'calls/s', summary: k, ratio, against: 'transport 16 sync', extra: { calls, pagesEach } },
    ],
  }, args);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main().catch((e) => { console.error(e); process.exit(1); });
