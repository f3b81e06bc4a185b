// The kernel's entry, as pure functions: the message schemas (shared/message_schemas.ts) over
// thousands of messages generated from those same schemas, valid and forged, also after the
// msgpack round trip they make on the wire; the checks that need the kernel's state
// (coordinator/syscall_entry.ts); and the printable-only form of peer strings (shared/printable.ts).
// test/remote.test.ts sends such forged messages to a real kernel.

import test from 'ava';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { agentMsgSchemas, compile, parseAgentMsg } from '../shared/message_schemas.js';
import { decode, encode, type AgentMsg } from '../shared/messages.js';
import { entryCheck, type EntryView } from '../coordinator/syscall_entry.js';
import { Proc } from '../coordinator/process_table.js';
import { noCalls } from '../coordinator/step_calls.js';
import { isPrintable, printable } from '../shared/printable.js';
import { forgedMessage, messageTypes, validMessage } from './message_arbitraries.js';
import type { ProcessStep } from '../shared/scenario-types.js';

const runsPerType = 400;

test('every well-formed message of every type is accepted, as sent and after msgpack', (t) => {
  for (const type of messageTypes) {
    fc.assert(fc.property(validMessage(type), (m) => {
      for (const x of [m, decode(encode(m as AgentMsg))]) {
        const r = parseAgentMsg(x);
        if (!r.ok) throw new Error(`${type}: ${JSON.stringify(m)} refused: ${r.why}`);
      }
    }), { numRuns: runsPerType });
  }
  t.pass();
});

test('every forged message of every type is refused with a reason naming its type, as sent and after msgpack', (t) => {
  for (const type of messageTypes) {
    fc.assert(fc.property(forgedMessage(type), (m) => {
      for (const x of [m, decode(encode(m as unknown as AgentMsg))]) {
        const r = parseAgentMsg(x);
        if (r.ok) throw new Error(`${type}: forged ${String(JSON.stringify(m))} accepted`);
        if (!r.why.startsWith(`${type}.`)) throw new Error(`${type}: reason ${r.why}`);
      }
    }), { numRuns: runsPerType });
  }
  t.pass();
});

test('the compiled predicate of each schema agrees with zod on every generated message, valid or forged', (t) => {
  for (const type of messageTypes) {
    const schema = agentMsgSchemas[type];
    const fast = compile(schema);
    fc.assert(fc.property(fc.oneof(validMessage(type), forgedMessage(type)), (m) => {
      if (fast(m) !== schema.safeParse(m).success) throw new Error(`${type}: they disagree on ${String(JSON.stringify(m))}`);
    }), { numRuns: runsPerType });
  }
  t.pass();
});

test('the validator never throws, whatever a frame decodes to', (t) => {
  fc.assert(fc.property(fc.anything({ withTypedArray: true, withNullPrototype: true, withBigInt: true }), (x) => {
    const r = parseAgentMsg(x);
    if (!r.ok && typeof r.why !== 'string') throw new Error('no reason');
  }), { numRuns: 3000 });
  // Shapes that crashed handlers before (issue 11, item 12).
  t.false(parseAgentMsg({ t: 'mmap', id: 1, addr: 1, pages: -1, fd: -1, offset: 0, share: 'private' }).ok);
  t.false(parseAgentMsg({ t: 'fquery', id: 1, vpages: 5 }).ok);
  t.false(parseAgentMsg({ t: 'waitpid', id: 1 }).ok);
  t.false(parseAgentMsg({ t: 'done', index: 0, result: { ok: true }, detail: { fatal: 'SIGNOPE' } }).ok);
  t.false(parseAgentMsg({ t: 'read', id: 1, vpage: 1, frame: 'x' }).ok);
  t.false(parseAgentMsg({ t: '__proto__' }).ok);
  t.false(parseAgentMsg({ t: 'toString', id: 1 }).ok);
  t.false(parseAgentMsg([{ t: 'pong', seq: 1 }]).ok);
  t.true(parseAgentMsg({ t: 'pong', seq: 1 }).ok);
});

// ---- checks that need the kernel's state

function procWith(steps: ProcessStep[], over: Partial<Proc> = {}): Proc {
  const p = new Proc({ name: 'P', forked: false, sigbus: 'kill', steps });
  Object.assign(p, { state: 'running', pid: 2 }, over);
  return p;
}
function view(over: Partial<EntryView> = {}): EntryView {
  const named = new Map([['Q', procWith([])]]);
  return { schedule: 'free', policy: 'shared-file', processNamed: (n) => named.get(n), initPending: (id) => id === 1, callOpen: () => false, stopPending: () => true, unasked: () => undefined, ...over };
}
const steps: ProcessStep[] = [{ op: 'mmap', as: 'm', pages: 4 }, { op: 'signal', name: 's' }];
/** Step `step` has made one syscall (step_calls.ts: a signal step reports done only after its signal). */
const madeCall = (step: number) => ({ calls: { ...noCalls(), step, n: 1 } });
const check = (m: Record<string, unknown>, proc = procWith(steps), v = view()) => {
  const r = parseAgentMsg(m);
  if (!r.ok) throw new Error(`test message refused by its schema: ${r.why}`);
  return entryCheck(v, proc, r.msg);
};

