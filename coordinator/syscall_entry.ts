// The kernel's entry: what an incoming message must be before any handler reads it.
//
// Two checks, both here, both before the kernel changes anything:
// 1. the message's shape: every field of its type's schema (shared/message_schemas.ts);
// 2. what needs the kernel's state, one place per message type (`entryCheck` below): that a step
//    message names the step in flight, that a `ready` answers an `init`, that a process has one
//    syscall at a time, each with an id above the last one's (no replay), each one the step the
//    process is on makes, of its kind, count and arguments, and a `done` after it (step_calls.ts), that a lockstep step
//    blocked on an exchange waits for its release, that an mmap does not overlap the caller's VMAs
//    and stays in its address space, that a process named in a fork or a waitpid exists.
// A message that fails either is its sender's illegal act (docs/protocol.md, "Bad messages"): the
// kernel kills the process with SIGKILL, logs it, and judges the rest of the batch as usual
// (`SyscallEntry`: the condemned processes die once their whole frame is judged). What a real
// kernel answers with an errno stays an errno (EBADF for an fd the process does not hold, ENOENT,
// EINVAL where the spec says so, EFAULT for memory the process does not map: `namedFrame` and
// `efault` below, at the syscall's entry too). After both checks a handler may rely on every
// field, and a "kernel invariant" error is what it says: the kernel's own state is broken.
// Everything here runs in the one event loop, before the handler, and does not await.

import type { AgentMsg } from '../shared/messages.js';
import { vpagesMax } from '../shared/limits.js';
import { printable } from '../shared/printable.js';
import type { Proc } from './process_table.js';
import type { AgentConn } from './agent_pool.js';
import type { Kernel, Ret } from './kernel.js';
import { resultShapeErrors } from './history.js';
import { resultLie } from './result_check.js';
import { callMismatch, doneMismatch } from './step_calls.js';
import type { PolicyName } from '../shared/scenario-types.js';

/** Bad messages of one process logged one by one per batch; the rest are counted in one more event. */
const badMessagesLoggedMax = 10;

/** What the entry checks need of the kernel. */
export interface EntryView {
  schedule: 'lockstep' | 'free';
  /** The run's policy: under madv-free a vrange or fvrange step makes no syscall. */
  policy: PolicyName;
  /** The process of that name in the scenario, born or not. */
  processNamed(name: string): Proc | undefined;
  /** Whether an `init` with this id is waiting for its `ready`. */
  initPending(id: number): boolean;
  /** Free schedule: whether step `index` is a stop of the process's `go` that it has not stopped at yet. */
  stopPending(proc: Proc, index: number): boolean;
  /** Whether the process has a syscall the kernel has not answered yet. */
  callOpen(proc: Proc): boolean;
  /** Why a message naming reclaim exchange `xid` answers nothing that exchange asked of the process (vmscan.ts `unasked`), or undefined. */
  unasked(proc: Proc, t: 'prepared' | 'committed' | 'blocked', xid: number): string | undefined;
}

/** The messages of an agent that belong to a step: a syscall, or a step notification. */
export function startsStep(msg: AgentMsg): boolean {
  switch (msg.t) {
    case 'hello': case 'pong': case 'ready': case 'at': case 'prepared': case 'committed': return false;
    default: return true;
  }
}

/**
 * Why a well-formed message from `proc` breaks the protocol, or undefined if it does not.
 * Called before the message has any effect (before a free-schedule message starts its step).
 */
