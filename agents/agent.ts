// An emulated process: a real OS child process of the coordinator, holding its own mm.
// Started as `node agents/agent.js ENDPOINT ROUTING_ID`; it connects a Dealer to the kernel's
// Router, says hello, and then waits in its pool until the kernel gives it a process (init).
// On another machine it is `vrange agent --connect tcp://HOST:PORT` (runRemoteAgent below): the
// same agent over tcp, with CURVE keys, answering the kernel's heartbeat.
//
// Ordering rules:
// - one receive loop (`loop`) and one send queue; a prepare or commit is answered from the loop
//   at once, even while a step waits for a syscall reply, so the kernel never waits on a step;
// - a step that touches a page held by an open reclaim exchange waits until the commit releases it
//   (and tells the kernel it is blocked, so a lockstep kernel can grant the commit);
// - the agent ends when the kernel tells it to (die), or when its coordinator is gone (its stdin
//   closes, or its parent pid changes: watchCoordinator): a process without a kernel has nothing
//   left to do. A remote agent has no such stdin: it exits when the kernel has been silent for
//   the heartbeat timeout the pings carry.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { AgentSocket, type CurveClient } from '../shared/transport.js';
import type { AgentMsg, KernelMsg, SysCall, SysRet, SysReply } from '../shared/messages.js';
import { isRunList, pagesOf } from '../shared/runs.js';
import type { ProcessStep, RunConfig, StepResult } from '../shared/scenario-types.js';
import { Mm, PTE_CLEAN, PTE_LAZYFREE, PTE_YOUNG } from './mm.js';
import { HeldPages, subtract } from './held.js';
import { runStep, type StepOutcome } from './steps.js';
import { isStopped, killQuietly, pidsWithArg } from '../shared/procfs.js';
import { printable } from '../shared/printable.js';
import { kernelMsgProblem } from '../shared/kernel_msg_check.js';
import { KernelOrder } from './kernel_order.js';
import { tierForSteps } from '../shared/tiering.js';
import { rehearsalScript, rehearsalSocket, rehearse } from './warm_up.js';
import { testCommitViolation, testExitsAt, testForgedDoneIndex, testReleaseDelayMs, testSlowCommitMs, testSlowPrepareMs } from './test_hooks.js';

type SysArgs = SysCall extends infer S ? (S extends { id: number } ? Omit<S, 'id'> : never) : never;

export class Agent {
  readonly socket: AgentSocket;
  mm = new Mm();
  pid = 0;
  name = '';
  steps: ProcessStep[] = [];
  sigbus: 'handle' | 'kill' = 'kill';
  config!: RunConfig;
  /** Attach a view of the mm to `ready` and every `done` (the kernel's page map, `--html`). */
  snapshots = false;
  /**
   * The mark time of vrange calls: the logical time of the current grant (lockstep), or in the
   * free schedule the machine's monotonic clock in microseconds, read once per step when a step
   * first asks for it (most steps never do).
   */
  get now(): number {
    if (this.nowUnread) {
      this.nowValue = Number(process.hrtime.bigint() / 1000n);
      this.nowUnread = false;
    }
    return this.nowValue;
  }
  set now(t: number) { this.nowValue = t; this.nowUnread = false; }
  private nowValue = 0;
  private nowUnread = false;
  private nextId = 1;
  private readonly pending = new Map<number, (r: SysRet) => void>();
  /** The pages each open reclaim exchange holds, as runs. */
  readonly held = new HeldPages();
  private releaseWaiters: Array<() => void> = [];
  /** Lockstep: the blocked step waiting for the kernel's `release`. */
  private releaseGate: { index: number; resolve: () => void } | undefined;
  /** Violations seen in a commit's batches, reported with its last batch. */
  private readonly violations: string[] = [];
  private currentIndex = -1;
  /**
   * Free schedule: the step under way that has sent the kernel nothing yet, or -1. The kernel
   * takes a step's first message (a syscall, `blocked` or `done`) as its start; a `start` is
   * sent only if the agent must answer something else first (see `loop`).
   */
  private unannounced = -1;
  private stops = new Set<number>();
  private continueWaiter: (() => void) | undefined;
  /** What the kernel has sent so far, for the order its next message must keep (agents/kernel_order.ts). */
  private readonly order = new KernelOrder();

