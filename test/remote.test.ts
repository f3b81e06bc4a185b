// Agents on other machines, tested on this one: the kernel (`vrange kernel --listen`) and each agent
// (`vrange agent --connect`) are separate commands, real OS processes talking over
// tcp://127.0.0.1 on a free port the kernel picks (port 0) and prints.

import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ended, root, scenarioPath, tempFile } from './helpers.js';
import { AgentSocket } from '../shared/transport.js';
import type { KernelMsg, SysRet } from '../shared/messages.js';
import { createServer, type AddressInfo } from 'node:net';
import fc from 'fast-check';
import { parseAgentMsg } from '../shared/message_schemas.js';
import { forgedMessage, messageTypes } from './message_arbitraries.js';

const bin = join(root, 'bin', 'vrange.js');

interface Cmd {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout match of `re`. */
  waitFor: (re: RegExp) => Promise<RegExpMatchArray>;
}

/** Starts `vrange ARGS` as its own process; the test's teardown ends it if it is still running. */
function vrange(t: ExecutionContext, args: string[]): Cmd {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const watchers: Array<() => void> = [];
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); for (const w of watchers) w(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exit = ended(child);
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const waitFor = (re: RegExp) => new Promise<RegExpMatchArray>((resolve, reject) => {
    const check = () => { const m = re.exec(out); if (m) resolve(m); };
    watchers.push(check);
    void exit.then(() => { check(); reject(new Error(`vrange ${args[0]} exited before printing ${re}:\n${out}\n${err}`)); });
    check();
  });
  return { child, out: () => out, err: () => err, exit, waitFor };
}

/** A kernel on a free loopback port; resolves once it listens, with the endpoint (and without keys the token) it printed. */
async function kernel(t: ExecutionContext, args: string[]): Promise<Cmd & { endpoint: string; token: string; agentArgs: string[] }> {
  // A generous heartbeat timeout unless the test sets one: this machine may be busy, and a starved
  // agent must not be taken for dead in a test about something else.
  const beat = args.includes('--heartbeat-timeout-ms') ? [] : ['--heartbeat-timeout-ms', '5000'];
  const k = vrange(t, ['kernel', '--listen', 'tcp://127.0.0.1:0', ...beat, ...args]);
  const m = await k.waitFor(/listening on (tcp:\/\/127\.0\.0\.1:\d+)/);
  const token = args.includes('--key') ? '' : (await k.waitFor(/kernel: token ([0-9a-f]{32})/))[1]!;
  return { ...k, endpoint: m[1]!, token, agentArgs: ['agent', '--connect', m[1]!, ...(token ? ['--token', token] : [])] };
}

/** Key pairs made with `vrange keygen`: the kernel's, a trusted agent's (its .pub in trusted/), a stranger's. */
function makeKeys(): { dir: string; kernelKey: string; kernelPub: string; agentKey: string; strangerKey: string; strangerPub: string; trusted: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-keys-'));
  const gen = (out: string, name: string) => {
    const r = spawnSync(process.execPath, [bin, 'keygen', '--out', out, '--name', name], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`keygen failed: ${r.stderr}`);
  };
  gen(dir, 'kernel');
  gen(join(dir, 'agent1'), 'agent1');
  gen(join(dir, 'stranger'), 'stranger');
  // The kernel trusts a directory holding the agent's public key only.
  mkdirSync(join(dir, 'trusted'));
  copyFileSync(join(dir, 'agent1', 'agent1.pub'), join(dir, 'trusted', 'agent1.pub'));
  return {
    dir, kernelKey: join(dir, 'kernel.key'), kernelPub: join(dir, 'kernel.pub'), agentKey: join(dir, 'agent1', 'agent1.key'),
    strangerKey: join(dir, 'stranger', 'stranger.key'), strangerPub: join(dir, 'stranger', 'stranger.pub'), trusted: join(dir, 'trusted'),
  };
}

const historyOf = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

