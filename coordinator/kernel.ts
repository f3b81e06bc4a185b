// The kernel: the coordinator process that owns physical frames, files (address_space objects),
// the reverse map, reclaim and the process table, and answers the agents' syscalls. This file is
// the front: the state, boot and birth, message delivery and the syscall table. Each mechanism
// has its own file, named as Linux names it:
//
//   syscall_entry.ts  entry checks, bad-message policing, EFAULT     lockstep.ts   grant/release/idle, step records
//   fault_inject.ts   the fault hooks carried out (hooks.ts)         mmap.ts       open/close/mmap/munmap, final release
//   fault.ts          read and write faults, copy-on-write           page_alloc.ts a frame, by direct reclaim
//   oom_kill.ts       the OOM victim                                 fork.ts       fork
//   exit.ts           the exit cleanup, reaping                      signal.ts     signal/wait/waitpid
//   fvrange.ts        fvrange and the queries                        vmscan.ts     reclaim, kernel half
//   reclaim.ts        the two-phase exchange protocol                rmap.ts, address_space.ts (i_mmap), frames.ts
//   process_table.ts  the processes    agent_pool.ts  the local agents    remote.ts  remote agents
//   step_calls.ts     each syscall against the step its process is on
//
// Everything runs in one Node event loop, so kernel state changes one message at a time. A
// handler that awaits (a fault that needs direct reclaim, a fork that waits for an agent)
// re-checks what it relies on after the await. Invariants are asserted where they are relied on:
// a broken one stops the run, because an emulator that goes on after corruption teaches wrong.
// The kernel records history and answers hooks (hooks.ts); it never judges the run.

import type { AgentMsg, KernelMsg, MmSnapshot, MmView, SysCall, SysReplyFields } from '../shared/messages.js';
import type { KernelStep, RunConfig, Scenario, StepResult } from '../shared/scenario-types.js';
import { agentPoolMax, agentStartTimeoutMs, processesMax } from '../shared/limits.js';
import { parseAgentMsg } from '../shared/message_schemas.js';
import { printable } from '../shared/printable.js';
import { FrameTable } from './frames.js';
import { Rmap } from './rmap.js';
import { AddressSpace } from './address_space.js';
import { Proc, ProcessTable } from './process_table.js';
import { AgentConn, AgentHost, AgentPool, withTimeout } from './agent_pool.js';
import { History, type HistoryEvent } from './history.js';
import { noFaults, type CompletedStep, type FaultHooks, type KernelHooks, type KernelObserver, type ObservedState } from './hooks.js';
import { RemoteAgents, type RemoteOptions } from './remote.js';
import { startsStep, SyscallEntry } from './syscall_entry.js';
import { noteAnswer } from './result_check.js';
import { answeredCall, tookCall } from './step_calls.js';
import { Lockstep } from './lockstep.js';
import { HISTORY_FORMAT } from '../shared/kernel_name.js';
import { FaultInject } from './fault_inject.js';
import { Exit } from './exit.js';
import { Signals } from './signal.js';
import { PageAlloc } from './page_alloc.js';
import { Vmscan } from './vmscan.js';
import { fileSummary, sysClose, sysMmap, sysMunmap, sysOpen } from './mmap.js';
import { sysRead, sysWrite } from './fault.js';
import { sysFork } from './fork.js';
import { CpuLease } from './cpu_pin.js';
import { sysFquery, sysFvrange, sysQueryFd } from './fvrange.js';

export { frameNotNeeded } from './page_alloc.js';

export interface KernelOptions {
  scenario: Scenario;
  config: RunConfig;
  runDir: string;
  traceMessages: boolean;
  /** Called with each history event as it happens (the narrated report listens here). */
  onEvent?: (e: HistoryEvent) => void;
  /** Fault hooks, observers (expectations, snapshots) and the `check` comparison: the harness's side (coordinator/hooks.ts). */
  hooks?: KernelHooks;
  /** Agents kept started ahead of forks; default: the forks still possible, at most agentPoolMax. 0: none (bench). */
  poolSize?: number;
  /** Agents on other machines (`vrange kernel --listen`); see coordinator/remote.ts. */
  remote?: RemoteOptions;
  /**
   * The socket and local agents of a run session (harness/session.ts), kept across runs: the
   * kernel neither binds nor closes the socket, and at shutdown ends only its own run's agents
   * that were not reset. Without it the kernel makes its own, for this run only.
   */
  host?: AgentHost;
}

