// The CPU of one lockstep step, kernel side and agent side, in the 16 x 1,008-page run of
// html.bench.ts (bigScenario(16, 63): about 1,100 steps, nearly all page writes). Only the step
// phase counts: from the first `schedule` event to the end of the schedule, less the reclaim
// (from the invoke of the kernel's `reclaim` step to the first schedule after it completes), so
// neither the agents' start-up nor the exchange is in it. CPU is read per thread from Linux's
// /proc/PID/task/TID/schedstat (nanoseconds on the CPU), for the kernel's own process (this one)
// and each agent, as main thread, ZeroMQ threads (ZMQbg/...) and the rest (V8's compiler and GC
// helpers, libuv's pool); an agent's last reading is taken at its last step's `complete`, before
// it exits. The readings' own cost on the kernel's main thread is measured and taken off.
// Without /proc (not Linux) it says so and exits.
//
//   node dist/bench/steps.bench.js [--quick] [--repeats N] [--json [FILE]]

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runScenario } from '../harness/run.js';
import { PhaseClock } from '../harness/phases.js';
import { runConfigFor } from '../shared/run_config.js';
import type { Kernel } from '../coordinator/kernel.js';
import type { HistoryEvent } from '../coordinator/history.js';
import { bigScenario } from './html.bench.js';
import { scenarioOf } from './harness.js';
import { emit, parseArgs, summarise, type Row } from './lib.js';

/** CPU nanoseconds by kind of thread. */
interface Split { main: number; zmq: number; other: number }
const zero = (): Split => ({ main: 0, zmq: 0, other: 0 });
const plus = (a: Split, b: Split): Split => ({ main: a.main + b.main, zmq: a.zmq + b.zmq, other: a.other + b.other });
const minus = (a: Split, b: Split): Split => ({ main: a.main - b.main, zmq: a.zmq - b.zmq, other: a.other - b.other });

/** Each process's threads and their kind, listed once (a process's threads are made at its start). */
const threads = new Map<number, Array<[string, keyof Split]>>();
function threadsOf(pid: number): Array<[string, keyof Split]> {
  let ts = threads.get(pid);
  if (ts) return ts;
  ts = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      let comm = '';
      try { comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8'); } catch { /* gone */ }
      ts.push([tid, tid === String(pid) ? 'main' : comm.startsWith('ZMQbg') ? 'zmq' : 'other']);
    }
  } catch { /* gone */ }
  threads.set(pid, ts);
  return ts;
}
function cpuOf(pid: number): Split {
  const out = zero();
  for (const [tid, kind] of threadsOf(pid)) {
    try { out[kind] += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]); } catch { /* gone */ }
  }
  return out;
}

interface Sample { steps: number; wallMs: number; kernel: Split; agents: Split; messagesPerStep: number; eventsPerStep: number }

