// ZeroMQ sockets as the project uses them: a bound Router in the kernel, one Dealer per agent.
// Habits (../shared/spec/design.md): linger 0 so nothing hangs at exit; one receive loop per
// socket (the caller's `for await`); one serialised send queue per socket, because zeromq.js
// allows a single send in progress at a time (EBUSY otherwise).
//
// Batching: messages queued in one turn of the event loop, or while a send is in progress, leave
// together as one ZeroMQ message of one frame: a msgpack array of the messages, in the order they
// were queued (a lone message goes as itself, a map). A send costs about as much for a long frame
// as for a short one, and each extra frame costs a little on both sides (bench/transport.bench.ts,
// docs/performance.md), so under load the cost per message falls instead of the queue growing.
// Messages are encoded when their batch leaves, all in one go: a message must not be changed
// once sent. The receiver hands on each message of an array as one message; the protocol itself
// (shared/messages.ts) does not change.
//
// Receiving: `listen` calls a handler with each message, straight from the socket's receive;
// `receive` (an async generator over the same) is kept for callers that want to `for await`.
//
// Agents on other machines connect over tcp with CURVE (RFC 26): the kernel's Router is the CURVE
// server, each agent a client that knows the server's public key. libzmq asks a ZAP handler
// (RFC 27) at inproc://zeromq.zap.01 about every CURVE handshake; without one it lets every key
// in, so `ZapHandler` is bound before the listening socket and answers from the trusted keys.

import { messageBytesMax } from './limits.js';
import { createRequire } from 'node:module';
import type * as Zmq from 'zeromq';
import { decode, encodeBatch, type AgentMsg, type KernelMsg } from './messages.js';

// zeromq is CommonJS: imported from ESM, Node would first scan its 29 KB entry for its export
// names (cjs-module-lexer), about 15 ms of every agent's start; required, it is only loaded.
const { Dealer, Reply, Router } = createRequire(import.meta.url)('zeromq') as typeof Zmq;
type Dealer = Zmq.Dealer;
type Router = Zmq.Router;

/** The messages in one received frame (see batchFrame), or what it holds if that is not messages. */
function messagesOf<T>(frame: Buffer): T | T[] {
  return decode<T | T[]>(frame);
}

/**
 * Whether a receive failed because the socket was closed meanwhile: the receive loop then ends
 * quietly, as zeromq.js's own iterator does. (The loops await `receive()` themselves, with no
 * async wrapper: one promise a message less, on every message of both sides.)
 */
function closedUnder(sock: Dealer | Router, err: unknown): boolean {
  return sock.closed && (err as { code?: string }).code === 'EAGAIN';
}

/** Messages queued per destination, sent in batches (one frame each), one send in progress at a time. */
class SendQueue<Dest, Msg> {
  private pending = new Map<Dest, Msg[]>();
  private busy = false;
  private drained: Array<() => void> = [];
  /** The pump, bound once (not a new closure every batch). */
  private readonly pumpSoon = (): void => void this.pump();
  constructor(private readonly sendBatch: (dest: Dest, frame: Buffer) => Promise<void>,
              private readonly onError: (err: unknown) => void) {}

  push(dest: Dest, msg: Msg): void {
    const list = this.pending.get(dest);
    if (list) list.push(msg); else this.pending.set(dest, [msg]);
    if (!this.busy) {
      this.busy = true;
      // Start once this turn of the event loop has queued all it will: those messages go together.
      setImmediate(this.pumpSoon);
    }
  }

  private async pump(): Promise<void> {
    while (this.pending.size > 0) {
      const batch = this.pending;
      this.pending = new Map();
      for (const [dest, msgs] of batch) {
        // A failed send is reported, not thrown into a later one.
        try { await this.sendBatch(dest, encodeBatch(msgs as Array<AgentMsg | KernelMsg>)); } catch (err) { this.onError(err); }
      }
    }
    this.busy = false;
    const w = this.drained;
    this.drained = [];
    for (const f of w) f();
  }

  drain(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }
}

/** The kernel's own key pair, for a CURVE server socket. */
export interface CurveServer { publicKey: string; secretKey: string }
/** An agent's key pair and the kernel's public key, for a CURVE client socket. */
export interface CurveClient { publicKey: string; secretKey: string; serverKey: string }

