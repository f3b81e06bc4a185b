// A reference model of vrange's semantics: small, sequential, in-process and deterministic.
//
// Written from the documents only: shared/spec/scenario-format.md (the contract), docs/semantics.md
// (the choices made where the contract leaves room), docs/protocol.md and shared/spec/design.md (the
// reclaim exchange). Nothing here is read from or shared with coordinator/ or agents/, so that a bug
// there cannot be copied here. It replays the lockstep schedule a real run took and must give the
// same result for every step. Clarity over speed: lookups scan; scenarios are small.
//
// Where the documents leave something open, the choice is marked "CHOICE:" below.
//
// Split by what it models: types.ts (the plain data), mm.ts (the state and each mm), reclaim.ts (the
// exchange, the policy, direct reclaim and OOM), steps.ts (each op's semantics) and this file (the
// scheduling of grants, completions, waits and deaths; the kernel's list; the session and replay).
// Each layer is a class over the one below it.

import type { KernelStep, ProcessStep, RunConfig, Scenario } from '../shared/scenario-types.js';
import { StepModel } from './steps.js';
import { COMMIT_ACTION, KERNEL_ACTION, type Action, type End, type ModelOutcome, type Outcome, type Piece, type Proc, type Result } from './types.js';
import { commute, footprintOf, visibility, type Footprint, type Visibility } from './footprint.js';
import { digestOf } from './digest.js';

export type { Action, ModelOutcome, ModelStep, Result } from './types.js';
export { COMMIT_ACTION, KERNEL_ACTION } from './types.js';
export type { Footprint } from './footprint.js';
export { commute };

class Model extends StepModel {
  /** A deep copy of the state (frames shared between page tables stay shared); the scenario is not copied. */
  clone(): Model {
    const specs = this.procs.map((p) => p.spec);
    const { sc, cfg } = this;
    let state: Record<string, unknown>;
    for (const p of this.procs) (p as { spec?: unknown }).spec = undefined;
    try { state = structuredClone({ ...this, sc: undefined, cfg: undefined }); } finally { this.procs.forEach((p, i) => { p.spec = specs[i]!; }); }
    const c = Object.assign(Object.create(Model.prototype) as Model, state, { sc, cfg });
    c.procs.forEach((p, i) => { p.spec = specs[i]!; });
    return c;
  }

  run(actions: Action[]): ModelOutcome {
    this.settle();
    for (const [i, a] of actions.entries()) {
      this.clock = i + 1;
      if (a.kind === 'step') this.grant(this.byName(a.process));
      else if (a.kind === 'kernel') this.grantKernel();
      else this.commit();
      this.settle();
    }
    this.finish();
    return { steps: this.steps, purgedPages: this.purgedPages, framesUsed: this.frames.size };
  }

  // ---- scheduling: grants, completions, deaths -------------------------------------------------

  grant(p: Proc): void {
    const step = p.spec.steps[p.next];
    if (p.state !== 'running' || p.inflight || !step) throw new Error(`clock ${this.clock}: ${p.spec.name} cannot be granted a step`);
    const flight = { index: p.next, grantedAt: this.clock };
    if ((step.op === 'wait' || step.op === 'waitpid') && !this.satisfied(step)) { p.inflight = { ...flight, why: 'wait' }; return; }
    if (this.touchesHeld(p, step)) { p.inflight = { ...flight, why: 'held' }; return; }
    this.complete(p, p.next, this.exec(p, step, this.clock));
  }

  complete(p: Proc, index: number, out: Outcome): void {
    this.record(p.spec.name, index, p.spec.steps[index]!.op, out.result);
    p.next = index + 1;
    if (p.state !== 'running') return;
    if (out.end) this.endProcess(p, out.end);
    else if (p.next >= p.spec.steps.length) this.endProcess(p, { exitCode: 0 });
  }

  /**
   * A death from outside (a kernel `kill`, the OOM killer). A process whose next step is a `wait`
   * on a signal not yet sent, or a `waitpid` on a process not yet ended, is asleep in that step:
   * the step reports SIGKILL, as any step in flight does (docs/semantics.md). CHOICE: a wait whose signal has come
   * but that the scheduler has not granted yet is not in flight: the process is runnable.
   */
  kill(p: Proc): void {
    const step = p.spec.steps[p.next];
    if (!p.inflight && step && (step.op === 'wait' || step.op === 'waitpid') && !this.satisfied(step)) {
      p.inflight = { index: p.next, grantedAt: this.clock, why: 'wait' };
    }
    this.endProcess(p, { signal: 'SIGKILL' });
  }

