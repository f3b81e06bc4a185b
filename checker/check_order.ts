// The offline checker (checker/check.ts), the order of events (check `well-formed`,
// docs/history-format.md "Required events"): each process (and the kernel list) invokes its steps
// one at a time and in order, a complete follows its invoke and names its op, a `wait` returns
// after its signal and a `waitpid` after its process's cleanup, a death interrupts the step it
// says, and at the end every program ran to a step that ends it or was stopped by a death.

import type { EventOf } from '../coordinator/history.js';
import { PageTable } from './check_model.js';
import type { CheckState, Line } from './check_state.js';
import { forkCompleted, forkInvoked, isBorn, parentDied } from './check_fork.js';
import { completeStep, stepInvoked } from './check_steps.js';
import { isKernelStep, KERNEL_ACTION, stepKey } from '../shared/kernel_name.js';

/** Whose steps an event's are, as the checker keys them: a process's name, or `@kernel` for the kernel list (never a process's). */
const ownerOf = (e: { process: unknown; kernel?: unknown }): string => (isKernelStep(e) ? KERNEL_ACTION : String(e.process));
/** Whose steps they are in a message: a process's name, or `the kernel list` (a process may be named `kernel`). */
const ownerText = (e: { process: unknown; kernel?: unknown }): string => (isKernelStep(e) ? 'the kernel list' : String(e.process));

export function invoked(s: CheckState, e: Line<EventOf<'invoke'>>): void {
  const { invokes, flag, nextIndex, inFlightStep } = s;
  const key = stepKey(e, e.index);
  const seen = invokes.has(key) || s.stepsDone.has(key);
  if (seen) flag('well-formed', `${ownerText(e)} step ${e.index} invoked twice`, [invokes.get(key)?.line ?? 0, e.line]);
  invokes.set(key, { line: e.line, step: e.step });
  if (e.step.op === 'signal') s.signalled.add(String(e.step.name));
  const kernel = isKernelStep(e);
  const who = ownerOf(e);
  const name = ownerText(e);
  const index = Number(e.index);
  const want = nextIndex.get(who) ?? 0;
  if (!kernel && !isBorn(s, who)) flag('well-formed', `${name} step ${index} invoked before any birth of ${name}`, [e.line]);
  if (inFlightStep.has(who)) flag('well-formed', `${name} step ${index} invoked while its step ${inFlightStep.get(who)} is still in flight (a process runs one step at a time)`, [e.line]);
  else if (index > want) flag('well-formed', `${name} step ${index} invoked, but its next step is ${want}: step${index - want > 1 ? `s ${want}-${index - 1}` : ` ${want}`} left no events`, [e.line]);
  else if (index < want && !seen) flag('well-formed', `${name} step ${index} invoked after its step ${want - 1} (steps out of order)`, [e.line]);
  inFlightStep.set(who, index);
  nextIndex.set(who, Math.max(want, index + 1));
  if (kernel) return;
  s.deadMention(e.process, e, `invoked step ${e.index}`);
  const p = s.procs.get(who);
  if (p) stepInvoked(s, p, key, e.step, e.line);
  if (e.step.op === 'fork') forkInvoked(s, who, index, e.step.child);
}

export function completed(s: CheckState, e: Line<EventOf<'complete'>>): void {
  const { invokes, flag } = s;
  const key = stepKey(e, e.index);
  const who = ownerOf(e);
  const inv = invokes.get(key);
  if (!inv) { flag('well-formed', `${ownerText(e)} step ${e.index} completed without an invoke`, [e.line]); return; }
  invokes.delete(key);
  s.inFlightMarks.delete(key);
  if (s.stepsDone.has(key)) flag('well-formed', `${ownerText(e)} step ${e.index} completed twice`, [e.line]);
  s.stepsDone.add(key);
  if (s.inFlightStep.get(who) === e.index) s.inFlightStep.delete(who);
  s.lastDone.set(who, { index: Number(e.index), op: String(e.op), result: e.result, line: e.line });
  if (inv.step.op !== e.op) flag('well-formed', `${ownerText(e)} step ${e.index} was invoked as ${String(inv.step.op)} but completed as ${e.op}`, [inv.line, e.line]);
  if (e.op === 'wait' && e.type === 'ok' && !s.signalled.has(String(inv.step.name))) {
    flag('well-formed', `${ownerText(e)} step ${e.index} (wait ${String(inv.step.name)}) returned, but no signal step raised ${String(inv.step.name)} before it: a step's events are missing?`, [inv.line, e.line]);
  }
  if (e.op === 'waitpid' && e.type === 'ok') {
    const target = String(inv.step.process);
    const c = s.cleanedUp.get(target);
    const r = e.result;
    if (!c) flag('well-formed', `${ownerText(e)} step ${e.index} (waitpid ${target}) returned before any cleanup of ${target}`, [inv.line, e.line]);
    else if ((r.exitCode !== undefined && r.exitCode !== c.exitCode) || (r.signal !== undefined && r.signal !== c.signal)) {
      flag('well-formed', `${ownerText(e)} step ${e.index} (waitpid ${target}) returned ${JSON.stringify(r)}, but ${target}'s cleanup says ${JSON.stringify({ exitCode: c.exitCode, signal: c.signal })}`, [c.line, e.line]);
    }
  }
  if ((e.op === 'vrange' || e.op === 'fvrange') && inv.step.mode === 'nonvolatile' && e.type === 'ok' && typeof e.result.purged !== 'boolean') {
    flag('well-formed', `${ownerText(e)} step ${e.index} (${e.op} nonvolatile) succeeded without saying purged: true or false`, [e.line]);
  }
  if (isKernelStep(e)) return;
  if (e.op === 'fork') forkCompleted(s, String(e.process), Number(e.index), inv.step.child, e.result);
  const p = s.procs.get(String(e.process));
  if (!p) { flag('well-formed', `step of ${e.process}, a process never born`, [e.line]); return; }
  if (p.cleanedAt) { s.deadMention(p.name, e, `completed step ${e.index}`); return; }
  completeStep(s, p, inv.step, e, inv.line);
  s.overlaps.completed(key, e.line);
}