  /** Called with every message from the kernel before it is handled (the remote heartbeat listens). */
  onKernelMessage: (msg: KernelMsg) => void = () => {};

  /**
   * A local agent reused across runs (docs/protocol.md, "Reuse"): called at a `die` with `reset`,
   * the process has exited and this object is retired; the callback makes the next incarnation.
   */
  onReset: ((incarnation: number) => void) | undefined;
  /** Retired (its process exited by a reset): nothing it still had under way may reach the kernel. */
  private retired = false;

  /** `endpoint` a kernel's address (a new socket), or the socket of the incarnation before (a reused local agent). */
  constructor(endpoint: string | AgentSocket, routingId: string, curve?: CurveClient, private readonly host?: string, private readonly token?: string) {
    this.socket = typeof endpoint === 'string' ? new AgentSocket(endpoint, routingId, (err) => this.fatal(`send failed: ${String(err)}`), curve) : endpoint;
  }

  start(dispatch: (msg: KernelMsg) => void = (msg) => this.receive(msg)): void {
    this.socket.connect();
    this.socket.send({ t: 'hello', osPid: process.pid, ...(this.host ? { host: this.host } : {}), ...(this.token ? { token: this.token } : {}) });
    void this.socket.listen(dispatch, (err) => this.protocolError(`a frame that is not a msgpack message (${err.message})`));
    // Once the hello has left (its send is queued for the next turn), while nothing waits on us.
    setImmediate(() => warmUp());
  }

  /** One message from the kernel (the socket's one receive loop calls the current incarnation's). */
  receive(msg: KernelMsg): void {
    // Nothing from the socket is trusted: a remote agent may be reached by anything that speaks ZeroMQ.
    const why = kernelMsgProblem(msg) ?? this.order.problem(msg, { stepUnderWay: this.currentIndex, atStop: this.continueWaiter !== undefined });
    if (why) return this.protocolError(why);
    this.onKernelMessage(msg);
    // An answer to the kernel (a reclaim exchange's, above all) must not show an effect of a
    // step the kernel has not seen begin: say that it has, first. A reply to the step's own
    // syscall cannot: that syscall was the step's first message.
    if (this.unannounced >= 0 && msg.t !== 'ret' && msg.t !== 'ping') this.announce();
    this.onMessage(msg);
  }

  /** Every message this incarnation sends; a retired one sends nothing. */
  private send(msg: AgentMsg): void {
    if (!this.retired) this.socket.send(msg);
  }