  /** Every cause of death runs this one cleanup, within the action that caused it. */
  endProcess(p: Proc, end: End): void {
    if (p.inflight) { // CHOICE: the victim's in-flight step reports before the step that killed it
      const f = p.inflight;
      p.inflight = undefined;
      this.record(p.spec.name, f.index, p.spec.steps[f.index]!.op, { ok: false, signal: 'SIGKILL' });
      p.next = f.index + 1;
    }
    p.state = 'signal' in end ? 'killed' : 'exited';
    p.end = end;
    this.unmap(p, 0, Number.MAX_SAFE_INTEGER);
    p.fds.clear();
    p.ranges = [];
    p.purged.clear();
    this.releaseFiles();
  }

  satisfied(step: { op: 'wait'; name: string } | { op: 'waitpid'; process: string }): boolean {
    if (step.op === 'wait') return this.signals.has(step.name);
    const s = this.byName(step.process).state;
    return s === 'exited' || s === 'killed';
  }

  waitResult(step: { op: 'wait'; name: string } | { op: 'waitpid'; process: string }): Result {
    if (step.op === 'wait') return { ok: true };
    const end = this.byName(step.process).end!;
    return 'signal' in end ? { ok: true, signal: end.signal } : { ok: true, exitCode: end.exitCode };
  }

  /** After each action: wake satisfied waits (processes by pid, then the kernel), end finished processes. */
  settle(): void {
    for (let changed = true; changed;) {
      changed = false;
      for (const p of this.running()) {
        if (p.state !== 'running') continue;
        const f = p.inflight;
        const step = p.spec.steps[f?.index ?? p.next];
        if (f?.why === 'wait' && (step!.op === 'wait' || step!.op === 'waitpid') && this.satisfied(step!)) {
          p.inflight = undefined;
          this.complete(p, f.index, { result: this.waitResult(step!) });
          changed = true;
        } else if (!f && p.next >= p.spec.steps.length) {
          this.endProcess(p, { exitCode: 0 });
          changed = true;
        }
      }
      const k = this.kernelInflight;
      const ks = k && this.sc.kernel[k.index]!;
      if (k?.why === 'wait' && ks && (ks.op === 'wait' || ks.op === 'waitpid') && this.satisfied(ks)) {
        this.kernelDone(k.index, this.waitResult(ks));
        changed = true;
      }
    }
  }

  /** Deadlock: every waiting step reports stuck (processes by pid, then the kernel); the rest are killed. */
  finish(): void {
    if (this.exchange) throw new Error('the schedule ends with a reclaim exchange open');
    const waiting = (step: ProcessStep | KernelStep | undefined, fromFlight: boolean) =>
      step !== undefined && (step.op === 'wait' || step.op === 'waitpid') && (fromFlight || !this.satisfied(step));
    for (const p of this.running()) {
      const index = p.inflight?.index ?? p.next;
      const step = p.spec.steps[index];
      if (!waiting(step, p.inflight?.why === 'wait')) throw new Error(`the schedule ends while ${p.spec.name} can still run step ${index}`);
      p.inflight = undefined;
      this.record(p.spec.name, index, step!.op, { ok: false, stuck: true });
      p.next = index + 1;
    }
    const k = this.kernelInflight?.index ?? this.kernelNext;
    const ks = this.sc.kernel[k];
    if (ks) {
      if (!waiting(ks, this.kernelInflight?.why === 'wait')) throw new Error(`the schedule ends while kernel step ${k} can still run`);
      this.recordKernel(k, ks.op, { ok: false, stuck: true });
      this.kernelInflight = undefined;
      this.kernelNext = k + 1;
    }
    for (const p of this.running()) this.endProcess(p, { signal: 'SIGKILL' });
  }

  // ---- the kernel's list -----------------------------------------------------------------------

  grantKernel(): void {
    const index = this.kernelNext;
    const step = this.sc.kernel[index];
    if (this.kernelInflight || !step) throw new Error(`clock ${this.clock}: the kernel cannot be granted a step`);
    switch (step.op) {
      case 'wait': case 'waitpid':
        if (this.satisfied(step)) this.kernelDone(index, this.waitResult(step));
        else this.kernelInflight = { index, grantedAt: this.clock, why: 'wait' };
        return;
      case 'signal': this.signals.add(step.name); return this.kernelDone(index, { ok: true });
      case 'reclaim': return this.prepare(index, step.all ? Infinity : step.pages!);
      case 'kill': {
        const victim = this.byName(step.process);
        if (victim.state !== 'running') return this.kernelDone(index, { ok: false, errno: 'ESRCH' });
        this.kill(victim);
        return this.kernelDone(index, { ok: true });
      }
      case 'check': return this.kernelDone(index, this.check(step));
    }
  }

  kernelDone(index: number, result: Result): void {
    this.recordKernel(index, this.sc.kernel[index]!.op, result);
    this.kernelNext = index + 1;
    this.kernelInflight = undefined;
  }

