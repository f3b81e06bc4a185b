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
// `exited` with SIGKILL, which runs the one exit cleanup (exit.ts `cleanup`). Deaths the kernel
// orders itself (exit, fatal signal, kill) are final when ordered (AgentConn.kill / exit).
//
// Who gets in: with keys, CURVE and the ZAP handler decide before any message arrives. Without
// keys (loopback only) any local process can connect, so the kernel makes a one-time token for
// the run (`vrange kernel` prints it) and takes an agent only if its hello carries it (`vrange
// agent --token`); a hello without it is refused (`refused`, logged) and takes no process.
// Refusals and failed handshakes are logged, at most `refusalsLoggedMax` lines a run. Everything
// a peer supplies (its routing id, host name, error texts) is logged printable-only (shared/printable.ts).

import { timingSafeEqual } from 'node:crypto';
import { AgentConn, withTimeout } from './agent_pool.js';
import { KernelSocket, ZapHandler, type CurveServer } from '../shared/transport.js';
import type { AgentMsg } from '../shared/messages.js';
import { parseAgentMsg } from '../shared/message_schemas.js';
import { printable } from '../shared/printable.js';
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
  /** Without keys: the token every agent's hello must carry (`vrange kernel` makes one per run). */
  token?: string;
}

/** Refusals and failed handshakes logged in one run (history and stderr); the rest are only counted. */
export const refusalsLoggedMax = 50;

export interface RemoteHooks {
  history: History;
  /** The messages of one frame from a remote agent, for the kernel's checks and usual handling. */
  deliver: (conn: AgentConn, msgs: unknown[]) => void;
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
  /** Refusals and failed handshakes so far (logged up to refusalsLoggedMax). */
  refusals = 0;
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
        const why = mechanism === 'CURVE' ? `its public key ${publicKey} is not trusted (--trust)` : `it did not use CURVE (${printable(mechanism, 20) || 'no mechanism'})`;
        this.refuse({ address: printable(address, 100), publicKey, mechanism: printable(mechanism, 20), why });
      });
    }
    // A failed handshake never reaches the ZAP handler or the receive loop: libzmq reports it here.
    // (A ZAP refusal is reported by both: the ZAP handler's line says more.)
    this.socket.onHandshakeFailure(({ kind, address, detail }) => {
      if (kind === 'auth') return;
      const why = kind === 'protocol'
        ? `the ZMTP handshake failed (${printable(detail, 100)})${opts.curve ? ': a peer without CURVE or with the wrong server key (--server-key must be this kernel\'s .pub)' : ': a peer that uses CURVE while this kernel has no keys, or not a ZeroMQ peer'}`
        : `the handshake failed (${printable(detail, 100)})`;
      this.refuse({ address: printable(address, 100), why });
    });
  }

  /** Logs a refusal (history and operator), up to refusalsLoggedMax of them; counts every one. */
  private refuse(e: { address?: string; agent?: string; publicKey?: string; mechanism?: string; why: string }): void {
    this.refusals++;
    if (this.refusals > refusalsLoggedMax) return;
    this.hooks.history.add('agent-refused', e);
    const from = e.agent ? `agent ${e.agent}` : `an agent from ${e.address}`;
    this.log(`vrange kernel: refused ${from}: ${e.why}`);
    if (this.refusals === refusalsLoggedMax) this.log(`vrange kernel: ${refusalsLoggedMax} refusals logged; further ones are only counted`);
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
      await this.socket.listen((routingId, msgs) => this.onFrame(routingId, msgs), (id) => {
        const conn = this.conns.get(id);
        if (conn?.alive) this.hooks.deliver(conn, [undefined]); // its sender's bad message
        else this.refuse({ agent: printable(id), why: 'it sent a frame that is not a vrange message' });
      });
    } catch (e) {
      if (!this.stopping) this.hooks.onSendError(e);
    }
  }

  /** One frame from a peer. A peer not yet taken must start with a well-formed hello (and the token). */
  private onFrame(routingId: string, msgs: unknown[]): void {
    let conn = this.conns.get(routingId);
    if (!conn) {
      if (this.stopping) return;
      // Ids are compared as text: only printable ASCII ones, so that no two peers' ids read alike.
      if (!/^[\x21-\x7e]{1,64}$/.test(routingId)) {
        this.refuse({ agent: printable(routingId, 64), why: 'its routing id is not 1 to 64 printable ASCII characters (a vrange agent\'s is remote- and 12 hex digits)' });
        return;
      }
      const hello = parseAgentMsg(msgs[0]);
      if (!hello.ok || hello.msg.t !== 'hello') {
        this.refuse({ agent: printable(routingId), why: `its first message is not a hello (${printable(hello.ok ? hello.msg.t : hello.why, 200)})` });
        return;
      }
      const refused = this.tokenRefusal(hello.msg);
      if (refused) {
        this.refuse({ agent: printable(routingId), why: refused });
        this.socket.send(routingId, { t: 'refused', why: refused });
        return;
      }
      conn = this.connected(routingId, hello.msg);
      msgs = msgs.slice(1);
      if (msgs.length === 0) return;
    }
    if (!conn.alive) {
      // Declared dead (heartbeat) but talking again: it must not go on as a ghost.
      this.socket.send(routingId, { t: 'die', signal: 'SIGKILL' });
      return;
    }
    this.lastSeen.set(conn, Date.now());
    this.hooks.deliver(conn, msgs);
  }

  /** Why a hello is refused for its token, or undefined (no token asked, or the right one). */
  private tokenRefusal(hello: Extract<AgentMsg, { t: 'hello' }>): string | undefined {
    const want = this.opts.token;
    if (want === undefined) return undefined;
    if (hello.token === undefined) return 'its hello carries no token: this kernel has no keys and takes only agents started with the token it printed (vrange agent --token)';
    const a = Buffer.from(hello.token);
    const b = Buffer.from(want);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return 'its hello carries the wrong token (vrange agent --token: the one this kernel printed for this run)';
    return undefined;
  }

  private connected(routingId: string, msg: Extract<AgentMsg, { t: 'hello' }>): AgentConn {
    const conn = new AgentConn(routingId, this.socket);
    const host = msg.host !== undefined ? printable(msg.host, 255) : 'unknown';
    conn.onHello(msg.osPid, host);
    this.conns.set(routingId, conn);
    this.lastSeen.set(conn, Date.now());
    this.hooks.history.add('agent-connected', { agent: printable(routingId), host, osPid: conn.osPid });
    void conn.exited.then(({ code, signal }) => this.hooks.onExit(conn, code, signal));
    this.idle.push(conn);
    this.ping(conn);
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
      this.ping(conn);
    }
  }

  private ping(conn: AgentConn): void {
    conn.pingSeq = ++this.seq;
    this.socket.send(conn.routingId, { t: 'ping', seq: conn.pingSeq, timeoutMs: this.timeoutMs });
  }

  private lost(conn: AgentConn, silentMs: number): void {
    const who = conn.proc ? `${conn.proc.name}, pid ${conn.proc.pid}` : 'idle';
    this.hooks.history.add('heartbeat-lost', { agent: printable(conn.routingId), host: conn.host ?? 'unknown', osPid: conn.osPid,
      process: conn.proc?.name, pid: conn.proc?.pid, silentMs, timeoutMs: this.timeoutMs });
    this.log(`vrange kernel: remote agent ${printable(conn.routingId)} on ${conn.host} (${who}) silent for ${silentMs} ms (heartbeat timeout ${this.timeoutMs} ms): dead, cleaning up`);
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