  private onMessage(msg: KernelMsg): void {
    switch (msg.t) {
      case 'ret': {
        const resolve = this.pending.get(msg.re);
        if (!resolve) return this.protocolError(`reply to unknown syscall ${msg.re}`);
        this.pending.delete(msg.re);
        return resolve(msg);
      }
      case 'init': {
        this.pid = msg.pid;
        this.name = msg.name;
        this.steps = msg.steps;
        this.sigbus = msg.sigbus;
        this.config = msg.config;
        this.snapshots = msg.snapshots ?? false;
        if (msg.mm) this.mm = Mm.fromSnapshot(msg.mm);
        this.send({ t: 'ready', re: msg.id, ...(this.snapshots ? { mm: this.mm.view() } : {}) });
        return;
      }
      case 'go': {
        this.stops = new Set(msg.stops);
        void this.runFrom(msg.startIndex);
        return;
      }
      case 'continue': {
        const go = this.continueWaiter;
        this.continueWaiter = undefined;
        go?.();
        return;
      }
      case 'grant':
        this.now = msg.now;
        void this.runOne(msg.index);
        return;
      case 'prepare': {
        if (!isRunList(msg.runs, 2)) this.protocolError(`prepare ${msg.xid}: malformed page runs`);
        { const why = this.held.askProblem(msg.xid, msg.runs, msg.hold === true); if (why) this.protocolError(why); }
        // A test hook (agents/test_hooks.ts): an agent the OS does not run for a while, asleep.
        const slowMs = testSlowPrepareMs(this.name);
        if (slowMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, slowMs);
        return msg.hold ? this.holdToo(msg.xid, msg.runs) : this.prepare(msg.xid, msg.runs);
      }
      case 'commit':
        if (msg.old || msg.unmark) this.scanned(msg.old ?? [], msg.unmark ?? []);
        if (msg.seen) this.sawPurged(msg.seen);
        return this.commit(msg.xid, msg.runs, msg.last);
      case 'release': return this.release(msg.index);
      case 'ping': this.send({ t: 'pong', seq: msg.seq }); return;
      // A remote agent's refusal ends it before this (runRemoteAgent); a local agent, the kernel's own child, is never refused.
      case 'refused': return this.protocolError('refused, but a local agent is never refused');
      case 'die':
        // The kernel has read everything this process sent; nothing is lost by exiting now.
        // A signal comes this way only to a remote agent, which the kernel cannot signal itself.
        if (msg.reset !== undefined) {
          // Reuse: the process has ended (by its code or the fatal signal its last step
          // reported); the OS process stays for the next one.
          if (!this.onReset) return this.protocolError('a die with reset, but this agent is not reusable (a remote agent serves one process)');
          this.retired = true;
          return this.onReset(msg.reset);
        }
        if (msg.signal) process.kill(process.pid, msg.signal);
        process.exit(msg.code ?? 0);
    }
  }

  /**
   * Free schedule: run the steps one after another without grants. No `start` is sent: the
   * kernel knows the steps run in order, and takes a step's first message as its start.
   */
  private async runFrom(index: number): Promise<void> {
    for (let i = index; i < this.steps.length; i++) {
      if (this.stops.has(i)) {
        // A fault names this step: the kernel may kill or pause us before it starts.
        const cont = new Promise<void>((resolve) => (this.continueWaiter = resolve));
        this.send({ t: 'at', index: i });
        await cont;
      }
      this.nowUnread = true;
      this.unannounced = i;
      const step = this.step(i);
      const o = runStep(this, step);
      if (this.finish(i, step, o instanceof Promise ? await o : o)) return;
    }
  }

  /** Sends `start` for the step under way, if it has sent nothing yet. */
  private announce(): void {
    if (this.unannounced < 0) return;
    this.send({ t: 'start', index: this.unannounced });
    this.unannounced = -1;
  }

  /** Every message a step sends goes here: the first one tells the kernel that the step began. */
  private sendForStep(msg: AgentMsg): void {
    this.unannounced = -1;
    this.send(msg);
  }

  /** Lockstep: runs the granted step `index`. */
  private async runOne(index: number): Promise<void> {
    const step = this.step(index);
    this.finish(index, step, await runStep(this, step));
  }

  /** Step `index`, now under way. */
  private step(index: number): ProcessStep {
    const step = this.steps[index];
    if (!step) return this.protocolError(`no step ${index}`);
    if (testExitsAt(this.name, index)) this.fatal(`test hook VRANGE_TEST_EXIT_AT: exiting at step ${index}`);
    this.currentIndex = index;
    return step;
  }

