// Schedules: who runs next.
//
// lockstep  the kernel is the only scheduler. After every action has settled it lists the enabled
//           actions (each live process's next step unless it waits on something not yet true; the
//           kernel list's next step; the commit of an open reclaim exchange), in pid order, and
//           grants one chosen by the PRNG seeded from --seed. The prepare and the commit of a
//           `reclaim` step are separate actions, so steps run between them. The steps a commit
//           releases go on within the commit, one at a time in pid order. Same seed, same run.
// free      every process runs its steps as fast as it can; only wait/signal/waitpid order them.
//           The kernel list runs beside them.
//
// Both stop when every process has ended and the kernel list is done, or when everything left
// waits on something nothing can bring about (a deadlock: those steps report `stuck`).

import type { Kernel } from './kernel.js';
import type { Proc } from './process_table.js';
import type { Exchange } from './reclaim.js';
import type { KernelStep, ProcessStep, StepResult } from '../shared/scenario-types.js';
import { Prng } from '../shared/prng.js';
import { choiceToken, COMMIT_ACTION, KERNEL_ACTION, KERNEL_NAME, ownerLabel } from '../shared/kernel_name.js';

type Action = { kind: 'step'; proc: Proc } | { kind: 'kernel' } | { kind: 'commit' };

/** `kernel: true` for the kernel list's step (a process may be named `kernel`). */
export interface Stuck { process: string; index: number; waitsFor: string; kernel?: true }

function waitsOn(k: Kernel, step: ProcessStep | KernelStep): string | undefined {
  if (step.op === 'wait' && !k.signals.isSignalled(step.name)) return `signal "${step.name}"`;
  if (step.op === 'waitpid' && !k.procs.find((p) => p.name === step.process)!.reaped) return `process ${step.process} to end`;
  return undefined;
}

function byPid(k: Kernel): Proc[] {
  return k.procs.filter((p) => p.state !== 'unborn').sort((a, b) => a.pid - b.pid);
}

/** The kernel list's steps, run by the kernel itself. */
class KernelList {
  index = 0;
  exchange: Exchange | undefined;
  constructor(private readonly k: Kernel) {}
  get steps(): KernelStep[] { return this.k.scenario.kernel; }
  get done(): boolean { return this.index >= this.steps.length; }
  get next(): KernelStep | undefined { return this.steps[this.index]; }

  private finish(result: StepResult): void {
    this.k.lockstep.recordStep(KERNEL_NAME, this.index, this.next!, result, undefined, false, true);
    this.index++;
  }

  /** Runs the next step. A `reclaim` only prepares when `split`; commit() finishes it. */
  async run(split: boolean): Promise<void> {
    const step = this.next!;
    this.k.history.add('invoke', { process: KERNEL_NAME, index: this.index, step, kernel: true });
    switch (step.op) {
      case 'signal': this.k.signals.signal(step.name); return this.finish({ ok: true });
      case 'wait': return this.finish({ ok: true });
      case 'waitpid': return this.finish(this.k.signals.waitResult(step.process));
      case 'check': return this.finish(this.k.checkStep(step));
      case 'kill': {
        const target = this.k.procs.find((p) => p.name === step.process)!;
        if (!target.live) return this.finish({ ok: false, errno: 'ESRCH' });
        this.k.history.add('kill', { process: target.name, pid: target.pid, by: 'kernel step' });
        await this.k.killProc(target);
        return this.finish({ ok: true });
      }
      case 'reclaim': {
        const want = step.all ? Infinity : step.pages!;
        this.exchange = this.k.vmscan.openExchange(want, step.all ? 'kernel step: reclaim all' : `kernel step: reclaim ${want} page(s)`);
        await this.exchange.prepare();
        if (!split) await this.commit();
        return;
      }
    }
  }

  async commit(): Promise<void> {
    const ex = this.exchange!;
    this.exchange = undefined;
    const { freed } = await ex.commit();
    this.finish({ ok: true, freed });
    this.k.vmscan.closeExchange(ex); // after finish: the steps the commit released complete after the reclaim step
  }
}

/**
 * Picks one of the enabled actions, named as the `schedule` history event names them (a process
 * name, `@kernel` or `@commit`: shared/kernel_name.ts), in pid order. The seed's PRNG by default; a replayed schedule
 * (`--choices`, `--schedule-file`) or an enumerator (`explore --all`) can take its place.
 */
export interface Chooser { choose(enabled: string[]): number }

