// The agent pool: the agents (real OS child processes) behind the emulated processes, each with
// its connection and lifecycle, and a small pool of agents started ahead so that a fork does not
// wait for Node to start. The processes themselves are coordinator/process_table.ts.
//
// Death is learnt from the OS (the child's `exit` event), never from the agent's word: a normal
// exit, a crash, a SIGKILL and an OOM kill all arrive the same way and run the same cleanup.
// An agent on another machine (coordinator/remote.ts) has no child to watch: its death is the
// kernel's own decision (it told the agent to exit or to kill itself) or a heartbeat gone silent,
// and it resolves the same `exited` promise, so the same cleanup runs. An agent's life is its
// `hello` and `exited` promises; the process it runs keeps its own (process_table.ts `state`).

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isStopped } from '../shared/procfs.js';
import { agentStartTimeoutMs } from '../shared/limits.js';
import { KernelSocket } from '../shared/transport.js';
import type { KernelMsg } from '../shared/messages.js';
import { parseAgentMsg } from '../shared/message_schemas.js';
import { trackChild } from '../shared/lifecycle.js';
import { freshBundle } from '../shared/bundles.js';
import type { Proc } from './process_table.js';
import { agentCommand, type CpuLease } from './cpu_pin.js';
import { lowerSpare, raiseTaken } from './spare_priority.js';

/** How many agents in a row may die before their hello before a birth gives up (AgentPool.take). */
const agentStartRetries = 3;

/** How a process that has reported its last step ends: an exit code, or a fatal signal its step reported (never SIGKILL). */
export type ResetEnd = { code: number } | { signal: NodeJS.Signals };

export class AgentConn {
  proc: Proc | undefined;
  readonly hello: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** The agent's OS pid on its machine, from its hello. */
  osPid = 0;
  /** The machine a remote agent runs on, from its hello (undefined: a local child). */
  host: string | undefined;
  /** Remote: the seq of the last ping sent to it, and of the last pong it answered (each pong answers a ping sent, in order, once). */
  pingSeq = 0;
  pongSeq = 0;
  /** Its hello (of this incarnation) has come: until then nothing else from its routing id is read. */
  helloed = false;
  /** The kernel has sent it a deadly signal (kill): a death by a signal it did not send came from outside vrange. */
  killedByKernel = false;
  /** A spare started at the lowest priority, not yet given the kernel's (spare_priority.ts). */
  lowered = false;
  /**
   * A reusable local agent (AgentPool with reuse): ends its process, which has reported its last
   * step, by a reset instead of an exit or a signal (docs/protocol.md, "Reuse"); returns the
   * message sent, or undefined if this agent cannot be reused.
   */
  recycle: ((conn: AgentConn, how: ResetEnd) => KernelMsg | undefined) | undefined;
  private resolveHello!: () => void;
  private resolveExited!: (r: { code: number | null; signal: string | null }) => void;
  private hasExited = false;
  private readonly onChildExit = (code: number | null, signal: string | null) => this.markExited(code, signal);

  /**
   * `child`: a local agent; none: a remote one, reached only through `socket`. `incarnation`: how
   * many processes this OS process has run before this one (a reused agent's hello names it).
   */
  constructor(readonly routingId: string, readonly socket: KernelSocket, readonly child?: ChildProcess, readonly incarnation = 0) {
    this.hello = new Promise((resolve) => (this.resolveHello = resolve));
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    child?.once('exit', this.onChildExit);
  }
  get remote(): boolean { return this.child === undefined; }
  onHello(osPid: number, host?: string): void {
    this.osPid = osPid;
    this.host = host;
    this.helloed = true;
    this.resolveHello();
  }
  get alive(): boolean {
    if (this.hasExited) return false;
    if (this.child) return this.child.exitCode === null && this.child.signalCode === null;
    return true;
  }
  /** The end of this agent as the kernel learnt it (the OS exit event, or for a remote agent the kernel's verdict). */
  markExited(code: number | null, signal: string | null): void {
    if (this.hasExited) return;
    this.hasExited = true;
    this.resolveExited({ code, signal });
  }
  /** A reset incarnation: its OS process now belongs to the next one, whose exit it no longer reports. */
  detach(): void { this.child?.off('exit', this.onChildExit); }
  /**
   * Delivers a signal. A local agent gets the real signal and the OS reports its death. A remote
   * agent cannot be signalled from here: it is told to kill itself with the signal, and since the
   * kernel will see no exit event, a fatal signal is its death from now on.
   */
  kill(signal: NodeJS.Signals): void {
    if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') this.killedByKernel = true;
    if (this.child) { if (!this.hasExited) this.child.kill(signal); return; }
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') throw new Error(`${signal} cannot be sent to a remote agent`);
    if (this.hasExited) return;
    this.socket.send(this.routingId, { t: 'die', signal });
    this.markExited(null, signal);
  }
  /**
   * Whether the OS has this local agent stopped (SIGSTOP, from a pause fault or from outside: state
   * T or t in /proc/PID/stat). Undefined where the kernel cannot see it: a remote agent, an OS
   * without /proc, a process already gone. Read only when a participant has been silent for
   * exchangeTimeoutMs (coordinator/reclaim.ts waitFor), never on the path of an answer.
   */
  osStopped(): boolean | undefined {
    const pid = this.child?.pid;
    return pid === undefined || this.hasExited ? undefined : isStopped(pid);
  }
  /** Tells the agent to exit with `code`; a remote agent's exit is taken as done. */
  exit(code: number): void {
    this.socket.send(this.routingId, { t: 'die', code });
    if (this.remote) this.markExited(code, null);
  }
}