  /** Reports step `index`'s result; returns true when the process is ending (its last step, exit, a fatal signal). */
  private finish(index: number, step: ProcessStep, { result, detail }: StepOutcome): boolean {
    // Only a signal this process got is fatal: a waitpid's `signal` is the other process's.
    const fatal = !result.ok && ((result.signal === 'SIGBUS' && this.sigbus === 'kill') || result.signal === 'SIGSEGV');
    // A test hook (agents/test_hooks.ts): an agent with a bug that reports the wrong step done.
    const done: Extract<AgentMsg, { t: 'done' }> = { t: 'done', index: testForgedDoneIndex(this.name, index), result };
    if (fatal) done.detail = { ...detail, fatal: result.signal as string };
    else if (detail) done.detail = detail;
    if (this.snapshots) done.mm = this.mm.view();
    this.sendForStep(done);
    this.currentIndex = -1;
    return fatal || step.op === 'exit' || index === this.steps.length - 1;
  }

  /**
   * A syscall of the step under way. `args` becomes the message (callers pass a fresh object). Its
   * reply is that call's (docs/protocol.md, Syscalls): one of `SysReplies[t]`, typed as such.
   */
  call<A extends SysArgs>(args: A): Promise<SysReply<A['t']>>;
  call(args: SysArgs): Promise<SysRet> {
    const msg = args as SysCall;
    msg.id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(msg.id, resolve);
      this.sendForStep(msg);
    });
  }

  // ---- the reclaim exchange, agent side ----

  /** `runs`: a well-formed run list (receive checked it, as it does every prepare's). */
  private prepare(xid: number, runs: number[]): void {
    if (this.config?.policy === 'madv-free') return this.prepareLazyfree(xid, runs);
    // One answer entry per piece of a volatile range inside a mapped part of an asked run; each
    // piece is held as one run (agents/held.ts), whatever its length.
    const answer: number[] = [];
    for (let i = 0; i < runs.length; i += 2) {
      for (const seg of this.mm.segments(runs[i]!, runs[i]! + runs[i + 1]!)) {
        for (const r of this.mm.ranges.overlapping(seg.from, seg.to)) {
          const from = Math.max(seg.from, r.start);
          const to = Math.min(seg.to, r.end);
          if (to <= from) continue;
          this.held.hold(xid, from, to);
          answer.push(from, to - from, r.id, r.markedAt);
        }
      }
    }
    this.send({ t: 'prepared', xid, runs: answer });
  }

  /**
   * madv-free: the pte bits of the asked pages that have a frame, as [start, count, bits, 0] runs
   * (bits: 1 lazyfree, the page is marked; 2 young; 4 clean); a page not listed is unmarked, old
   * and dirty. The pages answered lazyfree are held, as volatile pages are under the other policies.
   */
  private prepareLazyfree(xid: number, runs: number[]): void {
    const answer: number[] = [];
    for (let i = 0; i < runs.length; i += 2) {
      for (const seg of this.mm.segments(runs[i]!, runs[i]! + runs[i + 1]!)) {
        const vma = seg.vma;
        if (vma.kind !== 'anon') continue;
        for (const k of vma.touchedIn(seg.from, seg.to)) {
          if (vma.frameAt(k) < 0) continue;
          const flags = vma.flagsAt(k);
          const bits = ((flags & PTE_LAZYFREE) !== 0 ? 1 : 0) | ((flags & PTE_YOUNG) !== 0 ? 2 : 0) | ((flags & PTE_CLEAN) !== 0 ? 4 : 0);
          if (bits === 0) continue;
          const v = vma.start + k;
          if ((bits & 1) !== 0) this.held.hold(xid, v, v + 1);
          const n = answer.length;
          if (n > 0 && answer[n - 4]! + answer[n - 3]! === v && answer[n - 2] === bits) answer[n - 3]!++;
          else answer.push(v, 1, bits, 0);
        }
      }
    }
    this.send({ t: 'prepared', xid, runs: answer });
  }

  /** madv-free, the prepare's second round: hold these pages too (another mapper has their frame lazyfree); an empty answer. */
  private holdToo(xid: number, runs: number[]): void {
    this.held.holdMore(xid, subtract(runs, this.held.heldBy(xid)));
    this.send({ t: 'prepared', xid, runs: [] });
  }

  /** madv-free: the commit's pages are discarded, not purged: their ptes go (a read is the zero page, a write a new one). */
  private discard(xid: number, runs: number[]): void {
    for (const v of pagesOf(this.held.notHeldBy(xid, runs))) this.violations.push(`page ${v} discarded but not held by exchange ${xid}`);
    for (const v of pagesOf(runs)) {
      const pte = this.mm.pte(v);
      if (!pte || (pte.vma.flagsAt(pte.i) & PTE_CLEAN) === 0) this.violations.push(`page ${v} discarded but its pte is dirty in pid ${this.pid}`);
      if (pte) pte.vma.setPte(pte.i, -1, 0);
    }
  }

  /** madv-free: the reclaim scan made the pages `old` old, and took back the mark of the pages `unmark`. */
  private scanned(old: number[], unmark: number[]): void {
    if (!isRunList(old, 2) || !isRunList(unmark, 2)) this.protocolError('commit: malformed old or unmark runs');
    const clear = (runs: number[], bit: number) => {
      for (const v of pagesOf(runs)) {
        const pte = this.mm.pte(v);
        if (pte) pte.vma.setFlags(pte.i, pte.vma.flagsAt(pte.i) & ~bit);
      }
    };
    clear(old, PTE_YOUNG);
    clear(unmark, PTE_LAZYFREE);
  }

  /** Purged file pages this mm did not hold: those it has volatile now were purged while volatile here. */
  private sawPurged(runs: number[]): void {
    if (!isRunList(runs, 2)) this.protocolError('commit: malformed seen runs');
    const v = this.volatileIn(runs);
    for (let i = 0; i < v.length; i += 2) {
      for (const seg of this.mm.segments(v[i]!, v[i]! + v[i + 1]!)) seg.vma.markPurged(seg.from - seg.vma.start, seg.to - seg.vma.start);
    }
  }

  private commit(xid: number, runs: number[], last: boolean): void {
    if (!isRunList(runs, 2)) this.protocolError(`commit ${xid}: malformed page runs`);
    if (this.config?.policy === 'madv-free') this.discard(xid, runs);
    else {
      // What an honest kernel never does, found run by run: purging a page this exchange does not
      // hold, or one that is not volatile here. Listed page by page, in page order.
      const notHeld = new Set(pagesOf(this.held.notHeldBy(xid, runs)));
      const notVolatile = new Set(pagesOf(subtract(runs, this.volatileIn(runs))));
      if (notHeld.size + notVolatile.size > 0) {
        for (const v of pagesOf(runs)) {
          if (notHeld.has(v)) this.violations.push(`page ${v} purged but not held by exchange ${xid}`);
          if (notVolatile.has(v)) this.violations.push(`page ${v} purged but not volatile in pid ${this.pid}`);
        }
      }
      for (let i = 0; i < runs.length; i += 2) {
        for (const seg of this.mm.segments(runs[i]!, runs[i]! + runs[i + 1]!)) seg.vma.markPurged(seg.from - seg.vma.start, seg.to - seg.vma.start);
      }
    }
    if (!last) return;
    // Test hooks (agents/test_hooks.ts): an agent slow to ack, or one that reports a violation.
    const slowMs = testSlowCommitMs(this.name);
    if (slowMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, slowMs);
    if (testCommitViolation(this.name)) this.violations.push(`test hook: a made-up violation in the ack of exchange ${xid}`);
    this.held.release(xid);
    this.send({ t: 'committed', xid, violations: this.violations.splice(0) });
    const waiters = this.releaseWaiters;
    this.releaseWaiters = [];
    for (const w of waiters) w();
  }

  /** The parts of the ascending [start, count] runs that are volatile in this mm, as ascending runs. */
  private volatileIn(runs: readonly number[]): number[] {
    const out: number[] = [];
    for (let i = 0; i < runs.length; i += 2) {
      const s = runs[i]!;
      const e = s + runs[i + 1]!;
      for (const r of this.mm.ranges.overlapping(s, e)) {
        const from = Math.max(s, r.start);
        const to = Math.min(e, r.end);
        if (to <= from) continue;
        if (out.length > 0 && out[out.length - 2]! + out[out.length - 1]! === from) out[out.length - 1]! += to - from;
        else out.push(from, to - from);
      }
    }
    return out;
  }

  /** Waits until no page of [start, end) is held by a reclaim exchange. */
  untilReleased(start: number, end: number): Promise<void> | undefined {
    // The common case, no exchange open: no promise, so a step that awaits this pays nothing.
    if (this.held.size === 0) return undefined;
    return this.waitReleased(start, end);
  }

  private async waitReleased(start: number, end: number): Promise<void> {
    for (;;) {
      const holder = this.held.holderIn(start, end);
      if (!holder) return;
      const xid = holder.xid;
      const index = this.currentIndex;
      // Lockstep: the commit releases the pages, but the step goes on only at the kernel's
      // `release` of it, one released step at a time (docs/protocol.md, "Reclaim exchange").
      const released = this.config.schedule === 'lockstep'
        ? new Promise<void>((resolve) => (this.releaseGate = { index, resolve })) : undefined;
      this.sendForStep({ t: 'blocked', index, xid });
      await new Promise<void>((resolve) => this.releaseWaiters.push(resolve));
      if (released) await released;
      if (testReleaseDelayMs(this.name) > 0) await new Promise<void>((resolve) => setTimeout(resolve, testReleaseDelayMs(this.name)));
    }
  }

  /** The kernel's `release` of the blocked step `index` (lockstep). */
  private release(index: number): void {
    const gate = this.releaseGate;
    if (!gate || gate.index !== index) this.protocolError(`release of step ${index}, which is not blocked`);
    this.releaseGate = undefined;
    gate.resolve();
  }

  /** The kernel broke the protocol: from a local kernel (this project's code) a bug, exit 70; `vrange agent` exits 4 (runRemoteAgent). */
  protocolError: (why: string) => never = (why) => this.fatal(`the kernel broke the protocol (${why})`);

  fatal(why: string): never {
    process.stderr.write(`vrange agent ${this.name || '(pool)'} pid ${this.pid}: ${printable(why, 300)}\n`);
    process.exit(70);
  }
}