/**
 * A chooser that may take its time: `vrange play` waits for the student's click. The run waits
 * with it (every process idle, nothing in flight); a synchronous chooser costs no extra turn.
 */
export interface LiveChooser { choose(enabled: string[]): number | Promise<number> }

export function prngChooser(seed: number): Chooser {
  const prng = new Prng(seed, 'schedule');
  return { choose: (enabled) => prng.below(enabled.length) };
}

/**
 * The most actions a lockstep run of this scenario can take: two per process step (it is granted
 * once, and an injected fault may first pause it once, or kill the process before it), and two per
 * kernel step (a `reclaim` prepares and commits). The loader keeps the steps within runStepsMax.
 */
export function actionsMax(s: Kernel['scenario']): number {
  return 2 * (s.processes.reduce((n, p) => n + p.steps.length, 0) + s.kernel.length);
}

export async function runLockstep(k: Kernel, chooser: LiveChooser = prngChooser(k.config.seed)): Promise<Stuck[]> {
  const list = new KernelList(k);
  const most = actionsMax(k.scenario);
  k.pinForLockstep();
  for (let granted = 0; granted <= most; granted++) {
    await k.lockstep.idle();
    if (k.fatalError) throw k.fatalError;
    const actions: Action[] = [];
    for (const proc of byPid(k)) {
      if (!proc.live || proc.inFlight >= 0 || proc.paused) continue;
      const step = proc.spec.steps[proc.nextStep];
      if (step && !waitsOn(k, step)) actions.push({ kind: 'step', proc });
    }
    if (list.exchange) actions.push({ kind: 'commit' });
    else if (!list.done && !waitsOn(k, list.next!)) actions.push({ kind: 'kernel' });
    if (actions.length === 0) {
      // A process paused by a fault will be enabled again when it resumes: wait for it.
      const paused = k.procs.filter((p) => p.live && p.paused).map((p) => p.paused!);
      if (paused.length > 0) { await Promise.race(paused); granted--; continue; }
      const stuck = await stuckInLockstep(k, list);
      await k.vmscan.settle(); // the commits' acks, before the verdict
      return stuck;
    }
    const names = actions.map((x) => (x.kind === 'step' ? x.proc.name : x.kind === 'kernel' ? KERNEL_ACTION : COMMIT_ACTION));
    const chosen = chooser.choose(names);
    const pick = typeof chosen === 'number' ? chosen : await chosen;
    if (k.fatalError) throw k.fatalError;
    if (!Number.isInteger(pick) || pick < 0 || pick >= actions.length) throw new Error(`scheduler invariant: chooser picked ${pick} of ${actions.length} actions`);
    const a = actions[pick]!;
    const processNames = k.scenario.processes.map((p) => p.name);
    k.history.add('schedule', { choice: choiceToken(names[pick]!, processNames), enabled: actions.length, options: names.map((n) => choiceToken(n, processNames)),
      clock: k.clock + 1, ...(a.kind === 'step' ? {} : { kernel: true as const }) });
    if (a.kind === 'step') {
      const drawn = k.faultInject.beforeStep(a.proc);
      if (drawn === 'go') k.lockstep.grant(a.proc);
      else await drawn; // killed, or paused (enabled again when it resumes)
      continue;
    }
    k.lockstep.clock++;
    if (a.kind === 'kernel') { await list.run(true); continue; }
    // The steps the commit releases go on one at a time, in pid order, each once the one before
    // has settled, all within this action (after the reclaim step completes), as in the model:
    // their messages never race, so the same choices give the same history.
    const ex = list.exchange!;
    const released = byPid(k).filter((p) => p.blockedOn === ex.xid);
    await list.commit();
    for (const p of released) {
      if (k.fatalError) break;
      if (!p.live || p.blockedOn !== ex.xid) continue; // killed meanwhile (its step reported SIGKILL)
      k.lockstep.release(p);
      await k.lockstep.idle();
    }
  }
  throw new Error(`scheduler invariant: more than ${most} actions, the most the scenario's steps allow`);
}