const moduleScript = fileURLToPath(new URL('../agents/agent.js', import.meta.url));
const bundleScript = fileURLToPath(new URL('../agents/bundle/agent.js', import.meta.url));

/**
 * The script an agent runs: the agent as one file (dist/agents/bundle/agent.js, made by `npm run
 * build`: scripts/bundle.ts) while it is fresh (shared/bundles.ts), else the module tree
 * (dist/agents/agent.js). Both run the same code; the bundle starts about 40 ms of CPU sooner.
 * Decided once per process.
 */
export function agentScriptPath(bundle = bundleScript, modules = moduleScript): string {
  return freshBundle(bundle) ? bundle : modules;
}
let agentScriptChosen: string | undefined;
const agentScript = (): string => (agentScriptChosen ??= agentScriptPath());
/**
 * Node options for every agent: `VRANGE_AGENT_NODE_ARGS` (space-separated) when set, for
 * profiling (`VRANGE_AGENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`; NODE_OPTIONS refuses
 * --cpu-prof) or to try other V8 flags, else `agentNodeDefaults`: none, since any V8 flag on the
 * command line costs every agent's start-up Node's code cache (the agent sets its tiering flags
 * itself once started: shared/tiering.ts).
 */
export function agentNodeArgs(): string[] {
  const env = process.env.VRANGE_AGENT_NODE_ARGS;
  return env === undefined ? [...agentNodeDefaults] : env.split(' ').filter((a) => a !== '');
}
export const agentNodeDefaults: readonly string[] = [];

/**
 * Variables of the kernel's environment an agent does not get. NODE_EXTRA_CA_CERTS makes Node
 * read and parse its whole root certificate store, and the extra certificates, while it starts,
 * before any JavaScript runs: 60 of the 86 ms of CPU a bare `node` takes on the project's machine,
 * which sets it (docs/performance.md, "What an agent's Node does before it runs"). An agent
 * uses no TLS (ZeroMQ's CURVE is libzmq's own), so it never needs a certificate.
 */
export const agentEnvDropped: readonly string[] = ['NODE_EXTRA_CA_CERTS'];

/** The environment an agent starts with: the kernel's, less agentEnvDropped (read at every start: it may change). */
export function agentEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const k of agentEnvDropped) delete out[k];
  return out;
}

/**
 * Started agents waiting for a process, and every agent ever started (to end them all). With
 * `reuse` (a run session, harness/session.ts), a process's exit is a reset of its agent: the same
 * OS process becomes a new incarnation and waits in the pool again (docs/protocol.md, "Reuse").
 */
export class AgentPool {
  private idle: AgentConn[] = [];
  /** Every agent by routing id: its current incarnation. */
  readonly all = new Map<string, AgentConn>();
  private started = 0;
  /** Set by killAll: the run is ending, no agent may start any more (a birth still under way fails). */
  private closed = false;
  /** Who hears of an agent's death: the kernel of the run under way (a session's pool outlives kernels). */
  onExit: (conn: AgentConn, code: number | null, signal: string | null) => void;

  constructor(private readonly socket: KernelSocket, private readonly cwd: string,
              onExit: (conn: AgentConn, code: number | null, signal: string | null) => void, readonly reuse = false) {
    this.onExit = onExit;
  }

  /** `spare`: started for later, at the lowest priority until a process takes it (spare_priority.ts). */
  spawnOne(spare = false): AgentConn {
    if (this.closed) throw new Error('the kernel is shutting down: no agent starts');
    const routingId = `agent-${++this.started}`;
    const [file, args] = agentCommand(process.execPath, [...agentNodeArgs(), agentScript(), this.socket.endpoint, routingId]);
    const child = spawn(file, args, {
      cwd: this.cwd, stdio: ['pipe', 'inherit', 'inherit'], env: agentEnv(),
    });
    child.stdin!.on('error', () => {}); // the agent may be gone before we close its stdin
    trackChild(child);
    const conn = new AgentConn(routingId, this.socket, child);
    conn.lowered = spare && lowerSpare(child.pid);
    return this.enlist(conn);
  }

