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

import { Dealer, Router } from 'zeromq';
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

export class KernelSocket {
  private readonly router = new Router({ linger: 0, mandatory: true });
  private readonly queue: SendQueue<string>;
  constructor(readonly endpoint: string, onSendError: (err: unknown) => void) {
    this.queue = new SendQueue((id, frames) => this.router.send([id, ...frames]), onSendError);
  }
  bind(): Promise<void> { return this.router.bind(this.endpoint); }
  send(routingId: string, msg: KernelMsg): void {
    this.queue.push(routingId, encode(msg));
  }
  async *receive(): AsyncGenerator<[string, AgentMsg]> {
    for await (const [id, ...frames] of this.router) {
      const from = id!.toString();
      for (const frame of frames) yield [from, decode<AgentMsg>(frame)];
    }
  }
  close(): void { this.router.close(); }
}

export class AgentSocket {
  private readonly dealer: Dealer;
  private readonly queue: SendQueue<0>;
  constructor(readonly endpoint: string, routingId: string, onSendError: (err: unknown) => void) {
    this.dealer = new Dealer({ linger: 0, routingId });
    this.queue = new SendQueue((_, frames) => this.dealer.send(frames), onSendError);
  }
  connect(): void { this.dealer.connect(this.endpoint); }
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