test('an mmap over one of the caller\'s own VMAs or past its address space is a bad message; a free address is not', (t) => {
  // Each mmap in an mmap step of its size (the step's arguments are checked first: step_calls.ts).
  const proc = (pages: number) => procWith([{ op: 'mmap', as: 'm', pages }], { vmas: [{ start: 10, pages: 5, kind: 'anon', fileId: -1, offset: 0, share: 'private' }] });
  const mmap = (addr: number, pages: number) => check({ t: 'mmap', id: 1, addr, pages, fd: -1, offset: 0, share: 'private' }, proc(pages));
  t.regex(mmap(12, 1)!, /overlaps its VMA at page 10 of 5 pages/);
  t.regex(mmap(8, 3)!, /overlaps/);
  t.regex(mmap(2 ** 36 - 1, 2)!, /past the address space/);
  t.is(mmap(15, 3), undefined);
  t.is(mmap(1, 9), undefined);
});

test('a waitpid or fork naming no process of the scenario, a second syscall, a ready for no init are bad messages', (t) => {
  // Each in a step that makes it (a scenario names only its own processes: only a forged step message names a ghost).
  const stepOf = (st: ProcessStep) => procWith([st]);
  t.regex(check({ t: 'waitpid', id: 1, process: 'ghost' }, stepOf({ op: 'waitpid', process: 'ghost' }))!, /"ghost", which is no process/);
  t.is(check({ t: 'waitpid', id: 1, process: 'Q' }, stepOf({ op: 'waitpid', process: 'Q' })), undefined);
  t.regex(check({ t: 'waitpid', id: 1, process: 'ghost' }, stepOf({ op: 'waitpid', process: 'Q' }))!, /with process "ghost" where the step makes "Q"/);
  t.regex(check({ t: 'fork', id: 1, child: 'ghost', mm: { vmas: [], ranges: { v: 1, limit: 10, nextId: 1, pieces: [] }, bindings: {} } }, stepOf({ op: 'fork', child: 'ghost' }))!, /no process/);
  t.regex(check({ t: 'signal', id: 2, name: 's' }, procWith(steps), view({ callOpen: () => true }))!, /while a syscall of its own was unanswered/);
  t.regex(check({ t: 'ready', re: 7 })!, /init 7/);
  t.is(check({ t: 'ready', re: 1 }), undefined);
});

test('a syscall whose id is not above its process\'s last one is a replay, a bad message, whatever the call', (t) => {
  const proc = procWith(steps, { lastCallId: 3 });
  for (const m of [{ t: 'signal', id: 3, name: 's' }, { t: 'open', id: 1, file: 'f' }, { t: 'munmap', id: 0, start: 1, pages: 1 },
    { t: 'fork', id: 2, child: 'Q', mm: { vmas: [], ranges: { v: 1, limit: 10, nextId: 1, pieces: [] }, bindings: {} } }]) {
    t.regex(check(m, proc)!, new RegExp(`^it sent ${m.t} with id ${m.id}, not above the id of its last syscall \\(3\\): a syscall is sent once \\(a replay\\)$`), m.t);
  }
  const atSignal = procWith(steps, { lastCallId: 3, nextStep: 1 });
  t.is(check({ t: 'signal', id: 4, name: 's' }, atSignal), undefined);
  t.is(check({ t: 'signal', id: 90, name: 's' }, atSignal), undefined, 'ids need not be consecutive');
  t.is(check({ t: 'signal', id: 0, name: 's' }, procWith(steps, { nextStep: 1 })), undefined, 'a first syscall may have id 0');
});

test('step messages must name the step they belong to, in either schedule', (t) => {
  // Free schedule, nothing in flight: the message starts step nextStep (0).
  t.is(check({ t: 'done', index: 0, result: { ok: true, addr: 4096 } }), undefined);
  t.regex(check({ t: 'done', index: 1, result: { ok: true } })!, /step 1 done, but step 0 was next/);
  t.regex(check({ t: 'blocked', index: 3, xid: 1 }, procWith(steps, { inFlight: 1 }))!, /step 3 blocked, but step 1 was in flight/);
  t.regex(check({ t: 'signal', id: 1, name: 's' }, procWith(steps, { nextStep: 2 }))!, /after its last step/);
  t.regex(check({ t: 'at', index: 1 })!, /next step is 0/);
  // Lockstep: nothing is sent without a grant.
  const lock = view({ schedule: 'lockstep' });
  t.regex(check({ t: 'open', id: 1, file: 'f' }, procWith(steps), lock)!, /with no step granted/);
  t.is(check({ t: 'mmap', id: 1, addr: 1, pages: 4, fd: -1, offset: 0, share: 'private' }, procWith(steps, { inFlight: 0 }), lock), undefined);
  t.regex(check({ t: 'start', index: 0 }, procWith(steps, { inFlight: 0 }), lock)!, /lockstep/);
});

