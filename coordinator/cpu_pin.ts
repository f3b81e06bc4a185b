// Lockstep on one CPU: the kernel and the agents of a lockstep run share one CPU while it steps.
//
// A lockstep run is a chain: the kernel grants one step, the agent runs it (a syscall and its
// reply on the way), reports it, and only then is the next step granted. Exactly one thread of the
// run has work at any moment, so a second CPU cannot run anything of it at the same time; what it
// costs is every hand-off between CPUs. Each message goes from the sender's thread through both
// sides' libzmq I/O threads to the receiver's thread, and a thread woken on a CPU that has gone
// idle waits for that CPU to wake up, which on a virtual machine is a trip through the
// hypervisor. Measured on the project's 2-CPU machine (docs/performance.md, "Lockstep on one
// CPU"): a ZeroMQ round trip between two Node processes takes 200-650 µs with the processes free to
// use both CPUs, and 90-115 µs with both on one.
//
// So after the births (which are CPU-bound: every agent starts Node, and they start in parallel),
// the kernel's main thread and libzmq I/O threads, and every thread of the run's agents, are bound
// to one CPU (sched_setaffinity, through util-linux's `taskset`), the one the kernel is running
// on. The kernel's other threads (V8's concurrent marking, sweeping and compiling) stay free: they
// are not in the chain, and on its CPU they would take its time. The binding is held by one
// AgentHost at a time per process (a lease: a run, or a run session) until it closes; then the
// kernel's process gets back the CPUs it had. An agent started while the kernel's process is
// bound (a pool refill after a fork, a session's replacement) starts with those original CPUs, so
// that its Node start runs beside the chain, and is bound when it gets a process of a lockstep run.
//
// Nothing of a run depends on it: no history event, no decision, no message changes; it is only
// where the OS runs the threads. It is skipped (everything runs as before) when `VRANGE_PIN=0`,
// when the process may use one CPU only, off Linux, without `taskset` on PATH, when another run
// of the same process holds the binding (concurrent runs in one process: the first one's CPU is
// not shared), for a kernel in a worker thread, for remote agents, and for the free schedule. A
// failed `taskset` turns it off for the rest of the process; the run goes on unbound.

import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { pidExists, statFieldsOf } from '../shared/procfs.js';

/** The ranges `[first, last]` a Cpus_allowed_list names ("0-3,6": [0,3], [6,6]); undefined when it is not one. */
function rangesOf(list: string): Array<[number, number]> | undefined {
  const out: Array<[number, number]> = [];
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return undefined;
    out.push([a, b]);
  }
  return out;
}

/** How many CPUs a Cpus_allowed_list names ("0-3,6" is 5); NaN when it cannot be read. */
export function cpusIn(list: string): number {
  return rangesOf(list)?.reduce((n, [a, b]) => n + b - a + 1, 0) ?? NaN;
}

/** Whether CPU `cpu` is in a Cpus_allowed_list. */
export function listHas(list: string, cpu: number): boolean {
  return rangesOf(list)?.some(([a, b]) => cpu >= a && cpu <= b) ?? false;
}

/** The CPU a /proc/PID/stat line says the task last ran on (field 39), or undefined. */
export function cpuOfStat(stat: string): number | undefined {
  const cpu = Number(statFieldsOf(stat)?.[39 - 3]);
  return Number.isInteger(cpu) && cpu >= 0 ? cpu : undefined;
}

/**
 * The threads of this process the chain runs on: the main thread (JavaScript) and libzmq's I/O
 * threads. V8's helpers (concurrent marking and sweeping, compilation) stay free to use the
 * other CPUs: they are not in the chain, and on its CPU they would take its time.
 */
function chainThreads(): number[] {
  const out = [process.pid];
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      if (Number(tid) === process.pid) continue;
      let comm = '';
      try { comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8'); } catch { continue; }
      if (comm.startsWith('ZMQbg/IO/')) out.push(Number(tid));
    }
  } catch { /* the main thread alone */ }
  return out;
}

