// Runs a generated scenario through the real kernel and real agents (as harness/run.ts does)
// but hands the benchmark the kernel itself and a hook on every history event, so that it can
// time a window of the run (the `at` stamps, microseconds since boot) and count messages.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel, type KernelOptions } from '../coordinator/kernel.js';
import { runFree, runLockstep } from '../coordinator/scheduler.js';
import { checkInvariants } from '../checker/invariants.js';
import { Expectations } from '../checker/expectations.js';
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
  opts: { onEvent?: (e: HistoryEvent, k: Kernel) => void; traceMessages?: boolean; kernel?: Partial<KernelOptions> } = {}): Promise<BenchRun> {
  const config: RunConfig = runConfigFor(scenario, { ...over, schedule: over.schedule ?? 'free' });
  const runDir = mkdtempSync(join(tmpdir(), 'vrange-bench-'));
  let kernel!: Kernel;
  const onEvent = opts.onEvent ? (e: HistoryEvent) => opts.onEvent!(e, kernel) : undefined;
  const judge = new Expectations(config.policy);
  kernel = new Kernel({ scenario, config, runDir, traceMessages: opts.traceMessages ?? false, hooks: judge.hooks, onEvent, ...opts.kernel });
  const t0 = Date.now();
  try {
    await kernel.start();
    if (config.schedule === 'lockstep') await runLockstep(kernel); else await runFree(kernel);
  } catch (e) {
    kernel.violation('run-completed', (e as Error).message);
  }
  await kernel.shutdown();
  const wallMs = Date.now() - t0;
  rmSync(runDir, { recursive: true, force: true });
  const failed = checkInvariants(kernel).filter((i) => !i.ok).map((i) => `${i.name}: ${i.detail ?? ''}`);
  for (const v of kernel.violations) failed.push(`${v.name}: ${v.text}`);
  for (const f of judge.failures) failed.push(`${f.process} #${f.index}: expected ${JSON.stringify(f.expected)}, got ${JSON.stringify(f.actual)}`);
  if (failed.length > 0) throw new Error(`benchmark run of ${scenario.name} failed: ${failed.slice(0, 5).join('; ')}`);
  return { kernel, history: kernel.history.events, failed, wallMs };
}

/** Microseconds between the first event matching `from` and the last matching `to`. */
export function spanUs(history: HistoryEvent[], from: (e: HistoryEvent) => boolean, to: (e: HistoryEvent) => boolean): number {
  const a = history.find(from);
  let b: HistoryEvent | undefined;
  for (let i = history.length - 1; i >= 0; i--) if (to(history[i]!)) { b = history[i]; break; }
  if (!a || !b) throw new Error('spanUs: an end of the window is missing from the history');
  return b.at - a.at;
}