export class KernelSocket {
  private readonly router: Router;
  private readonly queue: SendQueue<string, KernelMsg>;
  constructor(readonly endpoint: string, onSendError: (err: unknown) => void, curve?: CurveServer, maxMessageBytes = messageBytesMax) {
    // A frame over maxMessageBytes disconnects its sender (libzmq) instead of reaching the kernel.
    this.router = new Router({ linger: 0, mandatory: true, maxMessageSize: maxMessageBytes });
    if (curve) {
      this.router.curveServer = true;
      this.router.curvePublicKey = curve.publicKey;
      this.router.curveSecretKey = curve.secretKey;
      this.router.zapDomain = 'vrange';
    }
    this.queue = new SendQueue((id, frame) => this.router.send([id, frame]), onSendError);
  }
  bind(): Promise<void> { return this.router.bind(this.endpoint); }
  /** The endpoint actually bound (a `tcp://HOST:0` endpoint gets its port here). */
  get boundEndpoint(): string { return this.router.lastEndpoint ?? this.endpoint; }
  send(routingId: string, msg: KernelMsg): void {
    this.queue.push(routingId, msg);
  }
  /** Resolves when every queued message has been handed to libzmq. */
  flushed(): Promise<void> { return this.queue.drain(); }
  /**
   * Calls `handle` with the messages of every frame received, until the socket is closed (then
   * resolves): one call per frame, with its elements (a lone message as a list of one). Nothing
   * here is trusted: each element is whatever the frame decoded to, for the kernel to check
   * (shared/message_schemas.ts), so one bad element never costs the others of its batch. A frame
   * that does not decode, or is an empty list, goes to `onGarbage` (a remote peer may send
   * anything); without it, it throws.
   */
  async listen(handle: (routingId: string, msgs: unknown[]) => void, onGarbage?: (routingId: string, err: unknown) => void): Promise<void> {
    for (;;) {
      if (this.router.closed) return;
      let parts: Buffer[];
      try { parts = await this.router.receive(); } catch (err) { if (closedUnder(this.router, err)) return; throw err; }
      const from = parts[0]!.toString();
      for (let i = 1; i < parts.length; i++) {
        let v: unknown;
        try {
          v = messagesOf<unknown>(parts[i]!);
          if (Array.isArray(v) && v.length === 0) throw new Error('an empty batch');
        } catch (e) {
          if (!onGarbage) throw e;
          onGarbage(from, e);
          continue;
        }
        handle(from, Array.isArray(v) ? v : [v]);
      }
    }
  }
  /**
   * Calls `fn` once per failed handshake on this socket (a peer with no CURVE, or the wrong
   * server key, a non-ZeroMQ peer, a ZAP refusal), with libzmq's endpoint and what failed.
   */
  onHandshakeFailure(fn: (e: { kind: 'protocol' | 'auth' | 'other'; address: string; detail: string }) => void): void {
    const ev = this.router.events;
    const detail = (e: { error?: { message?: string; code?: string } }) => String(e.error?.message ?? e.error?.code ?? 'failed');
    ev.on('handshake:error:protocol', (e) => fn({ kind: 'protocol', address: e.address, detail: detail(e) }));
    ev.on('handshake:error:auth', (e) => fn({ kind: 'auth', address: e.address, detail: detail(e) }));
    ev.on('handshake:error:other', (e) => fn({ kind: 'other', address: e.address, detail: detail(e) }));
  }
  close(): void { this.router.close(); }
}