/** The taskset binary, looked for once per process (null: not yet; undefined: none). */
let tasksetPath: string | undefined | null = null;
/** A taskset call failed: no new binding in this process (a held one is still given back). */
let failed = false;
/** The held lease's CPU and the CPU list to give back (one lease at a time per process). */
let bound: { lease: CpuLease; restore: string; taskset: string } | undefined;
/** Agents' pids bound to the lease's CPU, forgotten when it ends. */
const boundPids = new Set<number>();

function findTaskset(): string | undefined {
  if (failed) return undefined;
  if (tasksetPath !== null) return tasksetPath;
  tasksetPath = undefined;
  if (process.platform !== 'linux') return tasksetPath;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, 'taskset');
    try { accessSync(path, constants.X_OK); return (tasksetPath = path); } catch { /* next */ }
  }
  return tasksetPath;
}

/**
 * Binds each pid, every thread of it (`all`) or that thread alone (a thread id), to `cpus` (a CPU
 * list); false if taskset failed (then no binding is made again in this process).
 */
function setAffinity(taskset: string, cpus: string, pids: readonly number[], all = true): boolean {
  if (pids.length === 0) return true;
  const a = all ? '-a' : '';
  try {
    if (pids.length === 1) execFileSync(taskset, [...(all ? ['-a'] : []), '-p', '-c', cpus, String(pids[0])], { stdio: 'ignore', timeout: 10_000 });
    // One shell for them all: a fork of this (large) process costs more than the shell's of taskset.
    else execFileSync('/bin/sh', ['-c', 't=$1; c=$2; a=$3; shift 3; r=0; for p do "$t" $a -p -c "$c" "$p" || r=1; done; exit $r', 'sh', taskset, cpus, a, ...pids.map(String)],
      { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    failed = true;
    return false;
  }
}

/**
 * A hold on the binding of this process to one CPU, taken by an AgentHost for its lockstep runs
 * (coordinator/kernel.ts pinForLockstep) and given back when the host closes.
 */
export class CpuLease {
  private constructor(readonly cpu: number) {}

  /** Binds this process to the CPU it runs on; undefined when that is not possible or another lease holds it. */
  static take(): CpuLease | undefined {
    // The threads bound are the process's main thread and libzmq's: a kernel in a worker thread is not one of them.
    if (bound || process.env.VRANGE_PIN === '0' || !isMainThread) return undefined;
    const taskset = findTaskset();
    if (!taskset) return undefined;
    // The CPUs this process may use now are the ones it gets back.
    let cpu: number | undefined, allowed: string;
    try {
      allowed = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
      cpu = cpuOfStat(readFileSync('/proc/self/stat', 'utf8'));
    } catch { return undefined; }
    if (!(cpusIn(allowed) >= 2) || cpu === undefined || !listHas(allowed, cpu)) return undefined;
    const threads = chainThreads();
    if (!setAffinity(taskset, String(cpu), threads, false)) return undefined;
    const lease = new CpuLease(cpu);
    bound = { lease, restore: allowed, taskset };
    return lease;
  }

  /** Binds these agents' processes (those not bound yet) to the lease's CPU. */
  bind(pids: readonly number[]): void {
    if (bound?.lease !== this || failed) return;
    const fresh = pids.filter((p) => !boundPids.has(p));
    if (fresh.length === 0) return;
    if (setAffinity(bound.taskset, String(this.cpu), fresh)) for (const p of fresh) boundPids.add(p);
  }

  /**
   * Gives this process its CPUs back, and with `agents` the bound agents too (a session's agents
   * that go on to a free run; without it they end with their host). Idempotent.
   */
  release(agents = false): void {
    if (bound?.lease !== this) return;
    const { restore, taskset } = bound;
    const pids = agents ? [...boundPids].filter(pidExists) : [];
    bound = undefined;
    boundPids.clear();
    // Every thread: those made while bound (libuv's pool, say) took the main thread's CPU.
    setAffinity(taskset, restore, [process.pid, ...pids]);
  }
}

/**
 * The command that starts an agent: `[file, ...args]`. While this process is bound, through
 * taskset with the CPUs the process had, so that the agent's start runs beside the chain.
 */
export function agentCommand(node: string, args: readonly string[]): [string, string[]] {
  // Not after a failed taskset: the agent then starts where the kernel is (slower, but it starts).
  if (bound && !failed) return [bound.taskset, ['-c', bound.restore, node, ...args]];
  return [node, [...args]];
}