/** Nothing is enabled: either the run is over, or what is left waits forever. */
async function stuckInLockstep(k: Kernel, list: KernelList): Promise<Stuck[]> {
  const stuck: Stuck[] = [];
  for (const proc of byPid(k)) {
    const step = proc.spec.steps[proc.nextStep];
    if (!proc.live || !step) continue;
    stuck.push({ process: proc.name, index: proc.nextStep, waitsFor: waitsOn(k, step) ?? 'nothing' });
  }
  if (!list.done) stuck.push({ process: KERNEL_NAME, index: list.index, waitsFor: waitsOn(k, list.next!) ?? 'nothing', kernel: true });
  await endStuck(k, stuck, (s) => {
    const proc = s.kernel ? undefined : k.procs.find((p) => p.name === s.process);
    const step = proc ? proc.spec.steps[s.index]! : list.next!;
    // Never granted, so never invoked: the history still pairs every completion with its invocation.
    k.history.add('invoke', { process: s.process, index: s.index, step, ...(s.kernel ? { kernel: true as const } : {}) });
    k.lockstep.recordStep(s.process, s.index, step, { ok: false, stuck: true }, undefined, false, s.kernel === true);
    // Its stuck step is its last word: the SIGKILL that ends it finds no step asleep (exit.ts asleepIn).
    if (proc) proc.nextStep = proc.spec.steps.length;
  });
  return stuck;
}

async function endStuck(k: Kernel, stuck: Stuck[], record: (s: Stuck) => void): Promise<void> {
  if (stuck.length === 0) return;
  for (const s of stuck) {
    k.history.add('stuck', { ...s });
    record(s);
  }
  // The kernel list's step is `kernel step N`, `@kernel step N` when a process has that name.
  const names = k.scenario.processes.map((p) => p.name);
  k.violation('no-deadlock', stuck.map((s) => `${ownerLabel(s, names)} step ${s.index} waits for ${s.waitsFor}`).join('; '));
  for (const proc of k.procs) if (proc.live) await k.killProc(proc);
}

export async function runFree(k: Kernel): Promise<Stuck[]> {
  k.unpinForFree();
  const list = new KernelList(k);
  let kernelParked: string | undefined;
  let stopped = false;
  let settle!: () => void;
  const over = new Promise<void>((resolve) => (settle = resolve));
  // Called at every step's end (k.onProgress): cheap when some process still runs, the usual case.
  const check = () => {
    if (k.fatalError) return settle();
    for (const p of k.procs) if (p.live && p.parkedOn === undefined) return; // someone still runs
    // Every live process is parked (or none is left).
    if (list.done) return settle();
    // Re-read the kernel list's wait now: a signal may have satisfied it since it parked.
    const kernelStuck = kernelParked !== undefined && waitsOn(k, list.next!) !== undefined;
    if (kernelStuck && !list.exchange) settle();
  };
  k.onProgress = check;
  const kernelLoop = (async () => {
    while (!list.done && !k.fatalError && !stopped) {
      const step = list.next!;
      if (step.op === 'wait' || step.op === 'waitpid') {
        kernelParked = waitsOn(k, step);
        while (kernelParked && !k.fatalError && !stopped) {
          check();
          await new Promise<void>((resolve) => setTimeout(resolve, 5));
          kernelParked = waitsOn(k, step);
        }
        if (stopped) return;
      }
      await list.run(false);
      check();
    }
  })();
  for (const proc of byPid(k)) if (proc.live && proc.spec.steps.length > 0) k.lockstep.runFree(proc);
  check();
  await over;
  stopped = true;
  k.onProgress = () => {};
  if (k.fatalError) throw k.fatalError;
  const stuck: Stuck[] = [];
  for (const proc of k.procs.filter((p) => p.live)) {
    stuck.push({ process: proc.name, index: proc.inFlight, waitsFor: proc.parkedOn ?? 'nothing' });
  }
  if (!list.done && kernelParked) stuck.push({ process: KERNEL_NAME, index: list.index, waitsFor: kernelParked, kernel: true });
  await endStuck(k, stuck, (s) => {
    const proc = s.kernel ? undefined : k.procs.find((p) => p.name === s.process);
    // Its stuck step is its last word: the SIGKILL that ends it finds no step asleep (exit.ts asleepIn).
    if (proc) { proc.inFlight = -1; proc.nextStep = proc.spec.steps.length; k.lockstep.recordStep(s.process, s.index, proc.spec.steps[s.index]!, { ok: false, stuck: true }); }
    else {
      // The kernel list parked before running the step, so it was never invoked (as in lockstep).
      k.history.add('invoke', { process: KERNEL_NAME, index: s.index, step: list.next!, kernel: true });
      k.lockstep.recordStep(KERNEL_NAME, s.index, list.next!, { ok: false, stuck: true }, undefined, false, true);
    }
  });
  if (stuck.some((s) => s.kernel)) list.index = list.steps.length;
  await kernelLoop.catch(() => {});
  await k.vmscan.settle(); // the commits' acks, before the verdict
  return stuck;
}
