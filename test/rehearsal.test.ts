// An agent's rehearsal at start (agents/warm_up.ts): a throwaway agent takes an init, a prepare and
// a commit, so that the real ones do not run cold. If the rehearsal stopped answering as an honest
// agent does (a message shape changed under it), it would warm nothing and say nothing: these
// tests are what notice.
import test from 'ava';
import { rehearseAgent } from '../agents/agent.js';
import { rehearsalName, rehearsalScript } from '../agents/warm_up.js';
import type { KernelMsg } from '../shared/messages.js';
import { PROCESS_NAME } from '../shared/scenario.js';

test('the rehearsal takes the init, the prepare and the commit as a real exchange does, and answers each', (t) => {
  const script = rehearsalScript();
  const prepare = script.find((m): m is Extract<KernelMsg, { t: 'prepare' }> => m.t === 'prepare')!;
  const init = script.find((m): m is Extract<KernelMsg, { t: 'init' }> => m.t === 'init')!;
  // The init's one volatile range, as its snapshot carries it (pieces: start, end, id, markedAt).
  const [, , id, markedAt] = (init.mm!.ranges as { pieces: number[] }).pieces;
  const sent = rehearseAgent();
  t.deepEqual(sent.map((m) => m.t), ['ready', 'prepared', 'committed']);
  const [ready, prepared, committed] = sent as unknown as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
  t.is(ready.re, init.id);
  t.truthy(ready.mm, 'the init asks for the mm view, so the view is rehearsed too');
  // Every asked page is in the init's one volatile range: one answer entry, [start, count, range id, marked at].
  t.deepEqual(prepared, { t: 'prepared', xid: prepare.xid, runs: [prepare.runs[0], prepare.runs[1], id, markedAt] });
  t.deepEqual(committed, { t: 'committed', xid: prepare.xid, violations: [] }, 'an honest commit: every purged page held and volatile');
});

test('the rehearsal\'s agent is no scenario\'s process, so no test hook keyed by a process name reaches it', (t) => {
  const init = rehearsalScript()[0] as Extract<KernelMsg, { t: 'init' }>;
  t.is(init.name, rehearsalName);
  t.false(PROCESS_NAME.test(rehearsalName), 'the scenario format refuses the name');
});

test('a rehearsal that meets what an honest kernel never sends ends there, and the process goes on', (t) => {
  const [init, prepare, commit] = rehearsalScript();
  // A commit before any prepare, then a second init: the agent's order check refuses the first (agents/kernel_order.ts).
  const sent = rehearseAgent([init!, commit!, init!, prepare!]);
  t.deepEqual(sent.map((m) => m.t), ['ready'], 'nothing after the refused message was taken');
  // Still here (a real agent's refusal would have ended this process with exit 70), and the next rehearsal is a new agent.
  t.deepEqual(rehearseAgent().map((m) => m.t), ['ready', 'prepared', 'committed']);
});
