// Forged remote peers against a real `vrange kernel --listen`: raw ZeroMQ Dealers (not the product's
// AgentSocket, so that any frame can be sent) beside a real `vrange agent` whose process must not
// notice them. The frames are made by fast-check from fixed seeds: the same frames every run.
// docs/protocol.md, "Bad messages" and "Agents on other machines"; fuzz/remote-fuzz.mjs explores more.

import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type * as Zmq from 'zeromq';
import { ended, root, tempFile } from './helpers.js';
import { bin, garbageFrames, historyOf, kernelWithA, mapAndWait, noStrayAgents, pack, packr, peer, sleep, takeProcess, until, vrange, type Msg } from './forge_peers.js';

/** Every forger was cut off (SIGKILL), A kept its page, the verdict is PASS and the kernel met no bug of its own. */
async function forgersCutOff(t: ExecutionContext, k: { exit: Promise<{ code: number | null }>; out: string; err: string }, a: { exit: Promise<{ code: number | null }> }, dies: unknown[], forgers: number): Promise<void> {
  const [kexit, aexit] = await Promise.all([k.exit, a.exit]);
  t.is(kexit.code, 0, k.out + k.err);
  t.is(aexit.code, 0);
  t.regex(k.out, /verdict: PASS/);
  t.regex(k.out, /A +#\d+ read map="buf" page=0 -> ok value="still here"/);
  t.notRegex(k.err, /internal error|kernel invariant|TypeError|RangeError/);
  t.deepEqual(dies, Array.from({ length: forgers }, () => 'SIGKILL'));
}

test('forged frames and messages from peers with a process, and from peers without one: each forger is killed or refused and logged, the kernel neither crashes nor hangs, the other process and the verdict are untouched', async (t) => {
  // Every forged plan kills its sender; plans whose messages are well-formed but wrong in state come last.
  const plans: Array<{ what: string; frames: Array<Buffer | Buffer[]>; why: RegExp }> = [
    { what: 'a result with a bigint', frames: [pack({ t: 'signal', id: 1, name: 's' }), pack({ t: 'done', index: 0, result: { ok: true, value: 2n ** 63n } })], why: /done\.result: expected a step result/ },
    { what: 'a result with a Date, a Set and a typed array', frames: [pack({ t: 'done', index: 0, result: { ok: true, d: new Date(0), s: new Set([1]), a: Float64Array.of(1) } })], why: /done\.result: expected a step result/ },
    { what: 'a result of the wrong shape for its op', frames: [pack({ t: 'done', index: 0, result: { ok: false, errno: 12 } })], why: /signal result: a failed result names errno/ },
    { what: 'a second hello', frames: [pack({ t: 'hello', osPid: 2 })], why: /a second hello/ },
    { what: 'a committed for an exchange never opened', frames: [pack({ t: 'committed', xid: 7, violations: ['page 1 purged but not held by exchange 7'] })], why: /committed for reclaim exchange 7, which the kernel has not opened/ },
    { what: 'a prepared for an exchange never opened', frames: [pack({ t: 'prepared', xid: 9, runs: [1, 1, 1, 0] })], why: /prepared for reclaim exchange 9, which the kernel has not opened/ },
    // Replays and replies to nothing: a pong to a ping never sent, a second start of one step, an at where the go named no stop.
    { what: 'a pong to no ping', frames: [pack({ t: 'pong', seq: 2 ** 40 })], why: /its pong answers ping 1099511627776, but the last ping sent to it was \d+/ },
    { what: 'a start sent twice', frames: [pack({ t: 'start', index: 0 }), pack({ t: 'start', index: 0 })], why: /it sent start of step 0 with step 0 already under way/ },
    { what: 'an at where no stop was named', frames: [pack({ t: 'at', index: 0 })], why: /it sent at for step 0, which is no stop the kernel's go named/ },
    { what: 'prototype keys as fields', frames: [Buffer.concat([Buffer.from([0x84]), pack('t'), pack('signal'), pack('id'), pack(1), pack('name'), pack('s'), pack('__proto__'), pack({ name: 'x' })])], why: /Unrecognized key/ },
    { what: 'a constructor field', frames: [pack({ t: 'signal', id: 1, name: 's', constructor: 'x' })], why: /Unrecognized key\(s\) in object: 'constructor'/ },
    ...[0, 1, 2, 3].map((i) => ({ what: `garbage frames, seed ${i}`, frames: [garbageFrames(100 + i, 6)], why: /./ })),
  ];
  const forgers = plans.map((_, i) => `F${i}`);
  const file = tempFile('forge-frames.yaml', [
    'name: forge-frames', 'memory: { frames: 8 }', 'processes:', '  A:', '    steps:',
    ...forgers.map((f) => `      - { op: waitpid, process: ${f}, expect: { signal: SIGKILL } }`),
    '      - { op: mmap, as: buf, pages: 1 }', '      - { op: write, map: buf, page: 0, value: "still here" }',
    '      - { op: read, map: buf, page: 0, expect: { value: "still here" } }',
    ...forgers.flatMap((f) => [`  ${f}:`, '    steps:', '      - { op: signal, name: s }']),
  ].join('\n') + '\n');
  const { k, a, endpoint, token, trace } = await kernelWithA(t, file, 'free');
  // Peers with no process first: garbage before any hello, and a frame of garbage then a hello.
  const strangers = [0, 1, 2].map((i) => peer(t, endpoint, `remote-stranger-${i}`));
  await Promise.all(strangers.map((s, i) => s.sendRaw(garbageFrames(200 + i, 4))));
  const taken = await Promise.all(forgers.map((_, i) => takeProcess(t, endpoint, token, `remote-forger-${i}`)));
  const dies = await Promise.all(taken.map(async (f) => {
    const plan = plans[Number(f.name.slice(1))]!;
    for (const fr of plan.frames) await f.sendRaw(fr);
    return (await f.next((m) => m.t === 'die', `${f.name}'s die`)).signal;
  }));
  await forgersCutOff(t, k, a, dies, forgers.length);
  const h = historyOf(trace);
  for (const [i, plan] of plans.entries()) {
    const bad = h.filter((e) => e.kind === 'bad-message' && e.process === `F${i}`);
    t.true(bad.length >= 1, plan.what);
    t.regex(bad[0]!.why as string, plan.why, plan.what);
    t.is(h.find((e) => e.kind === 'cleanup' && e.process === `F${i}`)?.signal, 'SIGKILL', plan.what);
  }
  t.true(h.filter((e) => e.kind === 'agent-refused' && String(e.agent).startsWith('remote-stranger-')).length >= 3);
  // No forged violation reached the verdict; every invariant holds.
  t.deepEqual(h.filter((e) => e.kind === 'violation'), []);
  const verdict = h.at(-1)!;
  t.true((verdict.invariants as Array<{ ok: boolean }>).every((i) => i.ok));
  // The kernel's own history passes its own checker.
  const check = spawn(process.execPath, [bin, 'check', trace], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  check.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  t.is((await ended(check)).code, 0, out);
  noStrayAgents(t, endpoint);
});

/** A, the honest process: it waits for the forger F's death, then writes and reads its own page. */
const survivorA = `  A:
    steps:
      - { op: waitpid, process: F, expect: { signal: SIGKILL } }
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "still here" }
      - { op: read, map: buf, page: 0, expect: { value: "still here" } }
`;

test('a forged blocked on an exchange never opened is a bad message: in lockstep it no longer deadlocks the run', async (t) => {
  const file = tempFile('forge-blocked.yaml', `
name: forge-blocked
memory: { frames: 8 }
processes:
${survivorA}  F:
    steps:
      - { op: signal, name: s }
`);
  const { k, a, endpoint, token, trace } = await kernelWithA(t, file, 'lockstep');
  const f = await takeProcess(t, endpoint, token, 'remote-forger-blocked');
  await f.send({ t: 'blocked', index: 0, xid: 999 });
  t.is((await f.next((m) => m.t === 'die', 'the die')).signal, 'SIGKILL');
  const [kexit, aexit] = await Promise.all([k.exit, a.exit]);
  t.is(kexit.code, 0, k.out + k.err);
  t.is(aexit.code, 0);
  t.regex(k.out, /verdict: PASS/);
  t.regex(k.err, /F \(pid 3\) broke the protocol \(it sent blocked for reclaim exchange 999, which the kernel has not opened\): SIGKILL/);
  t.false(historyOf(trace).some((e) => e.kind === 'violation' || e.kind === 'stuck'));
  noStrayAgents(t, endpoint);
});

test('a committed before the kernel\'s commit is a bad message: a forged violation does not fail the verdict', async (t) => {
  const file = tempFile('forge-committed.yaml', `
name: forge-committed
memory: { frames: 8 }
processes:
${survivorA}  F:
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "x" }
      - { op: signal, name: s1 }
      - { op: wait, name: s2 }
kernel:
  - { op: wait, name: s1 }
  - { op: reclaim, all: true }
  - { op: signal, name: s2 }
`);
  const { k, a, endpoint, token, trace } = await kernelWithA(t, file, 'free');
  const f = await takeProcess(t, endpoint, token, 'remote-forger-committed');
  // F's steps, as an agent would run them, up to the kernel's prepare.
  await f.send({ t: 'mmap', id: 1, addr: 1, pages: 1, fd: -1, offset: 0, share: 'private' });
  await f.next((m) => m.t === 'ret' && m.re === 1, 'the mmap');
  await f.send({ t: 'done', index: 0, result: { ok: true, addr: 4096 }, detail: { span: [1, 2] } });
  await f.send({ t: 'write', id: 2, vpage: 1, frame: -1, cow: false, anon: true, value: 'x' });
  await f.next((m) => m.t === 'ret' && m.re === 2, 'the write');
  await f.send({ t: 'done', index: 1, result: { ok: true } });
  await f.send({ t: 'signal', id: 3, name: 's1' });
  await f.next((m) => m.t === 'ret' && m.re === 3, 'the signal');
  await f.send({ t: 'done', index: 2, result: { ok: true } });
  await f.send({ t: 'wait', id: 4, name: 's2' });
  const prepare = await f.next((m) => m.t === 'prepare', 'the prepare');
  // An ack of a commit the kernel has not sent, with a violation that would fail the run.
  await f.send({ t: 'committed', xid: prepare.xid, violations: ['page 1 purged but not held by exchange 1'] });
  t.is((await f.next((m) => m.t === 'die', 'the die')).signal, 'SIGKILL');
  const [kexit, aexit] = await Promise.all([k.exit, a.exit]);
  t.is(kexit.code, 0, k.out + k.err);
  t.is(aexit.code, 0);
  t.regex(k.out, /verdict: PASS/);
  t.regex(k.err, /F \(pid 3\) broke the protocol \(it sent committed for reclaim exchange 1 before the kernel's commit\): SIGKILL/);
  const h = historyOf(trace);
  t.deepEqual(h.filter((e) => e.kind === 'violation'), []);
  t.truthy(h.find((e) => e.kind === 'reclaim-commit'));
  noStrayAgents(t, endpoint);
});

test('a remote agent reached by a forged kernel exits 4 with one line saying what broke the protocol, never hangs or crashes', async (t) => {
  const { Router } = createRequire(import.meta.url)('zeromq') as typeof Zmq;
  const init = { t: 'init', id: 1, pid: 2, name: 'A', steps: [{ op: 'signal', name: 's' }], sigbus: 'kill',
    config: { policy: 'shared-file', access: 'sigbus', purgeUnit: 'range', frames: 8, seed: 1, schedule: 'free' } };
  const ping = pack({ t: 'ping', seq: 1, timeoutMs: 5000 });
  // Each burst follows the kernel's first ping (but the first two, which come first); fast-check makes four of them.
  const bursts: Array<{ what: string; frames: Buffer[]; why: RegExp; noPing?: boolean }> = [
    { what: 'an init before any ping', frames: [pack(init)], why: /its first message is init, not ping or refused: not a vrange kernel/, noPing: true },
    { what: 'a frame that does not decode', frames: [Buffer.from([0xc1])], why: /a message is a map with a field t|not a msgpack message/, noPing: true },
    { what: 'an unknown message type', frames: [pack({ t: 'nope' })], why: /unknown message type "nope"/ },
    { what: 'a bigint seq', frames: [pack({ t: 'ping', seq: 2n ** 63n, timeoutMs: 600 })], why: /ping\.seq/ },
    { what: 'a NaN timeout', frames: [pack({ t: 'ping', seq: 2, timeoutMs: Number.NaN })], why: /ping\.timeoutMs/ },
    { what: 'a die with a made-up signal', frames: [pack({ t: 'die', signal: 'SIGNOPE' })], why: /die\.signal/ },
    { what: 'a die with an exit code past 255', frames: [pack({ t: 'die', code: 256 })], why: /die\.code/ },
    { what: 'a die with reset (a remote agent serves one process)', frames: [pack({ t: 'die', reset: 3 })], why: /a die with reset, but this agent is not reusable/ },
    { what: 'a reply to no syscall', frames: [pack({ t: 'ret', re: 5, fd: 3 })], why: /reply to unknown syscall 5/ },
    { what: 'an init with a __proto__ key and no id', frames: [Buffer.concat([Buffer.from([0x82]), pack('t'), pack('init'), pack('__proto__'), pack({ id: 1 })])], why: /init\.id: missing/ },
    { what: 'deep nesting', frames: [Buffer.concat([Buffer.alloc(100_000, 0x91), Buffer.from([1])])], why: /not a msgpack message|a message is a map/ },
    ...[0, 1, 2, 3].map((i) => ({ what: `garbage frames, seed ${i}`, frames: garbageFrames(300 + i, 3), why: /./ })),
  ];
  const results = [];
  for (const b of bursts) {
    const router = new Router({ linger: 0 });
    t.teardown(() => router.close());
    await router.bind('tcp://127.0.0.1:0');
    const agent = vrange(t, ['agent', '--connect', router.lastEndpoint!, '--token', 'a'.repeat(32)]);
    const [id] = await router.receive();
    if (!b.noPing) await router.send([id!, ping]);
    for (const f of b.frames) await router.send([id!, f]);
    const exit = await Promise.race([agent.exit, sleep(10_000).then(() => 'hung' as const)]);
    results.push({ what: b.what, exit, err: agent.err });
    router.close();
    t.not(exit, 'hung', b.what);
    if (exit === 'hung') continue;
    t.is(exit.code, 4, `${b.what}: ${agent.err}`);
    t.regex(agent.err, new RegExp(`vrange agent remote-[0-9a-f]{12}: the kernel at tcp://127\\.0\\.0\\.1:\\d+ broke the protocol \\(.*\\): exiting`), b.what);
    t.regex(agent.err, b.why, b.what);
    t.notRegex(agent.err, /internal error|TypeError|RangeError|\n\s+at /, b.what);
  }
  t.is(results.length, bursts.length);
});

test('an agent sent a replayed kernel message (a second init, a grant or go again, a commit after its last batch, a ping again) exits with one line, 4 for vrange agent and 70 for a local agent; after a die it reads nothing more', async (t) => {
  const { Router } = createRequire(import.meta.url)('zeromq') as typeof Zmq;
  const config = { policy: 'shared-file', access: 'sigbus', purgeUnit: 'range', frames: 8, seed: 1, schedule: 'free' };
  const init = { t: 'init', id: 1, pid: 2, name: 'A', steps: [{ op: 'signal', name: 's' }, { op: 'signal', name: 's' }], sigbus: 'kill', config };
  const lock = { ...init, config: { ...config, schedule: 'lockstep' } };
  const [grant0, go, prepare, commit] = [{ t: 'grant', index: 0, now: 1 }, { t: 'go', startIndex: 0, stops: [] }, { t: 'prepare', xid: 1, runs: [1, 1] }, { t: 'commit', xid: 1, runs: [], last: true }];
  // Every burst follows the kernel's first ping, as a kernel's messages do.
  const bursts: Array<{ what: string; msgs: Msg[]; code?: number; why?: RegExp }> = [
    { what: 'a second init', msgs: [init, init], why: /a second init \(init 1\): an agent runs one process, given once/ },
    { what: 'a ping again', msgs: [{ t: 'ping', seq: 1, timeoutMs: 5000 }], why: /ping 1 after ping 1 \(pings are numbered upward: a replay\)/ },
    { what: 'a grant replayed while its step is under way', msgs: [lock, grant0, grant0], why: /a grant of step 0 while step 0 is under way/ },
    { what: 'a grant out of order', msgs: [lock, { ...grant0, index: 1 }], why: /a grant of step 1, but the next step is 0/ },
    { what: 'a second go', msgs: [init, go, go], why: /a second go/ },
    { what: 'a continue with no at', msgs: [init, go, { t: 'continue' }], why: /a continue with no step stopped at/ },
    { what: 'a commit replayed after its last batch', msgs: [init, prepare, commit, commit], why: /commit 1 after that exchange's last commit batch \(a replay\)/ },
    { what: 'a prepare replayed after its commit', msgs: [init, prepare, commit, prepare], why: /prepare 1 after that exchange's commit \(a replay\)/ },
    { what: 'a commit of an exchange that asked nothing', msgs: [init, commit], why: /commit 1 of an exchange that sent this agent no prepare/ },
    { what: 'a release of no blocked step', msgs: [lock, grant0, { t: 'release', index: 0 }], why: /release of step 0, which is not blocked/ },
    { what: 'a refused after the init', msgs: [init, { t: 'refused', why: 'x' }], why: /refused, after the init of its process/ },
    { what: 'a die, then more', msgs: [init, { t: 'die', code: 0 }, grant0, init], code: 0 },
  ];
  // The same bursts to a local agent (dist/agents/agent.js, as the kernel starts one): judged alike, a break being exit 70 (a bug in vrange's kernel).
  const local = (t2: typeof t, endpoint: string) => {
    const child = spawn(process.execPath, [join(root, 'dist', 'agents', 'agent.js'), endpoint, 'agent-1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const c = { err: '', exit: ended(child) };
    child.stderr!.on('data', (d: Buffer) => { c.err += d.toString(); });
    t2.teardown(() => { child.kill('SIGKILL'); });
    return c;
  };
  for (const where of ['remote', 'local'] as const) {
    for (const b of [...bursts, ...(where === 'local' ? [{ what: 'a refused', msgs: [{ t: 'refused', why: 'x' }], why: /refused, but a local agent is never refused/ }] : [])]) {
      const router = new Router({ linger: 0 });
      t.teardown(() => router.close());
      await router.bind('tcp://127.0.0.1:0');
      const agent = where === 'remote' ? vrange(t, ['agent', '--connect', router.lastEndpoint!, '--token', 'a'.repeat(32)]) : local(t, router.lastEndpoint!);
      const [id] = await router.receive();
      for (const m of [{ t: 'ping', seq: 1, timeoutMs: 5000 }, ...b.msgs]) await router.send([id!, pack(m)]);
      const exit = await Promise.race([agent.exit, sleep(10_000).then(() => 'hung' as const)]);
      router.close();
      const what = `${where}: ${b.what}`;
      t.not(exit, 'hung', what);
      if (exit === 'hung') continue;
      t.is(exit.code, b.code ?? (where === 'remote' ? 4 : 70), `${what}: ${agent.err}`);
      const lines = agent.err.trim().split('\n').filter((l) => l !== '' && !/: connecting to /.test(l));
      if (!b.why) { t.deepEqual(lines, [], what); continue; }
      t.is(lines.length, 1, what);
      t.regex(lines[0] ?? '', where === 'remote' ? /^vrange agent remote-[0-9a-f]{12}: the kernel at tcp:\/\/127\.0\.0\.1:\d+ broke the protocol \(.*\): exiting$/
        : /^vrange agent (A|\(pool\)) pid \d+: the kernel broke the protocol \(.*\)$/, what);
      t.regex(lines[0] ?? '', b.why, what);
    }
  }
});


test('every reply to a reclaim exchange that has closed is judged: a replayed committed, a prepared or blocked from a process it never asked are bad messages; the late answers a silent participant still owed are not', async (t) => {
  // R answers honestly, then replays its committed; P and B were never asked; L stays silent
  // until the exchange has closed without it, then answers late (owed: not an offence).
  const file = tempFile('forge-closed.yaml', `
name: forge-closed
memory: { frames: 8 }
processes:
  A:
    steps:
      - { op: waitpid, process: R, expect: { signal: SIGKILL } }
      - { op: waitpid, process: P, expect: { signal: SIGKILL } }
      - { op: waitpid, process: B, expect: { signal: SIGKILL } }
      - { op: waitpid, process: L, expect: { ok: true, exitCode: 0 } }
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "still here" }
      - { op: read, map: buf, page: 0, expect: { value: "still here" } }
  R:
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "x" }
      - { op: signal, name: s1 }
      - { op: wait, name: s2 }
  L:
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "x" }
      - { op: signal, name: s3 }
      - { op: wait, name: s2 }
  P:
    steps:
      - { op: wait, name: s2 }
  B:
    steps:
      - { op: wait, name: s2 }
kernel:
  - { op: wait, name: s1 }
  - { op: wait, name: s3 }
  - { op: reclaim, all: true }
  - { op: signal, name: s2 }
`);
  const { k, a, endpoint, token, trace } = await kernelWithA(t, file, 'free');
  const peers = new Map<string, Awaited<ReturnType<typeof takeProcess>>>();
  for (const p of await Promise.all([0, 1, 2, 3].map((i) => takeProcess(t, endpoint, token, `remote-closed-${i}`)))) peers.set(p.name, p);
  const [r, l, p, b] = ['R', 'L', 'P', 'B'].map((n) => peers.get(n)!);
  await p!.send({ t: 'wait', id: 1, name: 's2' });
  await b!.send({ t: 'wait', id: 1, name: 's2' });
  await mapAndWait(r!, 's1');
  await mapAndWait(l!, 's3');
  // R answers the exchange as an agent would; L says nothing.
  const prepare = await r!.next((m) => m.t === 'prepare', "R's prepare");
  await r!.send({ t: 'prepared', xid: prepare.xid, runs: [] });
  await r!.next((m) => m.t === 'commit' && m.last === true, "R's commit");
  await r!.send({ t: 'committed', xid: prepare.xid, violations: [] });
  // s2 is signalled after the exchange has closed: each wait's ret says it has.
  await Promise.all([r, l, p, b].map((x) => x!.next((m) => m.t === 'ret' && m.re === (x === r || x === l ? 4 : 1), 'the wait', 30_000)));
  await r!.send({ t: 'committed', xid: prepare.xid, violations: ['page 1 purged but not held by exchange 1'] });
  await p!.send({ t: 'prepared', xid: prepare.xid, runs: [1, 1, 1, 0] });
  await b!.send({ t: 'blocked', index: 0, xid: prepare.xid });
  // L's late answers, in the order an agent sends them, then its last step.
  await l!.send({ t: 'prepared', xid: prepare.xid, runs: [] });
  await l!.send({ t: 'committed', xid: prepare.xid, violations: [] });
  await l!.send({ t: 'done', index: 3, result: { ok: true } });
  const dies = await Promise.all([r, p, b, l].map(async (x) => (await x!.next((m) => m.t === 'die', `${x!.name}'s die`, 8000))));
  t.deepEqual(dies.map((d) => d.signal ?? `code ${d.code}`), ['SIGKILL', 'SIGKILL', 'SIGKILL', 'code 0']);
  const [kexit, aexit] = await Promise.all([k.exit, a.exit]);
  t.is(kexit.code, 0, k.out + k.err);
  t.is(aexit.code, 0);
  t.regex(k.out, /verdict: PASS/);
  t.regex(k.err, /R \(pid \d\) broke the protocol \(it sent committed for reclaim exchange 1, which has closed and owed it no more answers\): SIGKILL/);
  t.regex(k.err, /P \(pid \d\) broke the protocol \(it sent prepared for reclaim exchange 1, which has closed and owed it no more answers\): SIGKILL/);
  t.regex(k.err, /B \(pid \d\) broke the protocol \(it reported a step blocked on reclaim exchange 1, which has closed, holding none of its pages\): SIGKILL/);
  t.notRegex(k.err, /L \(pid \d\) broke the protocol/);
  const h = historyOf(trace);
  t.truthy(h.find((e) => e.kind === 'no-answer' && e.process === 'L'), 'L was judged silent');
  t.deepEqual(h.filter((e) => e.kind === 'violation'), []);
  noStrayAgents(t, endpoint);
});

test('lockstep: a blocked naming an exchange that has closed is a bad message, not a step that waits forever for a release', async (t) => {
  const file = tempFile('forge-blocked-closed.yaml', `
name: forge-blocked-closed
memory: { frames: 8 }
processes:
${survivorA}  F:
    steps:
      - { op: wait, name: s2 }
kernel:
  - { op: reclaim, all: true }
  - { op: signal, name: s2 }
`);
  const { k, a, endpoint, token, trace } = await kernelWithA(t, file, 'lockstep');
  const f = await takeProcess(t, endpoint, token, 'remote-forger-blocked-closed');
  await f.send({ t: 'wait', id: 1, name: 's2' });
  // The ret comes once s2 is signalled: after the reclaim step's exchange 1 has closed.
  await f.next((m) => m.t === 'ret' && m.re === 1, 'the wait', 30_000);
  await f.send({ t: 'blocked', index: 0, xid: 1 });
  t.is((await f.next((m) => m.t === 'die', 'the die', 8000)).signal, 'SIGKILL');
  const [kexit, aexit] = await Promise.all([k.exit, a.exit]);
  t.is(kexit.code, 0, k.out + k.err);
  t.is(aexit.code, 0);
  t.regex(k.out, /verdict: PASS/);
  t.regex(k.err, /F \(pid 3\) broke the protocol \(it reported a step blocked on reclaim exchange 1, which has closed \(in lockstep a step blocks only between an exchange's prepare and its commit\)\): SIGKILL/);
  t.false(historyOf(trace).some((e) => e.kind === 'violation' || e.kind === 'stuck'));
  noStrayAgents(t, endpoint);
});

test('a remote agent asked by a forged kernel for pages another exchange holds, or for a batch out of order, exits 4 (not 70, a bug of its own)', async (t) => {
  const { Router } = createRequire(import.meta.url)('zeromq') as typeof Zmq;
  const steps = [{ op: 'mmap', as: 'm', pages: 2 }, { op: 'vrange', map: 'm', page: 0, pages: 2, mode: 'volatile' }, { op: 'wait', name: 'never' }];
  const init = { t: 'init', id: 1, pid: 2, name: 'A', steps, sigbus: 'kill',
    config: { policy: 'shared-file', access: 'sigbus', purgeUnit: 'range', frames: 8, seed: 1, schedule: 'free' } };
  const cases = [
    { what: 'two exchanges ask for one held page', prepares: [{ xid: 1, runs: [1, 2] }, { xid: 2, runs: [2, 1] }], why: /prepare 2 asks for page 2, which exchange 1 holds/ },
    { what: 'a later batch below the first', prepares: [{ xid: 1, runs: [2, 1] }, { xid: 1, runs: [1, 1] }], why: /prepare 1: a batch asks for page 1, below the pages its batches before held/ },
  ];
  for (const c of cases) {
    const router = new Router({ linger: 0 });
    t.teardown(() => router.close());
    await router.bind('tcp://127.0.0.1:0');
    const agent = vrange(t, ['agent', '--connect', router.lastEndpoint!, '--token', 'a'.repeat(32)]);
    // A frame is one message or a batch of them (docs/protocol.md).
    const queue: Msg[] = [];
    let id: Buffer | undefined;
    const recv = async (): Promise<Msg> => {
      while (queue.length === 0) {
        const [from, f] = await router.receive();
        id = from!;
        const v = packr.unpack(f!) as Msg | Msg[];
        queue.push(...(Array.isArray(v) ? v : [v]));
      }
      return queue.shift()!;
    };
    await recv(); // its hello
    const send = (m: unknown) => router.send([id!, pack(m)]);
    await send({ t: 'ping', seq: 1, timeoutMs: 5000 });
    await send(init);
    // The agent runs its steps as with a real kernel: ready, then the mmap (a syscall), then the vrange (its own) and the wait.
    const until2 = async (pred: (m: Msg) => boolean) => { for (;;) { const m = await recv(); if (pred(m)) return m; } };
    await until2((m) => m.t === 'ready');
    await send({ t: 'go', startIndex: 0, stops: [] });
    const mmap = await until2((m) => m.t === 'mmap');
    await send({ t: 'ret', re: mmap.id, fileId: -1 });
    await until2((m) => m.t === 'wait');
    for (const p of c.prepares) await send({ t: 'prepare', ...p });
    const exit = await Promise.race([agent.exit, sleep(10_000).then(() => 'hung' as const)]);
    router.close();
    t.not(exit, 'hung', c.what);
    if (exit === 'hung') continue;
    t.is(exit.code, 4, `${c.what}: ${agent.err}`);
    t.regex(agent.err, c.why, c.what);
    t.notRegex(agent.err, /invariant|internal error|\n\s+at /, c.what);
  }
});

test('a remote peer\'s host name, result and bad message holding control and bidi characters reach the narration, stderr and the --html page escaped', async (t) => {
  const bad = '\u202e\u2066\u200f\u001b[2J\u009b\u0007';
  const acting = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
  const file = tempFile('forge-text.yaml', `
name: forge-text
memory: { frames: 8 }
processes:
  A:
    steps:
      - { op: waitpid, process: F, expect: { ok: true, exitCode: 0 } }
      - { op: waitpid, process: G, expect: { signal: SIGKILL } }
  F:
    steps:
      - { op: exit }
  G:
    steps:
      - { op: waitpid, process: F }
`);
  const html = join(mkdtempSync(join(tmpdir(), 'vrange-test-')), 'page.html');
  const { k, a, endpoint, token, trace } = await kernelWithA(t, file, 'free', ['--html', html]);
  const [f, g] = (await Promise.all([takeProcess(t, endpoint, token, 'remote-text-f', `host${bad}`), takeProcess(t, endpoint, token, 'remote-text-g', `host${bad}`)]))
    .sort((x, y) => x.name.localeCompare(y.name));
  // F: a failed exit (a step the agent does alone: its result is its word) whose errno is a string of the peer's choosing.
  await f!.send({ t: 'done', index: 0, result: { ok: false, errno: `E${bad}` } });
  // G: a bad message whose reason quotes the peer's string (a waitpid of a process its step does not name).
  await g!.send({ t: 'waitpid', id: 1, process: `P${bad}` });
  t.is((await g!.next((m) => m.t === 'die', "G's die")).signal, 'SIGKILL');
  const [kexit, aexit] = await Promise.all([k.exit, a.exit]);
  t.is(kexit.code, 0, k.out + k.err);
  t.is(aexit.code, 0);
  for (const [what, text] of [['stdout', k.out], ['stderr', k.err], ['the --html page', readFileSync(html, 'utf8')]] as const) {
    const m = acting.exec(text);
    t.is(m ? JSON.stringify(text.slice(Math.max(0, m.index - 80), m.index + 20)) : '', '', what);
  }
  t.regex(k.out, /F +#0 exit.* -> error E\\u\{202e\}\\u\{2066\}\\u\{200f\}\\u\{1b\}\[2J\\u\{9b\}\\u\{7\}/);
  t.regex(k.err, /G \(pid \d\) broke the protocol \(it sent waitpid in step 0 \(waitpid\) with process "P\\u\{202e\}\\u\{2066\}\\u\{200f\}\\x1b\[2J\\x9b\\x07" where the step makes "F"\): SIGKILL/);
  t.true(readFileSync(html, 'utf8').includes('E\\u{202e}\\u{2066}'), 'the errno on the page, escaped');
  t.true(historyOf(trace).some((e) => e.kind === 'agent-connected' && String(e.host).startsWith('host\\u{202e}')));
  noStrayAgents(t, endpoint);
});

test('a result of the right shape that contradicts the kernel\'s own answer to the step\'s syscall (a read\'s value, a done before the syscall\'s answer) is a bad message', async (t) => {
  const file = tempFile('forge-lie.yaml', `
name: forge-lie
memory: { frames: 8 }
processes:
  A:
    steps:
      - { op: waitpid, process: F, expect: { signal: SIGKILL } }
      - { op: waitpid, process: G, expect: { signal: SIGKILL } }
  F:
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "x" }
      - { op: read, map: buf, page: 0 }
  G:
    steps:
      - { op: wait, name: late }
kernel:
  - { op: waitpid, process: G }
  - { op: signal, name: late }
`);
  const { k, a, endpoint, token, trace } = await kernelWithA(t, file, 'free');
  const [f, g] = (await Promise.all([takeProcess(t, endpoint, token, 'remote-lie-f'), takeProcess(t, endpoint, token, 'remote-lie-g')]))
    .sort((x, y) => x.name.localeCompare(y.name));
  // G first, and its die awaited: were F cut off first, every live process would be parked (A on
  // G, G on "late", the kernel on G) and the run would end as stuck before G's done came.
  // G: its wait is unanswered (the kernel signals late only once G is gone), yet it reports the step done.
  await g!.send({ t: 'wait', id: 1, name: 'late' });
  await g!.send({ t: 'done', index: 0, result: { ok: true } });
  t.is((await g!.next((m) => m.t === 'die', "G's die", 8000)).signal, 'SIGKILL');
  await f!.send({ t: 'mmap', id: 1, addr: 1, pages: 1, fd: -1, offset: 0, share: 'private' });
  await f!.next((m) => m.t === 'ret' && m.re === 1, 'the mmap');
  await f!.send({ t: 'done', index: 0, result: { ok: true, addr: 4096 }, detail: { span: [1, 2] } });
  await f!.send({ t: 'write', id: 2, vpage: 1, frame: -1, cow: false, anon: true, value: 'x' });
  const w = await f!.next((m) => m.t === 'ret' && m.re === 2, 'the write');
  await f!.send({ t: 'done', index: 1, result: { ok: true } });
  await f!.send({ t: 'read', id: 3, vpage: 1, frame: w.frame });
  t.is((await f!.next((m) => m.t === 'ret' && m.re === 3, 'the read')).value, 'x');
  // The kernel holds the frame: it answered "x"; the result says otherwise.
  await f!.send({ t: 'done', index: 2, result: { ok: true, value: 'forged' } });
  t.is((await f!.next((m) => m.t === 'die', "F's die", 8000)).signal, 'SIGKILL');
  const [kexit, aexit] = await Promise.all([k.exit, a.exit]);
  t.is(kexit.code, 0, k.out + k.err);
  t.is(aexit.code, 0);
  t.regex(k.out, /verdict: PASS/);
  t.regex(k.err, /F \(pid \d\) broke the protocol \(it reported step 2 \(read\) with value "forged", but the kernel answered its read with "x"\): SIGKILL/);
  t.regex(k.err, /G \(pid \d\) broke the protocol \(it reported step 0 done while a syscall of it was unanswered\): SIGKILL/);
  const h = historyOf(trace);
  t.false(h.some((e) => e.kind === 'complete' && e.process === 'F' && e.index === 2 && e.type === 'ok'), 'the lie is not in the history');
  noStrayAgents(t, endpoint);
});

test('lockstep: a blocked on a direct reclaim\'s exchange (during the caller\'s own fault) is a bad message, not a kernel invariant that stops the run', async (t) => {
  const file = tempFile('forge-blocked-direct.yaml', `
name: forge-blocked-direct
memory: { frames: 1 }
processes:
${survivorA}  F:
    steps:
      - { op: mmap, as: buf, pages: 2 }
      - { op: write, map: buf, page: 0, value: "x" }
      - { op: write, map: buf, page: 1, value: "y" }
`);
  const { k, a, endpoint, token, trace } = await kernelWithA(t, file, 'lockstep');
  const f = await takeProcess(t, endpoint, token, 'remote-forger-direct'); // its first grant has come
  await f.send({ t: 'mmap', id: 1, addr: 1, pages: 2, fd: -1, offset: 0, share: 'private' });
  await f.next((m) => m.t === 'ret' && m.re === 1, 'the mmap');
  await f.send({ t: 'done', index: 0, result: { ok: true, addr: 4096 }, detail: { span: [1, 3] } });
  await f.next((m) => m.t === 'grant' && m.index === 1, 'grant 1');
  await f.send({ t: 'write', id: 2, vpage: 1, frame: -1, cow: false, anon: true, value: 'x' });
  await f.next((m) => m.t === 'ret' && m.re === 2, 'the first write');
  await f.send({ t: 'done', index: 1, result: { ok: true } });
  await f.next((m) => m.t === 'grant' && m.index === 2, 'grant 2');
  // The one frame is F's: this write's fault reclaims directly, and asks F about its own page.
  await f.send({ t: 'write', id: 3, vpage: 2, frame: -1, cow: false, anon: true, value: 'y' });
  const prepare = await f.next((m) => m.t === 'prepare', 'the direct reclaim\'s prepare');
  await f.send({ t: 'prepared', xid: prepare.xid, runs: [] });
  await f.send({ t: 'blocked', index: 2, xid: prepare.xid });
  t.is((await f.next((m) => m.t === 'die', 'the die', 8000)).signal, 'SIGKILL');
  const [kexit, aexit] = await Promise.all([k.exit, a.exit]);
  t.is(kexit.code, 0, k.out + k.err);
  t.is(aexit.code, 0);
  t.regex(k.out, /verdict: PASS/);
  t.regex(k.err, /F \(pid 3\) broke the protocol \(it reported a step blocked on reclaim exchange 1, a direct reclaim \(in lockstep only the faulting step runs during one, waiting in its syscall\)\): SIGKILL/);
  t.notRegex(k.err, /kernel invariant|internal error/);
  t.false(historyOf(trace).some((e) => e.kind === 'violation' || e.kind === 'stuck'));
  noStrayAgents(t, endpoint);
});

test('a replayed message (one its sender really sent, sent again later, unchanged) is a bad message: a syscall, a done, a start, a hello, a ready, a pong, and another peer\'s messages replayed by an idle one; the kernel neither crashes nor hangs, the other process and the verdict are untouched', async (t) => {
  type Peer = Awaited<ReturnType<typeof takeProcess>>;
  const hello = (p: Peer) => ({ t: 'hello', osPid: 1, host: 'forger', token: p.token });
  const sig = (id: number) => ({ t: 'signal', id, name: 's' });
  const done = (index: number) => ({ t: 'done', index, result: { ok: true } });
  const step = async (p: Peer, id: number, index: number) => { await p.send(sig(id)); await p.next((m) => m.t === 'ret' && m.re === id, 'the ret'); await p.send(done(index)); };
  // Each plan replays what its forger sent before; `why` is the kernel's reason.
  const plans: Array<{ what: string; run: (p: Peer) => Promise<void>; why: RegExp }> = [
    { what: 'a syscall replayed in its own step (after its ret)', run: async (p) => { await p.send(sig(1)); await p.next((m) => m.t === 'ret', 'the ret'); await p.send(sig(1)); },
      why: /^it sent signal with id 1, not above the id of its last syscall \(1\): a syscall is sent once \(a replay\)$/ },
    { what: 'a syscall replayed in the next step', run: async (p) => { await step(p, 1, 0); await p.send(sig(1)); }, why: /^it sent signal with id 1, not above the id of its last syscall \(1\)/ },
    { what: 'a done replayed', run: async (p) => { await step(p, 1, 0); await p.send(done(0)); }, why: /^it reported step 0 done, but step 1 was next$/ },
    { what: 'a start replayed after its step', run: async (p) => { await p.send({ t: 'start', index: 0 }); await step(p, 1, 0); await p.send({ t: 'start', index: 0 }); }, why: /^it sent start of step 0 with step 1 next$/ },
    { what: 'its hello replayed', run: async (p) => { await step(p, 1, 0); await p.send(hello(p)); }, why: /^a second hello/ },
    { what: 'its ready replayed', run: async (p) => { await step(p, 1, 0); await p.send({ t: 'ready', re: p.initId }); }, why: /^its ready answers init \d+, which the kernel did not send or has had answered$/ },
    { what: 'a pong replayed', run: async (p) => {
      await until(() => (p.pongs.length >= 2 ? true : undefined), 'two pongs');
      await p.send(p.pongs[0]);
    }, why: /^its pong answers ping \d+, but the last ping sent to it was \d+ and it had answered \d+$/ },
  ];
  const forgers = plans.map((_, i) => `F${i}`);
  const file = tempFile('forge-replay.yaml', [
    'name: forge-replay', 'memory: { frames: 8 }', 'processes:', '  A:', '    steps:',
    ...forgers.map((f) => `      - { op: waitpid, process: ${f}, expect: { signal: SIGKILL } }`),
    '      - { op: mmap, as: buf, pages: 1 }', '      - { op: write, map: buf, page: 0, value: "still here" }',
    '      - { op: read, map: buf, page: 0, expect: { value: "still here" } }',
    ...forgers.flatMap((f) => [`  ${f}:`, '    steps:', '      - { op: signal, name: s }', '      - { op: signal, name: s }', '      - { op: signal, name: s }']),
  ].join('\n') + '\n');
  const { k, a, endpoint, token, trace } = await kernelWithA(t, file, 'free');
  const taken = await Promise.all(forgers.map((_, i) => takeProcess(t, endpoint, token, `remote-replay-${i}`)));
  // A peer with no process replays one forger's messages, its hello first (which lets it in: the
  // token is the run's, not an agent's), then a syscall, a done and a ready of that forger.
  const idle = peer(t, endpoint, 'remote-replayer');
  await idle.send(hello(taken[0]!));
  await until(() => (/remote agent remote-replayer connected/.test(k.out) ? true : undefined), 'the replayer to be taken in');
  await idle.send(sig(1));
  await idle.send(done(0));
  t.is((await idle.next((m) => m.t === 'die', "the replayer's die")).signal, 'SIGKILL');
  const dies = await Promise.all(taken.map(async (p) => {
    await plans[Number(p.name.slice(1))]!.run(p);
    return (await p.next((m) => m.t === 'die', `${p.name}'s die`)).signal;
  }));
  await forgersCutOff(t, k, a, dies, forgers.length);
  t.regex(k.err, /vrange kernel: remote agent remote-replayer \(no process yet\) broke the protocol \(it sent signal with no process yet \(an idle agent sends nothing but pong until its init\)\): disconnected/);
  const h = historyOf(trace);
  for (const [i, plan] of plans.entries()) {
    const bad = h.filter((e) => e.kind === 'bad-message' && e.process === `F${i}`);
    t.is(bad.length, 1, plan.what);
    t.regex(bad[0]?.why as string, plan.why, plan.what);
    t.is(h.find((e) => e.kind === 'cleanup' && e.process === `F${i}`)?.signal, 'SIGKILL', plan.what);
  }
  t.deepEqual(h.filter((e) => e.kind === 'bad-message' && e.agent === 'remote-replayer').map((e) => [e.where, e.t]), [['remote', 'signal']]);
  // Each replayed syscall had no effect: one signal of each forger's step 0 reached the history.
  t.deepEqual(h.filter((e) => e.kind === 'violation'), []);
  noStrayAgents(t, endpoint);
});

