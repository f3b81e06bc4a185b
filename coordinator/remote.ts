// Agents on other machines: a second Router the kernel binds at `--listen tcp://HOST:PORT`, the
// remote agents that connect to it (`vrange agent --connect`), and their heartbeat.
//
// Assignment: each connected agent waits, idle, in connection order; a birth (at boot or at a
// fork) takes the first idle one that is still alive. With `agents: 'remote'` (the default of
// `vrange kernel`) every process runs on a remote agent and a birth waits for one to connect;
// with `agents: 'mixed'` a birth takes an idle remote agent if one is there and otherwise spawns
// a local child as `vrange run` does. An agent serves one process and exits with it.
//
// Death: the kernel cannot see a remote OS process end. It pings every live remote agent each
// `heartbeatMs`; an agent that has sent nothing (pong or anything else) for `heartbeatTimeoutMs`
// is dead: the kernel tells it to SIGKILL itself in case it is only cut off, and resolves its
// `exited` with SIGKILL, which runs the one exit cleanup (kernel.ts `cleanup`). Deaths the kernel
// orders itself (exit, fatal signal, kill) are final when ordered (AgentConn.kill / exit).

import { AgentConn, withTimeout } from './process_table.js';
import { KernelSocket, ZapHandler, type CurveServer } from '../shared/transport.js';
import type { AgentMsg } from '../shared/messages.js';
import type { History } from './history.js';
import { heartbeatIntervalMs, heartbeatTimeoutMs, remoteAgentWaitMs, remoteGoodbyeMs } from '../shared/limits.js';

export interface RemoteOptions {
  /** `tcp://HOST:PORT`; port 0 picks a free one (printed by `vrange kernel`). */
  listen: string;
  /** The kernel's key pair and the trusted agents' public keys; absent: no authentication (loopback only). */
  curve?: CurveServer & { trusted: ReadonlySet<string> };
  /** `remote`: every process on a remote agent; `mixed`: a remote one when idle, else a local child. */
  agents: 'remote' | 'mixed';
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  /** How long a birth waits for a remote agent (agents: remote). */
  waitMs?: number;
  /** Called with the bound endpoint once the socket listens. */
  onListening?: (endpoint: string) => void;
  /** A line for the operator (refusals, EFAULTs, lost agents); stderr by default. */
  log?: (line: string) => void;
}

export interface RemoteHooks {
  history: History;
  /** A message from a remote agent, for the kernel's usual handling. */
  deliver: (conn: AgentConn, msg: AgentMsg) => void;
  /** The agent has ended (the kernel's verdict): run the exit cleanup. */
  onExit: (conn: AgentConn, code: number | null, signal: string | null) => void;
  onSendError: (err: unknown) => void;
}

export class RemoteAgents {
  readonly socket: KernelSocket;
  readonly conns = new Map<string, AgentConn>();
  private readonly zap: ZapHandler | undefined;
  private idle: AgentConn[] = [];
  private waiters: Array<() => void> = [];
  private readonly lastSeen = new Map<AgentConn, number>();
  private timer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private seq = 0;
  private stopping = false;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;

  constructor(readonly opts: RemoteOptions, private readonly hooks: RemoteHooks) {
    this.intervalMs = opts.heartbeatMs ?? heartbeatIntervalMs;
    this.timeoutMs = opts.heartbeatTimeoutMs ?? heartbeatTimeoutMs;
    this.log = opts.log ?? ((line) => process.stderr.write(line + '\n'));
    this.socket = new KernelSocket(opts.listen, hooks.onSendError, opts.curve);
    if (opts.curve) {
      this.zap = new ZapHandler(opts.curve.trusted, ({ allowed, publicKey, address, mechanism }) => {
        if (allowed) return;
        const why = mechanism === 'CURVE' ? `its public key ${publicKey} is not trusted (--trust)` : `it did not use CURVE (${mechanism || 'no mechanism'})`;
        hooks.history.add('agent-refused', { address, publicKey, mechanism, why });
        this.log(`vrange kernel: refused an agent from ${address}: ${why}`);
      });
    }
  }

