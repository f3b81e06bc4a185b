// The steps of a scenario with their places, and what loads but is most likely a typo (the
// warnings `vrange run` and `vrange play` print before the run). Split from shared/scenario.ts.

import { didYouMean } from './suggest.js';
import { formatPath, type PathPart } from './scenario_error.js';
import type { KernelStep, Mode, ProcessSpec, ProcessStep, Scenario } from './scenario-types.js';

export interface Site { step: ProcessStep | KernelStep; path: PathPart[]; owner: ProcessSpec | undefined }

/** Every step of the scenario, the processes' in order, then the kernel's, with its place. */
export function* allSteps(s: Scenario): Generator<Site> {
  for (const p of s.processes) {
    for (const [i, step] of p.steps.entries()) yield { step, path: ['processes', p.name, 'steps', i], owner: p };
  }
  for (const [i, step] of s.kernel.entries()) yield { step, path: ['kernel', i], owner: undefined };
}

const MODES: readonly Mode[] = ['volatile', 'nonvolatile'];

/**
 * What loads but is most likely a typo, for `vrange run` to print before the run: an unknown mode
 * (the spec makes it a run-time EINVAL, so the scenario still loads and runs) and an `open` of a
 * file the scenario does not declare (a run-time ENOENT) whose name is close to a declared one.
 */
export function scenarioWarnings(s: Scenario): string[] {
  const out: string[] = [];
  const files = s.files.map((f) => f.name);
  for (const { step, path } of allSteps(s)) {
    if ((step.op === 'vrange' || step.op === 'fvrange') && !MODES.includes(step.mode)) {
      out.push(`${s.file}: ${formatPath([...path, 'mode'])}: warning: mode "${step.mode}" is neither volatile nor nonvolatile, so the step gives EINVAL${didYouMean(step.mode, MODES)}`);
    }
    if (step.op === 'open' && !files.includes(step.file)) {
      const hint = didYouMean(step.file, files);
      if (hint) out.push(`${s.file}: ${formatPath([...path, 'file'])}: warning: no file "${step.file}" is declared, so the step gives ENOENT${hint}`);
    }
  }
  return out;
}

