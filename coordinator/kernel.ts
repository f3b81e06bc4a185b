// The kernel: the coordinator process that owns physical frames, files (address_space objects),
// the reverse map, reclaim and the process table, and answers the agents' syscalls.
//
// Everything here runs in one Node event loop, so kernel state changes one message at a time.
// A handler that awaits (a fault that needs direct reclaim, a fork that waits for an agent)
// re-checks what it relies on after the await. Invariants are asserted where they are relied on:
// a broken one stops the run, because an emulator that goes on after corruption teaches wrong.

import type { AgentMsg, KernelMsg, SysCall, SysRet } from '../shared/messages.js';
import type { KernelStep, ProcessStep, RunConfig, Scenario, StepResult } from '../shared/scenario-types.js';
import { KernelSocket } from '../shared/transport.js';
import { agentPoolMax, fdsPerProcessMax, processesMax, queryPagesMax, valueBytesMax } from '../shared/limits.js';
import type { MapperVote, PageFacts } from '../shared/policy.js';
import { FrameTable } from './frames.js';
import { Rmap } from './rmap.js';
import { AddressSpace } from './address_space.js';
import { AgentConn, AgentPool, Proc, withTimeout } from './process_table.js';
import { Exchange, type PageWhere, type PurgeRecord } from './reclaim.js';
import { History } from './history.js';
import { FaultPlan } from '../harness/faults.js';
import { Snapshots } from '../report/snapshot.js';
import { agentStartTimeoutMs } from '../shared/limits.js';
import { RemoteAgents, type RemoteOptions } from './remote.js';
import { parseAgentMsg } from '../shared/message_schemas.js';
import { entryCheck, startsStep, type EntryView } from './syscall_entry.js';
import { printable } from '../shared/printable.js';

/** allocFrame: the fault no longer needs a frame (its `need` said so after a wait). */
export const frameNotNeeded = -2;

export interface KernelOptions {
  scenario: Scenario;
  config: RunConfig;
  runDir: string;
  traceMessages: boolean;
  /** Called with each history event as it happens (the narrated report listens here). */
  onEvent?: (e: import('./history.js').HistoryEvent) => void;
  faults?: FaultPlan;
  /** Record a page-map `snapshot` after every step and cleanup (for `--html`); agents send mm views. */
  snapshots?: boolean;
  /** Agents kept started ahead of forks; default: the forks still possible, at most agentPoolMax. 0: none (bench). */
  poolSize?: number;
  /** Agents on other machines (`vrange kernel --listen`); see coordinator/remote.ts. */
  remote?: RemoteOptions;
}

export interface StepRecord { process: string; index: number; op: string; result: StepResult; label?: string }
/**
 * An expectation that did not hold: the step gave `actual`; or the step never ran (`ran: false`,
 * no `actual`; `why` says how far its process got), see report/report.ts neverRan.
 */
export interface Failure { process: string; index: number; expected: Record<string, unknown>; actual?: StepResult; ran?: false; why?: string }

type Waiter = { proc: Proc; resolve: () => void };
/** Bad messages of one process logged one by one per batch; the rest are counted in one more event. */
const badMessagesLoggedMax = 10;
/** A syscall's answer, before `t` and `re` are added. */
type Ret = Omit<SysRet, 't' | 're'>;

export class Kernel {
  readonly config: RunConfig;
  readonly scenario: Scenario;
  readonly frames: FrameTable;
  readonly rmap: Rmap;
  readonly files: AddressSpace[] = [];
  readonly procs: Proc[] = [];
  /** pid -> process, for every process given a pid (procByPid). */
  private readonly pidIndex = new Map<number, Proc>();
  /** The same processes by name (a fork looks up without a scan). */
  private readonly procByName = new Map<string, Proc>();
  /** Each process's `fork` steps as [index, child], for the warm pool's count of forks still possible. */
  private readonly forkSteps = new Map<Proc, Array<[number, string]>>();
  readonly history: History;
  readonly faults: FaultPlan;
  readonly snapshots: Snapshots | undefined;
  readonly heldFrames = new Map<number, number>();
  readonly exchanges = new Map<number, Exchange>();
  readonly steps: StepRecord[] = [];
  readonly failures: Failure[] = [];
  readonly violations: Array<{ name: string; text: string }> = [];
  purgedPages = 0;
  /** Messages sent to and received from agents (the benchmarks count an exchange's cost with them). */
  messagesOut = 0;
  messagesIn = 0;
  /** Logical clock of the lockstep scheduler: one tick per granted action. */
  clock = 0;
  /** Access clock: one tick per page access, the LRU order. */
  private accessClock = 0;
  private nextXid = 1;
  private nextPid = 2;
  private readonly socket: KernelSocket;
  private readonly pool: AgentPool;
  readonly remote: RemoteAgents | undefined;
  private readonly byRouting = new Map<string, AgentConn>();
  private readonly signalled = new Set<string>();
  private readonly signalWaiters = new Map<string, Waiter[]>();
  private readonly reapWaiters = new Map<string, Array<() => void>>();
  private readonly readyWaiters = new Map<number, () => void>();
  /** Processes that end with no step to report: by their own last step (see ending), or killed before a step by a fault. */
  private readonly endingProcs = new Set<Proc>();
  private nextInitId = 1;
  /** Things a lockstep scheduler must let finish before granting the next action. */
  private readonly busy = new Set<string>();
  private idleWaiters: Array<() => void> = [];
  private reclaimLock: Promise<void> = Promise.resolve();
  private stopping = false;
  /** Processes with a syscall not answered yet (a process makes one at a time: syscall_entry.ts). */
  private readonly callsOpen = new Set<Proc>();
  /** Processes that sent a bad message in the frame being handled (with how many): killed once the whole frame is judged. */
  private readonly condemned = new Map<Proc, number>();
  private readonly entryView: EntryView;
  fatalError: Error | undefined;
  /** Observers for the scheduler: a step finished, a process was reaped. */
  onProgress: () => void = () => {};

  constructor(readonly opts: KernelOptions) {
    this.config = opts.config;
    this.scenario = opts.scenario;
    this.frames = new FrameTable(opts.config.frames);
    this.rmap = new Rmap(this.frames);
    this.snapshots = opts.snapshots ? new Snapshots(this) : undefined;
    this.history = new History(opts.traceMessages, (e) => { opts.onEvent?.(e); this.snapshots?.observe(e); });
    this.faults = opts.faults ?? new FaultPlan([], opts.config.seed);
    this.entryView = {
      schedule: opts.config.schedule,
      processNamed: (name) => this.procByName.get(name),
      initPending: (id) => this.readyWaiters.has(id),
      callOpen: (proc) => this.callsOpen.has(proc),
    };
    for (const f of opts.scenario.files) this.files.push(new AddressSpace(this.files.length, f.name, f.pages, f.kind));
    for (const spec of opts.scenario.processes) {
      const p = new Proc(spec);
      this.procs.push(p);
      this.procByName.set(p.name, p);
      const forks: Array<[number, string]> = [];
      spec.steps.forEach((st, i) => { if (st.op === 'fork') forks.push([i, st.child]); });
      if (forks.length > 0) this.forkSteps.set(p, forks);
    }
    const endpoint = `ipc://${opts.runDir}/kernel.sock`;
    this.socket = new KernelSocket(endpoint, (err) => {
      // A peer that has just died (its exit event not yet seen) cannot be reached: its cleanup
      // will account for what it missed. Anything else is a broken transport.
      if ((err as { code?: string }).code === 'EHOSTUNREACH') return;
      this.fail(new Error(`send failed: ${String(err)}`));
    });
    this.pool = new AgentPool(this.socket, opts.runDir, (conn, code, signal) => this.onOsExit(conn, code, signal));
    if (opts.remote) {
      this.remote = new RemoteAgents(opts.remote, {
        history: this.history,
        deliver: (conn, msgs) => this.deliverFrame(conn, msgs),
        onExit: (conn, code, signal) => this.onOsExit(conn, code, signal),
        onSendError: (err) => {
          // A remote peer that is gone (its death is the heartbeat's business) cannot be reached.
          if ((err as { code?: string }).code === 'EHOSTUNREACH') return;
          this.fail(new Error(`remote send failed: ${String(err)}`));
        },
      });
    }
  }