  private enlist(conn: AgentConn): AgentConn {
    if (this.reuse) conn.recycle = (c, how) => this.resetAgent(c, how);
    this.all.set(conn.routingId, conn);
    this.idle.push(conn);
    void conn.exited.then(({ code, signal }) => this.onExit(conn, code, signal));
    return conn;
  }

  /**
   * Reuse: `conn`'s process has reported its last step and ends (an exit code, or a fatal signal
   * its step reported). Its agent is told so (`die` with `reset`), the end is taken as done (the
   * process's cleanup follows, as for a remote agent's ordered exit),
   * and the same OS process goes back to the pool as the next incarnation, usable once its hello
   * naming that incarnation comes (all it sent before that is the old process's and is dropped).
   */
  private resetAgent(conn: AgentConn, how: ResetEnd): KernelMsg | undefined {
    if ('signal' in how && how.signal === 'SIGKILL') throw new Error('kernel invariant: a SIGKILL is never a reset');
    if (!conn.child || !conn.alive || this.closed || this.all.get(conn.routingId) !== conn) return undefined;
    const next = new AgentConn(conn.routingId, this.socket, conn.child, conn.incarnation + 1);
    conn.detach();
    this.enlist(next);
    const msg: KernelMsg = { t: 'die', ...how, reset: next.incarnation };
    this.socket.send(conn.routingId, msg);
    if ('signal' in how) conn.markExited(null, how.signal); else conn.markExited(how.code, null);
    return msg;
  }

  /**
   * Tops the pool up to `n` agents; those it starts are spares (low priority until taken), unless
   * `spare` is false (agents a process needs now: the boot's).
   */
  fill(n: number, spare = true): void {
    this.idle = this.idle.filter((c) => c.alive);
    while (this.idle.length < n) this.spawnOne(spare);
  }

  /** A lowered agent is needed now: the kernel's priority, every thread. */
  private raise(conn: AgentConn): void {
    if (!conn.lowered) return;
    conn.lowered = false;
    const pid = conn.child?.pid;
    raiseTaken(pid);
    // A spare still starting may be making threads while it is raised: one whose clone began
    // before the renice of its parent thread, and showed in /proc after the last pass, would keep
    // nice 19. Its hello comes once Node has started: raise whatever appeared by then once more.
    if (!conn.helloed) void conn.hello.then(() => { if (conn.alive) raiseTaken(pid); });
  }

  /** An agent that has said hello, leaving the pool topped up. */
  async take(poolSize: number): Promise<AgentConn> {
    const deadline = Date.now() + agentStartTimeoutMs;
    // An agent that dies before its hello (a SIGKILL from outside vrange, to a spare) is replaced,
    // a few times: the process was given no agent yet, so nothing of it is lost.
    for (let tries = 0; ; tries++) {
      if (this.closed) throw new Error('the kernel is shutting down: no agent starts');
      this.idle = this.idle.filter((c) => c.alive);
      if (this.idle.length === 0) this.spawnOne();
      // A reused pool holds agents that said hello and others still starting: a ready one first.
      const ready = this.idle.findIndex((c) => c.helloed);
      const conn = this.idle.splice(ready >= 0 ? ready : 0, 1)[0]!;
      this.raise(conn);
      this.fill(poolSize);
      await withTimeout(Promise.race([conn.hello, conn.exited]), deadline - Date.now(), `agent ${conn.routingId} did not start within ${agentStartTimeoutMs} ms`);
      if (conn.helloed && conn.alive) return conn;
      if (tries >= agentStartRetries) throw new Error(`${tries + 1} agents in a row died before their hello (the last: ${conn.routingId})`);
    }
  }

  /**
   * Resolves when every agent waiting in the pool has said hello (a warm pool is a started one);
   * with `n`, once `n` of them have (a session's pool may hold more, starting in the background).
   */
  async warm(n?: number): Promise<void> {
    const idle = this.idle.filter((c) => c.alive);
    const wanted = n === undefined ? idle : [...idle.filter((c) => c.helloed), ...idle.filter((c) => !c.helloed)].slice(0, n);
    // Waited for now: not at the lowest priority while the run waits (they are lowered again by no one).
    for (const c of wanted) if (!c.helloed) this.raise(c);
    // An agent that died meanwhile is not waited for (take replaces it).
    await withTimeout(Promise.all(wanted.map((c) => Promise.race([c.hello, c.exited]))), agentStartTimeoutMs, `the agent pool did not start within ${agentStartTimeoutMs} ms`);
  }

  /** Agents waiting in the pool (alive). */
  get idleCount(): number { return this.idle.filter((c) => c.alive).length; }

