// The kernel's entry: what an incoming message must be before any handler reads it.
//
// Two checks, both here, both before the kernel changes anything:
// 1. the message's shape: every field of its type's schema (shared/message_schemas.ts);
// 2. what needs the kernel's state, one place per message type (`entryCheck` below): that a step
//    message names the step in flight, that a `ready` answers an `init`, that a process has one
//    syscall at a time, that a lockstep step blocked on an exchange waits for its release, that an
//    mmap does not overlap the caller's VMAs and stays in its address space, that a process named
//    in a fork or a waitpid exists.
// A message that fails either is its sender's illegal act (docs/protocol.md, "Bad messages"): the
// kernel kills the process with SIGKILL, logs it, and judges the rest of the batch as usual. What
// a real kernel answers with an errno stays an errno (EBADF for an fd the process does not hold,
// ENOENT, EINVAL where the spec says so, EFAULT for a frame the process does not map: that one is
// `namedFrame` in kernel.ts, at the syscall's entry too). After both checks a handler may rely on
// every field, and a "kernel invariant" error is what it says: the kernel's own state is broken.

import type { AgentMsg } from '../shared/messages.js';
import { vpagesMax } from '../shared/limits.js';
import type { Proc } from './process_table.js';

/** What the entry checks need of the kernel. */
export interface EntryView {
  schedule: 'lockstep' | 'free';
  /** The process of that name in the scenario, born or not. */
  processNamed(name: string): Proc | undefined;
  /** Whether an `init` with this id is waiting for its `ready`. */
  initPending(id: number): boolean;
  /** Whether the process has a syscall the kernel has not answered yet. */
  callOpen(proc: Proc): boolean;
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
  // Lockstep: a step blocked on an exchange goes on only when the kernel releases it (kernel.ts
  // `release`); a message of it before then would race the other released steps.
  if (k.schedule === 'lockstep' && proc.blockedOn >= 0 && startsStep(msg)) {
    return `it sent ${msg.t} of step ${proc.inFlight} while that step waited on reclaim exchange ${proc.blockedOn}, before the kernel released it`;
  }
  if (starts) {
    if (k.schedule === 'lockstep') return `it sent ${msg.t} with no step granted`;
    if (proc.nextStep >= proc.spec.steps.length) return `it sent ${msg.t} after its last step (${proc.spec.steps.length} steps)`;
  }
  switch (msg.t) {
    case 'hello': case 'pong': case 'prepared': case 'committed':
      // A late prepared/committed (its exchange closed) is ignored by the exchange, not an offence.
      return undefined;
    case 'ready':
      return k.initPending(msg.re) ? undefined : `its ready answers init ${msg.re}, which the kernel did not send or has had answered`;
    case 'at':
      if (k.schedule !== 'free') return 'it sent at in the lockstep schedule';
      if (proc.inFlight >= 0) return `it sent at for step ${msg.index} with step ${proc.inFlight} in flight`;
      if (msg.index !== proc.nextStep) return `it sent at for step ${msg.index}, but its next step is ${proc.nextStep}`;
      return undefined;
    case 'start':
      if (k.schedule !== 'free') return 'it sent start in the lockstep schedule';
      return msg.index === step ? undefined : `it sent start of step ${msg.index} with step ${step} ${starts ? 'next' : 'in flight'}`;
    case 'done':
      return msg.index === step ? undefined : `it reported step ${msg.index} done, but step ${step} was ${starts ? 'next' : 'in flight'}`;
    case 'blocked':
      return msg.index === step ? undefined : `it reported step ${msg.index} blocked, but step ${step} was ${starts ? 'next' : 'in flight'}`;
    default:
      return syscallCheck(k, proc, msg);
  }
}

/** The syscalls: one at a time per process, then each one's own checks. */
function syscallCheck(k: EntryView, proc: Proc, m: Extract<AgentMsg, { id: number }>): string | undefined {
  if (k.callOpen(proc)) return `it sent ${m.t} while a syscall of its own was unanswered (a process makes one syscall at a time)`;
  switch (m.t) {
    case 'mmap': {
      if (m.addr + m.pages > vpagesMax) return `mmap at page ${m.addr} of ${m.pages} pages ends past the address space (${vpagesMax} pages)`;
      const over = proc.vmas.find((v) => v.start < m.addr + m.pages && m.addr < v.start + v.pages);
      if (over) return `mmap at page ${m.addr} of ${m.pages} pages overlaps its VMA at page ${over.start} of ${over.pages} pages (an agent picks a free address)`;
      return undefined;
    }
    case 'munmap':
      return m.start + m.pages > vpagesMax ? `munmap at page ${m.start} of ${m.pages} pages ends past the address space (${vpagesMax} pages)` : undefined;
    case 'fork':
      return k.processNamed(m.child) ? undefined : `it forked ${JSON.stringify(m.child)}, which is no process of the scenario`;
    case 'waitpid':
      return k.processNamed(m.process) ? undefined : `it waited for ${JSON.stringify(m.process)}, which is no process of the scenario`;
    default:
      return undefined;
  }
}
