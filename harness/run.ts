// One run of one scenario: a run folder, a kernel, its agents, a schedule, the invariant checks,
// the report. Everything the run started is ended before runScenario returns, even on failure.

import { writeOutput } from '../shared/files.js';
import { isStopped } from '../shared/procfs.js';
import { Kernel, type KernelOptions } from '../coordinator/kernel.js';
import { Expectations, expectationFor, matches, type Failure } from '../checker/expectations.js';
import { Snapshots } from '../report/snapshot.js';
import { runFree, runLockstep, type LiveChooser } from '../coordinator/scheduler.js';
import { checkRun } from '../checker/run_checks.js';
import type { InvariantResult } from '../checker/invariants.js';
import { buildReport, narrate, neverRan, stepLine, type RunReport } from '../report/report.js';
import type { EventFields, HistoryEvent } from '../coordinator/history.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';
import { ownerLabel, scenarioStep } from '../shared/kernel_name.js';
import { runTimeoutBaseMs, runTimeoutFor, runTimeoutPerProcessMs, runTimeoutPerStepMs } from '../shared/limits.js';
import { FaultPlan, type Fault } from './faults.js';
import type { RemoteOptions } from '../coordinator/remote.js';
import type { PhaseClock } from './phases.js';
import type { RunSession } from './session.js';

export { actionsOf } from '../checker/run_checks.js';

export type { RemoteOptions };
import { createRunDir, interrupted, InterruptedError, noteStoppedRun, removeRunDir, whenInterrupted, type StopSignal } from '../shared/lifecycle.js';

export interface RunOptions {
  /** Write the history as JSON lines here. */
  trace?: string;
  /** Receives each narrated line as it happens. */
  narrate?: (line: string) => void;
  timeoutMs?: number;
  faults?: Fault[];
  /** Replay a lockstep run through the reference model (model/) and compare every step. */
  checkModel?: boolean;
  /** Lockstep: who runs next, instead of the seed's PRNG (see replayChooser). */
  chooser?: LiveChooser;
  /** Called with the run's kernel once it is made, before it starts (`vrange play` reads its state). */
  onKernel?: (k: Kernel) => void;
  /** Record what the `--html` page draws: every message, and a page-map snapshot after each step. */
  pictures?: boolean;
  /** Agents on other machines (`vrange kernel --listen`). */
  remote?: RemoteOptions;
  /** Charge each part of the run's CPU to its name (bench/runs.bench.ts). */
  phases?: PhaseClock;
  /** Run on the socket and agents of this session (harness/session.ts) instead of new ones. */
  session?: RunSession;
  /** The command that reproduces this run (or how to make it, once needed): a stop signal's message names it (shared/lifecycle.ts stopLine). */
  repro?: string | (() => string);
}

export interface RunOutcome { report: RunReport; history: HistoryEvent[] }

/** A run's kernel once its schedule has ended and its agents are gone, with what judged it. */
export interface KernelRun {
  kernel: Kernel;
  /** The expectations observer: the failures of the steps that ran. */
  judge: Expectations;
  /** The invariants, run-completed, and matches-model when asked (checker/run_checks.ts). */
  invariants: InvariantResult[];
  /** The SIGINT or SIGTERM that stopped the run, if one did. */
  signal?: StopSignal;
  /** Milliseconds from the kernel's start to the end of its shutdown. */
  wallMs: number;
}

/**
 * The orchestration every run shares (runScenario here, the benchmarks' bench/harness.ts): a run
 * folder, a kernel with the harness's hooks (the fault plan, the expectations, the `--html`
 * snapshots), the schedule under the run's time bound and the interrupt signals, shutdown, the
 * checks. The run folder is gone and every agent ended when it returns, even on failure.
 */