  /** Every process runs on a remote agent: no local child is spawned. */
  private get remoteOnly(): boolean { return this.remote?.opts.agents === 'remote'; }

  // ---------------------------------------------------------------- start and stop

  async start(): Promise<void> {
    await this.socket.bind();
    void this.receiveLoop();
    await this.remote?.start();
    const initial = this.procs.filter((p) => !p.spec.forked);
    if (initial.length > processesMax) throw new Error(`more than ${processesMax} processes (processesMax)`);
    this.notStopped();
    if (!this.remote) this.pool.fill(initial.length + this.warmPoolSize());
    this.history.add('boot', { frames: this.frames.total, files: this.files.map((f) => ({ name: f.name, pages: f.pages, kind: f.kind })),
      policy: this.config.policy, access: this.config.access, purgeUnit: this.config.purgeUnit, schedule: this.config.schedule, seed: this.config.seed });
    for (const proc of initial) await this.birth(proc, undefined);
    // The first fork should not find its agent still starting.
    await this.pool.warm();
  }

  /**
   * How many started agents to keep waiting for forks (so that a fork does not wait for Node to
   * start): one per fork still possible, at most agentPoolMax. A `forked` process no fork step
   * can create any more gets none: agents are started for processes that will run.
   */
  private warmPoolSize(): number {
    if (this.opts.poolSize !== undefined) return this.opts.poolSize;
    return this.forksPossible(agentPoolMax);
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
        const child = this.procByName.get(forks[k]![1]);
        if (child?.spec.forked && child.state === 'unborn') children.add(child.name);
        if (children.size >= cap) return cap;
      }
    }
    return children.size;
  }

  /** Agents started so far (local children; the memory tests bound it). */
  get agentsStarted(): number { return this.pool.all.size; }

  /** Gives a process an agent and a pid, and starts it (its first step waits for a grant in lockstep). */
  private async birth(proc: Proc, parent: Proc | undefined, mm?: import('../shared/messages.js').MmSnapshot, pid = this.nextPid++): Promise<void> {
    proc.pid = pid;
    this.pidIndex.set(pid, proc);
    // Until the agent is ready the process cannot be granted anything, even if its parent dies
    // meanwhile (a remote agent may take a while to connect).
    this.busyWith(`birth:${proc.name}`);
    try {
      await this.attachAgent(proc, parent, mm);
    } finally {
      this.unbusy(`birth:${proc.name}`);
    }
    // A process with no steps has run all its steps: it exits with code 0 at once.
    if (proc.spec.steps.length === 0) this.ending(proc, { code: 0 });
  }

  /** A run stopped (its time bound passed) starts no agent: shutdown has ended them all, and the run folder goes next. */
  private notStopped(): void {
    if (this.stopping) throw new Error('the run was stopped: no new agent is started');
  }

  private async attachAgent(proc: Proc, parent: Proc | undefined, mm: import('../shared/messages.js').MmSnapshot | undefined): Promise<void> {
    this.notStopped();
    const conn = this.remoteOnly ? await this.remote!.take()
      : this.remote?.takeNow() ?? await this.pool.take(this.remote ? 0 : this.warmPoolSize());
    conn.proc = proc;
    proc.agent = conn;
    proc.state = 'running';
    this.byRouting.set(conn.routingId, conn);
    conn.actor.send({ type: 'assigned' });
    const id = this.nextInitId++;
    const ready = new Promise<void>((resolve) => this.readyWaiters.set(id, resolve));
    this.sendTo(proc, { t: 'init', id, pid: proc.pid, name: proc.name, steps: proc.spec.steps, sigbus: proc.spec.sigbus,
      config: this.config, mm, ...(this.snapshots ? { snapshots: true } : {}) });
    await withTimeout(ready, agentStartTimeoutMs, `agent for ${proc.name} did not become ready`);
    this.history.add('birth', { process: proc.name, pid: proc.pid, parent: parent?.name, osPid: conn.child?.pid ?? conn.osPid,
      ...(conn.remote ? { host: conn.host, agent: printable(conn.routingId) } : {}) });
  }

  /** The process has reported its last result: end it (exit code, or a fatal signal) and await its reaping. */
  private ending(proc: Proc, how: { code: number } | { signal: NodeJS.Signals }): void {
    if (this.condemned.has(proc)) how = { signal: 'SIGKILL' }; // its frame held a bad message
    this.busyWith(`reap:${proc.name}`);
    this.endingProcs.add(proc);
    proc.agent!.actor.send({ type: 'ending' });
    if ('signal' in how) { proc.agent!.kill(how.signal); return; }
    this.history.message('send', proc.name, { t: 'die', code: how.code });
    proc.agent!.exit(how.code);
  }

  /** Free schedule: let a process run its steps without grants. */
  runFree(proc: Proc): void {
    this.sendTo(proc, { t: 'go', startIndex: proc.nextStep, stops: this.faults.stopsFor(proc.name, proc.spec.steps.length) });
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    await this.remote?.stop();
    await this.pool.killAll();
    this.socket.close();
  }

  fail(err: Error): void {
    if (!this.fatalError) this.fatalError = err;
    this.onProgress();
    this.wakeIdle();
  }

  // ---------------------------------------------------------------- messaging

  sendTo(proc: Proc, msg: KernelMsg): void {
    if (!proc.agent) throw new Error(`kernel invariant: ${proc.name} has no agent`);
    this.messagesOut++;
    this.history.message('send', proc.name, msg);
    proc.agent.socket.send(proc.agent.routingId, msg);
  }

  private async receiveLoop(): Promise<void> {
    try {
      await this.socket.listen((routingId, msgs) => {
        const conn = this.byRouting.get(routingId) ?? this.pool.all.get(routingId);
        if (conn) this.deliverFrame(conn, msgs);
      }, (routingId, err) => {
        const conn = this.byRouting.get(routingId) ?? this.pool.all.get(routingId);
        if (conn) this.badMessage(conn, '?', `a frame that is not a msgpack message (${(err as Error).message})`);
      });
    } catch (e) {
      if (!this.stopping) this.fail(e as Error);
    }
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
      if (!parsed.ok) { this.badMessage(conn, parsed.t ?? '?', parsed.why); continue; }
      const msg = parsed.msg;
      if (msg.t === 'hello') {
        // A local agent's first message (a remote agent's is taken by coordinator/remote.ts).
        if (!conn.remote) { this.byRouting.set(conn.routingId, conn); conn.onHello(msg.osPid); }
        continue;
      }
      if (msg.t === 'pong') continue;
      try { this.deliver(conn, msg); } catch (e) { this.fail(e as Error); }
    }
    if (this.condemned.size === 0) return;
    for (const [proc, bad] of this.condemned) {
      if (bad > badMessagesLoggedMax) {
        this.history.add('bad-message', { process: proc.name, pid: proc.pid, where: proc.agent?.remote ? 'remote' : 'local', t: '*', why: `${bad - badMessagesLoggedMax} more bad message(s) in the same batch, not logged one by one` });
      }
      if (!proc.reaped) proc.agent?.kill('SIGKILL');
    }
    this.condemned.clear();
  }

  /** One well-formed message from an agent (local or remote). */
  private deliver(conn: AgentConn, msg: AgentMsg): void {
    const proc = conn.proc;
    if (!proc || proc.reaped) return;
    proc.lastHeardAt = Date.now();
    this.history.message('recv', proc.name, msg);
    const why = entryCheck(this.entryView, proc, msg);
    if (why) return this.badMessage(conn, msg.t, why);
    // Free schedule: a step begins with its first message (docs/protocol.md, Steps).
    if (proc.inFlight < 0 && this.config.schedule === 'free' && startsStep(msg)) this.onStart(proc, msg);
    if (proc.killOnFirst && msg.t !== 'prepared' && msg.t !== 'committed' && msg.t !== 'blocked' && msg.t !== 'start') {
      this.fault(proc.killOnFirst, proc, `dropped its ${msg.t} message, SIGKILL while the step is in flight`, `kill:${proc.name}@${proc.inFlight}+`);
      proc.killOnFirst = undefined;
      proc.agent!.kill('SIGKILL');
      return;
    }
    this.onMessage(proc, msg);
  }

  /**
   * A message that breaks the protocol (docs/protocol.md, "Bad messages"): like a process a kernel
   * kills for an illegal act, its sender dies with SIGKILL (once its frame is judged), logged in
   * the history and on stderr; its cleanup is that of any death. From a local agent (this
   * project's own code) it is a bug as well: the run fails (`run-completed`). An agent with no
   * process yet is only logged (a remote one is told to go).
   */
  private badMessage(conn: AgentConn, t: string, why: string): void {
    const proc = conn.proc;
    const where = conn.remote ? 'remote' : 'local';
    const shown = printable(why, 300);
    if (!proc) {
      this.history.add('bad-message', { agent: printable(conn.routingId), where, t: printable(t, 40), why: shown });
      process.stderr.write(`vrange kernel: ${where} agent ${printable(conn.routingId)} (no process yet) broke the protocol (${shown})${conn.remote ? ': disconnected' : ''}\n`);
      if (conn.remote) conn.kill('SIGKILL');
      return;
    }
    if (proc.reaped) return;
    const bad = (this.condemned.get(proc) ?? 0) + 1;
    this.condemned.set(proc, bad);
    if (bad > badMessagesLoggedMax) return; // one batch may hold many: the first ones say enough
    this.history.add('bad-message', { process: proc.name, pid: proc.pid, where, t: printable(t, 40), why: shown });
    process.stderr.write(`vrange kernel: ${proc.name} (pid ${proc.pid}) broke the protocol (${shown}): SIGKILL`
      + `${conn.remote ? '' : ' (a local agent: a bug in vrange)'}\n`);
    if (!conn.remote) this.violation('run-completed', `${proc.name}'s local agent broke the protocol (${shown})`);
  }

  private onMessage(proc: Proc, msg: AgentMsg): void {
    switch (msg.t) {
      case 'ready':
        if (msg.mm) this.snapshots?.setView(proc, msg.mm);
        this.readyWaiters.get(msg.re)?.();
        this.readyWaiters.delete(msg.re);
        return;
      case 'start':
        // Taken as the step's start in deliver (syscall_entry.ts checked it names that step).
        if (this.config.schedule !== 'free' || proc.inFlight !== msg.index) throw new Error(`kernel invariant: ${proc.name} sent start of step ${msg.index} with step ${proc.inFlight} in flight`);
        return;
      case 'at': void this.atFaultPoint(proc, msg.index).catch((e: Error) => this.fail(e)); return;
      case 'done': return this.onDone(proc, msg);
      case 'blocked':
        proc.blockedOn = msg.xid;
        this.history.add('blocked', { process: proc.name, index: msg.index, xid: msg.xid });
        this.unbusy(proc.stepKey);
        return;
      case 'prepared': this.exchanges.get(msg.xid)?.onPrepared(proc.pid, msg.runs); return;
      case 'committed': this.exchanges.get(msg.xid)?.onAcked(proc.pid, msg.violations); return;
      case 'hello': case 'pong': return;
      default:
        this.syscall(proc, msg);
    }
  }

  private reply(proc: Proc, re: number, fields: Omit<SysRet, 't' | 're'>): void {
    if (!proc.live) return; // nobody is left to read it
    this.sendTo(proc, { t: 'ret', re, ...fields } as SysRet); // fields: one reply shape (shared/messages.ts, SysReplies)
  }

  // ---------------------------------------------------------------- the lockstep handshake

  busyWith(key: string): void { this.busy.add(key); }
  unbusy(key: string): void {
    this.busy.delete(key);
    if (this.busy.size === 0) this.wakeIdle();
    this.onProgress();
  }
  private wakeIdle(): void {
    if (this.idleWaiters.length === 0) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }
  /** Resolves when every granted action has settled (done, blocked, or dead and reaped). */
  idle(): Promise<void> {
    if (this.busy.size === 0 || this.fatalError) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }
  busyKeys(): string[] { return [...this.busy]; }

  grant(proc: Proc): void {
    this.clock++;
    proc.inFlight = proc.nextStep;
    this.busyWith(proc.stepKey);
    this.history.invoke(proc.name, proc.inFlight, proc.spec.steps[proc.inFlight]);
    proc.killOnFirst = this.faults.killDuring(proc.name, proc.inFlight);
    this.sendTo(proc, { t: 'grant', index: proc.inFlight, now: this.clock });
  }

  /**
   * Lockstep: lets `proc`'s step, blocked on an exchange that has committed, go on. The scheduler
   * releases such steps one at a time, in pid order, each once the one before has settled, so
   * their messages never race (docs/semantics.md, "the order of completions at a commit").
   */
  release(proc: Proc): void {
    if (proc.blockedOn < 0 || proc.inFlight < 0 || this.exchanges.has(proc.blockedOn)) {
      throw new Error(`kernel invariant: release of ${proc.name}, blocked on exchange ${proc.blockedOn} with step ${proc.inFlight} in flight`);
    }
    proc.blockedOn = -1;
    this.busyWith(proc.stepKey);
    this.sendTo(proc, { t: 'release', index: proc.inFlight });
  }

  /**
   * Free schedule: `msg` is the first message of a step (a syscall, `blocked`, `done`, or the
   * `start` an agent sends when it must answer something else first). The agent runs its steps
   * in order, so it is step `nextStep`; a message that names its step must name that one.
   */
  private onStart(proc: Proc, msg: AgentMsg): void {
    const index = proc.nextStep;
    if ('index' in msg && msg.index !== index) {
      throw new Error(`kernel invariant: ${proc.name} sent ${msg.t} of step ${msg.index}, but its next step is ${index}`);
    }
    const step = proc.spec.steps[index];
    if (!step) throw new Error(`kernel invariant: ${proc.name} sent ${msg.t} after its last step`);
    proc.inFlight = index;
    if (!this.faults.empty) proc.killOnFirst = this.faults.killDuring(proc.name, index);
    this.history.invoke(proc.name, index, step);
  }

  private onDone(proc: Proc, msg: Extract<AgentMsg, { t: 'done' }>): void {
    if (msg.index !== proc.inFlight) throw new Error(`kernel invariant: ${proc.name} finished step ${msg.index} but step ${proc.inFlight} was in flight`);
    const step = proc.spec.steps[msg.index]!;
    proc.inFlight = -1;
    proc.blockedOn = -1;
    proc.nextStep = msg.index + 1;
    if (msg.mm) this.snapshots?.setView(proc, msg.mm);
    this.recordStep(proc.name, msg.index, step, msg.result, msg.detail);
    const last = proc.nextStep >= proc.spec.steps.length;
    const fatal = msg.detail?.fatal;
    if (fatal || step.op === 'exit' || last) {
      this.ending(proc, fatal ? { signal: fatal as NodeJS.Signals } : { code: msg.detail?.exiting ?? 0 });
    }
    this.unbusy(proc.stepKey);
  }

  /** `cutOff`: the process died with the step in flight (Jepsen's `info`: its effect is unknown). */
  recordStep(process: string, index: number, step: ProcessStep | KernelStep, result: StepResult, detail?: unknown, cutOff = false): void {
    const rec: StepRecord = { process, index, op: step.op, result };
    if (step.label) rec.label = step.label;
    this.steps.push(rec);
    const type = cutOff ? 'info' : result.ok ? 'ok' : 'fail';
    this.history.complete(process, index, step.op, type, result, detail, step.label);
    // A `check` is an assertion: without an `expect` of its own it is expected to hold.
    const expected = expectationFor(step, this.config.policy) ?? (step.op === 'check' ? { ok: true } : undefined);
    if (expected && !matches(expected, result)) {
      this.failures.push({ process, index, expected, actual: result });
      this.history.add('expectation-failed', { process, index, expected, actual: result });
    }
    this.onProgress();
  }

  violation(name: string, text: string): void {
    this.violations.push({ name, text });
    this.history.add('violation', { name, text });
  }

  // ---------------------------------------------------------------- faults

  /** `as`: the fault as a fixed spec (a random draw becomes `kill:P@N`), so a shrinker can replay it alone. */
  fault(spec: string, proc: Proc, action: string, as: string): void {
    const step = proc.inFlight >= 0 ? proc.inFlight : proc.nextStep;
    this.faults.injected.push({ fault: spec, process: proc.name, step, action });
    this.history.add('fault', { fault: spec, process: proc.name, pid: proc.pid, step, as, action });
  }

  /**
   * Before a process starts a step, the faults that name it: kill it (the step never starts),
   * or SIGSTOP it for a while. Returns 'killed', 'paused' (resumes by itself) or 'go'.
   */
  async beforeStep(proc: Proc): Promise<'killed' | 'paused' | 'go'> {
    if (proc.faultsDrawnFor === proc.nextStep) return 'go';
    proc.faultsDrawnFor = proc.nextStep;
    const f = this.faults.beforeStep(proc.name, proc.nextStep);
    if (!f) return 'go';
    if ('kill' in f) {
      this.fault(f.kill, proc, `SIGKILL before step ${proc.nextStep}`, `kill:${proc.name}@${proc.nextStep}`);
      this.endingProcs.add(proc); // the step never starts, a wait included (asleepIn)
      await this.killProc(proc);
      return 'killed';
    }
    this.fault(f.spec, proc, `SIGSTOP before step ${proc.nextStep}, SIGCONT in ${f.pauseMs} ms`, `pause:${proc.name}@${proc.nextStep}:${f.pauseMs}`);
    proc.agent!.kill('SIGSTOP');
    proc.paused = new Promise((resolve) => setTimeout(() => {
      proc.paused = undefined;
      if (proc.live) proc.agent!.kill('SIGCONT');
      this.history.add('resume', { process: proc.name, pid: proc.pid });
      resolve();
      this.onProgress();
    }, f.pauseMs));
    return 'paused';
  }

  /** Free schedule: a process stopped before a step a fault names. */
  private async atFaultPoint(proc: Proc, index: number): Promise<void> {
    if (index !== proc.nextStep) proc.nextStep = index;
    const r = await this.beforeStep(proc);
    if (r === 'killed') return;
    if (r === 'paused') await proc.paused;
    if (proc.live) this.sendTo(proc, { t: 'continue' });
  }

  // ---------------------------------------------------------------- syscalls

  /** Answers a syscall: at once when its handler needs no wait (most do), else when it settles. */
  private syscall(proc: Proc, msg: SysCall): void {
    this.callsOpen.add(proc);
    const answer = (v: Ret | undefined) => { this.callsOpen.delete(proc); if (v) this.reply(proc, msg.id, v); };
    const r = this.dispatch(proc, msg);
    if (r instanceof Promise) void r.then(answer, (e: Error) => this.fail(e));
    else answer(r);
  }

  private dispatch(proc: Proc, m: SysCall): Ret | undefined | Promise<Ret | undefined> {
    switch (m.t) {
      case 'open': return this.sysOpen(proc, m.file);
      case 'close': return this.sysClose(proc, m.fd);
      case 'mmap': return this.sysMmap(proc, m);
      case 'munmap': return this.sysMunmap(proc, m.start, m.pages);
      case 'read': return this.namedFrame(proc, m) ?? this.sysRead(proc, m.vpage, m.frame);
      case 'write': return this.namedFrame(proc, m) ?? this.sysWrite(proc, m);
      case 'fvrange': return this.sysFvrange(proc, m);
      case 'fquery': return { pages: m.vpages.map((v) => this.filePageView(proc, v)) };
      case 'query-fd': return this.sysQueryFd(proc, m.fd, m.start, m.pages);
      case 'fork': return this.sysFork(proc, m.child, m.mm);
      case 'signal': this.signal(m.name); return {};
      case 'wait': return this.waitSignal(proc, m.name).then(() => ({}));
      case 'waitpid': return this.waitpid(proc, m.process);
      case 'crash': proc.agent!.kill('SIGKILL'); return undefined;
    }
  }

  /**
   * A read or write that names a frame (the agent's page-table entry for a private page) may
   * touch it only if this process's mm maps it at that page: no request, however forged, reaches
   * another process's memory. A frame reclaim took from this very page is stale (`retry`: the
   * agent faults again); any other frame is EFAULT, logged. Returns undefined when all is well.
   */
  private namedFrame(proc: Proc, m: { t: string; vpage: number; frame: number }): Omit<SysRet, 't' | 're'> | undefined {
    if (m.frame === -1) return undefined;
    if (Number.isInteger(m.frame) && Number.isInteger(m.vpage) && m.frame >= 0) {
      const e = this.rmap.lookup(proc.pid, m.vpage);
      if (e && e.kind === 'anon' && e.frame === m.frame) return undefined;
      if (this.rmap.wasPurgedFrom(proc.pid, m.vpage, m.frame)) return { retry: true };
    }
    return this.efault(proc, m.t, { vpage: m.vpage, frame: m.frame }, 'a frame its mm does not map at that page');
  }

  /** Refuses a request naming memory the process does not map: EFAULT, in the history and on stderr. */
  private efault(proc: Proc, call: string, named: Record<string, unknown>, why: string): Omit<SysRet, 't' | 're'> {
    this.history.add('efault', { process: proc.name, pid: proc.pid, call, ...named, why });
    const what = Object.entries(named).map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ');
    process.stderr.write(`vrange kernel: EFAULT: ${proc.name} (pid ${proc.pid}) named ${what} in a ${call}: ${why}\n`);
    return { errno: 'EFAULT' };
  }

  private sysOpen(proc: Proc, name: string): Omit<SysRet, 't' | 're'> {
    const file = this.files.find((f) => f.name === name && f.kind !== 'shmem');
    if (!file) return { errno: 'ENOENT' };
    let fd = 3;
    while (proc.fds.has(fd)) fd++;
    if (proc.fds.size >= fdsPerProcessMax) return { errno: 'EMFILE' };
    proc.fds.set(fd, file.id);
    file.openCount++;
    return { fd };
  }

  private sysClose(proc: Proc, fd: number): Omit<SysRet, 't' | 're'> {
    const id = proc.fds.get(fd);
    if (id === undefined) return { errno: 'EBADF' };
    proc.fds.delete(fd);
    const file = this.files[id]!;
    file.openCount--;
    this.maybeFinalRelease(file);
    return {};
  }

  private sysMmap(proc: Proc, m: Extract<SysCall, { t: 'mmap' }>): Omit<SysRet, 't' | 're'> {
    if (proc.vmas.some((v) => v.start < m.addr + m.pages && m.addr < v.start + v.pages)) {
      throw new Error(`kernel invariant: ${proc.name} mapped ${m.addr}+${m.pages} over an existing VMA`);
    }
    if (m.fd < 0) {
      if (m.share === 'private') {
        proc.vmas.push({ start: m.addr, pages: m.pages, kind: 'anon', fileId: -1, offset: 0, share: 'private' });
        return { fileId: -1 };
      }
      const shm = new AddressSpace(this.files.length, `shmem:${proc.name}@${m.addr}`, m.pages, 'shmem');
      this.files.push(shm);
      proc.vmas.push({ start: m.addr, pages: m.pages, kind: 'shmem', fileId: shm.id, offset: 0, share: 'shared' });
      return { fileId: shm.id };
    }
    const id = proc.fds.get(m.fd);
    if (id === undefined) return { errno: 'EBADF' };
    const file = this.files[id]!;
    if (m.offset + m.pages > file.pages) return { errno: 'EINVAL' };
    proc.vmas.push({ start: m.addr, pages: m.pages, kind: m.share === 'shared' ? 'file-shared' : 'file-private',
      fileId: id, offset: m.offset, share: m.share });
    return { fileId: id };
  }

  private sysMunmap(proc: Proc, start: number, pages: number): Omit<SysRet, 't' | 're'> {
    const end = start + pages;
    for (const e of this.rmap.entriesIn(proc.pid, start, end)) this.rmap.remove(proc.pid, e.vpage);
    const touched = new Set<number>();
    const kept = [];
    for (const v of proc.vmas) {
      const vEnd = v.start + v.pages;
      if (vEnd <= start || v.start >= end) { kept.push(v); continue; }
      if (v.fileId >= 0) touched.add(v.fileId);
      if (v.start < start) kept.push({ ...v, pages: start - v.start });
      if (vEnd > end) kept.push({ ...v, start: end, pages: vEnd - end, offset: v.offset + (end - v.start) });
    }
    proc.vmas = kept;
    for (const id of touched) this.maybeFinalRelease(this.files[id]!);
    return {};
  }

  /** The file page a vpage of this process maps, if it maps one. */
  private filePageOf(proc: Proc, vpage: number): { file: AddressSpace; page: number; share: 'shared' | 'private' } | undefined {
    const v = proc.vmaAt(vpage);
    if (!v || v.fileId < 0) return undefined;
    return { file: this.files[v.fileId]!, page: v.offset + (vpage - v.start), share: v.share };
  }

  /** Touching a purged file page while the file's range is still volatile raises SIGBUS. */
  private fileSigbus(file: AddressSpace, page: number): boolean {
    return this.config.access === 'sigbus' && file.purged.has(page) && file.isVolatile(page);
  }

  private sysRead(proc: Proc, vpage: number, frame: number): Omit<SysRet, 't' | 're'> {
    const now = ++this.accessClock;
    if (!proc.vmaAt(vpage)) return { signal: 'SIGSEGV' };
    if (frame >= 0) {
      const e = this.rmap.lookup(proc.pid, vpage);
      if (!e || e.frame !== frame || e.kind !== 'anon') return { retry: true };
      return { value: this.frames.read(frame, now) };
    }
    const fp = this.filePageOf(proc, vpage);
    if (!fp) return { value: '' };
    if (this.fileSigbus(fp.file, fp.page)) return { signal: 'SIGBUS' };
    const f = fp.file.frameAt(fp.page);
    if (f < 0) return { value: '' }; // a hole: the shared zero page, no frame taken
    if (!this.rmap.lookup(proc.pid, vpage)) {
      this.rmap.add(proc.pid, vpage, f, fp.share === 'private' ? 'file-private' : 'file-shared');
    }
    return { value: this.frames.read(f, now) };
  }

  private async sysWrite(proc: Proc, m: Extract<SysCall, { t: 'write' }>): Promise<Omit<SysRet, 't' | 're'> | undefined> {
    if (Buffer.byteLength(m.value) > valueBytesMax) return { errno: 'EINVAL' };
    const v = proc.vmaAt(m.vpage);
    if (!v) return { signal: 'SIGSEGV' };
    const anonymous = v.kind === 'anon' || (v.kind === 'file-private' && (m.frame >= 0 || m.anon));
    if (anonymous) return this.writeAnon(proc, m);
    const fp = this.filePageOf(proc, m.vpage)!;
    if (this.fileSigbus(fp.file, fp.page)) return { signal: 'SIGBUS' };
    if (v.kind === 'file-private') {
      // Copy-on-write from the file's page: the copy is this process's own from now on. As in
      // do_cow_fault, the copy is allocated before the file's page is looked up, so that page is
      // not locked meanwhile: reclaim may purge it, and the fault then sees it (SIGBUS while its
      // range is volatile) rather than OOM-killing anyone for a copy of a page that is gone.
      const nf = await this.allocFrame(proc, () => !this.fileSigbus(fp.file, fp.page));
      if (nf === -1) return undefined;
      if (nf === frameNotNeeded) return this.sysWrite(proc, m);
      if (this.fileSigbus(fp.file, fp.page)) { this.frames.decref(nf); return { signal: 'SIGBUS' }; }
      if (this.rmap.lookup(proc.pid, m.vpage)) this.rmap.remove(proc.pid, m.vpage);
      this.frames.write(nf, m.value, ++this.accessClock);
      this.rmap.add(proc.pid, m.vpage, nf, 'anon');
      this.frames.decref(nf); // rmap.add took the mapping's reference
      return { frame: nf };
    }
    let f = fp.file.frameAt(fp.page);
    if (f < 0) {
      // A hole: a frame is needed only while it stays a hole (another writer may fill it meanwhile).
      const nf = await this.allocFrame(proc, () => fp.file.frameAt(fp.page) < 0 && !this.fileSigbus(fp.file, fp.page));
      if (nf === -1) return undefined;
      if (nf === frameNotNeeded) return this.sysWrite(proc, m);
      if (this.fileSigbus(fp.file, fp.page)) { this.frames.decref(nf); return { signal: 'SIGBUS' }; }
      if (fp.file.cache.has(fp.page)) this.frames.decref(nf); // filled meanwhile by another writer
      else fp.file.insert(fp.page, nf, this.frames);
      f = fp.file.frameAt(fp.page);
    }
    this.frames.write(f, m.value, ++this.accessClock);
    const e = this.rmap.lookup(proc.pid, m.vpage);
    if (e && e.frame !== f) this.rmap.remove(proc.pid, m.vpage);
    if (!e || e.frame !== f) this.rmap.add(proc.pid, m.vpage, f, 'file-shared');
    return { frame: -1 };
  }

  private async writeAnon(proc: Proc, m: Extract<SysCall, { t: 'write' }>): Promise<Omit<SysRet, 't' | 're'> | undefined> {
    if (m.frame >= 0) {
      const e = this.rmap.lookup(proc.pid, m.vpage);
      if (!e || e.frame !== m.frame || e.kind !== 'anon') return { retry: true };
      if (!m.cow || this.rmap.referencesTo(m.frame) === 1) {
        // Not shared (any more): write in place, as do_wp_page reuses a page it alone maps
        // (wp_can_reuse_anon_folio: one mapper left), whether it was always alone or the other
        // mappers died or copied while this fault waited for a frame.
        this.frames.write(m.frame, m.value, ++this.accessClock);
        return { frame: m.frame };
      }
    }
    // The page being faulted on is locked, as in a real fault: its own reclaim must not take it.
    const pinned = m.frame >= 0 && !this.heldFrames.has(m.frame);
    if (pinned) this.heldFrames.set(m.frame, 0);
    // A copy is needed while the source is still this page's frame and still shared.
    const need = () => m.frame < 0 || (this.rmap.lookup(proc.pid, m.vpage)?.frame === m.frame && this.rmap.referencesTo(m.frame) > 1);
    const nf = await this.allocFrame(proc, need);
    if (pinned) this.heldFrames.delete(m.frame);
    if (nf === -1) return undefined;
    if (nf === frameNotNeeded) return this.writeAnon(proc, m); // look again: reuse the frame, or retry
    if (m.frame >= 0) {
      const e = this.rmap.lookup(proc.pid, m.vpage);
      if (!e || e.frame !== m.frame) { this.frames.decref(nf); return { retry: true }; } // purged since: fault again
      this.rmap.remove(proc.pid, m.vpage);
    } else if (this.rmap.lookup(proc.pid, m.vpage)) {
      this.rmap.remove(proc.pid, m.vpage); // a private file page not yet copied: now it is
    }
    this.frames.write(nf, m.value, ++this.accessClock);
    this.rmap.add(proc.pid, m.vpage, nf, 'anon');
    this.frames.decref(nf);
    return { frame: nf };
  }

  /**
   * A free frame for `proc`, by direct reclaim and then the OOM killer if need be. Reclaim and
   * the OOM killer let other processes change state (a mapper dies, another writer fills the
   * hole, a purge): before each, the fault asks `need` whether it still needs a frame at all.
   * Returns the frame; -1 when `proc` itself was killed meanwhile (its syscall then gets no
   * reply); frameNotNeeded when `need` says no (the caller looks again from the top). One OOM
   * decision at a time, under the reclaim lock, each taken after the previous one's victim is
   * reaped.
   */
  async allocFrame(proc: Proc, need: () => boolean = () => true): Promise<number> {
    for (;;) {
      if (!proc.live) return -1;
      if (!need()) return frameNotNeeded;
      const f = this.frames.alloc(this.accessClock);
      if (f >= 0) return f;
      await this.withReclaimLock(async () => {
        if (this.frames.free > 0 || !proc.live || !need()) return;
        const { freed } = await this.runExchange(1, `direct reclaim: ${proc.name} faulted with no free frame`);
        if (freed > 0 || this.frames.free > 0 || !proc.live || !need()) return;
        await this.oomKill(proc);
      });
    }
  }

  private async withReclaimLock<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.reclaimLock;
    let release!: () => void;
    this.reclaimLock = new Promise((r) => (release = r));
    await prev;
    try { return await fn(); } finally { release(); }
  }

  /** Nothing could be purged: kill the process with the most resident pages. */
  private async oomKill(faulting: Proc): Promise<void> {
    let victim: Proc | undefined;
    let most = 0;
    for (const p of this.procs) {
      if (!p.live) continue;
      const rss = this.rmap.resident(p.pid);
      if (rss > most) { most = rss; victim = p; }
    }
    victim ??= faulting;
    this.history.add('oom-kill', { process: victim.name, pid: victim.pid, resident: this.rmap.resident(victim.pid),
      faulting: faulting.name, why: most > 0 ? 'most resident pages' : 'no process holds a page: the faulting process' });
    await this.killProc(victim);
  }

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

  private sysFvrange(proc: Proc, m: Extract<SysCall, { t: 'fvrange' }>): Omit<SysRet, 't' | 're'> {
    let file: AddressSpace;
    if (m.fd >= 0) {
      const id = proc.fds.get(m.fd);
      if (id === undefined) return { errno: 'EBADF' };
      file = this.files[id]!;
    } else {
      file = this.files[m.fileId]!; // a vrange on a shared file mapping (shared-file policy)
      if (!file || !proc.vmas.some((v) => v.fileId === m.fileId && v.share === 'shared')) {
        return this.efault(proc, 'fvrange', { fileId: m.fileId }, 'a file it does not map shared');
      }
    }
    if ((m.mode !== 'volatile' && m.mode !== 'nonvolatile') || m.pages <= 0) return { errno: 'EINVAL' };
    if (m.start + m.pages > file.pages) return { errno: 'EINVAL' };
    const end = m.start + m.pages;
    const bytes = m.pages * 4096;
    if (m.mode === 'volatile') {
      try { file.ranges.mark(m.start, end, m.now); } catch { return { errno: 'ENOMEM' }; }
      return { bytes };
    }
    let purged = false;
    // Over the span or the purged pages, whichever is smaller.
    if (m.pages <= file.purged.size) {
      for (let p = m.start; p < end; p++) if (file.purged.delete(p)) purged = true;
    } else {
      for (const p of [...file.purged]) if (p >= m.start && p < end) { purged = true; file.purged.delete(p); }
    }
    file.ranges.unmark(m.start, end);
    this.history.add('file-nonvolatile', { file: file.name, start: m.start, pages: m.pages, purged, by: proc.name });
    return { bytes, purged };
  }

  private filePageView(proc: Proc, vpage: number): { resident: boolean; volatile: boolean; purged: boolean } {
    const fp = this.filePageOf(proc, vpage);
    if (!fp) return { resident: false, volatile: false, purged: false };
    const own = fp.file.kind !== 'shmem';
    return { resident: fp.file.cache.has(fp.page), volatile: own && fp.file.isVolatile(fp.page), purged: own && fp.file.purged.has(fp.page) };
  }

  private sysQueryFd(proc: Proc, fd: number, start: number, pages: number): Omit<SysRet, 't' | 're'> {
    if (pages <= 0) return { errno: 'EINVAL' };
    if (pages > queryPagesMax) return { errno: 'E2BIG' };
    const id = proc.fds.get(fd);
    if (id === undefined) return { errno: 'EBADF' };
    const file = this.files[id]!;
    if (start + pages > file.pages) return { errno: 'EINVAL' };
    const list = [];
    for (let p = start; p < start + pages; p++) {
      list.push({ page: p, resident: file.cache.has(p), volatile: file.isVolatile(p), purged: file.purged.has(p) });
    }
    return { pages: list };
  }

  private async sysFork(parent: Proc, childName: string, mm: import('../shared/messages.js').MmSnapshot): Promise<Omit<SysRet, 't' | 're'>> {
    const child = this.procByName.get(childName);
    if (!child || !child.spec.forked || child.state !== 'unborn') return { errno: 'EINVAL' };
    // Only a run with more processes than processesMax can have that many alive (the loader allows no more).
    if (this.procs.length > processesMax && this.procs.filter((p) => p.live).length >= processesMax) return { errno: 'EAGAIN' };
    // Every frame the snapshot names must be the parent's own at that page (or one reclaim just
    // took from it, which the child does not get): checked before anything changes.
    const shared: Array<[number, number]> = [];
    const stale: Array<[number, number]> = [];
    if (!Array.isArray(mm?.vmas)) return this.efault(parent, 'fork', { mm: typeof mm }, 'no mm snapshot');
    for (const v of mm.vmas) {
      // Typed arrays from the product's agents; a remote peer may send plain arrays (checked element by element).
      // `at` lists the entries' page indexes (a sparse snapshot); without it entry k is page k.
      const at = v?.at;
      if (!(v?.frames instanceof Int32Array || Array.isArray(v?.frames)) || !Number.isInteger(v.start)
        || (at !== undefined && !((at instanceof Float64Array || Array.isArray(at)) && at.length === v.frames.length))) {
        return this.efault(parent, 'fork', { vma: v?.start }, 'a malformed mm snapshot');
      }
      for (let k = 0; k < v.frames.length; k++) {
        const i = at ? at[k]! : k;
        // Entries name distinct pages of the VMA, ascending (the child's page table is built from them).
        if (at && !(Number.isInteger(i) && i >= 0 && i < v.pages && (k === 0 || i > at[k - 1]!))) {
          return this.efault(parent, 'fork', { vma: v.start, entry: i }, 'a malformed mm snapshot');
        }
        const f = v.frames[k]!;
        if (f === -1) continue;
        const vpage = v.start + i;
        const e = Number.isInteger(f) && f >= 0 && Number.isInteger(i) ? this.rmap.lookup(parent.pid, vpage) : undefined;
        if (e && e.kind === 'anon' && e.frame === f) shared.push([vpage, f]);
        else if (Number.isInteger(f) && Number.isInteger(i) && this.rmap.wasPurgedFrom(parent.pid, vpage, f)) stale.push([vpage, f]);
        else return this.efault(parent, 'fork', { vpage, frame: f }, 'a frame its mm does not map at that page');
      }
    }
    child.state = 'running'; // claimed; the agent is attached below
    child.fds = new Map(parent.fds);
    for (const id of child.fds.values()) this.files[id]!.openCount++;
    child.vmas = parent.vmas.map((v) => ({ ...v }));
    // The child's page table: every page with its own frame, now shared copy-on-write.
    const pid = this.nextPid++; // claimed now: another fork may start while this child's agent starts
    for (const [vpage, f] of shared) this.rmap.add(pid, vpage, f, 'anon');
    // The child's copy still names a purged frame: for it too, naming it is stale, not forged.
    for (const [vpage, f] of stale) this.rmap.rememberPurged(pid, vpage, f);
    await this.birth(child, parent, mm, pid);
    if (this.config.schedule === 'free' && child.live && child.spec.steps.length > 0) this.runFree(child);
    this.onProgress();
    return { pid: child.pid };
  }

  signal(name: string): void {
    this.signalled.add(name);
    const list = this.signalWaiters.get(name) ?? [];
    this.signalWaiters.delete(name);
    for (const w of list) { w.proc.parkedOn = undefined; w.resolve(); }
    this.onProgress();
  }

  isSignalled(name: string): boolean { return this.signalled.has(name); }

  private waitSignal(proc: Proc, name: string): Promise<void> {
    if (this.signalled.has(name)) return Promise.resolve();
    proc.parkedOn = `signal "${name}"`;
    this.onProgress();
    return new Promise((resolve) => {
      const list = this.signalWaiters.get(name) ?? [];
      list.push({ proc, resolve });
      this.signalWaiters.set(name, list);
    });
  }

  private async waitpid(proc: Proc, name: string): Promise<Omit<SysRet, 't' | 're'>> {
    const target = this.procs.find((p) => p.name === name)!;
    if (!target.reaped) {
      proc.parkedOn = `process ${name} to end`;
      this.onProgress();
      await this.whenReaped(target, proc);
    }
    // `exitSignal`, not `signal`: a reply's `signal` is a signal delivered to the caller.
    return target.signal !== undefined ? { exitSignal: target.signal } : { exitCode: target.exitCode ?? 0 };
  }

  waitResult(name: string): StepResult {
    const t = this.procs.find((p) => p.name === name)!;
    return t.signal !== undefined ? { ok: true, signal: t.signal } : { ok: true, exitCode: t.exitCode ?? 0 };
  }

  // ---------------------------------------------------------------- death and cleanup

  private onOsExit(conn: AgentConn, code: number | null, signal: string | null): void {
    conn.actor.send({ type: 'osExited', code, signal });
    const proc = conn.proc;
    if (!proc || proc.reaped) return;
    try { this.cleanup(proc, code, signal); } catch (e) { this.fail(e as Error); }
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
    if (step?.op === 'wait' && !this.signalled.has(step.name)) return step;
    if (step?.op === 'waitpid' && !this.procByName.get(step.process)?.reaped) return step;
    return undefined;
  }

  /** The one exit cleanup, for exit, crash, SIGKILL and OOM kill alike. Idempotent. */
  cleanup(proc: Proc, code: number | null, signal: string | null): void {
    if (proc.reaped) return;
    let interrupted: number | undefined;
    if (proc.inFlight >= 0) {
      interrupted = proc.inFlight;
      const step = proc.spec.steps[proc.inFlight]!;
      if (signal === null) this.violation('agent-alive', `${proc.name}'s agent exited with code ${code} during step ${proc.inFlight}`);
      this.recordStep(proc.name, proc.inFlight, step, { ok: false, signal: signal ?? 'SIGKILL' }, undefined, true);
      proc.inFlight = -1;
    } else if (signal !== null && this.asleepIn(proc) !== undefined) {
      // A process whose next step waits for what has not happened is asleep in that step: the
      // death interrupts it. Never granted (or its first message never came), so never invoked:
      // the invocation is recorded here (docs/semantics.md).
      const step = this.asleepIn(proc)!;
      interrupted = proc.nextStep;
      this.history.invoke(proc.name, proc.nextStep, step);
      this.recordStep(proc.name, proc.nextStep, step, { ok: false, signal }, undefined, true);
    }
    proc.state = signal !== null ? 'killed' : 'exited';
    if (signal !== null) proc.signal = signal; else proc.exitCode = code ?? 0;
    let freed = 0;
    const mappings = this.rmap.entriesOf(proc.pid);
    for (const e of mappings) if (this.rmap.remove(proc.pid, e.vpage)!.freed) freed++;
    const touched = new Set<number>();
    for (const v of proc.vmas) if (v.fileId >= 0) touched.add(v.fileId);
    const vmas = proc.vmas.length;
    proc.vmas = [];
    const fds = proc.fds.size;
    for (const id of proc.fds.values()) { this.files[id]!.openCount--; touched.add(id); }
    proc.fds.clear();
    const released: string[] = [];
    for (const id of touched) {
      const r = this.maybeFinalRelease(this.files[id]!);
      if (r !== undefined) { freed += r; released.push(this.files[id]!.name); }
    }
    this.rmap.forgetPurged(proc.pid);
    for (const ex of this.exchanges.values()) ex.onDeath(proc.pid);
    proc.reaped = true;
    proc.agent?.actor.send({ type: 'cleanedUp' });
    this.history.add('cleanup', { process: proc.name, pid: proc.pid, state: proc.state, exitCode: proc.exitCode, signal: proc.signal,
      framesFreed: freed, pagesUnmapped: mappings.length, vmas, fdsClosed: fds, filesReleased: released, ...(interrupted !== undefined ? { interrupted } : {}) });
    for (const w of this.reapWaiters.get(proc.name) ?? []) w();
    this.reapWaiters.delete(proc.name);
    this.unbusy(proc.stepKey);
    this.unbusy(`reap:${proc.name}`);
  }

  /** Final release when no fd and no mapping is left; returns the frames freed, or undefined. */
  private maybeFinalRelease(file: AddressSpace): number | undefined {
    if (file.openCount < 0) throw new Error(`kernel invariant: ${file.name} open count ${file.openCount}`);
    if (file.openCount > 0) return undefined;
    if (this.procs.some((p) => p.vmas.some((v) => v.fileId === file.id))) return undefined;
    const hadState = file.ranges.size > 0 || file.purged.size > 0 || (file.kind !== 'tmpfs' && file.residentPages() > 0);
    const freed = file.finalRelease(this.frames);
    if (hadState) this.history.add('final-release', { file: file.name, fileKind: file.kind, framesFreed: freed });
    return freed;
  }

  procByPid(pid: number): Proc | undefined {
    const p = this.pidIndex.get(pid);
    return p && p.state !== 'unborn' ? p : undefined;
  }

  // ---------------------------------------------------------------- reclaim, kernel side

  /** Runs a whole exchange (prepare then commit). Callers hold the reclaim lock. */
  async runExchange(want: number, reason: string): Promise<{ freed: number }> {
    const ex = this.openExchange(want, reason);
    await ex.prepare();
    const r = await ex.commit();
    this.closeExchange(ex);
    // Lockstep: only the step that faulted runs during a direct reclaim (it waits for its frame),
    // so no step can block on this exchange, and none waits for a `release` from it.
    const blocked = this.config.schedule === 'lockstep' ? this.procs.find((p) => p.live && p.blockedOn === ex.xid) : undefined;
    if (blocked) throw new Error(`kernel invariant: ${blocked.name} blocked on direct reclaim exchange ${ex.xid} in lockstep`);
    return r;
  }

  openExchange(want: number, reason: string): Exchange {
    const ex = new Exchange(this.nextXid++, want, reason, this);
    this.exchanges.set(ex.xid, ex);
    return ex;
  }

  closeExchange(ex: Exchange): void {
    this.exchanges.delete(ex.xid);
  }

  /** Used frames not held by an open exchange. */
  reclaimCandidates(): number[] {
    const out: number[] = [];
    for (const f of this.frames.usedFrames()) if (!this.heldFrames.has(f)) out.push(f);
    return out;
  }

  /** The mappers of a page-cache page: every VMA over it (the i_mmap), touched or not. */
  private immap(file: AddressSpace, page: number): Array<{ proc: Proc; vpage: number; share: 'shared' | 'private' }> {
    const out = [];
    for (const proc of this.procs) {
      if (!proc.live) continue;
      for (const v of proc.vmas) {
        if (v.fileId === file.id && page >= v.offset && page < v.offset + v.pages) {
          out.push({ proc, vpage: v.start + (page - v.offset), share: v.share });
        }
      }
    }
    return out;
  }

  /** Whose mm must be asked about a page-cache page: shmem mappers, and shared mappers under per-mm. */
  private asksMm(file: AddressSpace, share: 'shared' | 'private'): boolean {
    return file.kind === 'shmem' || (this.config.policy === 'per-mm' && share === 'shared');
  }

  /** For each process, the vpages of candidate pages whose volatility lives in its mm. */
  pagesToAsk(candidates: number[]): Map<number, number[]> {
    const ask = new Map<number, number[]>();
    const add = (pid: number, vpage: number) => {
      let l = ask.get(pid);
      if (!l) ask.set(pid, (l = []));
      l.push(vpage);
    };
    for (const f of candidates) {
      const fileId = this.frames.ownerFile[f]!;
      if (fileId < 0) {
        // A child still being forked (no agent yet) is not asked: like a fork after the prepare, it counts as not volatile.
        for (const m of this.rmap.mappers(f)) {
          if (m.kind !== 'anon') continue;
          const p = this.procByPid(m.pid);
          if (p?.live && p.agent) add(m.pid, m.vpage);
        }
        continue;
      }
      const file = this.files[fileId]!;
      for (const m of this.immap(file, this.frames.ownerPage[f]!)) if (this.asksMm(file, m.share) && m.proc.agent) add(m.proc.pid, m.vpage);
    }
    for (const l of ask.values()) l.sort((a, b) => a - b);
    return ask;
  }

  /** The frame a process sees at a vpage whose volatility its mm decides, or -1. */
  frameSeenBy(proc: Proc, vpage: number): number {
    const e = this.rmap.lookup(proc.pid, vpage);
    if (e && e.kind === 'anon') return e.frame;
    const fp = this.filePageOf(proc, vpage);
    if (!fp || !this.asksMm(fp.file, fp.share)) return -1;
    return fp.file.frameAt(fp.page);
  }

  /** The file's own volatile ranges with resident candidate pages, as purge units. */
  fileRangeUnits(candidates: number[]): Array<{ name: string; frames: number[]; at: number; key: string }> {
    const cand = new Set(candidates);
    const units = [];
    for (const file of this.files) {
      if (file.kind === 'shmem' || file.ranges.size === 0) continue;
      const byId = new Map<number, { at: number; frames: number[]; start: number }>();
      let span = 0;
      for (const r of file.ranges.all()) {
        if (!byId.has(r.id)) byId.set(r.id, { at: r.markedAt, frames: [], start: r.start });
        span += r.end - r.start;
      }
      // Each range's resident pages, ascending: walk the ranges' pages or the page cache, whichever is smaller.
      const resident = span <= file.cache.size
        ? file.ranges.all().flatMap((r) => file.cachedIn(r.start, r.end))
        : file.cachedIn(0, file.pages);
      for (const [p, f] of resident) {
        const r = file.ranges.at(p);
        if (r && cand.has(f)) byId.get(r.id)!.frames.push(f);
      }
      for (const [id, u] of byId) {
        if (u.frames.length === 0) continue;
        units.push({ name: `range ${id} of file ${file.name} from page ${u.start}, marked at clock ${u.at}`, frames: u.frames, at: u.at,
          key: `f${String(file.id).padStart(8, '0')}:${String(u.start).padStart(12, '0')}` });
      }
    }
    return units;
  }

  /** What the policy function needs to know about a page, with each mapper's vote. */
  pageFacts(frame: number, voteOf: (pid: number, vpage: number) => { answered: boolean; volatile: boolean } | undefined):
    { facts: PageFacts; what: string; where: PageWhere } {
    const fileId = this.frames.ownerFile[frame]!;
    if (fileId < 0) {
      const rmap = this.rmap.mappers(frame);
      const mappers: MapperVote[] = [];
      const at: Array<{ process: string; vpage: number }> = [];
      const vpages: Array<[number, number]> = [];
      let names = '';
      for (const m of rmap) {
        const v = voteOf(m.pid, m.vpage);
        const answered = v?.answered ?? false;
        const name = this.procByPid(m.pid)?.name ?? String(m.pid);
        // The vote as the history's decision event records it (with the mapper's name and vpage).
        mappers.push({ pid: m.pid, share: 'private', answered, volatile: answered && (v?.volatile ?? false), privatePresent: false, process: name, vpage: m.vpage } as MapperVote);
        at.push({ process: name, vpage: m.vpage });
        vpages.push([m.pid, m.vpage]);
        names += `${names ? ', ' : ''}${name}@${m.vpage * 4096}`;
      }
      return { facts: { kind: 'anon', policy: this.config.policy, fileVolatile: false, mappers }, what: `anonymous frame ${frame} (${names})`,
        where: { frame, mappers: at, vpages } };
    }
    const file = this.files[fileId]!;
    const page = this.frames.ownerPage[frame]!;
    const mappers: MapperVote[] = this.immap(file, page).map((m) => {
      const asked = this.asksMm(file, m.share);
      const v = asked ? voteOf(m.proc.pid, m.vpage) : undefined;
      const pte = this.rmap.lookup(m.proc.pid, m.vpage);
      return { pid: m.proc.pid, share: m.share, answered: asked ? (v?.answered ?? false) : true,
        volatile: asked ? (v?.answered ?? false) && (v?.volatile ?? false) : false,
        privatePresent: m.share === 'private' && pte !== undefined && pte.frame === frame, process: m.proc.name, vpage: m.vpage } as MapperVote;
    });
    const at = this.immap(file, page).map((m) => ({ process: m.proc.name, vpage: m.vpage }));
    return { facts: { kind: file.kind === 'shmem' ? 'shmem' : 'file', policy: this.config.policy,
      fileVolatile: file.kind !== 'shmem' && file.isVolatile(page), mappers }, what: `${file.name} page ${page} (frame ${frame})`,
      // vpages: only the mappers that see this frame now (a private mapper sees it while not yet copied).
      where: { frame, file: file.name, filePage: page, mappers: at, vpages: this.immap(file, page)
        .filter((m) => m.share === 'shared' || this.rmap.lookup(m.proc.pid, m.vpage)?.frame === frame)
        .map((m) => [m.proc.pid, m.vpage]) } };
  }

  /** Purges one page; returns whether its frame was freed and which mappers to tell. */
  purgeFrame(frame: number, facts: PageFacts): { freed: boolean; notify: Array<[number, number]> } {
    const notify: Array<[number, number]> = [];
    const fileId = this.frames.ownerFile[frame]!;
    if (fileId < 0) {
      for (const m of this.rmap.dropFrame(frame)) {
        this.rmap.rememberPurged(m.pid, m.vpage, frame);
        notify.push([m.pid, m.vpage]);
      }
    } else {
      const file = this.files[fileId]!;
      const page = this.frames.ownerPage[frame]!;
      if (file.kind !== 'shmem' && file.isVolatile(page)) file.purged.add(page);
      for (const m of [...this.rmap.mappers(frame)]) {
        if (m.kind === 'file-private') throw new Error(`kernel invariant: purging ${file.name} page ${page} still shared with a private mapping of pid ${m.pid}`);
        this.rmap.remove(m.pid, m.vpage);
      }
      file.evict(page, this.frames);
      for (const m of this.immap(file, page)) {
        if (facts.mappers.some((v) => v.pid === m.proc.pid && v.volatile)) notify.push([m.proc.pid, m.vpage]);
      }
    }
    const freed = !this.frames.isUsed(frame);
    if (!freed) throw new Error(`kernel invariant: purged frame ${frame} is still referenced ${this.frames.refcount[frame]} times`);
    this.purgedPages++;
    return { freed, notify };
  }

  onDecision(ex: Exchange, record: PurgeRecord): void {
    this.history.add('decision', { xid: ex.xid, reason: ex.reason, page: record.what, unit: record.unit, purge: record.decision.purge,
      pageKind: record.kind, policy: this.config.policy,
      rule: record.decision.rule, why: record.decision.why,
      frame: record.where.frame, file: record.where.file, filePage: record.where.filePage, vpages: record.where.vpages,
      // pageFacts built each vote with the mapper's process and vpage already.
      votes: record.mappers });
  }

  // ---------------------------------------------------------------- kernel steps and checks

  checkStep(step: Extract<KernelStep, { op: 'check' }>): StepResult {
    const mismatches: Array<{ field: string; expected: unknown; actual: unknown }> = [];
    const cmp = (field: string, expected: unknown, actual: unknown) => {
      if (expected !== undefined && JSON.stringify(expected) !== JSON.stringify(actual)) mismatches.push({ field, expected, actual });
    };
    cmp('framesUsed', step.framesUsed, this.frames.used);
    cmp('framesFree', step.framesFree, this.frames.free);
    for (const [name, state] of Object.entries(step.processes ?? {})) {
      cmp(`processes.${name}`, state, this.procs.find((p) => p.name === name)?.state);
    }
    for (const [name, want] of Object.entries(step.files ?? {})) {
      const s = this.fileSummary(this.files.find((f) => f.name === name && f.kind !== 'shmem')!);
      cmp(`files.${name}.open`, want.open, s.open);
      cmp(`files.${name}.mapped`, want.mapped, s.mapped);
      cmp(`files.${name}.volatile`, want.volatile, s.volatile);
    }
    return mismatches.length === 0 ? { ok: true } : { ok: false, mismatches };
  }

  fileSummary(file: AddressSpace): { name: string; open: number; mapped: number; volatile: Array<[number, number]> } {
    let mapped = 0;
    for (const p of this.procs) for (const v of p.vmas) if (v.fileId === file.id) mapped++;
    return { name: file.name, open: file.openCount, mapped, volatile: file.ranges.coalesced() };
  }
}


// ---------------------------------------------------------------- expectations

export function expectationFor(step: { expect?: import('../shared/scenario-types.js').Expectation }, policy: string): Record<string, unknown> | undefined {
  if (!step.expect) return undefined;
  const { byPolicy, ...base } = step.expect;
  const extra = byPolicy ? ((byPolicy as Record<string, Record<string, unknown>>)[policy] ?? byPolicy.default ?? {}) : {};
  return { ...base, ...extra };
}

export function matches(expected: Record<string, unknown>, actual: Record<string, unknown>): boolean {
  return Object.entries(expected).every(([k, v]) => deepEqual(v, actual[k]));
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