export function entryCheck(k: EntryView, proc: Proc, msg: AgentMsg): string | undefined {
  // The step this message belongs to: the one in flight, or in the free schedule the one it starts.
  const starts = proc.inFlight < 0 && startsStep(msg);
  const step = proc.inFlight >= 0 ? proc.inFlight : starts && k.schedule === 'free' ? proc.nextStep : -1;
  // Lockstep: a step blocked on an exchange goes on only when the kernel releases it (lockstep.ts
  // `release`); a message of it before then would race the other released steps.
  if (k.schedule === 'lockstep' && proc.blockedOn >= 0 && startsStep(msg)) {
    return `it sent ${msg.t} of step ${proc.inFlight} while that step waited on reclaim exchange ${proc.blockedOn}, before the kernel released it`;
  }
  if (starts) {
    if (k.schedule === 'lockstep') return `it sent ${msg.t} with no step granted`;
    if (proc.nextStep >= proc.spec.steps.length) return `it sent ${msg.t} after its last step (${proc.spec.steps.length} steps)`;
  }
  switch (msg.t) {
    case 'hello': case 'pong':
      return undefined;
    case 'prepared': case 'committed':
      // A reply to no request (an exchange never opened, one that did not ask this process, a
      // second reply, a replay) is an offence; a late one its exchange was still owed (its sender
      // was judged silent and the exchange closed without it) is not, and has no effect.
      return k.unasked(proc, msg.t, msg.xid);
    case 'ready':
      return k.initPending(msg.re) ? undefined : `its ready answers init ${msg.re}, which the kernel did not send or has had answered`;
    case 'at':
      if (k.schedule !== 'free') return 'it sent at in the lockstep schedule';
      if (proc.inFlight >= 0) return `it sent at for step ${msg.index} with step ${proc.inFlight} in flight`;
      if (msg.index !== proc.nextStep) return `it sent at for step ${msg.index}, but its next step is ${proc.nextStep}`;
      // One `at` per stop the kernel's `go` named, once: a second one, or one at a step that is no stop, answers nothing.
      return k.stopPending(proc, msg.index) ? undefined : `it sent at for step ${msg.index}, which is no stop the kernel's go named, or one it had already stopped at`;
    case 'start':
      if (k.schedule !== 'free') return 'it sent start in the lockstep schedule';
      // A step's first message: a second one (the step is under way) is a replay.
      if (!starts) return `it sent start of step ${msg.index} with step ${step} already under way (start is a step's first message, sent once)`;
      return msg.index === step ? undefined : `it sent start of step ${msg.index} with step ${step} next`;
    case 'done':
      if (msg.index !== step) return `it reported step ${msg.index} done, but step ${step} was ${starts ? 'next' : 'in flight'}`;
      // A syscall of it still unanswered: the step cannot be over.
      if (k.callOpen(proc)) return `it reported step ${msg.index} done while a syscall of it was unanswered`;
      // The result goes into the history as it came: it must have the shape of its op's result,
      // and agree with what the kernel answered the step's syscall (result_check.ts).
      // And it comes after the syscalls its step makes, with the detail its step gives (step_calls.ts).
      return resultShapeErrors(proc.spec.steps[step]!.op, msg.result)[0] ?? doneMismatch(proc, step, msg) ?? resultLie(proc, step, proc.spec.steps[step]!, msg.result);
    case 'blocked':
      if (msg.index !== step) return `it reported step ${msg.index} blocked, but step ${step} was ${starts ? 'next' : 'in flight'}`;
      if (proc.blockedOn === msg.xid) return `it reported step ${msg.index} blocked on reclaim exchange ${msg.xid} twice`;
      // Only pages an exchange asked it to hold block a step (in lockstep a blocked step waits for that exchange's release).
      return k.unasked(proc, 'blocked', msg.xid);
    default:
      return syscallCheck(k, proc, step, msg);
  }
}

/** The syscalls: one at a time per process, each one its step makes (step_calls.ts), then each one's own checks. */
function syscallCheck(k: EntryView, proc: Proc, step: number, m: Extract<AgentMsg, { id: number }>): string | undefined {
  if (k.callOpen(proc)) return `it sent ${m.t} while a syscall of its own was unanswered (a process makes one syscall at a time)`;
  // A syscall is sent once, with an id above its process's last one: the same id again is a replay.
  if (m.id <= proc.lastCallId) return `it sent ${m.t} with id ${m.id}, not above the id of its last syscall (${proc.lastCallId}): a syscall is sent once (a replay)`;
  // Its kind, count and arguments are those of the step the process is on: the kernel has the scenario.
  const mismatch = callMismatch(proc, step, k.policy, m);
  if (mismatch) return mismatch;
  switch (m.t) {
    case 'mmap': {
      if (m.addr + m.pages > vpagesMax) return `mmap at page ${m.addr} of ${m.pages} pages ends past the address space (${vpagesMax} pages)`;
      const over = proc.vmas.find((v) => v.start < m.addr + m.pages && m.addr < v.start + v.pages);
      if (over) return `mmap at page ${m.addr} of ${m.pages} pages overlaps its VMA at page ${over.start} of ${over.pages} pages (an agent picks a free address)`;
      return undefined;
    }
    case 'munmap':
      return m.start + m.pages > vpagesMax ? `munmap at page ${m.start} of ${m.pages} pages ends past the address space (${vpagesMax} pages)` : undefined;
    // A name is quoted as sent: badMessage shows the reason printable (each character escaped once).
    case 'fork':
      return k.processNamed(m.child) ? undefined : `it forked "${m.child}", which is no process of the scenario`;
    case 'waitpid':
      return k.processNamed(m.process) ? undefined : `it waited for "${m.process}", which is no process of the scenario`;
    default:
      return undefined;
  }
}

/** The kernel's entry state: open syscalls, processes condemned by a bad message, EFAULT. */
export class SyscallEntry {
  /** Processes with a syscall not answered yet (a process makes one at a time). */
  readonly callsOpen = new Set<Proc>();
  /** Processes that sent a bad message in the frame being handled (with how many): killed once the whole frame is judged. */
  readonly condemned = new Map<Proc, number>();
  readonly view: EntryView;

