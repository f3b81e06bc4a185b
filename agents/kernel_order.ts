// The agent's entry, second part: what a well-formed kernel message (shared/kernel_msg_check.ts
// checked its fields) must be given what this agent has been sent before. An honest kernel sends
// one `init`, then in lockstep one `grant` per step, in order, each once the step before is done
// (in the free schedule one `go`, and a `continue` only for a step stopped at its `at`); its pings
// are numbered upward; an exchange's `prepare` batches come before its `commit` batches, whose last
// one closes it. A message that breaks this (a replay above all: a second init, a grant replayed,
// a commit after the exchange's last batch, a ping again) is the kernel's protocol break: the agent
// exits with one line saying which (agents/agent.ts protocolError: `vrange agent` exits 4, a local
// agent 70). Where a message is handled checks the rest (a ret for no open syscall, a release of
// a step not blocked, pages another exchange holds: agents/held.ts).

import type { KernelMsg } from '../shared/messages.js';

/** What the order checks need of the agent now. */
export interface AgentNow {
  /** The step under way (lockstep: granted and not reported done), or -1. */
  stepUnderWay: number;
  /** Free schedule: the agent has sent `at` and waits for `continue`. */
  atStop: boolean;
}

export class KernelOrder {
  private schedule: 'lockstep' | 'free' | undefined;
  private went = false;
  private nextGrant = 0;
  private lastPing = -1;
  /** Exchanges that have sent a prepare and not yet their commit's last batch. */
  private readonly open = new Set<number>();
  /** Exchanges whose commit's last batch came: no message of theirs may come again. */
  private readonly closed = new Set<number>();

  /** Why `msg` breaks the order of the protocol, or undefined (then it is taken: the state moves on). */
  problem(msg: KernelMsg, now: AgentNow): string | undefined {
    switch (msg.t) {
      case 'ret': case 'die': return undefined;
      case 'ping':
        if (msg.seq <= this.lastPing) return `ping ${msg.seq} after ping ${this.lastPing} (pings are numbered upward: a replay)`;
        this.lastPing = msg.seq;
        return undefined;
      case 'refused': return this.schedule ? 'refused, after the init of its process' : undefined;
      case 'init':
        if (this.schedule) return `a second init (init ${msg.id}): an agent runs one process, given once`;
        this.schedule = msg.config.schedule === 'lockstep' ? 'lockstep' : 'free';
        return undefined;
      default: break;
    }
    if (!this.schedule) return `${msg.t} before any init`;
    switch (msg.t) {
      case 'grant':
        if (this.schedule !== 'lockstep') return 'a grant in the free schedule';
        if (now.stepUnderWay >= 0) return `a grant of step ${msg.index} while step ${now.stepUnderWay} is under way (a replayed grant?)`;
        if (msg.index !== this.nextGrant) return `a grant of step ${msg.index}, but the next step is ${this.nextGrant} (steps are granted in order, once)`;
        this.nextGrant++;
        return undefined;
      case 'go':
        if (this.schedule !== 'free') return 'a go in the lockstep schedule';
        if (this.went) return 'a second go (the free schedule has one)';
        this.went = true;
        return undefined;
      case 'continue':
        return now.atStop ? undefined : 'a continue with no step stopped at (no at was sent)';
      case 'prepare':
        if (this.closed.has(msg.xid)) return `prepare ${msg.xid} after that exchange's commit (a replay)`;
        if (msg.hold && !this.open.has(msg.xid)) return `prepare ${msg.xid} with hold before any first-round prepare of that exchange`;
        this.open.add(msg.xid);
        return undefined;
      case 'commit':
        if (this.closed.has(msg.xid)) return `commit ${msg.xid} after that exchange's last commit batch (a replay)`;
        if (!this.open.has(msg.xid)) return `commit ${msg.xid} of an exchange that sent this agent no prepare`;
        if (msg.last) { this.open.delete(msg.xid); this.closed.add(msg.xid); }
        return undefined;
      default:
        return undefined; // release: its gate (Agent.release)
    }
  }
}
