// One run of one scenario: a run folder, a kernel, its agents, a schedule, the invariant checks,
// the report. Everything the run started is ended before runScenario returns, even on failure.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel, expectationFor, matches } from './kernel.js';
import { runFree, runLockstep } from './scheduler.js';
import { checkInvariants } from './invariants.js';
import { buildReport, narrate, stepLine, type RunReport } from './report.js';
import type { HistoryEvent } from './history.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';
import { runTimeoutMs } from '../shared/limits.js';
import { FaultPlan, type Fault } from './faults.js';

export interface RunOptions {
  /** Write the history as JSON lines here. */
  trace?: string;
  /** Receives each narrated line as it happens. */
  narrate?: (line: string) => void;
  timeoutMs?: number;
  faults?: Fault[];
}

export interface RunOutcome { report: RunReport; history: HistoryEvent[] }

export async function runScenario(scenario: Scenario, config: RunConfig, opts: RunOptions = {}): Promise<RunOutcome> {
  const runDir = mkdtempSync(join(tmpdir(), 'vrange-run-'));
  const names = new Map<number, string>();
  const say = opts.narrate;
  const kernel = new Kernel({
    scenario, config, runDir, traceMessages: opts.trace !== undefined, faults: new FaultPlan(opts.faults ?? [], config.seed),
    onEvent: say ? (e) => {
      if (e.kind === 'complete') {
        const step = stepOf(scenario, e.process as string, e.index as number);
        const exp = expectationFor(step, config.policy) ?? (step.op === 'check' ? { ok: true } : undefined);
        say(stepLine(e.process as string, e.index as number, step as never, e.result as never, exp, exp ? matches(exp, e.result as never) : undefined));
        return;
      }
      const line = narrate(e, names);
      if (line) say(line);
    } : undefined,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeoutMs = opts.timeoutMs ?? runTimeoutMs;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the run took longer than ${timeoutMs} ms (runTimeoutMs)`)), timeoutMs);
    });
    await Promise.race([(async () => {
      await kernel.start();
      if (config.schedule === 'lockstep') await runLockstep(kernel);
      else await runFree(kernel);
    })(), timeout]);
  } catch (e) {
    kernel.violation('run-completed', (e as Error).message);
  } finally {
    clearTimeout(timer);
  }
  await kernel.shutdown();
  const invariants = checkInvariants(kernel);
  const completed = kernel.violations.filter((v) => v.name === 'run-completed');
  invariants.push(completed.length ? { name: 'run-completed', ok: false, detail: completed.map((v) => v.text).join('; ') } : { name: 'run-completed', ok: true });
  const report = buildReport(kernel, invariants);
  kernel.history.add('verdict', { ok: report.ok, failures: report.failures.length, invariants });
  if (opts.trace) writeFileSync(opts.trace, kernel.history.toJsonLines());
  rmSync(runDir, { recursive: true, force: true });
  return { report, history: kernel.history.events };
}

function stepOf(s: Scenario, process: string, index: number) {
  if (process === 'kernel') return s.kernel[index]!;
  return s.processes.find((p) => p.name === process)!.steps[index]!;
}