  async start(): Promise<void> {
    // The ZAP handler first: libzmq lets every CURVE client in while no handler is bound.
    await this.zap?.start();
    await this.socket.bind();
    this.opts.onListening?.(this.socket.boundEndpoint);
    void this.receiveLoop();
    this.lastTick = Date.now();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  get endpoint(): string { return this.socket.boundEndpoint; }

  private async receiveLoop(): Promise<void> {
    try {
      const garbage = (id: string) => this.log(`vrange kernel: dropped a message from ${id} that is not a vrange message`);
      for await (const [routingId, msg] of this.socket.receive(garbage)) {
        let conn = this.conns.get(routingId);
        if (!conn) {
          if (msg.t !== 'hello' || this.stopping) continue;
          conn = this.connected(routingId, msg);
          continue;
        }
        if (!conn.alive) {
          // Declared dead (heartbeat) but talking again: it must not go on as a ghost.
          this.socket.send(routingId, { t: 'die', signal: 'SIGKILL' });
          continue;
        }
        this.lastSeen.set(conn, Date.now());
        if (msg.t === 'pong' || msg.t === 'hello') continue;
        this.hooks.deliver(conn, msg);
      }
    } catch (e) {
      if (!this.stopping) this.hooks.onSendError(e);
    }
  }

  private connected(routingId: string, msg: Extract<AgentMsg, { t: 'hello' }>): AgentConn {
    const conn = new AgentConn(routingId, this.socket);
    const host = typeof msg.host === 'string' ? msg.host.slice(0, 255) : 'unknown';
    conn.onHello(Number(msg.osPid) || 0, host);
    this.conns.set(routingId, conn);
    this.lastSeen.set(conn, Date.now());
    this.hooks.history.add('agent-connected', { agent: routingId, host, osPid: conn.osPid });
    void conn.exited.then(({ code, signal }) => this.hooks.onExit(conn, code, signal));
    this.idle.push(conn);
    this.socket.send(routingId, { t: 'ping', seq: ++this.seq, timeoutMs: this.timeoutMs });
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
    return conn;
  }

  /** An idle remote agent now, or undefined. */
  takeNow(): AgentConn | undefined {
    this.idle = this.idle.filter((c) => c.alive);
    return this.idle.shift();
  }

  /** The next idle remote agent, waiting for one to connect. */
  take(): Promise<AgentConn> {
    const waitMs = this.opts.waitMs ?? remoteAgentWaitMs;
    const next = async (): Promise<AgentConn> => {
      for (;;) {
        if (this.stopping) throw new Error('the kernel is stopping');
        const conn = this.takeNow();
        if (conn) return conn;
        await new Promise<void>((resolve) => this.waiters.push(resolve));
      }
    };
    return withTimeout(next(), waitMs, `no remote agent connected to ${this.endpoint} within ${waitMs} ms: start one with \`vrange agent --connect ${this.endpoint}\``);
  }

  private tick(): void {
    const now = Date.now();
    const late = now - this.lastTick > this.intervalMs + this.timeoutMs;
    this.lastTick = now;
    for (const conn of this.conns.values()) {
      if (!conn.alive) continue;
      // The kernel itself was stalled (its event loop busy): the pongs wait unread in the socket.
      if (late) { this.lastSeen.set(conn, now); continue; }
      const silent = now - (this.lastSeen.get(conn) ?? now);
      if (silent > this.timeoutMs) { this.lost(conn, silent); continue; }
      this.socket.send(conn.routingId, { t: 'ping', seq: ++this.seq, timeoutMs: this.timeoutMs });
    }
  }

  private lost(conn: AgentConn, silentMs: number): void {
    const who = conn.proc ? `${conn.proc.name}, pid ${conn.proc.pid}` : 'idle';
    this.hooks.history.add('heartbeat-lost', { agent: conn.routingId, host: conn.host, osPid: conn.osPid,
      process: conn.proc?.name, pid: conn.proc?.pid, silentMs, timeoutMs: this.timeoutMs });
    this.log(`vrange kernel: remote agent ${conn.routingId} on ${conn.host} (${who}) silent for ${silentMs} ms (heartbeat timeout ${this.timeoutMs} ms): dead, cleaning up`);
    conn.kill('SIGKILL');
  }

  /** Ends every remote agent still alive (idle ones exit 0), then closes the socket. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    for (const conn of this.conns.values()) {
      if (!conn.alive) continue;
      if (conn.proc) conn.kill('SIGKILL'); else conn.exit(0);
    }
    for (const w of this.waiters) w();
    await this.socket.flushed();
    // linger 0 drops what is still queued at close: give the last `die`s a moment on the wire.
    // An agent that misses it exits anyway once the kernel has been silent for its timeout.
    if (this.conns.size > 0) await new Promise((resolve) => setTimeout(resolve, remoteGoodbyeMs));
    this.socket.close();
    this.zap?.close();
  }
}