/** `kernel: true` marks a step of the kernel list (`process` is then "kernel", a name a process may have too). */
export interface StepRecord { process: string; index: number; op: string; result: StepResult; label?: string; kernel?: true }

/** A syscall's answer, before `t` and `re` are added. */
export type Ret = SysReplyFields;

export class Kernel {
  readonly config: RunConfig;
  readonly scenario: Scenario;
  readonly frames: FrameTable;
  readonly rmap: Rmap;
  readonly files: AddressSpace[] = [];
  readonly table: ProcessTable;
  /** Every process of the scenario, in scenario order (the process table's list). */
  readonly procs: Proc[];
  readonly history: History;
  readonly faults: FaultHooks;
  /** Every fault injected, in order (each also a `fault` event). */
  readonly faultsInjected: Array<{ fault: string; process: string; step: number; action: string }> = [];
  readonly steps: StepRecord[] = [];
  readonly violations: Array<{ name: string; text: string }> = [];
  /**
   * What went wrong in vrange's own parts during the run (a local agent's bad message, a kernel
   * invariant that stopped it): such a run is no verdict, and its command exits 70 (harness/run.ts).
   */
  readonly bugs: string[] = [];
  /** Messages sent to and received from agents (the benchmarks count an exchange's cost with them). */
  messagesOut = 0;
  messagesIn = 0;
  /** Access clock: one tick per page access, the LRU order. */
  accessClock = 0;
  fatalError: Error | undefined;
  /** Observers for the scheduler: a step finished, a process was reaped. */
  onProgress: () => void = () => {};
  readonly remote: RemoteAgents | undefined;

  // The mechanisms, each with its own state (see the files named above).
  readonly entry: SyscallEntry;
  readonly lockstep: Lockstep;
  readonly faultInject: FaultInject;
  readonly exit: Exit;
  readonly signals: Signals;
  readonly pageAlloc: PageAlloc;
  readonly vmscan: Vmscan;

  private readonly observers: KernelObserver[];
  private readonly host: AgentHost;
  private readonly ownsHost: boolean;
  private readonly pool: AgentPool;
  /** The local agents this run gave a process (a session's shutdown ends those not reset). */
  private readonly runConns: AgentConn[] = [];
  /**
   * Births under way (init sent, the birth not recorded yet), by init id; the `ready` answering an
   * init marks it answered and ends the wait (a second one answers nothing). A run that stops first (its time bound,
   * a signal, a failure) records them and ends their wait at its shutdown, so that its history
   * names every process its cleanup does, and no wait (agentStartTimeoutMs) outlives the run.
   */
  private readonly pendingBirths = new Map<number, { proc: Proc; record: () => void; stop: (e: Error) => void; ready: () => void; answered: boolean }>();
  private nextInitId = 1;
  private stopping = false;
  private booted = false;

  constructor(readonly opts: KernelOptions) {
    this.config = opts.config;
    this.scenario = opts.scenario;
    this.frames = new FrameTable(opts.config.frames);
    this.rmap = new Rmap(this.frames);
    this.observers = [...(opts.hooks?.observers ?? [])];
    this.history = new History(opts.traceMessages, (e) => { opts.onEvent?.(e); for (const o of this.observers) o.event?.(e); });
    this.faults = opts.hooks?.faults ?? noFaults;
    for (const f of opts.scenario.files) this.files.push(new AddressSpace(this.files.length, f.name, f.pages, f.kind));
    this.table = new ProcessTable(opts.scenario.processes);
    this.procs = this.table.all;
    this.entry = new SyscallEntry(this);
    this.lockstep = new Lockstep(this);
    this.faultInject = new FaultInject(this);
    this.exit = new Exit(this);
    this.signals = new Signals(this);
    this.pageAlloc = new PageAlloc(this);
    this.vmscan = new Vmscan(this);
    this.ownsHost = opts.host === undefined;
    this.host = opts.host ?? new AgentHost(opts.runDir, false);
    if (this.host.deliver) throw new Error('kernel invariant: the agent host already serves a kernel');
    this.host.onSendError = (err) => {
      // A peer that has just died (its exit event not yet seen) cannot be reached: its cleanup
      // will account for what it missed. Anything else is a broken transport.
      if ((err as { code?: string }).code === 'EHOSTUNREACH') return;
      this.fail(new Error(`send failed: ${String(err)}`));
    };
    this.pool = this.host.pool;
    this.pool.onExit = (conn, code, signal) => this.exit.onOsExit(conn, code, signal);
    this.host.deliver = (conn, msgs) => this.deliverFrame(conn, msgs);
    this.host.onGarbage = (conn, err) => this.entry.badMessage(conn, '?', `a frame that is not a msgpack message (${(err as Error).message})`);
    if (opts.remote) this.remote = this.remoteAgents(opts.remote);
  }

