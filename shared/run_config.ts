// The configuration of one run: what the command line (or a caller) gives, else what the scenario
// says, else the defaults below. Every place that makes a RunConfig from a scenario calls
// runConfigFor (the run command, the quiz, the benchmarks, the tests), so that they cannot differ.

import type { RunConfig, Scenario } from './scenario-types.js';

/** What a run uses where neither the caller nor the scenario says (`vrange help run`). */
export const RUN_DEFAULTS = {
  policy: 'shared-file', access: 'sigbus', purgeUnit: 'range', seed: 1, schedule: 'lockstep',
} as const satisfies Omit<RunConfig, 'frames'>;

/**
 * The RunConfig of a run of `scenario`: each field from `over` when it is given (not undefined),
 * else from the scenario (policy, access, purgeUnit, memory.frames), else RUN_DEFAULTS.
 */
export function runConfigFor(scenario: Scenario, over: Partial<RunConfig> = {}): RunConfig {
  return {
    policy: over.policy ?? scenario.policy ?? RUN_DEFAULTS.policy,
    access: over.access ?? scenario.access ?? RUN_DEFAULTS.access,
    purgeUnit: over.purgeUnit ?? scenario.purgeUnit ?? RUN_DEFAULTS.purgeUnit,
    frames: over.frames ?? scenario.memory.frames,
    seed: over.seed ?? RUN_DEFAULTS.seed,
    schedule: over.schedule ?? RUN_DEFAULTS.schedule,
  };
}
