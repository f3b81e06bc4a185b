// Runs a generated scenario through the real kernel and real agents with harness/run.ts's
// runKernel (the orchestration every run shares), and hands the benchmark the kernel itself and a
// hook on every history event, so that it can time a window of the run (the `at` stamps,
// microseconds since boot) and count messages.

import type { Kernel, KernelOptions } from '../coordinator/kernel.js';
import { runKernel } from '../harness/run.js';
import type { HistoryEvent } from '../coordinator/history.js';
import { parseScenario } from '../shared/scenario.js';
import { runConfigFor } from '../shared/run_config.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';

export interface BenchRun { kernel: Kernel; history: HistoryEvent[]; failed: string[]; wallMs: number }

/** Validates a scenario document as a user's file would be (the same limits apply). */
export function scenarioOf(doc: unknown, name = 'bench.json'): Scenario {
  return parseScenario(JSON.stringify(doc), name);
}

export async function runBench(scenario: Scenario, over: Partial<RunConfig> = {},
  opts: { onEvent?: (e: HistoryEvent, k: Kernel) => void; traceMessages?: boolean; kernel?: Partial<KernelOptions>; timeoutMs?: number } = {}): Promise<BenchRun> {
  const config: RunConfig = runConfigFor(scenario, { ...over, schedule: over.schedule ?? 'free' });
  let kernel!: Kernel;
  const onEvent = opts.onEvent ? (e: HistoryEvent) => opts.onEvent!(e, kernel) : undefined;
  // The kernel is known to onEvent from its first event on (boot).
  const run = await runKernel(scenario, config, { onEvent, timeoutMs: opts.timeoutMs, onKernel: (k) => { kernel = k; },
    kernel: { traceMessages: opts.traceMessages ?? false, ...opts.kernel } });
  const failed = run.invariants.filter((i) => !i.ok).map((i) => `${i.name}: ${i.detail ?? ''}`);
  for (const v of kernel.violations) if (v.name !== 'run-completed') failed.push(`${v.name}: ${v.text}`);
  for (const f of run.judge.failures) failed.push(`${f.process} #${f.index}: expected ${JSON.stringify(f.expected)}, got ${JSON.stringify(f.actual)}`);
  if (failed.length > 0) throw new Error(`benchmark run of ${scenario.name} failed: ${failed.slice(0, 5).join('; ')}`);
  return { kernel, history: kernel.history.events, failed, wallMs: run.wallMs };
}

/** Microseconds between the first event matching `from` and the last matching `to`. */
export function spanUs(history: HistoryEvent[], from: (e: HistoryEvent) => boolean, to: (e: HistoryEvent) => boolean): number {
  const a = history.find(from);
  let b: HistoryEvent | undefined;
  for (let i = history.length - 1; i >= 0; i--) if (to(history[i]!)) { b = history[i]; break; }
  if (!a || !b) throw new Error('spanUs: an end of the window is missing from the history');
  return b.at - a.at;
}
