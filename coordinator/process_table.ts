// The process table: every emulated process (pid, fds, the kernel's copy of its VMAs, its
// lifecycle fields), by scenario order, by pid and by name. The agents behind the processes (real
// OS child processes, or remote ones) are coordinator/agent_pool.ts and coordinator/remote.ts.
//
// A process is `unborn` until a fork (or boot) claims it, `running` while alive, then `exited` or
// `killed` once the OS has reported its death; `reaped` once the one exit cleanup
// (coordinator/exit.ts) has run. Everything here runs in the kernel's one event loop.

import type { Binding, VmaKind } from '../shared/messages.js';
import type { ProcessSpec, ProcessState, Share } from '../shared/scenario-types.js';
import type { AgentConn } from './agent_pool.js';
import { noCalls, type StepCalls } from './step_calls.js';

/** The kernel's record of one VMA: what i_mmap and the fault path need. */
export interface KVma { start: number; pages: number; kind: VmaKind; fileId: number; offset: number; share: Share }

export class Proc {
  pid = 0;
  /** Place in the process table (scenario order): the order i_mmap walks and reports go in. */
  slot = -1;
  state: ProcessState = 'unborn';
  exitCode: number | undefined;
  signal: string | undefined;
  /** Killed by a signal from outside vrange (coordinator/exit.ts onOsExit), not by the kernel or its own step. */
  killedOutside?: boolean;
  agent: AgentConn | undefined;
  /** fd number -> address space id. */
  fds = new Map<number, number>();
  vmas: KVma[] = [];
  /** Index of the next step to grant (lockstep) or to start. */
  nextStep = 0;
  /** Index of the step in flight, or -1. */
  inFlight = -1;
  /** Id of the reclaim exchange the step in flight waits on, or -1. */
  blockedOn = -1;
  /** A wait/waitpid this process is parked in (free schedule), for deadlock reports. */
  parkedOn: string | undefined;
  /** The kernel's last answer to a syscall of the step in flight (result_check.ts: a `done` must agree with it), or undefined. */
  answered: { step: number; call: string; ret: Record<string, unknown> } | undefined;
  /** The id of its last syscall the kernel took (-1: none): an agent numbers its calls upward, so one not above it is a replay. */
  lastCallId = -1;
  /** The syscalls of its step in flight so far (step_calls.ts: each is judged against the step). */
  calls: StepCalls = noCalls();
  /** Its scenario bindings (`map:NAME`, `fd:NAME`) as its agent has them: made by its successful mmap and open steps, a fork's child inherits them. */
  bindings = new Map<string, Binding>();
  /** Free schedule: the stops of its `go` it has not sent `at` for yet (each is answered once). */
  readonly stops = new Set<number>();
  /** A `kill:P@N+` fault armed for the step in flight: kill at its first message. */
  killOnFirst: string | undefined;
  /** SIGSTOPped by a pause fault until this resolves: true when the pause ran its course (SIGCONT), false when the run's shutdown ended it. */
  paused: Promise<boolean> | undefined;
  /** The step whose faults were already drawn (a step is drawn for once, even if paused first). */
  faultsDrawnFor = -1;
  /** Date.now() when the kernel last read a message from this process (reclaim's silence bound). */
  lastHeardAt = 0;
  /** The kernel's busy key while a step of this process is granted (lockstep) or in flight. */
  readonly stepKey: string;
  constructor(readonly spec: ProcessSpec) { this.stepKey = `step:${spec.name}`; }
  get name(): string { return this.spec.name; }
  get live(): boolean { return this.state === 'running'; }
  /**
   * The process has run its cleanup and can be waited for. One field holds a process's life
   * (`state`): the exit cleanup sets `exited` or `killed` and reaps in the same synchronous call
   * (exit.ts), so a dead process is a reaped one; there is no zombie state in between.
   */
  get reaped(): boolean { return this.state === 'exited' || this.state === 'killed'; }
  vmaAt(vpage: number): KVma | undefined {
    return this.vmas.find((v) => vpage >= v.start && vpage < v.start + v.pages);
  }
}

/** The processes of a run, in scenario order, with the pid and name indexes and each one's fork steps. */
export class ProcessTable {
  readonly all: Proc[] = [];
  /** pid -> process, for every process given a pid. */
  private readonly pidIndex = new Map<number, Proc>();
  /** The same processes by name (a fork looks up without a scan). */
  private readonly byName = new Map<string, Proc>();
  /** Each process's `fork` steps as [index, child], for the warm pool's count of forks still possible. */
  private readonly forkSteps = new Map<Proc, Array<[number, string]>>();
  private nextPid = 2;

  constructor(specs: readonly ProcessSpec[]) {
    for (const spec of specs) {
      const p = new Proc(spec);
      p.slot = this.all.length;
      this.all.push(p);
      this.byName.set(p.name, p);
      const forks: Array<[number, string]> = [];
      spec.steps.forEach((st, i) => { if (st.op === 'fork') forks.push([i, st.child]); });
      if (forks.length > 0) this.forkSteps.set(p, forks);
    }
  }

  /** The process of that name in the scenario, born or not. */
  named(name: string): Proc | undefined { return this.byName.get(name); }

  /** A new pid (claimed at once: another fork may start while this one's agent starts). */
  claimPid(): number { return this.nextPid++; }

  setPid(proc: Proc, pid: number): void {
    proc.pid = pid;
    this.pidIndex.set(pid, proc);
  }

  /** The born process with this pid. */
  byPid(pid: number): Proc | undefined {
    const p = this.pidIndex.get(pid);
    return p && p.state !== 'unborn' ? p : undefined;
  }

  /**
   * Unborn `forked` processes (at most `cap` counted) that a `fork` step not yet run names, in a
   * process that is alive or not yet born. O(fork steps): called at boot and at each birth.
   */
  forksPossible(cap: number): number {
    const children = new Set<string>();
    for (const [p, forks] of this.forkSteps) {
      if (p.state !== 'running' && p.state !== 'unborn') continue;
      for (let k = forks.length - 1; k >= 0 && forks[k]![0] >= p.nextStep; k--) {
        const child = this.byName.get(forks[k]![1]);
        if (child?.spec.forked && child.state === 'unborn') children.add(child.name);
        if (children.size >= cap) return cap;
      }
    }
    return children.size;
  }
}
