// ZeroMQ sockets as the project uses them: a bound Router in the kernel, one Dealer per agent.
// Habits (../shared/spec/design.md): linger 0 so nothing hangs at exit; one receive loop per
// socket (the caller's `for await`); one serialised send queue per socket, because zeromq.js
// allows a single send in progress at a time (EBUSY otherwise).

import { Dealer, Router } from 'zeromq';
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

export class KernelSocket {
  private readonly router = new Router({ linger: 0, mandatory: true });
  private readonly queue: SendQueue;
  constructor(readonly endpoint: string, onSendError: (err: unknown) => void) {
    this.queue = new SendQueue(onSendError);
  }
  bind(): Promise<void> { return this.router.bind(this.endpoint); }
  send(routingId: string, msg: KernelMsg): void {
    const frame = encode(msg);
    this.queue.push(() => this.router.send([routingId, frame]));
  }
  async *receive(): AsyncGenerator<[string, AgentMsg]> {
    for await (const [id, frame] of this.router) {
      yield [id.toString(), decode<AgentMsg>(frame)];
    }
  }
  close(): void { this.router.close(); }
}

export class AgentSocket {
  private readonly dealer: Dealer;
  private readonly queue: SendQueue;
  constructor(readonly endpoint: string, routingId: string, onSendError: (err: unknown) => void) {
    this.dealer = new Dealer({ linger: 0, routingId });
    this.queue = new SendQueue(onSendError);
  }
  connect(): void { this.dealer.connect(this.endpoint); }
  send(msg: AgentMsg): void {
    const frame = encode(msg);
    this.queue.push(() => this.dealer.send(frame));
  }
  /** Resolves when every queued message has been handed to libzmq. */
  flushed(): Promise<void> { return this.queue.drain(); }
  async *receive(): AsyncGenerator<KernelMsg> {
    for await (const [frame] of this.dealer) yield decode<KernelMsg>(frame);
  }
  close(): void { this.dealer.close(); }
}