async function once(pictures: boolean): Promise<Sample> {
  const scenario = scenarioOf(bigScenario(16, 63));
  const config = runConfigFor(scenario, { seed: 1, schedule: 'lockstep' });
  const agentPid = new Map<string, number>();
  const lastIndex = new Map(scenario.processes.map((p) => [p.name, p.steps.length - 1]));
  let kernel: Kernel | undefined;
  let readNs = 0;
  let win: 'before' | 'steps' | 'reclaim' | 'after-reclaim' = 'before';
  let steps = 0, messages0 = 0, events0 = 0, t0 = 0n, wall = 0n;
  let kStart = zero(), kSum = zero(), aSum = zero();
  /** Each live agent's reading at the start of the current window. */
  const aStart = new Map<number, Split>();
  const timed = (f: () => void) => { const r0 = process.hrtime.bigint(); f(); readNs += Number(process.hrtime.bigint() - r0); };
  const open = () => timed(() => {
    kStart = cpuOf(process.pid);
    aStart.clear();
    for (const pid of agentPid.values()) aStart.set(pid, cpuOf(pid));
    t0 = process.hrtime.bigint();
  });
  const close = () => timed(() => {
    wall += process.hrtime.bigint() - t0;
    kSum = plus(kSum, minus(cpuOf(process.pid), kStart));
    for (const [pid, start] of aStart) aSum = plus(aSum, minus(cpuOf(pid), start));
    aStart.clear();
  });
  const event = (e: HistoryEvent) => {
    if (e.kind === 'birth') agentPid.set(e.process, e.osPid);
    else if (e.kind === 'schedule') {
      if (win === 'before') { win = 'steps'; messages0 = kernel!.messagesIn + kernel!.messagesOut; events0 = e.seq; open(); }
      else if (win === 'after-reclaim') { win = 'steps'; open(); }
      if (win === 'steps') steps++;
    } else if (e.kind === 'invoke' && e.process === 'kernel' && e.step.op === 'reclaim' && win === 'steps') {
      close(); win = 'reclaim'; steps--; // the reclaim's own schedule
    } else if (e.kind === 'complete' && e.process === 'kernel' && e.op === 'reclaim') {
      win = 'after-reclaim';
    } else if (e.kind === 'complete' && e.index === lastIndex.get(e.process) && agentPid.has(e.process)) {
      // The agent exits once its last step is done: its CPU is read now, before it goes.
      const pid = agentPid.get(e.process)!;
      agentPid.delete(e.process);
      const start = aStart.get(pid);
      if (start) timed(() => { aSum = plus(aSum, minus(cpuOf(pid), start)); aStart.delete(pid); });
    }
  };
  let messages = 0, events = 0;
  class StepsEnd extends PhaseClock {
    override mark(part: string): void {
      super.mark(part);
      if (part === 'steps (schedule)' && win === 'steps') {
        close(); win = 'before';
        messages = kernel!.messagesIn + kernel!.messagesOut - messages0;
        events = kernel!.history.events.length - events0;
      }
    }
  }
  const { report } = await runScenario(scenario, config, { pictures, phases: new StepsEnd(), onKernel: (k) => { kernel = k; k.addObserver({ event }); } });
  if (!report.ok) throw new Error('the run failed');
  kSum.main -= readNs; // the readings themselves ran on the kernel's main thread
  const perStep = (s: Split): Split => ({ main: s.main / 1e6 / steps, zmq: s.zmq / 1e6 / steps, other: s.other / 1e6 / steps });
  return { steps, wallMs: Number(wall) / 1e6, kernel: perStep(kSum), agents: perStep(aSum), messagesPerStep: messages / steps, eventsPerStep: events / steps };
}

async function main(): Promise<void> {
  if (!existsSync(`/proc/${process.pid}/task/${process.pid}/schedstat`)) {
    process.stderr.write('steps.bench: needs Linux /proc/PID/task/TID/schedstat; nothing measured\n');
    return;
  }
  const args = parseArgs();
  const repeats = args.repeats ?? (args.quick ? 1 : 5);
  const rows: Row[] = [];
  for (const pictures of [false, true]) {
    const xs: Sample[] = [];
    for (let r = 0; r < repeats; r++) xs.push(await once(pictures));
    const col = (f: (s: Sample) => number) => summarise(xs.map(f));
    const tag = pictures ? ' (--html)' : '';
    rows.push(
      { name: `step wall time${tag}`, unit: 'ms/step', summary: col((s) => s.wallMs / s.steps), extra: { steps: xs[0]!.steps, messagesPerStep: +xs[0]!.messagesPerStep.toFixed(2), eventsPerStep: +xs[0]!.eventsPerStep.toFixed(2) } },
      { name: `  kernel main thread${tag}`, unit: 'ms/step', summary: col((s) => s.kernel.main) },
      { name: `  kernel ZeroMQ thread${tag}`, unit: 'ms/step', summary: col((s) => s.kernel.zmq) },
      { name: `  kernel other threads${tag}`, unit: 'ms/step', summary: col((s) => s.kernel.other) },
      { name: `  agents' main threads${tag}`, unit: 'ms/step', summary: col((s) => s.agents.main) },
      { name: `  agents' ZeroMQ threads${tag}`, unit: 'ms/step', summary: col((s) => s.agents.zmq) },
    );
  }
  emit({ bench: 'steps', what: 'CPU of one lockstep step by process and thread, the 16 x 1,008-page run (seed 1), step phase only', rows }, args);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main().catch((e) => { console.error(e); process.exit(1); });