export class AgentSocket {
  private readonly dealer: Dealer;
  private readonly queue: SendQueue<0, AgentMsg>;
  constructor(readonly endpoint: string, routingId: string, onSendError: (err: unknown) => void, curve?: CurveClient) {
    this.dealer = new Dealer({ linger: 0, routingId });
    if (curve) {
      this.dealer.curveServerKey = curve.serverKey;
      this.dealer.curvePublicKey = curve.publicKey;
      this.dealer.curveSecretKey = curve.secretKey;
    }
    this.queue = new SendQueue((_, frame) => this.dealer.send(frame), onSendError);
  }
  connect(): void { this.dealer.connect(this.endpoint); }
  /** Called once if the kernel refuses this agent's key (a CURVE/ZAP authentication failure). */
  onAuthFailure(fn: (detail: string) => void): void {
    this.dealer.events.on('handshake:error:auth', (e) => fn(String(e.error?.message ?? e.error ?? 'refused')));
  }
  /**
   * Calls `fn` with what becomes of the connection: a tcp connection made (`connect`) or retried
   * because nothing answered (`retry`), the ZMTP handshake done (`handshake`) or failed
   * (`handshake-failed`, with libzmq's reason: a mechanism mismatch, a bad server key), a drop
   * (`disconnect`). The agent uses it to say what went wrong when the kernel never answers.
   */
  onConnection(fn: (e: { kind: 'connect' | 'retry' | 'handshake' | 'handshake-failed' | 'disconnect'; detail?: string }) => void): void {
    const ev = this.dealer.events;
    ev.on('connect', () => fn({ kind: 'connect' }));
    ev.on('connect:retry', () => fn({ kind: 'retry' }));
    ev.on('handshake', () => fn({ kind: 'handshake' }));
    ev.on('handshake:error:protocol', (e) => fn({ kind: 'handshake-failed', detail: String(e.error?.message ?? 'protocol error') }));
    ev.on('handshake:error:other', (e) => fn({ kind: 'handshake-failed', detail: String(e.error?.message ?? 'failed') }));
    ev.on('disconnect', () => fn({ kind: 'disconnect' }));
  }
  send(msg: AgentMsg): void {
    this.queue.push(0, msg);
  }
  /** Resolves when every queued message has been handed to libzmq. */
  flushed(): Promise<void> { return this.queue.drain(); }
  /**
   * Calls `handle` with every message received, until the socket is closed (then resolves). Each
   * is whatever its frame decoded to (the agent checks it: shared/kernel_msg_check.ts); a frame
   * that does not decode, or is an empty list, goes to `onGarbage` (without it, it throws).
   */
  async listen(handle: (msg: KernelMsg) => void, onGarbage?: (err: Error) => void): Promise<void> {
    for (;;) {
      if (this.dealer.closed) return;
      let parts: Buffer[];
      try { parts = await this.dealer.receive(); } catch (err) { if (closedUnder(this.dealer, err)) return; throw err; }
      for (const frame of parts) {
        let v: KernelMsg | KernelMsg[];
        try {
          v = messagesOf<KernelMsg>(frame);
          if (Array.isArray(v) && v.length === 0) throw new Error('an empty batch');
        } catch (e) {
          if (!onGarbage) throw e;
          onGarbage(e as Error);
          continue;
        }
        if (Array.isArray(v)) for (const msg of v) handle(msg);
        else handle(v);
      }
    }
  }
  /** `listen` as an async generator. */
  async *receive(): AsyncGenerator<KernelMsg> {
    yield* generate<KernelMsg>((push) => this.listen(push));
  }
  close(): void { this.dealer.close(); }
}

/** The values a listener pushes, as an async generator (for `for await` callers). */
async function* generate<T>(run: (push: (v: T) => void) => Promise<void>): AsyncGenerator<T> {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  let failed: { err: unknown } | undefined;
  void run((v) => { queue.push(v); wake?.(); }).then(() => { ended = true; wake?.(); }, (err) => { failed = { err }; wake?.(); });
  for (;;) {
    while (queue.length > 0) yield queue.shift()!;
    if (failed) throw failed.err;
    if (ended) return;
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
}

/** The ZAP handler: says yes to a CURVE client whose public key is trusted, no to any other. */
export class ZapHandler {
  private readonly reply = new Reply({ linger: 0 });
  constructor(private readonly trusted: ReadonlySet<string>,
              private readonly onDecision: (d: { allowed: boolean; publicKey: string; address: string; mechanism: string }) => void) {}

  async start(): Promise<void> {
    await this.reply.bind('inproc://zeromq.zap.01');
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      for await (const frames of this.reply) {
        // RFC 27 request: version, request id, domain, address, identity, mechanism, credentials...
        const [version, requestId, , address, , mechanism, key] = frames;
        const mech = mechanism?.toString() ?? '';
        const publicKey = mech === 'CURVE' && key?.length === 32 ? z85Encode(key) : '';
        const allowed = mech === 'CURVE' && this.trusted.has(publicKey);
        this.onDecision({ allowed, publicKey, address: address?.toString() ?? '', mechanism: mech });
        await this.reply.send([version ?? '1.0', requestId ?? '', allowed ? '200' : '400',
          allowed ? 'OK' : 'public key not trusted', allowed ? publicKey : '', '']);
      }
    } catch {
      // closed
    }
  }

  close(): void { this.reply.close(); }
}

// Z85 (ZeroMQ RFC 32), the text form of CURVE keys: 4 bytes become 5 characters.
const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
export function z85Encode(data: Uint8Array): string {
  if (data.length % 4 !== 0) throw new Error('z85: length must be a multiple of 4');
  let out = '';
  for (let i = 0; i < data.length; i += 4) {
    let n = ((data[i]! << 24) >>> 0) + (data[i + 1]! << 16) + (data[i + 2]! << 8) + data[i + 3]!;
    const chunk = [];
    for (let k = 0; k < 5; k++) { chunk.unshift(Z85[n % 85]); n = Math.floor(n / 85); }
    out += chunk.join('');
  }
  return out;
}
/** A CURVE key in Z85 text: 40 characters of the Z85 alphabet. */
export function isZ85Key(s: string): boolean {
  return s.length === 40 && [...s].every((c) => Z85.includes(c));
}