  private remoteAgents(opts: RemoteOptions): RemoteAgents {
    return new RemoteAgents(opts, {
      history: this.history,
      deliver: (conn, msgs) => this.deliverFrame(conn, msgs),
      onExit: (conn, code, signal) => this.exit.onOsExit(conn, code, signal),
      onSendError: (err) => {
        // A remote peer that is gone (its death is the heartbeat's business) cannot be reached.
        if ((err as { code?: string }).code === 'EHOSTUNREACH') return;
        this.fail(new Error(`remote send failed: ${String(err)}`));
      },
    });
  }

  /** Adds an observer (before start: it sees the whole history). */
  addObserver(o: KernelObserver): void { this.observers.push(o); }

  /** Agents send their mm views only when some observer reads them. */
  private get wantsMmViews(): boolean { return this.observers.some((o) => o.mmView); }

  mmView(proc: Proc, view: MmView): void { for (const o of this.observers) o.mmView?.(proc, view); }

  /** A step was recorded (lockstep.ts recordStep): the judges may add their events now. */
  stepCompleted(s: CompletedStep): void { for (const o of this.observers) o.stepCompleted?.(s, this.history); }

  /** Every process runs on a remote agent: no local child is spawned. */
  private get remoteOnly(): boolean { return this.remote?.opts.agents === 'remote'; }

  /** The next tick of the access clock (a page read or written now). */
  touch(): number { return ++this.accessClock; }

  // ---------------------------------------------------------------- start and stop

  async start(): Promise<void> {
    await this.host.bind();
    this.host.ended.catch((e: Error) => { if (!this.stopping) this.fail(e); });
    await this.remote?.start();
    const initial = this.procs.filter((p) => !p.spec.forked);
    if (initial.length > processesMax) throw new Error(`more than ${processesMax} processes (processesMax)`);
    this.notStopped();
    // The boot's agents are needed now; the spares beyond them wait at low priority (spare_priority.ts).
    if (!this.remote) { this.pool.fill(initial.length, false); this.pool.fill(initial.length + this.warmPoolSize()); }
    this.recordBoot();
    for (const proc of initial) await this.birth(proc, undefined);
    // The first fork should not find its agent still starting (a session's pool may hold more,
    // starting in the background: the forks possible are waited for).
    await this.pool.warm(this.host.pool.reuse ? this.warmPoolSize() : undefined);
  }

  /**
   * How many started agents to keep waiting for forks (so that a fork does not wait for Node to
   * start): one per fork still possible, at most agentPoolMax. A `forked` process no fork step
   * can create any more gets none: agents are started for processes that will run.
   */
  private warmPoolSize(): number {
    if (this.opts.poolSize !== undefined) return this.opts.poolSize;
    return this.table.forksPossible(agentPoolMax);
  }

  /** Local agents this run gave a process to. */
  get localAgentsUsed(): number { return this.runConns.length; }

  /** Agents started so far (local children; the memory tests bound it). */
  get agentsStarted(): number { return this.pool.all.size; }

  /** Gives a process an agent and a pid, and starts it (its first step waits for a grant in lockstep). */
  async birth(proc: Proc, parent: Proc | undefined, mm?: MmSnapshot, pid = this.table.claimPid()): Promise<void> {
    this.table.setPid(proc, pid);
    // Until the agent is ready the process cannot be granted anything, even if its parent dies
    // meanwhile (a remote agent may take a while to connect).
    this.lockstep.busyWith(`birth:${proc.name}`);
    try {
      await this.attachAgent(proc, parent, mm);
    } finally {
      this.lockstep.unbusy(`birth:${proc.name}`);
    }
    // A process with no steps has run all its steps: it exits with code 0 at once.
    if (proc.spec.steps.length === 0 && proc.live) this.exit.ending(proc, { code: 0 });
  }