export type { StepResult };

/**
 * The rehearsal (agents/warm_up.ts): a throwaway Agent on a socket that sends nothing takes an
 * init, a prepare and a commit, so that a real one's first do not run cold. Whatever it meets
 * ends the rehearsal, never this process: its fatal exits are turned into a throw, caught here.
 */
function warmUp(script: KernelMsg[] = rehearsalScript()): AgentMsg[] {
  const sent: AgentMsg[] = [];
  const agent = new Agent(rehearsalSocket(sent), 'rehearsal');
  agent.fatal = (why: string): never => { throw new Error(`rehearsal: ${why}`); };
  agent.protocolError = agent.fatal;
  try { rehearse(agent, sent, script); } catch { /* warming only: the real agent goes on */ }
  return sent;
}
export { warmUp as rehearseAgent };

/** `vrange agent`: how long it waits for the kernel's first answer before it gives up (`--connect-timeout-ms`). */
export const agentConnectTimeoutMs = 10_000;
/** `vrange agent`'s exit code when it never got in: nothing answered, the handshake failed, or the kernel refused it. */
export const agentJoinFailedExitCode = 3;
/** `vrange agent`'s exit code when the kernel sends what breaks the protocol (shared/kernel_msg_check.ts). */
export const agentKernelBrokeProtocolExitCode = 4;

