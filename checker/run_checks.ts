// The two checks the report lists after the invariants, as checkers over the same view
// (./view.ts): run-completed (the run reached its end: no bound, interrupt or
// kernel error stopped it) and matches-model (a lockstep run replayed through the reference
// model, model/, gives the same result for every completed step). harness/run.ts appends them to
// checkInvariants' results, run-completed always, matches-model with --check-model.

import { runModel, type Action, type ModelStep } from '../model/model.js';
import type { HistoryEvent } from '../coordinator/history.js';
import { compose, type Checker, type CheckResult } from './compose.js';
import { invariantCheckers } from './invariants.js';
import type { RunView } from './view.js';
import { COMMIT_ACTION, KERNEL_ACTION, ownerLabel, scheduleAction } from '../shared/kernel_name.js';

/** Every violation named run-completed, joined: what stopped the run. */
export const runCompleted: Checker<RunView> = (k) => {
  const completed = k.violations.filter((v) => v.name === 'run-completed');
  return completed.length ? { ok: false, detail: completed.map((v) => v.text).join('; ') } : { ok: true };
};

/** The lockstep schedule the run took, as the model's actions. */
export function actionsOf(history: readonly HistoryEvent[]): Action[] {
  return history.filter((e) => e.kind === 'schedule').map((e) => {
    const action = scheduleAction(e);
    return action === KERNEL_ACTION ? { kind: 'kernel' } : action === COMMIT_ACTION ? { kind: 'commit' } : { kind: 'step', process: action };
  });
}

/** matches-model for a run with `faultsPlanned` faults in its plan (the model injects none: such a run is not checked). */
export function matchesModel(faultsPlanned: number): Checker<RunView> {
  return (k) => {
    if (k.config.schedule !== 'lockstep') return { ok: true, detail: 'not checked: the model replays lockstep runs only' };
    if (faultsPlanned > 0) return { ok: true, detail: 'not checked: the model does not inject faults' };
    if (k.violations.some((v) => v.name === 'run-completed')) return { ok: false, detail: 'the run did not complete' };
    let model: ModelStep[];
    try {
      model = runModel(k.scenario, k.config, actionsOf(k.history.events)).steps;
    } catch (e) {
      return { ok: false, detail: `the model refused the schedule: ${(e as Error).message}` };
    }
    const real = k.steps;
    const names = k.scenario.processes.map((p) => p.name);
    for (let i = 0; i < Math.max(real.length, model.length); i++) {
      const a = real[i];
      const b = model[i];
      const key = (x: typeof a | typeof b) => (x ? `${ownerLabel(x, names)} #${x.index} ${x.op} ${JSON.stringify(x.result)}` : 'nothing');
      // The kernel list's step and a process named `kernel`'s share `process`; `kernel: true` tells them apart.
      if (!a || !b || a.process !== b.process || (a.kernel === true) !== (b.kernel === true) || a.index !== b.index || JSON.stringify(a.result) !== JSON.stringify(canonical(b.result, a.result))) {
        return { ok: false, detail: `completed step ${i}: the run gave ${key(a)}, the model ${key(b)}` };
      }
    }
    return { ok: true };
  };
}

/** The model's result with its fields in the run's order, so that equal results compare equal. */
function canonical(m: Record<string, unknown>, like: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!like) return m;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(like)) if (k in m) out[k] = m[k];
  for (const k of Object.keys(m)) if (!(k in out)) out[k] = m[k];
  return out;
}

/**
 * Every check of a run's report, in the report's order: the invariants, run-completed, and
 * matches-model when the run asked for the model (`--check-model`).
 */
export function checkRun(k: RunView, opts: { checkModel: boolean; faultsPlanned: number }): CheckResult[] {
  return compose<RunView>({
    ...invariantCheckers,
    'run-completed': runCompleted,
    ...(opts.checkModel ? { 'matches-model': matchesModel(opts.faultsPlanned) } : {}),
  })(k);
}