  /**
   * The history's first event, once. start() records it; a run stopped before that (a signal during
   * the set-up, a remote kernel still waiting for its agents) records it at its end, so that even
   * the shortest history is one `vrange check` reads (its first event is `boot`).
   */
  recordBoot(): void {
    if (this.booted) return;
    this.booted = true;
    this.history.add('boot', { frames: this.frames.total, files: this.files.map((f) => ({ name: f.name, pages: f.pages, kind: f.kind })),
      policy: this.config.policy, access: this.config.access, purgeUnit: this.config.purgeUnit, schedule: this.config.schedule, seed: this.config.seed, format: HISTORY_FORMAT });
  }

  /** A run stopped (its time bound passed) starts no agent: shutdown has ended them all, and the run folder goes next. */
  private notStopped(): void {
    if (this.stopping) throw new Error('the run was stopped: no new agent is started');
  }

  private async attachAgent(proc: Proc, parent: Proc | undefined, mm: MmSnapshot | undefined): Promise<void> {
    this.notStopped();
    const conn = this.remoteOnly ? await this.remote!.take()
      : this.remote?.takeNow() ?? await this.pool.take(this.remote ? 0 : this.warmPoolSize());
    conn.proc = proc;
    proc.agent = conn;
    proc.state = 'running';
    if (!conn.remote) this.runConns.push(conn);
    const id = this.nextInitId++;
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      this.history.add('birth', { process: proc.name, pid: proc.pid, parent: parent?.name, osPid: conn.child?.pid ?? conn.osPid,
        ...(conn.remote ? { host: conn.host, agent: printable(conn.routingId) } : {}) });
    };
    let stop: (e: Error) => void = () => {};
    let done: () => void = () => {};
    const ready = new Promise<void>((resolve, reject) => { stop = reject; done = resolve; });
    this.pendingBirths.set(id, { proc, record, stop, ready: done, answered: false });
    this.sendTo(proc, { t: 'init', id, pid: proc.pid, name: proc.name, steps: proc.spec.steps, sigbus: proc.spec.sigbus,
      config: this.config, mm, ...(this.wantsMmViews ? { snapshots: true } : {}) });
    // A birth past its bound stays pending: the shutdown that follows records it.
    await withTimeout(ready, agentStartTimeoutMs, `agent for ${proc.name} (OS pid ${conn.child?.pid ?? conn.osPid}) did not become ready within ${agentStartTimeoutMs} ms`);
    this.pendingBirths.delete(id);
    if (conn.child?.pid !== undefined && conn.alive) this.host.cpuLease?.bind([conn.child.pid]);
    record();
  }

  /**
   * The agent of a process whose birth is under way died (killed from outside vrange before it
   * was ready): the birth is recorded before the cleanup that follows, and its wait ends at once
   * (the fork returns; its child is dead) instead of at agentStartTimeoutMs.
   */
  endBirthOf(proc: Proc): void {
    for (const [id, b] of this.pendingBirths) {
      if (b.proc !== proc) continue;
      b.record();
      this.pendingBirths.delete(id);
      b.ready();
    }
  }

  /** At shutdown: each birth still under way is recorded (its process is cleaned up next) and its wait ends. */
  private stopBirths(): void {
    for (const [id, b] of this.pendingBirths) {
      b.record();
      b.stop(new Error('the run was stopped before the agent was ready'));
    }
    this.pendingBirths.clear();
  }

  /**
   * Lockstep (scheduler.ts runLockstep, once the births are done): binds this process and the
   * agents of the run's processes to one CPU (coordinator/cpu_pin.ts); agents born later are
   * bound at their birth. Local agents only; nothing changes when the binding is not possible.
   */
  pinForLockstep(): void {
    if (this.remote) return;
    const lease = (this.host.cpuLease ??= CpuLease.take());
    lease?.bind(this.runConns.flatMap((c) => (c.alive && c.child?.pid !== undefined ? [c.child.pid] : [])));
  }

  /** The free schedule runs its processes side by side: a binding kept by a session's earlier lockstep run is given back, its agents' too. */
  unpinForFree(): void {
    this.host.cpuLease?.release(true);
    this.host.cpuLease = undefined;
  }

  /** Whether an `init` with this id is waiting for its `ready` (syscall_entry.ts). */
  initPending(id: number): boolean { return this.pendingBirths.get(id)?.answered === false; }

  async shutdown(): Promise<void> {
    this.stopping = true;
    this.stopBirths();
    this.faultInject.stopPauses();
    await this.remote?.stop();
    try {
      if (this.ownsHost) await this.host.close();
      else await this.pool.endRun(this.runConns);
    } finally {
      this.host.deliver = undefined;
      this.host.onGarbage = undefined;
      this.pool.onExit = () => {};
    }
  }

  fail(err: Error): void {
    if (!this.fatalError) this.fatalError = err;
    this.onProgress();
    this.lockstep.wakeIdle();
  }

  violation(name: string, text: string): void {
    this.violations.push({ name, text });
    this.history.add('violation', { name, text });
  }

  // ---------------------------------------------------------------- messaging

  sendTo(proc: Proc, msg: KernelMsg): void {
    if (!proc.agent) throw new Error(`kernel invariant: ${proc.name} has no agent`);
    this.messagesOut++;
    this.history.message('send', proc.name, msg);
    proc.agent.socket.send(proc.agent.routingId, msg);
  }

  /**
   * The messages of one received frame (one agent's batch), each judged on its own, in order: its
   * shape (shared/message_schemas.ts), then what it needs of the kernel's state
   * (coordinator/syscall_entry.ts). A bad one is its sender's illegal act; the others are handled
   * as usual, and the sender is killed once the whole frame is judged. Nothing an agent sends can
   * throw out of here: an exception is the kernel's own bug and fails the run.
   */
  deliverFrame(conn: AgentConn, msgs: unknown[]): void {
    for (const raw of msgs) {
      this.messagesIn++;
      const parsed = parseAgentMsg(raw);
      if (!parsed.ok) { this.entry.badMessage(conn, parsed.t ?? '?', parsed.why); continue; }
      const msg = parsed.msg;
      // The first hello of an agent (of its incarnation) never comes this way: coordinator/remote.ts
      // takes a remote one's, AgentHost.route a local one's. Any other is a second hello, which would
      // claim another OS pid (a host, a token), from a local agent as from a remote one.
      if (msg.t === 'hello') { this.entry.badMessage(conn, 'hello', 'a second hello (an agent says hello once, as its first message)'); continue; }
      if (msg.t === 'pong') {
        // Each pong answers a ping sent to this agent, once, in order (ZeroMQ keeps a connection's order; a ping may be dropped, never reordered).
        // A local agent is never pinged (pingSeq stays 0): any pong of its answers nothing, as a remote one's may not.
        if (msg.seq > conn.pongSeq && msg.seq <= conn.pingSeq) conn.pongSeq = msg.seq;
        else this.entry.badMessage(conn, 'pong', `its pong answers ping ${msg.seq}, but the last ping sent to it was ${conn.pingSeq} and it had answered ${conn.pongSeq}`);
        continue;
      }
      try { this.deliver(conn, msg); } catch (e) { this.fail(e as Error); }
    }
    this.entry.endOfFrame();
  }

  /** One well-formed message from an agent (local or remote). */
  private deliver(conn: AgentConn, msg: AgentMsg): void {
    const proc = conn.proc;
    // An agent with no process yet (idle) has had no init: whatever it sends but a pong answers
    // nothing (a replay of another agent's messages, above all). A dead process's last messages,
    // sent before it learnt of its death, are read by no one.
    if (!proc) return this.entry.badMessage(conn, msg.t, `it sent ${msg.t} with no process yet (an idle agent sends nothing but pong until its init)`);
    if (proc.reaped) return;
    proc.lastHeardAt = Date.now();
    this.history.message('recv', proc.name, msg);
    const why = this.entry.check(proc, msg);
    if (why) return this.entry.badMessage(conn, msg.t, why);
    // Free schedule: a step begins with its first message (docs/protocol.md, Steps).
    if (proc.inFlight < 0 && this.config.schedule === 'free' && startsStep(msg)) this.lockstep.onStart(proc, msg);
    if (this.faultInject.strikeAtFirstMessage(proc, msg)) return;
    this.onMessage(proc, msg);
  }

  private onMessage(proc: Proc, msg: AgentMsg): void {
    switch (msg.t) {
      case 'ready':
        if (msg.mm) this.mmView(proc, msg.mm);
        { const b = this.pendingBirths.get(msg.re); if (b && !b.answered) { b.answered = true; b.ready(); } }
        return;
      case 'start':
        // Taken as the step's start in deliver (syscall_entry.ts checked it names that step).
        if (this.config.schedule !== 'free' || proc.inFlight !== msg.index) throw new Error(`kernel invariant: ${proc.name} sent start of step ${msg.index} with step ${proc.inFlight} in flight`);
        return;
      case 'at': proc.stops.delete(msg.index); void this.faultInject.atFaultPoint(proc, msg.index).catch((e: Error) => this.fail(e)); return;
      case 'done': return this.lockstep.onDone(proc, msg);
      case 'blocked': return this.lockstep.onBlocked(proc, msg);
      // A reply to a closed exchange got past the entry only if the process owed it: a commit's ack
      // (the kernel does not wait for them), or a late answer of a participant judged silent.
      case 'prepared': { const ex = this.vmscan.exchanges.get(msg.xid); if (ex) ex.onPrepared(proc.pid, msg.runs); else this.vmscan.lateReply(proc.pid, 'prepared', msg.xid); return; }
      case 'committed': { const ex = this.vmscan.exchanges.get(msg.xid); if (ex) ex.onAcked(proc.pid, msg.violations); else this.vmscan.lateReply(proc.pid, 'committed', msg.xid, msg.violations); return; }
      case 'hello': case 'pong': return;
      default:
        this.syscall(proc, msg);
    }
  }

  // ---------------------------------------------------------------- the syscall table

  /** Answers a syscall: at once when its handler needs no wait (most do), else when it settles. */
  private syscall(proc: Proc, msg: SysCall): void {
    this.entry.callsOpen.add(proc);
    proc.lastCallId = msg.id;
    const index = proc.inFlight;
    tookCall(proc, index, msg);
    const answer = (v: Ret | undefined) => {
      this.entry.callsOpen.delete(proc);
      if (v) { noteAnswer(proc, msg.t, v as Record<string, unknown>); answeredCall(proc, index, msg, v as Record<string, unknown>); }
      if (v && proc.live) this.sendTo(proc, { t: 'ret', re: msg.id, ...v }); // a dead caller reads nothing
    };
    const r = this.dispatch(proc, msg);
    if (r instanceof Promise) void r.then(answer, (e: Error) => this.fail(e));
    else answer(r);
  }

  private dispatch(proc: Proc, m: SysCall): Ret | undefined | Promise<Ret | undefined> {
    switch (m.t) {
      case 'open': return sysOpen(this, proc, m.file);
      case 'close': return sysClose(this, proc, m.fd);
      case 'mmap': return sysMmap(this, proc, m);
      case 'munmap': return sysMunmap(this, proc, m.start, m.pages);
      case 'read': return this.entry.namedFrame(proc, m) ?? sysRead(this, proc, m.vpage, m.frame);
      case 'write': return this.entry.namedFrame(proc, m) ?? sysWrite(this, proc, m);
      case 'fvrange': return sysFvrange(this, proc, m);
      case 'fquery': return sysFquery(this, proc, m.vpages);
      case 'query-fd': return sysQueryFd(this, proc, m.fd, m.start, m.pages);
      case 'fork': return sysFork(this, proc, m.child, m.mm);
      case 'signal': this.signals.signal(m.name); return {};
      case 'wait': return this.signals.wait(proc, m.name).then(() => ({}));
      case 'waitpid': return this.signals.waitpid(proc, m.process);
      case 'crash': proc.agent!.kill('SIGKILL'); return undefined;
    }
  }

  // ---------------------------------------------------------------- what the scheduler, harness and report read

  procByPid(pid: number): Proc | undefined { return this.table.byPid(pid); }
  whenReaped(proc: Proc, waiter?: Proc): Promise<void> { return this.exit.whenReaped(proc, waiter); }
  killProc(proc: Proc): Promise<void> { return this.exit.killProc(proc); }
  get clock(): number { return this.lockstep.clock; }
  get purgedPages(): number { return this.vmscan.purgedPages; }
  fileSummary(file: AddressSpace): ReturnType<typeof fileSummary> { return fileSummary(file); }

  /** A kernel `check` step: the observed state, compared by the harness's `check` hook. */
  checkStep(step: Extract<KernelStep, { op: 'check' }>): StepResult {
    if (!this.opts.hooks?.check) throw new Error('kernel invariant: a check step ran with no check hook installed (KernelOptions.hooks.check)');
    return this.opts.hooks.check(step, this.observedState());
  }

  /** What a `check` step compares: frames, every process's state, every file's open, mapped and volatile. */
  observedState(): ObservedState {
    const processes: ObservedState['processes'] = new Map();
    for (const p of this.procs) processes.set(p.name, p.state);
    const files: ObservedState['files'] = new Map();
    for (const f of this.files) if (f.kind !== 'shmem') files.set(f.name, { open: f.openCount, mapped: f.mappedVmas, volatile: f.ranges.coalesced() });
    return { framesUsed: this.frames.used, framesFree: this.frames.free, processes, files };
  }
}