  constructor(private readonly k: Kernel) {
    this.view = {
      schedule: k.config.schedule,
      policy: k.config.policy,
      processNamed: (name) => k.table.named(name),
      initPending: (id) => k.initPending(id),
      callOpen: (proc) => this.callsOpen.has(proc),
      stopPending: (proc, index) => proc.stops.has(index),
      unasked: (proc, t, xid) => k.vmscan.unasked(proc.pid, t, xid),
    };
  }

  /** Why `msg` from `proc` breaks the protocol, or undefined. */
  check(proc: Proc, msg: AgentMsg): string | undefined { return entryCheck(this.view, proc, msg); }

  /**
   * A message that breaks the protocol (docs/protocol.md, "Bad messages"): like a process a kernel
   * kills for an illegal act, its sender dies with SIGKILL (once its frame is judged), logged in
   * the history and on stderr; its cleanup is that of any death, and the run goes on. From a local
   * agent (this project's own code) it is a bug in vrange as well (`Kernel.bugs`): the run is no
   * verdict and its command exits 70. From a remote agent it is that peer's illegal act, which the
   * kernel has answered: the run's verdict stands. An agent with no process yet is only logged (a
   * remote one is told to go; a local one is a bug too).
   */
  badMessage(conn: AgentConn, t: string, why: string): void {
    const proc = conn.proc;
    const where = conn.remote ? 'remote' : 'local';
    const shown = printable(why, 300);
    if (!proc) {
      this.k.history.add('bad-message', { agent: printable(conn.routingId), where, t: printable(t, 40), why: shown });
      process.stderr.write(`vrange kernel: ${where} agent ${printable(conn.routingId)} (no process yet) broke the protocol (${shown})${conn.remote ? ': disconnected' : ''}\n`);
      if (conn.remote) conn.kill('SIGKILL');
      else this.k.bugs.push(`a local agent with no process yet broke the protocol (${shown})`);
      return;
    }
    if (proc.reaped) return;
    const bad = (this.condemned.get(proc) ?? 0) + 1;
    this.condemned.set(proc, bad);
    if (bad > badMessagesLoggedMax) return; // one batch may hold many: the first ones say enough
    this.k.history.add('bad-message', { process: proc.name, pid: proc.pid, where, t: printable(t, 40), why: shown });
    process.stderr.write(`vrange kernel: ${proc.name} (pid ${proc.pid}) broke the protocol (${shown}): SIGKILL`
      + `${conn.remote ? '' : ' (a local agent: a bug in vrange)'}\n`);
    if (!conn.remote) this.k.bugs.push(`${proc.name}'s local agent broke the protocol (${shown})`);
  }

  /** The whole frame is judged: each condemned sender dies (the count past the logged ones in one event). */
  endOfFrame(): void {
    if (this.condemned.size === 0) return;
    for (const [proc, bad] of this.condemned) {
      if (bad > badMessagesLoggedMax) {
        this.k.history.add('bad-message', { process: proc.name, pid: proc.pid, where: proc.agent?.remote ? 'remote' : 'local', t: '*', why: `${bad - badMessagesLoggedMax} more bad message(s) in the same batch, not logged one by one` });
      }
      if (!proc.reaped) proc.agent?.kill('SIGKILL');
    }
    this.condemned.clear();
  }

  /**
   * A read or write that names a frame (the agent's page-table entry for a private page) may
   * touch it only if this process's mm maps it at that page: no request, however forged, reaches
   * another process's memory. A frame reclaim took from this very page is stale (`retry`: the
   * agent faults again); any other frame is EFAULT, logged. Returns undefined when all is well.
   */
  namedFrame(proc: Proc, m: { t: string; vpage: number; frame: number }): Ret | undefined {
    if (m.frame === -1) return undefined;
    if (Number.isInteger(m.frame) && Number.isInteger(m.vpage) && m.frame >= 0) {
      const e = this.k.rmap.lookup(proc.pid, m.vpage);
      if (e && e.kind === 'anon' && e.frame === m.frame) return undefined;
      if (this.k.rmap.wasPurgedFrom(proc.pid, m.vpage, m.frame)) return { retry: true };
    }
    return this.efault(proc, m.t, { vpage: m.vpage, frame: m.frame }, 'a frame its mm does not map at that page');
  }

  /** Refuses a request naming memory the process does not map: EFAULT, in the history and on stderr. */
  efault(proc: Proc, call: string, named: Record<string, unknown>, why: string): Ret {
    this.k.history.add('efault', { process: proc.name, pid: proc.pid, call, ...named, why });
    const what = Object.entries(named).map(([key, v]) => `${key} ${JSON.stringify(v)}`).join(', ');
    process.stderr.write(`vrange kernel: EFAULT: ${proc.name} (pid ${proc.pid}) named ${what} in a ${call}: ${why}\n`);
    return { errno: 'EFAULT' };
  }
}
