// Spare agents start at the lowest CPU priority, and get the kernel's when a process takes them.
//
// The pool (agent_pool.ts) starts agents ahead of need: at boot, and after every fork that took
// one, a replacement. Starting Node is some 30-40 ms of CPU, and a replacement starts exactly when
// the run goes on (a fork's child begins its steps, the kernel reclaims right after the forks): on
// the project's 2-CPU machine a spare's start took 33 ms of the 80 ms of CPU of a 25,000-page
// reclaim's window (docs/performance.md, "Spare agents start at low priority"). So an agent the
// pool starts for later runs at nice 19 (Linux's CFS gives it about 1.5% of a CPU beside a task at
// nice 0) while it waits, and at the kernel's own nice value from the moment a process takes it
// (before its hello, if it has not said it yet: a fork then waits for it no longer than before),
// or when the kernel waits for the pool's hello (AgentPool.warm). An agent started because a
// process needs it now (the processes of the boot, a birth finding the pool empty) is never lowered.
// Threads Node made before a spare was lowered (none was seen in 40 tries: the renice follows the
// spawn by microseconds, Node's start takes milliseconds) keep the kernel's value.
//
// Raising the priority back needs CAP_SYS_NICE or an RLIMIT_NICE that allows it (an unprivileged
// process may lower a priority, not raise it; a container's root usually lacks CAP_SYS_NICE): when
// neither allows the kernel's nice value, or a throwaway child shows it does not work (a user
// namespace's CAP_SYS_NICE), spares are not lowered at all, since an agent could not get its
// priority back; a raise refused later turns lowering off for the rest of the process. Skipped too off Linux and with VRANGE_SPARE_NICE=0. Nothing of a run
// depends on it: no event, decision or message changes, only how the OS shares the CPUs. A
// failed setpriority is ignored (the agent may be gone already): the agent runs as it was.
// A nice value belongs to a thread on Linux: a spare's main thread is lowered as it starts (the
// threads Node starts then inherit it), and every thread of a taken agent is raised.

import { spawn, type ChildProcess } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import { readFileSync, readdirSync } from 'node:fs';

/** The nice value of an agent waiting in the pool. */
export const spareNice = 19;

/** CAP_SYS_NICE's bit in /proc/PID/status CapEff. */
const capSysNice = 23n;

/**
 * Whether this process may set another of its user's processes back to nice `to` after lowering
 * it: CAP_SYS_NICE, or RLIMIT_NICE's soft limit at least 20 - `to` (Linux's rule). False when
 * /proc cannot tell.
 */
export function mayRaiseTo(to: number, status?: string, limits?: string): boolean {
  try {
    const s = status ?? readFileSync('/proc/self/status', 'utf8');
    const cap = /^CapEff:\s*([0-9a-f]+)$/m.exec(s);
    if (cap && ((BigInt(`0x${cap[1]}`) >> capSysNice) & 1n) === 1n) return true;
    const l = limits ?? readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max nice priority\s+(\S+)/m.exec(l);
    if (!m) return false;
    const soft = m[1] === 'unlimited' ? Infinity : Number(m[1]);
    return Number.isFinite(to) && soft >= 20 - to;
  } catch {
    return false;
  }
}

/**
 * Whether a process of ours can really be lowered to nice 19 and raised back to `base`: tried on a
 * throwaway child (`sleep`), since a capability can be there and not count (CAP_SYS_NICE in a user
 * namespace is checked against the initial one by setpriority). About 1 ms, once per process.
 */
function raiseWorks(base: number): boolean {
  let child: ChildProcess | undefined;
  try {
    child = spawn('sleep', ['10'], { stdio: 'ignore' });
    child.on('error', () => {});
    if (child.pid === undefined) return false;
    setPriority(child.pid, spareNice);
    setPriority(child.pid, base);
    return getPriority(child.pid) === base;
  } catch {
    return false;
  } finally {
    child?.kill('SIGKILL');
    child?.unref();
  }
}

let decided: { on: boolean; base: number } | undefined;

/**
 * Whether spares are lowered in this process (decided once: /proc says it may be allowed, and a
 * throwaway child shows it is), and the nice value a taken agent gets.
 */
export function sparePolicy(): { on: boolean; base: number } {
  if (decided) return decided;
  let base = 0;
  try { base = getPriority(); } catch { /* keep 0 */ }
  const on = process.platform === 'linux' && process.env.VRANGE_SPARE_NICE !== '0' && base < spareNice && mayRaiseTo(base) && raiseWorks(base);
  return (decided = { on, base });
}

/** Lowers a just-started spare agent; true if it was lowered (and must be raised when taken). */
export function lowerSpare(pid: number | undefined): boolean {
  if (pid === undefined || !sparePolicy().on) return false;
  try { setPriority(pid, spareNice); return true; } catch { return false; }
}

/**
 * Gives a taken agent the kernel's nice value back, thread by thread: on Linux a nice value is a
 * thread's, and the threads Node started after the spare was lowered (V8's, libuv's, libzmq's
 * I/O thread, which carries every message) inherited it.
 */
export function raiseTaken(pid: number | undefined): void {
  if (pid === undefined) return;
  const policy = sparePolicy();
  // The main thread first (a thread it starts from now on inherits the kernel's value), then the
  // others, listed again until no new one has appeared since the last pass.
  const done = new Set<number>();
  const raise = (tid: number): void => {
    done.add(tid);
    try { setPriority(tid, policy.base); } catch (e) {
      // Not allowed after all: no more spares are lowered in this process.
      const code = (e as { info?: { code?: string }; code?: string }).info?.code ?? (e as { code?: string }).code;
      if (code === 'EPERM' || code === 'EACCES') policy.on = false;
    }
  };
  raise(pid);
  for (let pass = 0; pass < 4; pass++) {
    let tids: number[];
    try { tids = readdirSync(`/proc/${pid}/task`).map(Number).filter((t) => t > 0 && !done.has(t)); } catch { return; }
    if (tids.length === 0) return;
    for (const tid of tids) raise(tid);
  }
}