test('a scenario completes on remote agents that authenticate with CURVE keys', async (t) => {
  const keys = makeKeys();
  const trace = join(keys.dir, 'trace.jsonl');
  const k = await kernel(t, ['--scenario', scenarioPath('fork-cow-purge'), '--seed', '1', '--key', keys.kernelKey, '--trust', keys.trusted, '--trace', trace]);
  t.regex(k.out(), /every process runs on a remote agent/);
  const agents = [1, 2].map(() => vrange(t, ['agent', '--connect', k.endpoint, '--key', keys.agentKey, '--server-key', keys.kernelPub]));
  const [kexit, ...aexits] = await Promise.all([k.exit, ...agents.map((a) => a.exit)]);
  t.is(kexit.code, 0, k.out() + k.err());
  t.regex(k.out(), /verdict: PASS/);
  t.regex(k.out(), /A starts as pid 2 \(OS pid \d+ on .+, remote agent remote-[0-9a-f]+\)/);
  // A exits 0; B was killed by SIGBUS, which the kernel asked its remote agent to raise on itself.
  t.deepEqual(aexits.map((e) => e.code ?? e.signal).sort(), [0, 'SIGBUS']);
  const h = historyOf(trace);
  t.is(h.filter((e) => e.kind === 'agent-connected').length, 2);
  t.true(h.filter((e) => e.kind === 'birth').every((e) => typeof e.host === 'string'));
});

