// An agent's rehearsal at start: the code a pooled agent's first messages take, run once on a
// sample of its own before any kernel needs it.
//
// A started agent waits in the pool until the kernel gives it a process. Its first `init`, and
// later its first reclaim `prepare` and `commit`, would otherwise run cold: bytecode with no type
// feedback yet (V8 allocates it on first use), the codec's first decode and encode of each
// message shape. A fork waits on the init; every reclaim exchange waits on each mapper's prepare
// in turn (16 agents on the machine's 2 CPUs, one CPU in lockstep: docs/performance.md, "An agent
// rehearses its messages"). So each agent, once its hello has left, drives a throwaway Agent of
// its own through init, prepare and commit, with a socket that goes nowhere: the same methods
// and message shapes a real exchange takes, no state shared with the real agent, nothing sent.
// The throwaway's process name (`@rehearsal`) is no scenario's (names are plain identifiers),
// so no test hook keyed by a process name applies to it.

import type { AgentSocket } from '../shared/transport.js';
import type { AgentMsg, KernelMsg } from '../shared/messages.js';
import { decode, encodeBatch } from '../shared/messages.js';
import { RangeSet } from '../shared/rangeset.js';
import { rangesPerSetMax } from '../shared/limits.js';
import { PTE_COW } from './mm.js';

/** What the rehearsal needs of an agent: to take a kernel message as the real socket hands it on. */
export interface Rehearsable { receive(msg: KernelMsg): void }

/** The process name of the rehearsal's throwaway agent. */
export const rehearsalName = '@rehearsal';

/** The kernel messages of the rehearsal: an init with a volatile range over two pages, then a reclaim exchange that purges them. */
export function rehearsalScript(): KernelMsg[] {
  const ranges = new RangeSet(rangesPerSetMax);
  ranges.mark(1, 3, 1);
  return [
    { t: 'init', id: 1, pid: 1, name: rehearsalName, steps: [{ op: 'read', map: 'm', page: 0 }], sigbus: 'kill',
      config: { policy: 'shared-file', access: 'sigbus', purgeUnit: 'range', frames: 2, seed: 1, schedule: 'lockstep' }, snapshots: true,
      mm: { vmas: [{ start: 1, pages: 2, kind: 'anon', fileId: -1, offset: 0, at: Float64Array.of(0, 0), frames: Int32Array.of(0, 1), flags: Uint8Array.of(PTE_COW, PTE_COW) }],
        ranges: ranges.toJSON(), bindings: { 'map:m': { kind: 'map', addr: 1, pages: 2 } } } },
    { t: 'prepare', xid: 1, runs: [1, 2] },
    { t: 'commit', xid: 1, runs: [1, 2], last: true },
  ];
}

/** A socket that sends nothing: each message goes through the codec and is kept. */
export function rehearsalSocket(sent: AgentMsg[]): AgentSocket {
  const socket = {
    connect(): void {},
    send(msg: AgentMsg): void { sent.push(decode<AgentMsg>(encodeBatch([msg]))); },
    listen(): Promise<void> { return Promise.resolve(); },
    drain(): Promise<void> { return Promise.resolve(); },
  };
  return socket as unknown as AgentSocket;
}

/**
 * Runs the rehearsal on `agent` (made on a rehearsalSocket over `sent`); each kernel message goes
 * through the codec first, as a real one does. Returns what the agent sent. An agent that did not
 * answer as an honest one would (the protocol changed under it) is not an error: the rehearsal
 * only warms code, so the real agent goes on; the test of this file checks the answers.
 */
export function rehearse(agent: Rehearsable, sent: AgentMsg[], script: KernelMsg[] = rehearsalScript()): AgentMsg[] {
  for (const msg of script) agent.receive(decode<KernelMsg>(encodeBatch([msg])));
  return sent;
}
