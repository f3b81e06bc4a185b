// Exit: a process's end and the one cleanup that follows it, for exit, crash, SIGKILL and OOM
// kill alike (do_exit): the step it was in is cut off, then exit_mm (its page-table entries and
// VMAs, the i_mmap of the files they mapped), exit_files (its fds), the final release of any file
// left with no fd and no mapping, and release_task (reaped: waiters wake, busy keys go).
//
// Ordering rules. Death is learnt from the OS (the agent's exit event, agent_pool.ts), never from
// the agent's word; the cleanup runs then, synchronously, in the one event loop, and is
// idempotent. There is no zombie state: between the death and the cleanup nothing else runs. An
// open exchange learns of the death (onDeath) inside the cleanup and completes without it. A
// caller that awaits `killProc` finds the process reaped when it resumes.

import type { EventFields } from './history_events.js';
import { verifyIfEnabled, verifyImmapIfEnabled } from './verify.js';
import type { ProcessStep } from '../shared/scenario-types.js';
import type { Kernel } from './kernel.js';
import type { AgentConn } from './agent_pool.js';
import type { Proc } from './process_table.js';
import { reindex } from './address_space.js';
import { maybeFinalRelease } from './mmap.js';

/** What a cleanup took down, as its `cleanup` history event gives it. */
type CleanupCounts = Pick<EventFields['cleanup'], 'framesFreed' | 'pagesUnmapped' | 'vmas' | 'fdsClosed' | 'filesReleased' | 'interrupted'>;

export class Exit {
  /** Processes that end with no step to report: by their own last step (see ending), or killed before a step by a fault. */
  private readonly endingProcs = new Set<Proc>();
  private readonly reapWaiters = new Map<string, Array<() => void>>();

  constructor(private readonly k: Kernel) {}

  /** The process has reported its last result: end it (exit code, or a fatal signal) and await its reaping. */
  ending(proc: Proc, how: { code: number } | { signal: NodeJS.Signals }): void {
    if (this.k.entry.condemned.has(proc)) how = { signal: 'SIGKILL' }; // its frame held a bad message
    this.k.lockstep.busyWith(`reap:${proc.name}`);
    this.endingProcs.add(proc);
    // A reused agent (a run session) is reset, not ended: the process has reported its last step,
    // so nothing of it is under way. A SIGKILL (a bad message) stays a real one.
    const reset = 'signal' in how && how.signal === 'SIGKILL' ? undefined : proc.agent!.recycle?.(proc.agent!, how);
    if (reset) { this.k.history.message('send', proc.name, reset); return; }
    if ('signal' in how) { proc.agent!.kill(how.signal); return; }
    this.k.history.message('send', proc.name, { t: 'die', code: how.code });
    proc.agent!.exit(how.code);
  }

  /** A fault kills `proc` before its next step: that step never starts. */
  endsWithNoStep(proc: Proc): void { this.endingProcs.add(proc); }

  /** SIGKILL a process's OS process and wait until its cleanup has run. */
  async killProc(proc: Proc): Promise<void> {
    if (!proc.agent || proc.reaped) return;
    const reaped = this.whenReaped(proc);
    proc.agent.kill('SIGKILL');
    await reaped;
  }

