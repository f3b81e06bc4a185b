// ZeroMQ sockets as the project uses them: a bound Router in the kernel, one Dealer per agent.
// Habits (../shared/spec/design.md): linger 0 so nothing hangs at exit; one receive loop per
// socket (the caller's `for await`); one serialised send queue per socket, because zeromq.js
// allows a single send in progress at a time (EBUSY otherwise).
//
// Agents on other machines connect over tcp with CURVE (RFC 26): the kernel's Router is the CURVE
// server, each agent a client that knows the server's public key. libzmq asks a ZAP handler
// (RFC 27) at inproc://zeromq.zap.01 about every CURVE handshake; without one it lets every key
// in, so `ZapHandler` is bound before the listening socket and answers from the trusted keys.

import { Dealer, Reply, Router } from 'zeromq';
import { decode, encode, type AgentMsg, type KernelMsg } from './messages.js';

/** Serialises sends on one socket; a failed send is reported, not thrown into a later one. */
class SendQueue {
  private tail: Promise<void> = Promise.resolve();
  constructor(private readonly onError: (err: unknown) => void) {}
  push(send: () => Promise<void>): void {
    this.tail = this.tail.then(send).catch(this.onError);
  }
  drain(): Promise<void> { return this.tail; }
}

/** The kernel's own key pair, for a CURVE server socket. */
export interface CurveServer { publicKey: string; secretKey: string }
/** An agent's key pair and the kernel's public key, for a CURVE client socket. */
export interface CurveClient { publicKey: string; secretKey: string; serverKey: string }

export class KernelSocket {
  private readonly router: Router;
  private readonly queue: SendQueue;
  constructor(readonly endpoint: string, onSendError: (err: unknown) => void, curve?: CurveServer) {
    this.router = new Router({ linger: 0, mandatory: true });
    if (curve) {
      this.router.curveServer = true;
      this.router.curvePublicKey = curve.publicKey;
      this.router.curveSecretKey = curve.secretKey;
      this.router.zapDomain = 'vrange';
    }
    this.queue = new SendQueue(onSendError);
  }
  bind(): Promise<void> { return this.router.bind(this.endpoint); }
  /** The endpoint actually bound (a `tcp://HOST:0` endpoint gets its port here). */
  get boundEndpoint(): string { return this.router.lastEndpoint ?? this.endpoint; }
  send(routingId: string, msg: KernelMsg): void {
    const frame = encode(msg);
    this.queue.push(() => this.router.send([routingId, frame]));
  }
  /** Resolves when every queued message has been handed to libzmq. */
  flushed(): Promise<void> { return this.queue.drain(); }
  /** Messages that do not decode are passed to `onGarbage` (a remote peer may send anything). */
  async *receive(onGarbage?: (routingId: string, err: unknown) => void): AsyncGenerator<[string, AgentMsg]> {
    for await (const [id, frame] of this.router) {
      let msg: AgentMsg;
      try {
        msg = decode<AgentMsg>(frame ?? Buffer.alloc(0));
        if (typeof msg !== 'object' || msg === null || typeof (msg as { t?: unknown }).t !== 'string') throw new Error('not a message');
      } catch (e) {
        if (!onGarbage) throw e;
        onGarbage(id.toString(), e);
        continue;
      }
      yield [id.toString(), msg];
    }
  }
  close(): void { this.router.close(); }
}

export class AgentSocket {
  private readonly dealer: Dealer;
  private readonly queue: SendQueue;
  constructor(readonly endpoint: string, routingId: string, onSendError: (err: unknown) => void, curve?: CurveClient) {
    this.dealer = new Dealer({ linger: 0, routingId });
    if (curve) {
      this.dealer.curveServerKey = curve.serverKey;
      this.dealer.curvePublicKey = curve.publicKey;
      this.dealer.curveSecretKey = curve.secretKey;
    }
    this.queue = new SendQueue(onSendError);
  }
  connect(): void { this.dealer.connect(this.endpoint); }
  /** Called once if the kernel refuses this agent's key (a CURVE/ZAP authentication failure). */
  onAuthFailure(fn: (detail: string) => void): void {
    this.dealer.events.on('handshake:error:auth', (e) => fn(String(e.error?.message ?? e.error ?? 'refused')));
  }
  send(msg: AgentMsg): void {
    const frame = encode(msg);
    this.queue.push(() => this.dealer.send(frame));
  }
  /** Resolves when every queued message has been handed to libzmq. */
  flushed(): Promise<void> { return this.queue.drain(); }
  async *receive(): AsyncGenerator<KernelMsg> {
    for await (const [frame] of this.dealer) yield decode<KernelMsg>(frame!);
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
