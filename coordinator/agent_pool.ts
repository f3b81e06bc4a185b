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
import { agentStartTimeoutMs } from '../shared/limits.js';
import type { KernelSocket } from '../shared/transport.js';
import { trackChild } from '../shared/lifecycle.js';
import type { Proc } from './process_table.js';

export class AgentConn {
  proc: Proc | undefined;
  readonly hello: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** The agent's OS pid on its machine, from its hello. */
  osPid = 0;
  /** The machine a remote agent runs on, from its hello (undefined: a local child). */
  host: string | undefined;
  private resolveHello!: () => void;
  private resolveExited!: (r: { code: number | null; signal: string | null }) => void;
  private hasExited = false;

  /** `child`: a local agent; none: a remote one, reached only through `socket`. */
  constructor(readonly routingId: string, readonly socket: KernelSocket, readonly child?: ChildProcess) {
    this.hello = new Promise((resolve) => (this.resolveHello = resolve));
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    child?.once('exit', (code, signal) => this.markExited(code, signal));
  }
  get remote(): boolean { return this.child === undefined; }
  onHello(osPid: number, host?: string): void {
    this.osPid = osPid;
    this.host = host;
    this.resolveHello();
  }
  get alive(): boolean {
    if (this.child) return this.child.exitCode === null && this.child.signalCode === null;
    return !this.hasExited;
  }
  /** The end of this agent as the kernel learnt it (the OS exit event, or for a remote agent the kernel's verdict). */
  markExited(code: number | null, signal: string | null): void {
    if (this.hasExited) return;
    this.hasExited = true;
    this.resolveExited({ code, signal });
  }
  /**
   * Delivers a signal. A local agent gets the real signal and the OS reports its death. A remote
   * agent cannot be signalled from here: it is told to kill itself with the signal, and since the
   * kernel will see no exit event, a fatal signal is its death from now on.
   */
  kill(signal: NodeJS.Signals): void {
    if (this.child) { this.child.kill(signal); return; }
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') throw new Error(`${signal} cannot be sent to a remote agent`);
    if (this.hasExited) return;
    this.socket.send(this.routingId, { t: 'die', signal });
    this.markExited(null, signal);
  }
  /** Tells the agent to exit with `code`; a remote agent's exit is taken as done. */
  exit(code: number): void {
    this.socket.send(this.routingId, { t: 'die', code });
    if (this.remote) this.markExited(code, null);
  }
}

const agentScript = fileURLToPath(new URL('../agents/agent.js', import.meta.url));
/**
 * Node options for every agent: `VRANGE_AGENT_NODE_ARGS` (space-separated) when set, for
 * profiling (`VRANGE_AGENT_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`; NODE_OPTIONS refuses
 * --cpu-prof) or to try other V8 flags, else `agentNodeDefaults`.
 */
export function agentNodeArgs(): string[] {
  const env = process.env.VRANGE_AGENT_NODE_ARGS;
  return env === undefined ? [...agentNodeDefaults] : env.split(' ').filter((a) => a !== '');
}
export const agentNodeDefaults: readonly string[] = ['--max-opt=1', '--always-sparkplug'];

/** Started agents waiting for a process, and every agent ever started (to end them all). */
export class AgentPool {
  private idle: AgentConn[] = [];
  readonly all = new Map<string, AgentConn>();
  private started = 0;
  /** Set by killAll: the run is ending, no agent may start any more (a birth still under way fails). */
  private closed = false;

  constructor(private readonly socket: KernelSocket, private readonly cwd: string,
              private readonly onExit: (conn: AgentConn, code: number | null, signal: string | null) => void) {}

  spawnOne(): AgentConn {
    if (this.closed) throw new Error('the kernel is shutting down: no agent starts');
    const routingId = `agent-${++this.started}`;
    const child = spawn(process.execPath, [...agentNodeArgs(), agentScript, this.socket.endpoint, routingId], {
      cwd: this.cwd, stdio: ['pipe', 'inherit', 'inherit'],
    });
    child.stdin!.on('error', () => {}); // the agent may be gone before we close its stdin
    trackChild(child);
    const conn = new AgentConn(routingId, this.socket, child);
    this.all.set(routingId, conn);
    this.idle.push(conn);
    void conn.exited.then(({ code, signal }) => this.onExit(conn, code, signal));
    return conn;
  }

  fill(n: number): void { while (this.idle.length < n) this.spawnOne(); }

  /** An agent that has said hello, leaving the pool topped up. */
  async take(poolSize: number): Promise<AgentConn> {
    if (this.idle.length === 0) this.spawnOne();
    const conn = this.idle.shift()!;
    this.fill(poolSize);
    await withTimeout(conn.hello, agentStartTimeoutMs, `agent ${conn.routingId} did not start within ${agentStartTimeoutMs} ms`);
    return conn;
  }

  /** Resolves when every agent waiting in the pool has said hello (a warm pool is a started one). */
  async warm(): Promise<void> {
    await withTimeout(Promise.all(this.idle.map((c) => c.hello)), agentStartTimeoutMs, `the agent pool did not start within ${agentStartTimeoutMs} ms`);
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
      waits.push(conn.exited);
    }
    await Promise.all(waits);
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(what)), ms); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
