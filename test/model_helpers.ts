// Helpers of the reference model's tests (test/model.test.ts, test/model-limits.test.ts).
// Schedules are written as text: a process name grants that process its next step, K runs the
// kernel list's next step (a reclaim only prepares), C commits the open reclaim exchange; `X*3`
// repeats. The k-th action has clock k.
import { runModel, type Action, type ModelStep } from '../model/model.js';
import { parseScenario } from '../shared/scenario.js';
import { runConfigFor } from '../shared/run_config.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';
import { aWrites } from './scenario_helpers.js';

export const load = (yaml: string): Scenario => parseScenario(yaml, 'inline.yaml');

export const config = (s: Scenario, over: Partial<RunConfig> = {}): RunConfig => runConfigFor(s, over);

export function schedule(text: string): Action[] {
  return text.split(/\s+/).filter(Boolean).flatMap((token) => {
    const [name, times] = token.split('*') as [string, string | undefined];
    const action: Action = name === 'K' ? { kind: 'kernel' } : name === 'C' ? { kind: 'commit' } : { kind: 'step', process: name };
    return Array.from({ length: Number(times ?? 1) }, () => action);
  });
}

export function run(yaml: string, sched: string, over: Partial<RunConfig> = {}) {
  const s = load(yaml);
  return runModel(s, config(s, over), schedule(sched));
}

/** Completion order as "process#index", and the result of one step. */
export const order = (steps: ModelStep[]) => steps.map((s) => `${s.process}#${s.index}`);
export const res = (steps: ModelStep[], process: string, index: number) => steps.find((s) => s.process === process && s.index === index)?.result;

/** A marks its pages volatile and forks B (which inherits the marks); A marks them non-volatile again, B writes a copy; a reclaim of everything. */
export const forkCow = `
${aWrites(4, 2, { name: 'fork-cow' })}
      - { op: vrange, map: buf, page: 0, pages: 4, mode: volatile }
      - { op: fork, child: B }
      - { op: vrange, map: buf, page: 0, pages: 4, mode: nonvolatile }
      - { op: read, map: buf, page: 0 }
  B:
    forked: true
    steps:
      - { op: write, map: buf, page: 1, value: "b1" }
      - { op: read, map: buf, page: 0 }
      - { op: read, map: buf, page: 1 }
kernel:
  - { op: reclaim, all: true }
`;
