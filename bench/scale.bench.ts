// (5) Scale: 128 agents in one run, 1,000,000 frames in the kernel.
//  a. start-up time per agent: 128 processes at boot, from the boot event to the last birth,
//     divided by 128; with the warm pool (agents started together, ahead of need) and without
//     (pool size 0: each agent started when its process needs it). Baseline: without.
//  b. fork latency: one process forks 127 children one after another (each child has no steps
//     and exits at once); a fork step's start to its end, with and without the warm pool.
//     Goal: < 5 ms median with the warm pool. The warm rows ask for the pool the default gave
//     before issue 11 (`poolSize`: 2 spare agents at boot, one per fork for the forks); the
//     default now holds at most agentPoolMax (4) agents, so that a run's memory does not grow
//     with the forks it declares (docs/performance.md, section 7).
//  c. kernel resident memory per idle frame: a fresh Node process builds a kernel of 1,000,000
//     frames and one of 1,000 frames; (difference in RSS) / 999,000. Goal: < 64 bytes.
//
// Run: node dist/bench/scale.bench.js [--json [FILE]] [--quick] [--repeats N]

import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Kernel } from '../coordinator/kernel.js';
import { emit, parseArgs, summarise, type Row } from './lib.js';
import { runBench, scenarioOf } from './harness.js';

const framesBig = 1_000_000;

function bootScenario(n: number): unknown {
  const processes: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) processes[`P${i}`] = { steps: [{ op: 'wait', name: 'go' }] };
  return { name: 'bench-scale-boot', memory: { frames: framesBig }, processes, kernel: [{ op: 'signal', name: 'go' }] };
}

function forkScenario(children: number): unknown {
  const steps: unknown[] = [];
  const processes: Record<string, unknown> = { R: { steps } };
  for (let i = 1; i <= children; i++) {
    steps.push({ op: 'fork', child: `C${i}` });
    processes[`C${i}`] = { forked: true, steps: [] };
  }
  return { name: 'bench-scale-fork', memory: { frames: framesBig }, processes };
}

/** Mean start-up time per agent (ms) for `n` processes at boot. */
async function startupPerAgent(n: number, poolSize: number | undefined): Promise<number> {
  const run = await runBench(scenarioOf(bootScenario(n)), {}, { kernel: poolSize === undefined ? {} : { poolSize } });
  const boot = run.history.find((e) => e.kind === 'boot')!.at;
  const births = run.history.filter((e) => e.kind === 'birth');
  if (births.length !== n) throw new Error(`${births.length} births, expected ${n}`);
  return (births[births.length - 1]!.at - boot) / 1000 / n;
}

/** Every fork step's latency (ms). */
async function forkLatencies(children: number, poolSize: number | undefined): Promise<number[]> {
  const run = await runBench(scenarioOf(forkScenario(children)), {}, { kernel: poolSize === undefined ? {} : { poolSize } });
  const start = new Map<number, number>();
  const out: number[] = [];
  for (const e of run.history) {
    if (e.process !== 'R') continue;
    if (e.kind === 'invoke') start.set(e.index as number, e.at);
    if (e.kind === 'complete' && e.op === 'fork') out.push((e.at - start.get(e.index as number)!) / 1000);
  }
  return out;
}

/** Child mode: build a kernel of N frames and print its memory once settled. */
function probe(frames: number): void {
  const scenario = scenarioOf({ name: 'probe', memory: { frames }, processes: {} });
  const before = process.memoryUsage();
  const k = new Kernel({ scenario, runDir: '/nonexistent', traceMessages: false,
    config: { policy: 'shared-file', access: 'sigbus', purgeUnit: 'range', frames, seed: 1, schedule: 'free' } });
  (globalThis as { gc?: () => void }).gc?.();
  const after = process.memoryUsage();
  process.stdout.write(JSON.stringify({ frames: k.frames.total, rss: after.rss, heap: after.heapUsed + after.arrayBuffers,
    rssDelta: after.rss - before.rss, heapDelta: after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers }) + '\n');
}

function probeChild(frames: number): { rss: number; heap: number } {
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--probe', String(frames)], { encoding: 'utf8' });
  return JSON.parse(out) as { rss: number; heap: number };
}

async function main(): Promise<void> {
  const args = parseArgs();
  const repeats = args.repeats ?? 3;
  const n = args.quick ? 32 : 128;
  const rows: Row[] = [];
  // a. start-up per agent
  const cold = await Promise.all([0]).then(async () => { const xs = []; for (let r = 0; r < repeats; r++) xs.push(await startupPerAgent(n, 0)); return xs; });
  const warm: number[] = [];
  for (let r = 0; r < repeats; r++) warm.push(await startupPerAgent(n, 2)); // the 2 spare agents the pool held before issue 11
  const coldS = summarise(cold);
  const warmS = summarise(warm);
  rows.push({ name: `start-up per agent, ${n} at boot, no pool`, unit: 'ms', summary: coldS, ratio: 1, against: 'no pool' });
  rows.push({ name: `start-up per agent, ${n} at boot, warm pool`, unit: 'ms', summary: warmS, ratio: warmS.median / coldS.median, against: 'no pool' });
  // b. fork latency: every fork of each run is a sample
  const forkCold: number[] = [];
  const forkWarm: number[] = [];
  for (let r = 0; r < Math.max(1, repeats - 1); r++) forkCold.push(...(await forkLatencies(n - 1, 0)));
  for (let r = 0; r < repeats; r++) forkWarm.push(...(await forkLatencies(n - 1, n - 1)));
  const fc = summarise(forkCold);
  const fw = summarise(forkWarm);
  rows.push({ name: `fork latency, ${n - 1} forks, no pool`, unit: 'ms', summary: fc, ratio: 1, against: 'no pool' });
  rows.push({ name: `fork latency, ${n - 1} forks, warm pool`, unit: 'ms', summary: fw, ratio: fw.median / fc.median, against: 'no pool' });
  // c. memory per idle frame
  const perFrame: number[] = [];
  const heapPerFrame: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const big = probeChild(framesBig);
    const small = probeChild(1_000);
    perFrame.push((big.rss - small.rss) / (framesBig - 1_000));
    heapPerFrame.push((big.heap - small.heap) / (framesBig - 1_000));
  }
  const pf = summarise(perFrame);
  rows.push({ name: 'kernel RSS per idle frame (1,000,000 vs 1,000 frames)', unit: 'bytes', summary: pf, ratio: pf.median / 64, against: 'the 64-byte goal',
    extra: { heapAndBuffersPerFrame: summarise(heapPerFrame).median } });
  emit({ bench: 'scale', what: `${n} agents in one run, ${framesBig.toLocaleString('en')} frames`,
    goal: 'fork < 5 ms median with the warm pool; < 64 bytes of kernel memory per idle frame', goalMet: fw.median < 5 && pf.median < 64, rows }, args);
}

if (process.argv[2] === '--probe') probe(Number(process.argv[3]));
else if (process.argv[1] === fileURLToPath(import.meta.url)) void main().catch((e) => { console.error(e); process.exit(1); });
