// ZeroMQ sockets as the project uses them: a bound Router in the kernel, one Dealer per agent.
// Habits (../shared/spec/design.md): linger 0 so nothing hangs at exit; one receive loop per
// socket (the caller's `for await`); one serialised send queue per socket, because zeromq.js
// allows a single send in progress at a time (EBUSY otherwise).
//
// Batching: messages queued while a send is in progress leave together, as one multipart ZeroMQ
// message with one msgpack frame per protocol message, in the order they were queued. A send
// costs about as much for one frame as for many (bench/transport.bench.ts), so under load the
// cost per message falls instead of the queue growing. The receiver decodes each frame as one
// message; the protocol itself (shared/messages.ts) does not change.
//
// Agents on other machines connect over tcp with CURVE (RFC 26): the kernel's Router is the CURVE
// server, each agent a client that knows the server's public key. libzmq asks a ZAP handler
// (RFC 27) at inproc://zeromq.zap.01 about every CURVE handshake; without one it lets every key
// in, so `ZapHandler` is bound before the listening socket and answers from the trusted keys.

import { Dealer, Reply, Router } from 'zeromq';
import { decode, encode, type AgentMsg, type KernelMsg } from './messages.js';

/** Frames queued per destination, sent in batches, one send in progress at a time. */
class SendQueue<Dest> {
  private pending = new Map<Dest, Buffer[]>();
  private busy = false;
  private drained: Array<() => void> = [];
  constructor(private readonly sendBatch: (dest: Dest, frames: Buffer[]) => Promise<void>,
              private readonly onError: (err: unknown) => void) {}

  push(dest: Dest, frame: Buffer): void {
    const list = this.pending.get(dest);
    if (list) list.push(frame); else this.pending.set(dest, [frame]);
    if (!this.busy) {
      this.busy = true;
      // Start once this turn of the event loop has queued all it will: those messages go together.
      setImmediate(() => void this.pump());
    }
  }

  private async pump(): Promise<void> {
    while (this.pending.size > 0) {
      const batch = this.pending;
      this.pending = new Map();
      for (const [dest, frames] of batch) {
        // A failed send is reported, not thrown into a later one.
        try { await this.sendBatch(dest, frames); } catch (err) { this.onError(err); }
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
  private readonly queue: SendQueue<string>;
  constructor(readonly endpoint: string, onSendError: (err: unknown) => void, curve?: CurveServer) {
    this.router = new Router({ linger: 0, mandatory: true });
    if (curve) {
      this.router.curveServer = true;
      this.router.curvePublicKey = curve.publicKey;
      this.router.curveSecretKey = curve.secretKey;
      this.router.zapDomain = 'vrange';
    }
    this.queue = new SendQueue((id, frames) => this.router.send([id, ...frames]), onSendError);
  }
  bind(): Promise<void> { return this.router.bind(this.endpoint); }
  /** The endpoint actually bound (a `tcp://HOST:0` endpoint gets its port here). */
  get boundEndpoint(): string { return this.router.lastEndpoint ?? this.endpoint; }
  send(routingId: string, msg: KernelMsg): void {
    this.queue.push(routingId, encode(msg));
  }
  /** Resolves when every queued message has been handed to libzmq. */
  flushed(): Promise<void> { return this.queue.drain(); }
  /** Each frame is one message. Frames that do not decode go to `onGarbage` (a remote peer may send anything). */
  async *receive(onGarbage?: (routingId: string, err: unknown) => void): AsyncGenerator<[string, AgentMsg]> {
    for await (const [id, ...frames] of this.router) {
      const from = id!.toString();
      for (const frame of frames) {
        let msg: AgentMsg;
        try {
          msg = decode<AgentMsg>(frame ?? Buffer.alloc(0));
          if (typeof msg !== 'object' || msg === null || typeof (msg as { t?: unknown }).t !== 'string') throw new Error('not a message');
        } catch (e) {
          if (!onGarbage) throw e;
          onGarbage(from, e);
          continue;
        }
        yield [from, msg];
      }
    }
  }
  close(): void { this.router.close(); }
}

export class AgentSocket {
  private readonly dealer: Dealer;
  private readonly queue: SendQueue<0>;
  constructor(readonly endpoint: string, routingId: string, onSendError: (err: unknown) => void, curve?: CurveClient) {
    this.dealer = new Dealer({ linger: 0, routingId });
    if (curve) {
      this.dealer.curveServerKey = curve.serverKey;
      this.dealer.curvePublicKey = curve.publicKey;
      this.dealer.curveSecretKey = curve.secretKey;
    }
    this.queue = new SendQueue((_, frames) => this.dealer.send(frames), onSendError);
  }
  connect(): void { this.dealer.connect(this.endpoint); }
  /** Called once if the kernel refuses this agent's key (a CURVE/ZAP authentication failure). */
  onAuthFailure(fn: (detail: string) => void): void {
    this.dealer.events.on('handshake:error:auth', (e) => fn(String(e.error?.message ?? e.error ?? 'refused')));
  }
  send(msg: AgentMsg): void {
    this.queue.push(0, encode(msg));
  }
  /** Resolves when every queued message has been handed to libzmq. */
  flushed(): Promise<void> { return this.queue.drain(); }
  async *receive(): AsyncGenerator<KernelMsg> {
    for await (const frames of this.dealer) for (const frame of frames) yield decode<KernelMsg>(frame);
  }
  close(): void { this.dealer.close(); }
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