export function cleanup(s: CheckState, e: Line<EventOf<'cleanup'>>): void {
  const name = String(e.process);
  const list = s.cleanups.get(name) ?? [];
  list.push(e.line);
  s.cleanups.set(name, list);
  if (!s.cleanedUp.has(name)) s.cleanedUp.set(name, { line: e.line, exitCode: e.exitCode, signal: e.signal });
  // The death interrupted a step (in flight, or asleep in a wait): that step completed with the signal.
  if (typeof e.interrupted === 'number') {
    const end = s.lastDone.get(name);
    if (!end || end.index !== e.interrupted || typeof end.result.signal !== 'string') {
      s.flag('well-formed', `${name}'s cleanup says its death interrupted step ${e.interrupted}, but the history has no result of that step with the signal${end ? ` (the last result is of step ${end.index})` : ''}`,
        [...(end ? [end.line] : []), e.line]);
    }
  }
  const p = s.procs.get(name);
  if (p && !p.cleanedAt) {
    parentDied(s, p);
    p.cleanedAt = e.line;
    p.pt = new PageTable();
    p.mmVol.clear(); p.mustReport.clear(); p.mayReport.clear();
    p.fds.clear(); p.fdNames.clear(); p.maps.clear();
  }
}

// ------------------------------------------------------------ every step of every program left events

export function programsRan(s: CheckState, events: readonly Line[], last: Line | undefined): void {
  const { finals, flag, nextIndex, lastDone, cleanups, killedBy } = s;
  if (finals.length === 0) { flag('well-formed', 'no `final` event: the history lost the end of the run', [last?.line ?? 0]); return; }
  if (finals.length > 1) flag('well-formed', `${finals.length} \`final\` events; a run has one`, finals.map((f) => f.line));
  const fin = finals[finals.length - 1]!;
  if (last && last.kind === 'verdict' && events[events.length - 2] !== fin) flag('well-formed', 'the `final` event is not just before the `verdict`', [fin.line, last.line]);
  const verdictSaysIncomplete = last?.kind === 'verdict' && last.invariants.some((i) => i.name === 'run-completed' && !i.ok);
  const listed = new Set<string>();
  const ran = (who: string, steps: number, state: string | undefined) => {
    const done = nextIndex.get(who) ?? 0;
    const end = lastDone.get(who);
    const label = who === KERNEL_ACTION ? 'the kernel list' : who;
    if (done > steps) { flag('well-formed', `${label} has ${steps} step(s), but the history shows step ${done - 1}`, [fin.line]); return; }
    if (verdictSaysIncomplete || state === 'running') return;
    if (state === 'killed') {
      // A death has a cause in the history: the signal its last step got, or a kill of it.
      const signal = cleanups.has(who) ? events.find((x) => x.line === cleanups.get(who)![0])?.signal : undefined;
      // The signal the last step itself took (ok: false), not a waitpid's report of another's death.
      const stepSignal = end?.result.ok === false ? end.result.signal : undefined;
      const explained = (typeof stepSignal === 'string' && (signal === undefined || signal === stepSignal)) || killedBy.has(who) || s.deadlocked;
      if (!explained) {
        flag('well-formed', `${who} was killed${typeof signal === 'string' ? ` by ${signal}` : ''}, but no step result, kill, OOM kill or fault in the history explains it (after ${done} of its ${steps} step(s): a step's events are missing?)`,
          [end?.line ?? 0, cleanups.get(who)?.[0] ?? 0, fin.line]);
      }
      return;
    }
    if (done === steps) return;
    // Fewer steps than the program: only a step that ends it (exit, crash) or a deadlock stops it early.
    if (end && (end.op === 'exit' || end.op === 'crash' || end.result.stuck === true || (end.result.ok === false && typeof end.result.signal === 'string'))) return;
    flag('well-formed', `${label} ran ${done} of its ${steps} step(s) and ${who === KERNEL_ACTION ? 'stopped' : `ended ${state}`} with no step that ends it: step${steps - done > 1 ? `s ${done}-${steps - 1}` : ` ${done}`} left no events`,
      [end?.line ?? 0, fin.line]);
  };
  for (const q of fin.processes) {
    listed.add(q.process);
    if (!isBorn(s, q.process)) { flag('well-formed', `the \`final\` event lists ${q.process}, which has no \`birth\``, [fin.line]); continue; }
    ran(q.process, q.steps, q.state);
  }
  for (const p of s.procs.values()) if (!listed.has(p.name) && isBorn(s, p.name)) flag('well-formed', `${p.name} was born but the \`final\` event does not list it`, [fin.line]);
  ran(KERNEL_ACTION, Number(fin.kernelSteps), undefined);
}