  /** Resolves once `proc` is reaped; `waiter`, parked on it, is unparked in the same turn. */
  whenReaped(proc: Proc, waiter?: Proc): Promise<void> {
    if (proc.reaped) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.reapWaiters.get(proc.name) ?? [];
      list.push(() => { if (waiter) waiter.parkedOn = undefined; resolve(); });
      this.reapWaiters.set(proc.name, list);
    });
  }

  /** The OS says the agent has ended. */
  onOsExit(conn: AgentConn, code: number | null, signal: string | null): void {
    const proc = conn.proc;
    if (!proc || proc.reaped) return;
    // A local agent exits with a code only when the kernel ends it (its process's last step, an
    // `exit`); one that exits by itself (Agent.fatal: exit 70) is vrange's own code failing, so
    // the run is no verdict (Kernel.bugs: the command exits 70). A signal is a death like any other.
    if (signal === null && !conn.remote && !this.endingProcs.has(proc)) {
      this.k.bugs.push(`${proc.name}'s local agent exited by itself with code ${code}${proc.inFlight >= 0 ? ` during step ${proc.inFlight}` : ` before step ${proc.nextStep}`}`);
    }
    // A local agent killed by a signal neither the kernel sent nor its process's step asked for
    // (`kill -9 PID`, an OOM killer of the machine): from outside vrange. The cleanup is the same; the report says so.
    if (signal !== null && !conn.remote && !conn.killedByKernel && !this.endingProcs.has(proc)) proc.killedOutside = true;
    this.k.endBirthOf(proc);
    try { this.cleanup(proc, code, signal); } catch (e) { this.k.fail(e as Error); }
  }

  /**
   * The step `proc` sleeps in, if any: its next `wait`/`waitpid` whose signal or process has not
   * come yet, while no step is in flight and the process has not ended by its own step (an `exit`,
   * its last step, a fatal signal: then it never reaches the next one) nor been killed before that
   * step by an injected fault. The lockstep scheduler grants such a step only once it can complete,
   * and a free process may not have sent its wait yet when it dies: either way the process is
   * asleep in it (a wait does nothing until it returns), so both schedules report it alike.
   */
  asleepIn(proc: Proc): ProcessStep | undefined {
    if (proc.inFlight >= 0 || this.endingProcs.has(proc) || !proc.live) return undefined;
    const step = proc.spec.steps[proc.nextStep];
    if (step?.op === 'wait' && !this.k.signals.isSignalled(step.name)) return step;
    if (step?.op === 'waitpid' && !this.k.table.named(step.process)?.reaped) return step;
    return undefined;
  }

  /** The one exit cleanup, for exit, crash, SIGKILL and OOM kill alike. Idempotent. */
  cleanup(proc: Proc, code: number | null, signal: string | null): void {
    if (proc.reaped) return;
    const interrupted = this.cutOff(proc, code, signal);
    const end = signal !== null ? 'killed' : 'exited';
    proc.state = end;
    if (signal !== null) proc.signal = signal; else proc.exitCode = code ?? 0;
    const mm = this.exitMm(proc);
    const files = this.exitFiles(proc, mm.touched);
    this.k.rmap.forgetPurged(proc.pid);
    this.k.vmscan.onDeath(proc.pid); // the exchanges open, and those whose commit it had not acked
    this.k.vmscan.forget(proc.pid); // the late replies it owed closed exchanges
    this.k.vmscan.held.unpinAllOf(proc.pid); // a fault it was in (OOM-killed while it waited) pins nothing now
    this.releaseTask(proc, end, { framesFreed: mm.freed + files.freed, pagesUnmapped: mm.unmapped, vmas: mm.vmas, fdsClosed: files.fds,
      filesReleased: files.released, ...(interrupted !== undefined ? { interrupted } : {}) });
  }

  /** The step the death interrupts, recorded as cut off; returns its index. */
  private cutOff(proc: Proc, code: number | null, signal: string | null): number | undefined {
    if (proc.inFlight >= 0) {
      const index = proc.inFlight;
      const step = proc.spec.steps[index]!;
      if (signal === null) this.k.violation('agent-alive', `${proc.name}'s agent exited with code ${code} during step ${index}`);
      this.k.lockstep.recordStep(proc.name, index, step, { ok: false, signal: signal ?? 'SIGKILL' }, undefined, true);
      proc.inFlight = -1;
      return index;
    }
    const asleep = signal !== null ? this.asleepIn(proc) : undefined;
    if (asleep === undefined) return undefined;
    // A process whose next step waits for what has not happened is asleep in that step: the
    // death interrupts it. Never granted (or its first message never came), so never invoked:
    // the invocation is recorded here (docs/semantics.md).
    this.k.history.invoke(proc.name, proc.nextStep, asleep);
    this.k.lockstep.recordStep(proc.name, proc.nextStep, asleep, { ok: false, signal }, undefined, true);
    return proc.nextStep;
  }

  /** exit_mm: every page-table entry and VMA goes; returns the frames freed and the files the VMAs mapped. */
  private exitMm(proc: Proc): { freed: number; unmapped: number; vmas: number; touched: Set<number> } {
    let freed = 0;
    const mappings = this.k.rmap.entriesOf(proc.pid);
    for (const e of mappings) if (this.k.rmap.remove(proc.pid, e.vpage)!.freed) freed++;
    const touched = new Set<number>();
    for (const v of proc.vmas) if (v.fileId >= 0) touched.add(v.fileId);
    const vmas = proc.vmas.length;
    proc.vmas = [];
    reindex(this.k.files, proc, touched);
    return { freed, unmapped: mappings.length, vmas, touched };
  }

  /** exit_files: every fd closes; then each file left with no fd and no mapping has its final release. */
  private exitFiles(proc: Proc, touched: Set<number>): { freed: number; fds: number; released: string[] } {
    const fds = proc.fds.size;
    for (const id of proc.fds.values()) { this.k.files[id]!.openCount--; touched.add(id); }
    proc.fds.clear();
    let freed = 0;
    const released: string[] = [];
    for (const id of touched) {
      const r = maybeFinalRelease(this.k, this.k.files[id]!);
      if (r !== undefined) { freed += r; released.push(this.k.files[id]!.name); }
    }
    return { freed, fds, released };
  }

  /** release_task: the process is reaped (its state says so, set by `cleanup`); its waiters wake and its busy keys go. */
  private releaseTask(proc: Proc, end: 'killed' | 'exited', what: CleanupCounts): void {
    this.k.history.add('cleanup', { process: proc.name, pid: proc.pid, state: end, exitCode: proc.exitCode, signal: proc.signal,
      framesFreed: what.framesFreed, pagesUnmapped: what.pagesUnmapped, vmas: what.vmas, fdsClosed: what.fdsClosed, filesReleased: what.filesReleased,
      ...(what.interrupted !== undefined ? { interrupted: what.interrupted } : {}), ...(proc.killedOutside ? { outside: true as const } : {}) });
    verifyIfEnabled(this.k.frames, this.k.rmap, this.k.files, `after the cleanup of ${proc.name}`, this.k.pageAlloc.unplaced);
    verifyImmapIfEnabled(this.k.files, this.k.procs, `after the cleanup of ${proc.name}`);
    for (const w of this.reapWaiters.get(proc.name) ?? []) w();
    this.reapWaiters.delete(proc.name);
    this.k.lockstep.unbusy(proc.stepKey);
    this.k.lockstep.unbusy(`reap:${proc.name}`);
  }
}