test('a done\'s result must have the shape of its step\'s op, as the history format gives it', (t) => {
  // Step 0 is an mmap (its result has addr), step 1 a signal (ok alone).
  t.is(check({ t: 'done', index: 0, result: { ok: false, errno: 'ENOMEM' } }), undefined);
  t.regex(check({ t: 'done', index: 0, result: { ok: true } })!, /^mmap result field addr: missing \(required: a whole number from 0 to 9007199254740991\)/);
  t.regex(check({ t: 'done', index: 0, result: { ok: true, addr: 'x' } })!, /^mmap result field addr: a whole number from 0 to 9007199254740991/);
  t.regex(check({ t: 'done', index: 0, result: { ok: false } })!, /a failed result names errno/);
  t.regex(check({ t: 'done', index: 0, result: { ok: false, errno: 12 } })!, /a failed result names errno/);
  t.is(check({ t: 'done', index: 1, result: { ok: true } }, procWith(steps, { inFlight: 1, ...madeCall(1) })), undefined);
  // Plain data only, whatever the op: the schema refuses the rest before the entry sees it.
  for (const value of [2n ** 62n, new Date(0), new Set([1]), Float64Array.of(1), /a/, Number.NaN, [[[[1]]]], 'x'.repeat(4097)]) {
    t.false(parseAgentMsg({ t: 'done', index: 1, result: { ok: true, value } }).ok, inspect(value));
  }
  t.regex((parseAgentMsg({ t: 'done', index: 1, result: { ok: true, value: 1n } }) as { why: string }).why, /^done\.result: expected a step result/);
});

test('lockstep: a step blocked on an exchange sends nothing until the kernel releases it; free: it goes on at the commit', (t) => {
  // Its messages would otherwise race those of the other steps the same commit released.
  // (A done comes after the step's signal: the step has made it.)
  const blocked = (m?: { t: string }) => procWith(steps, { inFlight: 1, blockedOn: 4, ...(m?.t === 'done' ? madeCall(1) : {}) });
  const released = (m: { t: string }) => procWith(steps, { inFlight: 1, ...(m.t === 'done' ? madeCall(1) : {}) });
  const lock = view({ schedule: 'lockstep' });
  for (const m of [{ t: 'done', index: 1, result: { ok: true } }, { t: 'signal', id: 1, name: 's' }, { t: 'blocked', index: 1, xid: 4 }]) {
    t.regex(check(m, blocked(), lock)!, /while that step waited on reclaim exchange 4, before the kernel released it/, m.t);
    // Free: the step goes on at the commit; but a second blocked on the same exchange is a replay.
    if (m.t === 'blocked') t.regex(check(m, blocked(), view())!, /blocked on reclaim exchange 4 twice/);
    else t.is(check(m, blocked(m), view()), undefined, `free: ${m.t}`);
    t.is(check(m, released(m), lock), undefined, `released: ${m.t}`);
  }
  // Its answers to the kernel are not step messages: a blocked agent still answers an exchange.
  t.is(check({ t: 'prepared', xid: 5, runs: [] }, blocked(), lock), undefined);
  t.is(check({ t: 'committed', xid: 4, violations: [] }, blocked(), lock), undefined);
});

// ---- printable-only

test('peer strings are printable-only: controls, bidi overrides and backslashes escaped, nothing lost', (t) => {
  t.is(printable('remote-\u001b[31mX\nfake line\r'), 'remote-\\x1b[31mX\\nfake line\\r');
  t.is(printable('evil\u202etxt.exe\u0085\u009b'), 'evil\\u{202e}txt.exe\\x85\\x9b');
  t.is(printable('a\\nb'), 'a\\\\nb');
  t.is(printable('héllo wörld 名前'), 'héllo wörld 名前');
  t.is(printable('x'.repeat(10), 4), 'xxxx...(6 more)');
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
    const p = printable(s, 1000);
    if (/[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u.test(p)) throw new Error(`not printable: ${JSON.stringify(p)}`);
    // A string with nothing to escape is shown as it is.
    if (isPrintable(s) && p !== s) throw new Error(`changed a printable string: ${JSON.stringify(s)}`);
  }), { numRuns: 2000 });
});