export interface RemoteAgentOptions {
  connect: string; curve?: CurveClient; log?: (line: string) => void;
  /** A keyless loopback kernel's token (`vrange kernel` prints it). */
  token?: string;
  connectTimeoutMs?: number;
}

/**
 * `vrange agent --connect`: one agent on this machine for a kernel elsewhere. It serves one
 * process and exits with it. It exits 3 (agentJoinFailedExitCode) if it never gets in: no answer
 * from the kernel within the connect timeout (saying what it saw: nothing listening, a handshake
 * that failed or never completed, with what to check), or a refusal (its key, its token); and 1
 * if the kernel, once heard, goes silent for longer than the heartbeat timeout its pings carry;
 * 4 (agentKernelBrokeProtocolExitCode) if the kernel sends what breaks the protocol.
 */
export function runRemoteAgent(opts: RemoteAgentOptions): void {
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  // Loaded here, not at the top: a local agent needs neither, and node:crypto alone costs every
  // local agent's start-up about 15 ms (docs/performance.md, "Agent start-up").
  const require = createRequire(import.meta.url);
  const { randomBytes } = require('node:crypto') as typeof import('node:crypto');
  const { hostname } = require('node:os') as typeof import('node:os');
  const routingId = `remote-${randomBytes(6).toString('hex')}`;
  const agent = new Agent(opts.connect, routingId, opts.curve, hostname(), opts.token);
  const giveUp = (why: string): never => {
    log(`vrange agent ${routingId}: ${why}`);
    process.exit(agentJoinFailedExitCode);
  };
  agent.socket.onAuthFailure((detail) => {
    giveUp(`the kernel at ${opts.connect} refused this agent's key (${printable(detail)}); ask its operator to trust your .pub file (--trust)`);
  });
  // What became of the connection, for the message if the kernel never answers.
  const seen = { connects: 0, retries: 0, handshakes: 0, disconnects: 0, failed: '' };
  agent.socket.onConnection((e) => {
    if (e.kind === 'connect') seen.connects++;
    else if (e.kind === 'retry') seen.retries++;
    else if (e.kind === 'handshake') seen.handshakes++;
    else if (e.kind === 'disconnect') seen.disconnects++;
    else if (e.kind === 'handshake-failed') seen.failed = printable(e.detail ?? 'failed');
  });
  const keys = opts.curve
    ? 'this agent uses CURVE: --server-key must be the kernel\'s .pub, and the kernel must run with --key and --trust'
    : 'this agent uses no keys: a kernel with keys (--key/--trust) needs --key and --server-key here';
  const connectTimeoutMs = opts.connectTimeoutMs ?? agentConnectTimeoutMs;
  const joinTimer = setTimeout(() => {
    const head = `no answer from the kernel at ${opts.connect} within ${connectTimeoutMs} ms`;
    if (seen.connects === 0) {
      giveUp(`${head}: nothing accepted a connection there${seen.retries > 0 ? ` (refused, retried ${seen.retries} time(s))` : ''}. Check the address and port, and that \`vrange kernel --listen\` is running there and reachable from here`);
    }
    if (seen.failed) giveUp(`${head}: the ZeroMQ handshake failed (${seen.failed}). Check the keys: ${keys}`);
    if (seen.handshakes === 0) giveUp(`${head}: it accepted the connection but the handshake never completed (${seen.disconnects} drop(s)). Check the keys: ${keys}`);
    giveUp(`${head}: the handshake succeeded but the kernel never answered the hello. Is it a vrange kernel (the same version), still waiting for agents?`);
  }, connectTimeoutMs);
  agent.protocolError = (why) => {
    log(`vrange agent ${routingId}: the kernel at ${opts.connect} broke the protocol (${printable(why, 300)}): exiting`);
    process.exit(agentKernelBrokeProtocolExitCode);
  };
  let lastHeard = 0;
  let timeoutMs = 0;
  agent.onKernelMessage = (msg) => {
    // A vrange kernel answers a hello with a ping (or a refusal) at once; without one, no heartbeat timeout to leave by.
    if (lastHeard === 0 && msg.t !== 'ping' && msg.t !== 'refused') agent.protocolError(`its first message is ${msg.t}, not ping or refused: not a vrange kernel`);
    clearTimeout(joinTimer);
    lastHeard = Date.now();
    if (msg.t === 'ping') timeoutMs = msg.timeoutMs;
    if (msg.t === 'refused') {
      giveUp(`the kernel at ${opts.connect} refused this agent: ${printable(msg.why)}${opts.token ? '' : '. Pass the token `vrange kernel` printed: --token TOKEN (or VRANGE_TOKEN=TOKEN)'}`);
    }
  };
  const watchdog = setInterval(() => {
    if (timeoutMs > 0 && Date.now() - lastHeard > timeoutMs) {
      log(`vrange agent ${routingId}: the kernel has been silent for more than ${timeoutMs} ms: exiting`);
      process.exit(1);
    }
  }, 50);
  watchdog.unref();
  log(`vrange agent ${routingId}: connecting to ${opts.connect}${opts.curve ? ' (CURVE)' : ''}`);
  agent.start();
}

