// One run of one scenario: a run folder, a kernel, its agents, a schedule, the invariant checks,
// the report. Everything the run started is ended before runScenario returns, even on failure.

import { writeOutput } from '../shared/files.js';
import { Kernel, expectationFor, matches, type Failure } from '../coordinator/kernel.js';
import { runFree, runLockstep, type Chooser } from '../coordinator/scheduler.js';
import { checkInvariants } from '../checker/invariants.js';
import { buildReport, narrate, neverRan, stepLine, type RunReport } from '../report/report.js';
import type { EventFields, HistoryEvent } from '../coordinator/history.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';
import { runTimeoutBaseMs, runTimeoutFor, runTimeoutPerProcessMs, runTimeoutPerStepMs } from '../shared/limits.js';
import { FaultPlan, type Fault } from './faults.js';
import { runModel, type Action, type ModelStep } from '../model/model.js';
import type { InvariantResult } from '../checker/invariants.js';
import type { RemoteOptions } from '../coordinator/remote.js';

export type { RemoteOptions };
import { createRunDir, interrupted, InterruptedError, removeRunDir, whenInterrupted, type StopSignal } from '../shared/lifecycle.js';

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
  chooser?: Chooser;
  /** Record what the `--html` page draws: every message, and a page-map snapshot after each step. */
  pictures?: boolean;
  /** Agents on other machines (`vrange kernel --listen`). */
  remote?: RemoteOptions;
}

export interface RunOutcome { report: RunReport; history: HistoryEvent[] }

export async function runScenario(scenario: Scenario, config: RunConfig, opts: RunOptions = {}): Promise<RunOutcome> {
  const runDir = createRunDir();
  const names = new Map<number, string>();
  const say = opts.narrate;
  const kernel = new Kernel({
    scenario, config, runDir, traceMessages: opts.trace !== undefined || opts.pictures === true,
    snapshots: opts.pictures, faults: new FaultPlan(opts.faults ?? [], config.seed), remote: opts.remote,
    onEvent: say ? (e) => {
      if (e.kind === 'complete') {
        const step = stepOf(scenario, e.process, e.index);
        const exp = expectationFor(step, config.policy) ?? (step.op === 'check' ? { ok: true } : undefined);
        say(stepLine(e.process, e.index, step, e.result, exp, exp ? matches(exp, e.result) : undefined));
        return;
      }
      const line = narrate(e, names);
      if (line) say(line);
    } : undefined,
  });
  let timer: NodeJS.Timeout | undefined;
  const stop = whenInterrupted();
  let signal: StopSignal | undefined;
  try {
    const timeoutMs = opts.timeoutMs ?? runBoundMs(scenario);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(timeoutText(scenario, timeoutMs, opts.timeoutMs !== undefined))), timeoutMs);
    });
    await Promise.race([(async () => {
      if (interrupted()) throw new InterruptedError(interrupted()!);
      await kernel.start();
      if (config.schedule === 'lockstep') await runLockstep(kernel, opts.chooser);
      else await runFree(kernel);
    })(), timeout, stop.promise]);
  } catch (e) {
    if (e instanceof InterruptedError) signal = e.signal;
    if (signal) say?.(`${'kernel'.padEnd(8)} INTERRUPTED by ${signal}: stopping the run, killing every agent`);
    kernel.violation('run-completed', (e as Error).message);
    // A schedule the race left behind must stop, not go on judging while shutdown kills its processes.
    kernel.fail(e as Error);
  } finally {
    clearTimeout(timer);
    stop.dispose();
  }
  await kernel.shutdown();
  const invariants = checkInvariants(kernel);
  const completed = kernel.violations.filter((v) => v.name === 'run-completed');
  invariants.push(completed.length ? { name: 'run-completed', ok: false, detail: completed.map((v) => v.text).join('; ') } : { name: 'run-completed', ok: true });
  if (opts.checkModel) invariants.push(compareWithModel(scenario, config, kernel, opts.faults ?? []));
  // An expectation on a step that never ran was never judged: a failure, unless faults were
  // injected (a killed process may be the one whose steps they are: explore's rule) or the run was
  // interrupted (it was stopped before they could run).
  const notJudged: Failure[] = [];
  for (const f of neverRan(kernel)) {
    if (kernel.faults.injected.length > 0 || signal) { notJudged.push(f); continue; }
    kernel.failures.push(f);
    kernel.history.add('expectation-failed', { process: f.process, index: f.index, expected: f.expected, ran: false, why: f.why });
  }
  const report = buildReport(kernel, invariants, signal, notJudged);
  kernel.history.add('final', finalState(kernel));
  kernel.history.add('verdict', { ok: report.ok, failures: report.failures.length, invariants, ...(signal ? { interrupted: signal } : {}) });
  try {
    if (opts.trace) writeOutput(opts.trace, kernel.history.toJsonLines());
  } finally {
    removeRunDir(runDir);
  }
  return { report, history: kernel.history.events };
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

/** The lockstep schedule the run took, as the model's actions. */
export function actionsOf(history: HistoryEvent[]): Action[] {
  return history.filter((e) => e.kind === 'schedule').map((e) =>
    e.choice === 'kernel' ? { kind: 'kernel' } : e.choice === 'commit' ? { kind: 'commit' } : { kind: 'step', process: e.choice });
}

function compareWithModel(scenario: Scenario, config: RunConfig, kernel: Kernel, faults: Fault[]): InvariantResult {
  const name = 'matches-model';
  if (config.schedule !== 'lockstep') return { name, ok: true, detail: 'not checked: the model replays lockstep runs only' };
  if (faults.length > 0) return { name, ok: true, detail: 'not checked: the model does not inject faults' };
  if (kernel.violations.some((v) => v.name === 'run-completed')) return { name, ok: false, detail: 'the run did not complete' };
  let model: ModelStep[];
  try {
    model = runModel(scenario, config, actionsOf(kernel.history.events)).steps;
  } catch (e) {
    return { name, ok: false, detail: `the model refused the schedule: ${(e as Error).message}` };
  }
  const real = kernel.steps;
  for (let i = 0; i < Math.max(real.length, model.length); i++) {
    const a = real[i];
    const b = model[i];
    const key = (x: typeof a | typeof b) => (x ? `${x.process} #${x.index} ${x.op} ${JSON.stringify(x.result)}` : 'nothing');
    if (!a || !b || a.process !== b.process || a.index !== b.index || JSON.stringify(a.result) !== JSON.stringify(canonical(b.result, a.result))) {
      return { name, ok: false, detail: `completed step ${i}: the run gave ${key(a)}, the model ${key(b)}` };
    }
  }
  return { name, ok: true };
}

/** The model's result with its fields in the run's order, so that equal results compare equal. */
function canonical(m: Record<string, unknown>, like: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!like) return m;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(like)) if (k in m) out[k] = m[k];
  for (const k of Object.keys(m)) if (!(k in out)) out[k] = m[k];
  return out;
}

function stepOf(s: Scenario, process: string, index: number) {
  if (process === 'kernel') return s.kernel[index]!;
  return s.processes.find((p) => p.name === process)!.steps[index]!;
}