  check(step: KernelStep & { op: 'check' }): Result {
    const mismatches: Array<{ field: string; expected: unknown; actual: unknown }> = [];
    const cmp = (field: string, expected: unknown, actual: unknown) => {
      if (expected !== undefined && JSON.stringify(expected) !== JSON.stringify(actual)) mismatches.push({ field, expected, actual });
    };
    cmp('framesUsed', step.framesUsed, this.frames.size);
    cmp('framesFree', step.framesFree, this.cfg.frames - this.frames.size);
    for (const [name, state] of Object.entries(step.processes ?? {})) cmp(`processes.${name}`, state, this.byName(name).state);
    for (const [name, want] of Object.entries(step.files ?? {})) {
      const f = this.files.find((x) => x.name === name && x.kind !== 'shmem')!;
      cmp(`files.${name}.open`, want.open, this.openCount(f));
      cmp(`files.${name}.mapped`, want.mapped, this.mappers(f).length);
      cmp(`files.${name}.volatile`, want.volatile, this.intervals(f.ranges));
    }
    return mismatches.length ? { ok: false, mismatches } : { ok: true };
  }

  intervals(pieces: Piece[]): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const r of [...pieces].sort((a, b) => a.start - b.start)) {
      const last = out.at(-1);
      if (last && last[0] + last[1] === r.start) last[1] += r.end - r.start; else out.push([r.start, r.end - r.start]);
    }
    return out;
  }
}

/**
 * A model run driven one action at a time, for enumerating schedules (`vrange explore --all`).
 * `enabled()` lists what a lockstep kernel may grant next, named as its `schedule` events name
 * them inside a run: each running process whose next step does not wait on something not yet true
 * (pid order), then `@commit` if an exchange is open, else `@kernel` if the kernel's next step can
 * run (KERNEL_ACTION, COMMIT_ACTION: a process may be named `kernel` or `commit`).
 * `clone()` copies the state, so a search need not replay a prefix from the start; `footprint()`
 * says what an enabled action would touch (footprint.ts), `digest()` the state (digest.ts).
 */
export interface ModelSession {
  enabled(): string[];
  /** The next step of the process (or kernel list) an action would run, if any. */
  nextStep(name: string): ProcessStep | KernelStep | undefined;
  apply(name: string): void;
  finish(): ModelOutcome;
  clone(): ModelSession;
  footprint(name: string): Footprint;
  digest(): string;
}

class Session implements ModelSession {
  constructor(private readonly m: Model, private readonly sc: Scenario, private readonly vis: Visibility, private clock = 0) {}
  private canRun(step: ProcessStep | KernelStep | undefined): boolean {
    return step !== undefined && !((step.op === 'wait' || step.op === 'waitpid') && !this.m.satisfied(step));
  }
  enabled(): string[] {
    const m = this.m;
    const out: string[] = [];
    for (const p of m.running()) if (!p.inflight && this.canRun(p.spec.steps[p.next])) out.push(p.spec.name);
    if (m.exchange) out.push(COMMIT_ACTION);
    else if (!m.kernelInflight && this.canRun(this.sc.kernel[m.kernelNext])) out.push(KERNEL_ACTION);
    return out;
  }
  nextStep(name: string): ProcessStep | KernelStep | undefined {
    if (name === KERNEL_ACTION || name === COMMIT_ACTION) return this.sc.kernel[this.m.kernelNext];
    const p = this.m.byName(name);
    return p.spec.steps[p.next];
  }
  apply(name: string): void {
    const m = this.m;
    m.clock = ++this.clock;
    if (name === KERNEL_ACTION) m.grantKernel();
    else if (name === COMMIT_ACTION) m.commit();
    else m.grant(m.byName(name));
    m.settle();
  }
  finish(): ModelOutcome {
    this.m.finish();
    return { steps: this.m.steps, purgedPages: this.m.purgedPages, framesUsed: this.m.frames.size };
  }
  clone(): ModelSession { return new Session(this.m.clone(), this.sc, this.vis, this.clock); }
  footprint(name: string): Footprint { return footprintOf(this.m, this.sc, this.vis, name); }
  digest(): string {
    const k = this.m.kernelInflight;
    return digestOf(this.m, this.vis, { next: this.m.kernelNext, ...(k ? { inflight: k.why } : {}) });
  }
}

export function modelSession(scenario: Scenario, config: RunConfig): ModelSession {
  const m = new Model(scenario, config);
  m.settle();
  return new Session(m, scenario, visibility(scenario, config));
}

/** Replays a lockstep schedule: one action per grant; a `commit` action closes the open reclaim exchange. */
export function runModel(scenario: Scenario, config: RunConfig, actions: Action[]): ModelOutcome {
  return new Model(scenario, config).run(actions);
}
