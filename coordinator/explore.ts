// `vrange explore FILE --runs N`: many runs of one scenario with seeds drawn from a base seed,
// optional random faults, each run's invariants checked (and lockstep runs replayed through the
// reference model). Prints a table of outcomes and, for each failing run, the command that
// reproduces it exactly.
//
// With faults, a process that others wait for may die, so a scenario's own expectations and its
// `no-deadlock` are not the kernel's to keep: explore judges the kernel (every other invariant).

import { runScenario } from './run.js';
import { reproduce } from './cli.js';
import { parseFault, type Fault } from './faults.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';

export const exploreRunsMax = 100_000;

export interface ExploreOptions {
  file: string;
  scenario: Scenario;
  base: RunConfig;
  runs: number;
  faultSpecs: string[];
  checkDeterminism: boolean;
  progress?: (done: number, total: number) => void;
}

export interface ExploreRun { seed: number; outcome: string; broken: string[]; repro: string; kills: number; pauses: number }

export interface ExploreResult { runs: ExploreRun[]; counts: Record<string, number>; kills: number; pauses: number; failing: ExploreRun[] }

const kernelInvariant = (name: string, withFaults: boolean) => !(withFaults && name === 'no-deadlock');

export async function explore(o: ExploreOptions): Promise<ExploreResult> {
  const runs: ExploreRun[] = [];
  const faults: Fault[] = o.faultSpecs.map((f) => parseFault(f, o.scenario));
  for (let i = 0; i < o.runs; i++) {
    const seed = (o.base.seed + i) % 2 ** 31;
    const config = { ...o.base, seed };
    const { report, history } = await runScenario(o.scenario, config, { faults, checkModel: true });
    const broken = report.invariants.filter((x) => !x.ok && kernelInvariant(x.name, faults.length > 0)).map((x) => x.name);
    if (o.checkDeterminism && config.schedule === 'lockstep') {
      const again = await runScenario(o.scenario, config, { faults });
      if (JSON.stringify(again.report.steps) !== JSON.stringify(report.steps)) broken.push('determinism');
    }
    const expectations = faults.length === 0 && report.failures.length > 0;
    const outcome = broken.length ? `invariant broken: ${broken.join(', ')}` : expectations ? 'expectation failed' : 'ok';
    runs.push({
      seed, outcome, broken, repro: reproduce(o.file, config, faults),
      kills: history.filter((e) => e.kind === 'fault' && String(e.action).startsWith('SIGKILL')).length,
      pauses: history.filter((e) => e.kind === 'fault' && String(e.action).startsWith('SIGSTOP')).length,
    });
    o.progress?.(i + 1, o.runs);
  }
  const counts: Record<string, number> = {};
  for (const r of runs) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  return {
    runs, counts, failing: runs.filter((r) => r.outcome !== 'ok'),
    kills: runs.reduce((n, r) => n + r.kills, 0), pauses: runs.reduce((n, r) => n + r.pauses, 0),
  };
}