function main(): void {
  const [endpoint, routingId] = process.argv.slice(2);
  if (!endpoint || !routingId) {
    process.stderr.write('usage: agent ENDPOINT ROUTING_ID (started by the vrange kernel)\n');
    process.exit(2);
  }
  let agent = new Agent(endpoint, routingId);
  // Reuse (docs/protocol.md, "Reuse"): at a reset the incarnation before is dropped whole (its mm,
  // its syscalls, its held pages), a new one takes the same socket and says hello again.
  const reset = (incarnation: number): void => {
    agent = new Agent(agent.socket, routingId);
    agent.onReset = reset;
    agent.socket.send({ t: 'hello', osPid: process.pid, incarnation });
  };
  agent.onReset = reset;
  watchCoordinator(endpoint);
  // Every built-in module the agent needs is loaded by now (its stdin's above all): the tiering
  // flags can change V8's flag hash without costing Node's code cache (shared/tiering.ts).
  tierForSteps();
  agent.start((msg) => agent.receive(msg));
}

/** How often a local agent checks that its coordinator is still its parent (docs/protocol.md, Death). */
export const orphanPollMs = 200;

/**
 * A local agent lives no longer than its coordinator (docs/protocol.md, Death). It learns of the
 * coordinator's end two ways: its stdin (held by the coordinator) closes, or its parent pid is no
 * longer the coordinator's (an orphan is given to init or a subreaper), checked every orphanPollMs
 * and at once on SIGCONT, so that an agent stopped when its coordinator died ends as soon as it
 * is continued. A stopped agent cannot notice anything, so the first sibling to notice (the pool
 * keeps agents that are never stopped) SIGKILLs the stopped agents of its run: the agents whose
 * command line names the same kernel socket.
 *
 * SIGINT, SIGTERM and SIGHUP are the coordinator's business (a terminal's Ctrl-C, or its hangup,
 * reaches the whole process group): the agent ignores them, and the coordinator, which does not, ends its agents itself.
 */
function watchCoordinator(endpoint: string): void {
  const coordinator = process.ppid;
  const orphaned = (): never => {
    for (const pid of pidsWithArg(endpoint)) if (isStopped(pid) === true) killQuietly(pid, 'SIGKILL');
    process.exit(0);
  };
  process.stdin.on('end', orphaned);
  process.stdin.on('error', orphaned);
  process.stdin.resume();
  const check = () => { if (process.ppid !== coordinator) orphaned(); };
  setInterval(check, orphanPollMs).unref();
  process.on('SIGCONT', check);
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  process.on('SIGHUP', () => {});
}

// Started by the kernel as a script; `vrange agent` imports this module instead.
if (process.argv[1] === fileURLToPath(import.meta.url)) main();