  /**
   * The end of one run of a session: every agent that ran a process of it and was not reset
   * (its process still alive, stopped, or half-born) is SIGKILLed for real, and reaped. Agents
   * already dead are forgotten; the pool keeps the rest.
   */
  async endRun(conns: readonly AgentConn[]): Promise<void> {
    const waits: Array<Promise<unknown>> = [];
    for (const conn of conns) {
      if (conn.alive) { conn.kill('SIGKILL'); conn.child?.kill('SIGCONT'); }
      waits.push(conn.exited);
    }
    await Promise.all(waits);
    for (const [id, c] of this.all) if (!c.alive) this.all.delete(id);
    this.idle = this.idle.filter((c) => c.alive);
  }

  /**
   * SIGKILL every agent still alive (a SIGSTOPped one too: SIGKILL ends a stopped process; it gets
   * a SIGCONT as well, in case) and wait until the OS has reaped them all. No agent starts after.
   */
  async killAll(): Promise<void> {
    this.closed = true;
    const waits: Array<Promise<unknown>> = [];
    for (const conn of this.all.values()) {
      if (conn.alive) {
        conn.kill('SIGKILL');
        if (conn.child) conn.child.kill('SIGCONT');
      }
      // A reset agent's earlier incarnations have ended already: wait for the OS process itself.
      waits.push(conn.child && conn.child.exitCode === null && conn.child.signalCode === null
        ? new Promise((resolve) => conn.child!.once('exit', resolve)) : conn.exited);
    }
    await Promise.all(waits);
  }
}

/**
 * The kernel's socket and its local agents, with the one receive loop that routes each frame to
 * the kernel of the run under way: for one run (the kernel makes its own), or kept by a run
 * session across runs (harness/session.ts), so that neither the socket nor the agents are made
 * again for each run. A frame from an agent whose current incarnation has not said hello yet is
 * the earlier incarnation's (a connection keeps its order): only that hello is read of it.
 */
export class AgentHost {
  readonly socket: KernelSocket;
  readonly pool: AgentPool;
  /** The kernel of the run under way; between runs nobody (frames are dropped). */
  deliver: ((conn: AgentConn, msgs: unknown[]) => void) | undefined;
  onGarbage: ((conn: AgentConn, err: unknown) => void) | undefined;
  onSendError: (err: unknown) => void = () => {};
  /** Messages read of no run: an earlier incarnation's, or sent between runs. */
  dropped = 0;
  /** This process and the agents of its lockstep runs bound to one CPU (coordinator/cpu_pin.ts), from the first lockstep run to close(). */
  cpuLease: CpuLease | undefined;
  private listening: Promise<void> | undefined;

  /** The socket's bind, once begun (close waits for it). */
  private binding: Promise<void> | undefined;
  constructor(readonly runDir: string, reuse: boolean) {
    this.socket = new KernelSocket(`ipc://${runDir}/kernel.sock`, (err) => this.onSendError(err));
    this.pool = new AgentPool(this.socket, runDir, () => {}, reuse);
  }

  async bind(): Promise<void> {
    if (this.listening) return;
    this.binding ??= this.socket.bind();
    await this.binding;
    this.listening = this.socket.listen((routingId, msgs) => this.route(routingId, msgs),
      (routingId, err) => { const c = this.pool.all.get(routingId); if (c?.helloed) this.onGarbage?.(c, err); });
  }

  /** Resolves when the receive loop ends (the socket closed); rejects if it failed. */
  get ended(): Promise<void> { return this.listening ?? Promise.resolve(); }

  private route(routingId: string, msgs: unknown[]): void {
    const conn = this.pool.all.get(routingId);
    if (!conn) return;
    if (!conn.helloed) {
      const i = msgs.findIndex((m) => {
        const p = parseAgentMsg(m);
        return p.ok && p.msg.t === 'hello' && (p.msg.incarnation ?? 0) === conn.incarnation;
      });
      if (i < 0) { this.dropped += msgs.length; return; }
      this.dropped += i;
      conn.onHello((msgs[i] as { osPid: number }).osPid);
      msgs = msgs.slice(i + 1);
      if (msgs.length === 0) return;
    }
    if (this.deliver) this.deliver(conn, msgs);
    else this.dropped += msgs.length;
  }

  async close(): Promise<void> {
    try {
      await this.pool.killAll();
      // A bind still under way (a run stopped during its set-up) ends first: closed before, the
      // socket could still make its ipc file in the run folder while that folder is removed.
      await this.binding?.catch(() => {});
      this.socket.close();
      await this.listening?.catch(() => {});
    } finally {
      this.cpuLease?.release();
      this.cpuLease = undefined;
    }
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(what)), Math.max(0, ms)); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
