// Signals between steps, and waiting: the scenario's named `signal`/`wait` (a latch: once
// signalled, every wait on that name returns at once) and `waitpid` (returns once the process is
// reaped, with its exit code or the signal that killed it).
//
// Ordering rules: a waiter is parked (Proc.parkedOn, for deadlock reports) until what it waits
// for happens; it is unparked in the same turn as the signal or the reaping, before any other
// message is handled. Nothing here awaits except the waiting syscalls themselves, whose replies
// go out when they resolve (kernel.ts `syscall`).

import type { StepResult } from '../shared/scenario-types.js';
import type { Kernel, Ret } from './kernel.js';
import type { Proc } from './process_table.js';

type Waiter = { proc: Proc; resolve: () => void };

export class Signals {
  private readonly signalled = new Set<string>();
  private readonly waiters = new Map<string, Waiter[]>();

  constructor(private readonly k: Kernel) {}

  signal(name: string): void {
    this.signalled.add(name);
    const list = this.waiters.get(name) ?? [];
    this.waiters.delete(name);
    for (const w of list) { w.proc.parkedOn = undefined; w.resolve(); }
    this.k.onProgress();
  }

  isSignalled(name: string): boolean { return this.signalled.has(name); }

  /** The `wait` syscall: returns once `name` is signalled. */
  wait(proc: Proc, name: string): Promise<void> {
    if (this.signalled.has(name)) return Promise.resolve();
    proc.parkedOn = `signal "${name}"`;
    this.k.onProgress();
    return new Promise((resolve) => {
      const list = this.waiters.get(name) ?? [];
      list.push({ proc, resolve });
      this.waiters.set(name, list);
    });
  }

  /** The `waitpid` syscall. */
  async waitpid(proc: Proc, name: string): Promise<Ret> {
    const target = this.k.table.named(name)!;
    if (!target.reaped) {
      proc.parkedOn = `process ${name} to end`;
      this.k.onProgress();
      await this.k.exit.whenReaped(target, proc);
    }
    // `exitSignal`, not `signal`: a reply's `signal` is a signal delivered to the caller.
    return target.signal !== undefined ? { exitSignal: target.signal } : { exitCode: target.exitCode ?? 0 };
  }

  /** The kernel list's `waitpid` (run once the process is reaped). */
  waitResult(name: string): StepResult {
    const t = this.k.table.named(name)!;
    return t.signal !== undefined ? { ok: true, signal: t.signal } : { ok: true, exitCode: t.exitCode ?? 0 };
  }
}
