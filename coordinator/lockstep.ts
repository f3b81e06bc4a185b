// The lockstep handshake and the step record: grant, release, busy/idle, a step's start and its
// `done`, and the history's invoke/complete pair of every step.
//
// Ordering rules. The lockstep scheduler (scheduler.ts) grants one action at a time and waits for
// `idle()`: every granted action has settled (done, blocked on an exchange, or dead and reaped).
// Each thing that must settle holds a busy key (`step:P` while P's step is granted or in flight,
// `birth:P` while its agent starts, `reap:P` until its cleanup has run). A step blocked on an
// exchange that has committed goes on only when `release`d, one at a time in pid order. In the
// free schedule a step starts with its first message (`onStart`); faults may stop it first
// (fault_inject.ts). Everything here runs in the kernel's one event loop and does not await.

import type { AgentMsg } from '../shared/messages.js';
import type { KernelStep, ProcessStep, StepResult } from '../shared/scenario-types.js';
import type { Kernel, StepRecord } from './kernel.js';
import type { Proc } from './process_table.js';

export class Lockstep {
  /** Logical clock of the lockstep scheduler: one tick per granted action. */
  clock = 0;
  /** Things a lockstep scheduler must let finish before granting the next action. */
  private readonly busy = new Set<string>();
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly k: Kernel) {}

  busyWith(key: string): void { this.busy.add(key); }
  unbusy(key: string): void {
    this.busy.delete(key);
    if (this.busy.size === 0) this.wakeIdle();
    this.k.onProgress();
  }
  wakeIdle(): void {
    if (this.idleWaiters.length === 0) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
  /** Resolves when every granted action has settled (done, blocked, or dead and reaped). */
  idle(): Promise<void> {
    if (this.busy.size === 0 || this.k.fatalError) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
  busyKeys(): string[] { return [...this.busy]; }

  grant(proc: Proc): void {
    this.clock++;
    proc.inFlight = proc.nextStep;
    this.busyWith(proc.stepKey);
    this.k.history.invoke(proc.name, proc.inFlight, proc.spec.steps[proc.inFlight]);
    proc.killOnFirst = this.k.faults.atFirstMessage(proc.name, proc.inFlight);
    this.k.sendTo(proc, { t: 'grant', index: proc.inFlight, now: this.clock });
  }

  /**
   * Lockstep: lets `proc`'s step, blocked on an exchange that has committed, go on. The scheduler
   * releases such steps one at a time, in pid order, each once the one before has settled, so
   * their messages never race (docs/semantics.md, "the order of completions at a commit").
   */
  release(proc: Proc): void {
    if (proc.blockedOn < 0 || proc.inFlight < 0 || this.k.vmscan.exchanges.has(proc.blockedOn)) {
      throw new Error(`kernel invariant: release of ${proc.name}, blocked on exchange ${proc.blockedOn} with step ${proc.inFlight} in flight`);
    }
    proc.blockedOn = -1;
    this.busyWith(proc.stepKey);
    this.k.sendTo(proc, { t: 'release', index: proc.inFlight });
  }

  /** Free schedule: let a process run its steps without grants (stopping where a fault may strike). */
  runFree(proc: Proc): void {
    const stops = this.k.faults.stopsFor(proc.name, proc.spec.steps.length);
    proc.stops.clear();
    for (const s of stops) if (s >= proc.nextStep) proc.stops.add(s);
    this.k.sendTo(proc, { t: 'go', startIndex: proc.nextStep, stops });
  }

  /**
   * Free schedule: `msg` is the first message of a step (a syscall, `blocked`, `done`, or the
   * `start` an agent sends when it must answer something else first). The agent runs its steps
   * in order, so it is step `nextStep`; a message that names its step must name that one.
   */
  onStart(proc: Proc, msg: AgentMsg): void {
    const index = proc.nextStep;
    if ('index' in msg && msg.index !== index) {
      throw new Error(`kernel invariant: ${proc.name} sent ${msg.t} of step ${msg.index}, but its next step is ${index}`);
    }
    const step = proc.spec.steps[index];
    if (!step) throw new Error(`kernel invariant: ${proc.name} sent ${msg.t} after its last step`);
    proc.inFlight = index;
    proc.killOnFirst = this.k.faults.atFirstMessage(proc.name, index);
    this.k.history.invoke(proc.name, index, step);
  }

  onBlocked(proc: Proc, msg: Extract<AgentMsg, { t: 'blocked' }>): void {
    proc.blockedOn = msg.xid;
    this.k.history.add('blocked', { process: proc.name, index: msg.index, xid: msg.xid });
    this.unbusy(proc.stepKey);
  }

  onDone(proc: Proc, msg: Extract<AgentMsg, { t: 'done' }>): void {
    if (msg.index !== proc.inFlight) throw new Error(`kernel invariant: ${proc.name} finished step ${msg.index} but step ${proc.inFlight} was in flight`);
    const step = proc.spec.steps[msg.index]!;
    proc.inFlight = -1;
    proc.blockedOn = -1;
    proc.nextStep = msg.index + 1;
    if (msg.mm) this.k.mmView(proc, msg.mm);
    this.recordStep(proc.name, msg.index, step, msg.result, msg.detail);
    const last = proc.nextStep >= proc.spec.steps.length;
    const fatal = msg.detail?.fatal;
    if (fatal || step.op === 'exit' || last) {
      this.k.exit.ending(proc, fatal ? { signal: fatal as NodeJS.Signals } : { code: msg.detail?.exiting ?? 0 });
    }
    this.unbusy(proc.stepKey);
  }

  /** `cutOff`: the process died with the step in flight (Jepsen's `info`: its effect is unknown). */
  /** `kernel`: a step of the kernel list (`process` is then "kernel", which a process may be named too). */
  recordStep(process: string, index: number, step: ProcessStep | KernelStep, result: StepResult, detail?: unknown, cutOff = false, kernel = false): void {
    const rec: StepRecord = { process, index, op: step.op, result };
    if (step.label) rec.label = step.label;
    if (kernel) rec.kernel = true;
    this.k.steps.push(rec);
    const type = cutOff ? 'info' : result.ok ? 'ok' : 'fail';
    this.k.history.complete(process, index, step.op, type, result, detail, step.label, kernel);
    // The judges (checker/expectations.ts) add their events right after the `complete`.
    this.k.stepCompleted({ process, index, step, result, cutOff, ...(kernel ? { kernel: true as const } : {}) });
    this.k.onProgress();
  }
}