test('a remote agent killed with SIGKILL is found dead by the heartbeat and cleaned up, no frame leaks', async (t) => {
  // A fills 4 pages, then forks B; no second agent has connected, so A's fork waits in the kernel:
  // A is certainly alive and holding its pages when the test kills its agent.
  const file = tempFile('remote-death.yaml', `
name: remote-death
memory: { frames: 16 }
processes:
  A:
    steps:
      - { op: mmap, as: buf, pages: 4 }
      - { op: write, map: buf, page: 0, value: "a0" }
      - { op: write, map: buf, page: 1, value: "a1" }
      - { op: write, map: buf, page: 2, value: "a2" }
      - { op: write, map: buf, page: 3, value: "a3" }
      - { op: fork, child: B }
  B:
    forked: true
    steps:
      - { op: read, map: buf, page: 0 }
`);
  const trace = join(mkdtempSync(join(tmpdir(), 'vrange-test-')), 'trace.jsonl');
  const k = await kernel(t, ['--scenario', file, '--seed', '1', '--trace', trace, '--heartbeat-ms', '100', '--heartbeat-timeout-ms', '400']);
  const a = vrange(t, k.agentArgs);
  await k.waitFor(/A +#4 write/);
  a.child.kill('SIGKILL');
  t.is((await a.exit).signal, 'SIGKILL');
  await k.waitFor(/remote agent \S+ on .+ \(A, pid 2\) silent for \d+ ms/);
  // If A's fork reached the kernel before it died, B waits for an agent: give it one.
  const spare = vrange(t, k.agentArgs);
  const kexit = await k.exit;
  // The spare may have arrived after the run: it would wait for a kernel that is gone.
  if (spare.child.exitCode === null && spare.child.signalCode === null) spare.child.kill('SIGTERM');
  await spare.exit;
  const h = historyOf(trace);
  const lost = h.find((e) => e.kind === 'heartbeat-lost');
  const cleanup = h.find((e) => e.kind === 'cleanup' && e.process === 'A');
  t.truthy(lost, k.out());
  t.is(lost!.process, 'A');
  t.truthy(cleanup);
  t.true((cleanup!.seq as number) > (lost!.seq as number));
  t.is(cleanup!.signal, 'SIGKILL');
  t.is(cleanup!.pagesUnmapped, 4);
  const verdict = h.at(-1)!;
  const invariants = verdict.invariants as Array<{ name: string; ok: boolean }>;
  t.true(invariants.find((i) => i.name === 'no-frame-leak')!.ok);
  t.true(invariants.find((i) => i.name === 'frames-conserved')!.ok);
  t.regex(k.out(), /frames: 0 of 16 in use/);
  t.regex(k.out(), /A killed by SIGKILL; cleanup/);
  t.is(kexit.code, 0, k.out() + k.err());
});

test('an agent whose key the kernel does not trust is refused, and the refusal is logged', async (t) => {
  const keys = makeKeys();
  const file = tempFile('one.yaml', `
name: one
memory: { frames: 4 }
processes:
  A:
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "x" }
      - { op: read, map: buf, page: 0, expect: { value: "x" } }
`);
  const trace = join(keys.dir, 'trace.jsonl');
  const k = await kernel(t, ['--scenario', file, '--seed', '1', '--key', keys.kernelKey, '--trust', keys.trusted, '--trace', trace]);
  const stranger = vrange(t, ['agent', '--connect', k.endpoint, '--key', keys.strangerKey, '--server-key', keys.kernelPub]);
  t.is((await stranger.exit).code, 3);
  t.regex(stranger.err(), /refused this agent's key/);
  const strangerPub = readFileSync(keys.strangerPub, 'utf8').trim();
  t.true(k.err().includes(`refused an agent from 127.0.0.1: its public key ${strangerPub} is not trusted`), k.err());
  // The kernel is still waiting for an agent it trusts; one finishes the run.
  const good = vrange(t, ['agent', '--connect', k.endpoint, '--key', keys.agentKey, '--server-key', keys.kernelPub]);
  const [kexit] = await Promise.all([k.exit, good.exit]);
  t.is(kexit.code, 0, k.out() + k.err());
  const refused = historyOf(trace).filter((e) => e.kind === 'agent-refused');
  t.true(refused.length >= 1);
  t.is(refused[0]!.publicKey, strangerPub);
  t.is(historyOf(trace).filter((e) => e.kind === 'birth').length, 1);
});

/** A forged agent: the product's own socket and codec, speaking the protocol by hand. */
function forger(t: ExecutionContext, endpoint: string, token: string, routingId = `remote-forger-${process.pid}`, host = 'forger') {
  const socket = new AgentSocket(endpoint, routingId, (e) => t.fail(String(e)));
  t.teardown(() => socket.close());
  socket.connect();
  socket.send({ t: 'hello', osPid: process.pid, host, token });
  const inbox: KernelMsg[] = [];
  let wake: () => void = () => {};
  void (async () => { for await (const m of socket.receive()) { if (m.t === 'ping') socket.send({ t: 'pong', seq: m.seq }); else inbox.push(m); wake(); } })();
  const next = async (pred: (m: KernelMsg) => boolean): Promise<KernelMsg> => {
    for (;;) {
      const i = inbox.findIndex(pred);
      if (i >= 0) return inbox.splice(i, 1)[0]!;
      await new Promise<void>((r) => (wake = r));
    }
  };
  let id = 100;
  const call = async (msg: Record<string, unknown>): Promise<SysRet> => {
    const my = ++id;
    socket.send({ ...msg, id: my } as never);
    return (await next((m) => m.t === 'ret' && m.re === my)) as SysRet;
  };
  return { send: (m: Record<string, unknown>) => socket.send(m as never), next, call };
}

test('an agent that names a frame its mm does not map gets EFAULT, logged, and reads or writes nothing', async (t) => {
  // A (a real agent) writes a secret; B is the forger below, which names A's frame 0.
  const file = tempFile('forge.yaml', `
name: forge
memory: { frames: 8 }
processes:
  A:
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "secret" }
      - { op: signal, name: written }
      - { op: wait, name: forged }
      - { op: read, map: buf, page: 0, expect: { value: "secret" } }
  B:
    steps:
      - { op: wait, name: written }
      - { op: mmap, as: m, pages: 1 }
      - { op: read, map: m, page: 0 }
      - { op: write, map: m, page: 0, value: "pwned" }
      - { op: fork, child: C }
      - { op: signal, name: forged }
  C:
    forked: true
    steps: []
`);
  const trace = join(mkdtempSync(join(tmpdir(), 'vrange-test-')), 'trace.jsonl');
  const k = await kernel(t, ['--scenario', file, '--seed', '1', '--schedule', 'free', '--trace', trace]);
  const a = vrange(t, k.agentArgs);
  await k.waitFor(/A starts as pid 2/);

  const { send, next, call } = forger(t, k.endpoint, k.token);
  const init = await next((m) => m.t === 'init');
  t.is((init as { name: string }).name, 'B');
  send({ t: 'ready', re: (init as { id: number }).id });
  await next((m) => m.t === 'go');
  // B's steps as its agent would make their calls (each call is one its step makes: coordinator/step_calls.ts), but naming A's frame.
  send({ t: 'start', index: 0 });
  await call({ t: 'wait', name: 'written' });
  send({ t: 'done', index: 0, result: { ok: true } });
  const mm = await call({ t: 'mmap', addr: 1, pages: 1, fd: -1, offset: 0, share: 'private' });
  t.is(mm.errno, undefined);
  send({ t: 'done', index: 1, result: { ok: true, addr: 4096 }, detail: { span: [1, 2] } });
  // A's page is frame 0 (frames are handed out lowest first). B maps page 1, but not that frame.
  t.is((await call({ t: 'read', vpage: 1, frame: 0 })).errno, 'EFAULT');
  send({ t: 'done', index: 2, result: { ok: false, errno: 'EFAULT' } });
  t.is((await call({ t: 'write', vpage: 1, frame: 0, cow: false, anon: true, value: 'pwned' })).errno, 'EFAULT');
  send({ t: 'done', index: 3, result: { ok: false, errno: 'EFAULT' } });
  const fork = await call({ t: 'fork', child: 'C', mm: { vmas: [{ start: 1, pages: 1, kind: 'anon', fileId: -1, offset: 0, frames: [0], flags: [0] }], ranges: { v: 1, limit: 1000, nextId: 1, pieces: [] },
    bindings: { 'map:m': { kind: 'map', addr: 1, pages: 1 } } } });
  t.is(fork.errno, 'EFAULT');
  send({ t: 'done', index: 4, result: { ok: false, errno: 'EFAULT' } });
  t.is((await call({ t: 'signal', name: 'forged' })).errno, undefined);
  send({ t: 'done', index: 5, result: { ok: true } });
  await next((m) => m.t === 'die');

  const [kexit, aexit] = await Promise.all([k.exit, a.exit]);
  t.is(aexit.code, 0);
  t.is(kexit.code, 0, k.out() + k.err()); // A read back "secret": the forged write changed nothing
  t.regex(k.out(), /A +#4 read map="buf" page=0 -> ok value="secret" +\[as expected\]/);
  const efaults = historyOf(trace).filter((e) => e.kind === 'efault');
  t.deepEqual(efaults.map((e) => [e.process, e.call, e.frame]), [['B', 'read', 0], ['B', 'write', 0], ['B', 'fork', 0]]);
  t.is((k.err().match(/vrange kernel: EFAULT: B \(pid 3\)/g) ?? []).length, 3);
  t.regex(k.out(), /process C: unborn/);
});

test('an agent that reports a step it was not running is killed, logged, and the run goes on', async (t) => {
  const file = tempFile('forge-done.yaml', `
name: forge-done
memory: { frames: 8 }
processes:
  A:
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "kept" }
      - { op: waitpid, process: B, expect: { signal: SIGKILL } }
      - { op: read, map: buf, page: 0, expect: { value: "kept" } }
  B:
    steps:
      - { op: mmap, as: m, pages: 1 }
      - { op: write, map: m, page: 0, value: "b" }
`);
  const trace = join(mkdtempSync(join(tmpdir(), 'vrange-test-')), 'trace.jsonl');
  const k = await kernel(t, ['--scenario', file, '--seed', '1', '--schedule', 'free', '--trace', trace]);
  const a = vrange(t, k.agentArgs);
  await k.waitFor(/A starts as pid 2/);
  const { send, next, call } = forger(t, k.endpoint, k.token);
  const init = await next((m) => m.t === 'init');
  send({ t: 'ready', re: (init as { id: number }).id });
  await next((m) => m.t === 'go');
  send({ t: 'start', index: 0 });
  t.is((await call({ t: 'mmap', addr: 1, pages: 1, fd: -1, offset: 0, share: 'private' })).errno, undefined);
  // Step 0 is in flight; B claims step 1 is done (skipping its write) with a made-up result.
  send({ t: 'done', index: 1, result: { ok: true, value: 'forged' } });
  const die = await next((m) => m.t === 'die');
  t.is((die as { signal?: string }).signal, 'SIGKILL');

  const [kexit, aexit] = await Promise.all([k.exit, a.exit]);
  t.is(aexit.code, 0);
  t.is(kexit.code, 0, k.out() + k.err()); // A saw B die by SIGKILL, and its own page is intact
  const h = historyOf(trace);
  t.deepEqual(h.filter((e) => e.kind === 'bad-message').map((e) => [e.process, e.t]), [['B', 'done']]);
  t.regex(k.err(), /vrange kernel: B \(pid 3\) broke the protocol \(it reported step 1 done, but step 0 was in flight\): SIGKILL/);
  // B's step 0 was cut off (its effect unknown); step 1 was never recorded; B's frames were freed.
  const completes = h.filter((e) => e.kind === 'complete' && e.process === 'B');
  t.deepEqual(completes.map((e) => [e.index, e.type]), [[0, 'info']]);
  const cleanup = h.find((e) => e.kind === 'cleanup' && e.process === 'B')!;
  t.is(cleanup.signal, 'SIGKILL');
  t.true((cleanup.seq as number) > (h.find((e) => e.kind === 'bad-message')!.seq as number));
  const invariants = h.at(-1)!.invariants as Array<{ name: string; ok: boolean }>;
  t.true(invariants.find((i) => i.name === 'no-frame-leak')!.ok);
  t.regex(k.out(), /B killed by SIGKILL; cleanup freed 0 frame\(s\)/);
  t.regex(k.out(), /frames: 0 of 8 in use/);
});

test('listening beyond loopback without keys is refused with how to make them', async (t) => {
  const k = vrange(t, ['kernel', '--listen', 'tcp://0.0.0.0:0']);
  t.is((await k.exit).code, 2);
  t.regex(k.err(), /refusing to listen on tcp:\/\/0\.0\.0\.0:0 without keys/);
  t.regex(k.err(), /vrange keygen/);
});

test('forged messages of every type, each in a batch with a legitimate syscall: every forger is killed and logged, every legitimate call answered, the run goes on', async (t) => {
  // One forger per message type (three forged messages of that type, generated from its schema),
  // two more whose messages are well-formed but wrong for the kernel's state, and A, a real agent
  // that waits for every forger's legitimate signal and then for its death.
  // `steps`: the forger's steps other than its one signal; `after`: the legitimate messages of that batch (by default the signal, id 99).
  type Plan = { what: string; forged: Array<Record<string, unknown>>; before?: Array<Record<string, unknown>>; steps?: string[]; after?: Array<Record<string, unknown>> };
  const plans: Plan[] = messageTypes.map((type, i) => ({
    what: type, forged: fc.sample(forgedMessage(type), { numRuns: 3, seed: 1000 + i }),
  }));
  // Its second mmap step's call overlaps the first's VMA (each call is one its step makes: coordinator/step_calls.ts); then that step
  // again, legitimately, and the signal.
  const mmap = (id: number, addr: number, pages: number) => ({ t: 'mmap', id, addr, pages, fd: -1, offset: 0, share: 'private' });
  plans.push({ what: 'mmap over its own VMA', steps: ['{ op: mmap, as: a, pages: 2 }', '{ op: mmap, as: b, pages: 1 }'],
    before: [mmap(1, 1, 2), { t: 'done', index: 0, result: { ok: true, addr: 4096 }, detail: { span: [1, 3] } }],
    forged: [mmap(2, 2, 1)],
    after: [mmap(99, 3, 1), { t: 'done', index: 1, result: { ok: true, addr: 3 * 4096 }, detail: { span: [3, 4] } }] });
  plans.push({ what: 'waitpid of no process (in a signal step)', forged: [{ t: 'waitpid', id: 3, process: 'ghost' }] });
  // The generated ones fail their schema; the last two pass it (only the kernel's state makes them wrong).
  plans.forEach((p, i) => { for (const m of p.forged) t.is(parseAgentMsg(m).ok, i >= messageTypes.length, `${p.what}: ${inspect(m)}`); });
  const n = plans.length;
  const forgers = plans.map((_, i) => `F${i}`);
  const file = tempFile('forgers.yaml', [
    'name: forgers', 'memory: { frames: 8 }', 'processes:', '  A:', '    steps:',
    ...forgers.flatMap((f, i) => [`      - { op: wait, name: s${i} }`, `      - { op: waitpid, process: ${f}, expect: { signal: SIGKILL } }`]),
    '      - { op: mmap, as: buf, pages: 1 }', '      - { op: write, map: buf, page: 0, value: "still here" }',
    '      - { op: read, map: buf, page: 0, expect: { value: "still here" } }',
    ...forgers.flatMap((f, i) => [`  ${f}:`, '    steps:', ...(plans[i]!.steps ?? []).map((st) => `      - ${st}`), `      - { op: signal, name: s${i} }`]),
  ].join('\n') + '\n');
  const trace = join(mkdtempSync(join(tmpdir(), 'vrange-test-')), 'trace.jsonl');
  const k = await kernel(t, ['--scenario', file, '--seed', '1', '--schedule', 'free', '--trace', trace]);
  const a = vrange(t, k.agentArgs);
  await k.waitFor(/A starts as pid 2/);
  const answered = await Promise.all(forgers.map(async (_, j) => {
    const { send, next } = forger(t, k.endpoint, k.token, `remote-forger-${j}`);
    const init = (await next((m) => m.t === 'init')) as { id: number; name: string };
    const i = Number(init.name.slice(1));
    send({ t: 'ready', re: init.id });
    await next((m) => m.t === 'go');
    for (const m of plans[i]!.before ?? []) send(m);
    // One batch (one frame): the forged messages, then the legitimate signal of its one step.
    for (const m of plans[i]!.forged) send(m);
    for (const m of plans[i]!.after ?? []) send(m);
    send({ t: 'signal', id: plans[i]!.after ? 100 : 99, name: `s${i}` });
    const ret = (await next((m) => m.t === 'ret' && m.re === 99)) as SysRet;
    const die = (await next((m) => m.t === 'die')) as { signal?: string };
    return { name: init.name, ret, die };
  }));
  const [kexit, aexit] = await Promise.all([k.exit, a.exit]);
  t.is(aexit.code, 0);
  t.is(kexit.code, 0, k.out() + k.err());
  t.regex(k.out(), /verdict: PASS/);
  t.regex(k.out(), /A +#\d+ read map="buf" page=0 -> ok value="still here"/);
  for (const r of answered) {
    t.is(r.ret.errno, undefined, r.name);
    t.is(r.die.signal, 'SIGKILL', r.name);
  }
  const h = historyOf(trace);
  const bad = h.filter((e) => e.kind === 'bad-message');
  for (let i = 0; i < n; i++) {
    const mine = bad.filter((e) => e.process === `F${i}`);
    t.is(mine.length, plans[i]!.forged.length, `${plans[i]!.what}: ${JSON.stringify(mine)}`);
    t.true(mine.every((e) => e.where === 'remote' && typeof e.why === 'string'));
    const cleanup = h.find((e) => e.kind === 'cleanup' && e.process === `F${i}`)!;
    t.is(cleanup.signal, 'SIGKILL');
  }
  t.regex(bad.find((e) => e.process === `F${n - 2}`)!.why as string, /overlaps its VMA at page 1 of 2 pages/);
  t.regex(bad.find((e) => e.process === `F${n - 1}`)!.why as string, /^it sent waitpid in step 0 \(signal\), which makes signal$/);
  t.is((k.err().match(/vrange kernel: F\d+ \(pid \d+\) broke the protocol/g) ?? []).length, bad.length);
  t.notRegex(k.err(), /kernel invariant|TypeError|\x1b/);
  const invariants = h.at(-1)!.invariants as Array<{ name: string; ok: boolean }>;
  t.true(invariants.every((i) => i.ok), JSON.stringify(invariants));
});

test('a keyless kernel takes only agents with its token: a hello without it, or with another, or from an unprintable id is refused and logged, and takes no process', async (t) => {
  const file = tempFile('token.yaml', `
name: token
memory: { frames: 4 }
processes:
  A:
    steps:
      - { op: signal, name: x }
  B:
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "x" }
      - { op: read, map: buf, page: 0, expect: { value: "x" } }
`);
  const trace = join(mkdtempSync(join(tmpdir(), 'vrange-test-')), 'trace.jsonl');
  const k = await kernel(t, ['--scenario', file, '--seed', '1', '--schedule', 'free', '--trace', trace]);
  t.regex(k.out(), /kernel: token [0-9a-f]{32}: an agent without keys must present it/);
  await k.waitFor(new RegExp(`start \`vrange agent --connect ${k.endpoint.replace(/[.]/g, '\\.')} --token ${k.token}\``));
  const refusedBy = async (routingId: string, token: string | undefined) => {
    const socket = new AgentSocket(k.endpoint, routingId, (e) => t.fail(String(e)));
    t.teardown(() => socket.close());
    socket.connect();
    socket.send({ t: 'hello', osPid: 1, ...(token === undefined ? {} : { token }) });
    for await (const m of socket.receive()) if (m.t === 'refused') return m.why;
    return undefined;
  };
  t.regex((await refusedBy('remote-notoken', undefined))!, /carries no token/);
  t.regex((await refusedBy('remote-wrongtoken', 'f'.repeat(32)))!, /wrong token/);
  // An id with terminal escapes and a newline: refused, and shown escaped.
  const evil = new AgentSocket(k.endpoint, 'remote-\u001b[2J\nkernel: fake', () => {});
  t.teardown(() => evil.close());
  evil.connect();
  evil.send({ t: 'hello', osPid: 1, token: k.token });
  for (let i = 0; !k.err().includes('remote-\\x1b[2J\\nkernel: fake') && i < 100; i++) await new Promise((r) => setTimeout(r, 50));
  t.true(k.err().includes('refused agent remote-\\x1b[2J\\nkernel: fake: its routing id is not 1 to 64 printable ASCII'), k.err());
  // The real CLI without --token is told what to pass, and exits 3.
  const lost = vrange(t, ['agent', '--connect', k.endpoint]);
  t.is((await lost.exit).code, 3);
  t.regex(lost.err(), /refused this agent: its hello carries no token.*--token TOKEN \(or VRANGE_TOKEN=TOKEN\)/);
  // None of them took A: a peer with the token does, whose host name is full of escapes (shown escaped).
  const { send, next, call } = forger(t, k.endpoint, k.token, 'remote-hostile-host', 'evil\u001b]0;pwn\u0007\nkernel: fake');
  const init = (await next((m) => m.t === 'init')) as { id: number; name: string };
  t.is(init.name, 'A');
  send({ t: 'ready', re: init.id });
  // And the real agent with the token takes B (the run starts once every process has its agent).
  const good = vrange(t, k.agentArgs);
  await k.waitFor(/B starts as pid 3 \(OS pid \d+ on .+, remote agent remote-[0-9a-f]{12}\)/);
  await next((m) => m.t === 'go');
  t.is((await call({ t: 'signal', name: 'x' })).errno, undefined);
  send({ t: 'done', index: 0, result: { ok: true } });
  await next((m) => m.t === 'die');
  const [kexit, gexit] = await Promise.all([k.exit, good.exit]);
  t.is(gexit.code, 0);
  t.is(kexit.code, 0, k.out() + k.err());
  const h = historyOf(trace);
  t.deepEqual(h.filter((e) => e.kind === 'agent-refused').map((e) => e.agent), ['remote-notoken', 'remote-wrongtoken', 'remote-\\x1b[2J\\nkernel: fake',
    ...h.filter((e) => e.kind === 'agent-refused').slice(3).map((e) => e.agent)]);
  t.true(h.filter((e) => e.kind === 'agent-refused').length >= 4); // the CLI agent too
  t.deepEqual(h.filter((e) => e.kind === 'birth').map((e) => [e.process, e.agent]), [['A', 'remote-hostile-host'], ['B', h.find((e) => e.kind === 'birth' && e.process === 'B')!.agent]]);
  t.true(k.out().includes('A starts as pid 2 (OS pid ') && k.out().includes('on evil\\x1b]0;pwn\\x07\\nkernel: fake, remote agent remote-hostile-host)'), k.out());
  t.false((k.out() + k.err()).includes('\u001b'));
});

test('an agent that cannot get in gives up within its connect timeout, exit 3, saying what to check; the kernel logs failed handshakes', async (t) => {
  // Nothing listens: a port that was free a moment ago.
  const port = await new Promise<number>((resolve) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => resolve(p)); }); });
  const nowhere = vrange(t, ['agent', '--connect', `tcp://127.0.0.1:${port}`, '--connect-timeout-ms', '1000']);
  t.is((await nowhere.exit).code, 3);
  t.regex(nowhere.err(), /no answer from the kernel at tcp:\/\/127\.0\.0\.1:\d+ within 1000 ms: nothing accepted a connection there.*Check the address and port/);

  const keys = makeKeys();
  const file = tempFile('one-more.yaml', 'name: one-more\nmemory: { frames: 2 }\nprocesses:\n  A:\n    steps:\n      - { op: signal, name: x }\n');
  const trace = join(keys.dir, 'trace.jsonl');
  const k = await kernel(t, ['--scenario', file, '--seed', '1', '--key', keys.kernelKey, '--trust', keys.trusted, '--trace', trace]);
  // No keys at all, against a CURVE kernel.
  const plain = vrange(t, ['agent', '--connect', k.endpoint, '--connect-timeout-ms', '1500']);
  // The right key pair, but a server key that is not the kernel's.
  const wrong = vrange(t, ['agent', '--connect', k.endpoint, '--key', keys.agentKey, '--server-key', keys.strangerPub, '--connect-timeout-ms', '1500']);
  const [pexit, wexit] = await Promise.all([plain.exit, wrong.exit]);
  t.is(pexit.code, 3);
  t.regex(plain.err(), /no answer from the kernel .* within 1500 ms: .*handshake.*Check the keys: this agent uses no keys/);
  t.is(wexit.code, 3);
  t.regex(wrong.err(), /no answer from the kernel .* within 1500 ms: .*handshake.*Check the keys: this agent uses CURVE: --server-key must be the kernel's \.pub/);
  t.regex(k.err(), /vrange kernel: refused an agent from .*the ZMTP handshake failed/);
  // The kernel is unharmed: a good agent runs A.
  const good = vrange(t, ['agent', '--connect', k.endpoint, '--key', keys.agentKey, '--server-key', keys.kernelPub]);
  const [kexit] = await Promise.all([k.exit, good.exit]);
  t.is(kexit.code, 0, k.out() + k.err());
  t.true(historyOf(trace).filter((e) => e.kind === 'agent-refused').length >= 2);
});