export async function runKernel(scenario: Scenario, config: RunConfig,
  opts: RunOptions & { onEvent?: (e: HistoryEvent) => void; kernel?: Partial<KernelOptions> } = {}): Promise<KernelRun> {
  const phases = opts.phases;
  phases?.mark('between runs');
  const host = opts.remote ? undefined : await opts.session?.hostForRun();
  const session = host ? opts.session : undefined;
  const runDir = session ? session.folder! : createRunDir();
  const judge = new Expectations(config.policy);
  const kernel = new Kernel({
    scenario, config, runDir, traceMessages: opts.trace !== undefined || opts.pictures === true, remote: opts.remote, host,
    hooks: { faults: new FaultPlan(opts.faults ?? [], config.seed), ...judge.hooks },
    onEvent: opts.onEvent, ...opts.kernel,
  });
  opts.onKernel?.(kernel);
  // The page-map pictures of `--html`: a snapshot is taken at each `complete` event, so it comes
  // before the judge's `expectation-failed` (which follows the step's completion).
  if (opts.pictures) kernel.addObserver(new Snapshots(kernel));
  let timer: NodeJS.Timeout | undefined;
  const stop = whenInterrupted();
  let signal: StopSignal | undefined;
  const t0 = Date.now();
  try {
    const timeoutMs = opts.timeoutMs ?? runBoundMs(scenario);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(timeoutText(scenario, timeoutMs, opts.timeoutMs !== undefined) + stoppedFromOutside(kernel))), timeoutMs);
    });
    await Promise.race([(async () => {
      if (interrupted()) throw new InterruptedError(interrupted()!);
      phases?.mark('set-up (run folder, kernel, socket)');
      await kernel.start();
      phases?.mark('agents start (boot, births, pool)');
      if (config.schedule === 'lockstep') await runLockstep(kernel, opts.chooser);
      else await runFree(kernel);
    })(), timeout, stop.promise]);
  } catch (e) {
    if (e instanceof InterruptedError) signal = e.signal;
    if (signal && opts.repro) noteStoppedRun(config.seed, typeof opts.repro === 'string' ? opts.repro : opts.repro());
    if (signal) opts.narrate?.(`${'kernel'.padEnd(8)} INTERRUPTED by ${signal}: stopping the run, killing every agent`);
    kernel.recordBoot(); // stopped during its set-up: the history still begins with its boot
    kernel.violation('run-completed', (e as Error).message);
    if (isVrangeBug(e)) kernel.bugs.push(`the run stopped on ${(e as Error).message}`);
    // A schedule the race left behind must stop, not go on judging while shutdown kills its processes.
    kernel.fail(e as Error);
  } finally {
    clearTimeout(timer);
    stop.dispose();
  }
  phases?.mark('steps (schedule)');
  try {
    await kernel.shutdown();
  } finally {
    if (session) session.afterRun(kernel.localAgentsUsed);
    else removeRunDir(runDir);
  }
  const wallMs = Date.now() - t0;
  phases?.mark('shutdown (agents end, socket closes)');
  const invariants = checkRun(kernel, { checkModel: opts.checkModel === true, faultsPlanned: (opts.faults ?? []).length });
  phases?.mark('checks (invariants, model replay)');
  return { kernel, judge, invariants, signal, wallMs };
}

export async function runScenario(scenario: Scenario, config: RunConfig, opts: RunOptions = {}): Promise<RunOutcome> {
  const names = new Map<number, string>();
  const processNames = scenario.processes.map((p) => p.name);
  const say = opts.narrate;
  const { kernel, judge, invariants, signal } = await runKernel(scenario, config, {
    ...opts,
    onEvent: say ? (e) => {
      if (e.kind === 'complete') {
        const step = stepOf(scenario, e, e.index);
        const exp = expectationFor(step, config.policy) ?? (step.op === 'check' ? { ok: true } : undefined);
        // The kernel list's steps read `kernel`, `@kernel` when a process takes that name.
        say(stepLine(ownerLabel(e, processNames), e.index, step, e.result, exp, exp ? matches(exp, e.result) : undefined));
        return;
      }
      const line = narrate(e, names, processNames);
      if (line) say(line);
    } : undefined,
  });
  // An expectation on a step that never ran was never judged: a failure, unless faults were
  // injected (a killed process may be the one whose steps they are: explore's rule) or the run was
  // interrupted (it was stopped before they could run).
  const notJudged: Failure[] = [];
  for (const f of neverRan(kernel)) {
    if (kernel.faultsInjected.length > 0 || signal) { notJudged.push(f); continue; }
    judge.failures.push(f);
    kernel.history.add('expectation-failed', { process: f.process, index: f.index, expected: f.expected, ran: false, why: f.why, ...(f.kernel ? { kernel: true as const } : {}) });
  }
  const report = buildReport(kernel, judge.failures, invariants, signal, notJudged);
  kernel.history.add('final', finalState(kernel));
  kernel.history.add('verdict', { ok: report.ok, failures: report.failures.length, invariants, ...(signal ? { interrupted: signal } : {}) });
  if (opts.trace) writeOutput(opts.trace, kernel.history.toJsonLines());
  opts.phases?.mark('report');
  // A run in which vrange's own parts went wrong is no verdict on the scenario: neither a pass nor
  // a failure of it (exit 0 or 1) but a bug in vrange (exit 70, cli/cli.ts). The trace is written.
  if (kernel.bugs.length > 0 && !signal) throw new VrangeBug(kernel.bugs);
  return { report, history: kernel.history.events };
}

/** A run that vrange's own parts broke (`Kernel.bugs`): no verdict; the command exits 70. */
export class VrangeBug extends Error {
  constructor(readonly bugs: readonly string[]) {
    super(`the run is no verdict on the scenario: ${bugs.slice(0, 5).join('; ')}${bugs.length > 5 ? `; and ${bugs.length - 5} more` : ''}`);
    this.name = 'VrangeBug';
  }
}

/**
 * An error that stopped a run and is vrange's own bug, not the run's bound, an interrupt or an
 * agent that could not start: a broken invariant of the kernel's state (`kernel invariant: ...`,
 * `rmap invariant: ...`, `frames invariant: ...`, and the like) or a JavaScript error of the code.
 */
export function isVrangeBug(e: unknown): boolean {
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e instanceof SyntaxError) return true;
  return e instanceof Error && /^[a-z][a-z ]* invariant\b/.test(e.message);
}

/** The steps (processes' and kernel's) and processes of a scenario, which its run's bound grows with. */
export function scenarioSize(s: Scenario): { steps: number; processes: number } {
  return { steps: s.processes.reduce((n, p) => n + p.steps.length, 0) + s.kernel.length, processes: s.processes.length };
}

/** The wall-clock bound of a run of this scenario when no `--timeout` is given (shared/limits.ts runTimeoutFor). */
export function runBoundMs(s: Scenario): number { return runTimeoutFor(scenarioSize(s)); }

/** The message of a run past its bound: what the bound was made of, and how to raise it. */
export function timeoutText(s: Scenario, timeoutMs: number, given: boolean): string {
  const { steps, processes } = scenarioSize(s);
  const made = given ? 'set by --timeout'
    : `${runTimeoutBaseMs} ms + ${runTimeoutPerStepMs} ms for each of ${steps} step(s) + ${runTimeoutPerProcessMs} ms for each of ${processes} process(es)`;
  return `the run took longer than ${timeoutMs} ms (${made}); give it more with --timeout MS`;
}

/**
 * At the time bound: the live processes whose local agent the OS shows stopped (state T) while no
 * `pause:` fault holds them: stopped from outside vrange (`kill -STOP`, Ctrl-Z), what the run waited for.
 */
function stoppedFromOutside(k: Kernel): string {
  const stopped = k.procs.filter((p) => p.live && !p.paused && p.agent?.child?.pid !== undefined && isStopped(p.agent.child.pid) === true)
    .map((p) => `${p.name} (OS pid ${p.agent!.child!.pid})`);
  return stopped.length ? `; stopped from outside vrange (SIGSTOP), the run waited for: ${stopped.join(', ')}` : '';
}

/** What the kernel holds once the run is over, for an offline check (`vrange check`) of leaks and of the dead. */
function finalState(k: Kernel): EventFields['final'] {
  const files = k.files.map((f) => ({ name: f.name, kind: f.kind, cached: f.residentPages(), open: f.openCount }));
  const cached = files.reduce((n, f) => n + f.cached, 0);
  return {
    frames: { total: k.frames.total, used: k.frames.used, free: k.frames.free, pageCache: cached, mapped: [...k.rmap.mappedFrames()].length },
    files,
    processes: k.procs.flatMap((p) => (p.state === 'unborn' ? [] : [{ process: p.name, pid: p.pid, state: p.state,
      resident: k.rmap.resident(p.pid), vmas: p.vmas.length, fds: p.fds.size, steps: p.spec.steps.length }])),
    // How many steps each program has: \`vrange check\` finds a step that ran but left no events.
    kernelSteps: k.scenario.kernel.length,
  };
}

function stepOf(s: Scenario, x: { process: string; kernel?: true }, index: number) {
  return scenarioStep(s, x, index)!;
}
