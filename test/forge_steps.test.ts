// Forged remote peers whose syscalls are well-formed but not the ones their step makes: a `wait`
// in a `signal` step, a second syscall in a one-syscall step, a syscall whose arguments are not the
// step's (another name, page or value), a `done` of a step that never made its syscall, or one
// with an exit code its step does not give; an mmap of other pages, a vrange piece outside its
// span, a fork whose snapshot carries bindings its steps never made. The kernel has the scenario and judges each syscall
// against the step the process is on (coordinator/step_calls.ts), in lockstep and free schedules:
// the forger is cut off (SIGKILL, a bad-message event naming why) and the honest process A keeps
// its PASS and its data, its own page and the shared file's pages the forgers would have written.
// docs/protocol.md, "Bad messages"; docs/semantics.md, "the syscalls a step makes".

import test, { type ExecutionContext } from 'ava';
import { tempFile } from './helpers.js';
import { historyOf, kernelWithA, noStrayAgents, takeProcess, type Msg } from './forge_peers.js';

type Forger = Awaited<ReturnType<typeof takeProcess>>;
interface Plan {
  what: string;
  /** The forger's steps in the scenario (YAML flow maps). */
  steps: string[];
  /** What it sends; `granted(i)` waits for step i's grant in lockstep (step 0's has come). */
  act: (f: Forger, granted: (i: number) => Promise<unknown>) => Promise<void>;
  why: RegExp;
}

const signalStep = ['{ op: signal, name: s }'];
/** A shared mapping of the file `cache` and a write of "mine" to its page 0. */
const fileSteps = ['{ op: open, file: cache }', '{ op: mmap, as: m, pages: 2, fd: cache }', '{ op: write, map: m, page: 0, value: "mine" }'];

/** The forger runs its file steps as an agent would, up to the write, and writes `vpage` with `value` (the step writes "mine" at vpage 1). */
const writeAs = (vpage: number, value: string) => async (f: Forger, granted: (i: number) => Promise<unknown>) => {
  await f.send({ t: 'open', id: 1, file: 'cache' });
  const fd = (await f.next((m) => m.t === 'ret' && m.re === 1, 'the open')).fd as number;
  await f.send({ t: 'done', index: 0, result: { ok: true, fd } });
  await granted(1);
  await f.send({ t: 'mmap', id: 2, addr: 1, pages: 2, fd, offset: 0, share: 'shared' });
  await f.next((m) => m.t === 'ret' && m.re === 2, 'the mmap');
  await f.send({ t: 'done', index: 1, result: { ok: true, addr: 4096 }, detail: { span: [1, 3] } });
  await granted(2);
  // Its write and its done, as an agent sends them: without the check the page gets the forged value and F exits 0.
  await f.send({ t: 'write', id: 3, vpage, frame: -1, cow: false, anon: false, value });
  await f.send({ t: 'done', index: 2, result: { ok: true } });
};

const plans: Plan[] = [
  { what: 'a wait in a signal step (it would park the run: a deadlock, A judged FAIL)', steps: signalStep,
    act: async (f) => { await f.send({ t: 'wait', id: 1, name: 'never' }); },
    why: /^it sent wait in step 0 \(signal\), which makes signal$/ },
  { what: 'a second signal in a one-syscall step', steps: signalStep,
    act: async (f) => {
      await f.send({ t: 'signal', id: 1, name: 's' });
      await f.next((m) => m.t === 'ret' && m.re === 1, 'the signal');
      await f.send({ t: 'signal', id: 2, name: 's' });
    },
    why: /^it sent a second signal in step 0 \(signal\), which makes one$/ },
  { what: 'a signal of another name', steps: signalStep,
    act: async (f) => { await f.send({ t: 'signal', id: 1, name: 'other' }); },
    why: /^it sent signal in step 0 \(signal\) with name "other" where the step makes "s"$/ },
  { what: 'a write to another page of the shared file', steps: fileSteps, act: writeAs(2, 'mine'),
    why: /^it sent write in step 2 \(write\) with vpage 2 where the step makes 1$/ },
  { what: 'a write of another value', steps: fileSteps, act: writeAs(1, 'forged'),
    why: /^it sent write in step 2 \(write\) with value "forged" where the step makes "mine"$/ },
  { what: 'a done of a signal step that never sent its signal', steps: signalStep,
    act: async (f) => { await f.send({ t: 'done', index: 0, result: { ok: true } }); },
    why: /^it reported step 0 \(signal\) done without its syscall \(the step always makes one\)$/ },
  { what: 'an exit code on a step that is no exit', steps: signalStep,
    act: async (f) => {
      await f.send({ t: 'signal', id: 1, name: 's' });
      await f.next((m) => m.t === 'ret' && m.re === 1, 'the signal');
      await f.send({ t: 'done', index: 0, result: { ok: true }, detail: { exiting: 3 } });
    },
    why: /^it reported step 0 \(signal\) done with detail\.exiting 3, where the step says none/ },
  { what: 'an mmap of other pages', steps: ['{ op: mmap, as: m, pages: 1 }'],
    act: async (f) => { await f.send({ t: 'mmap', id: 1, addr: 1, pages: 64, fd: -1, offset: 0, share: 'private' }); },
    why: /^it sent mmap in step 0 \(mmap\) with pages 64 where the step makes 1$/ },
  { what: 'a vrange piece of file pages outside the step\'s span', steps: [...fileSteps.slice(0, 2), '{ op: vrange, map: m, page: 0, pages: 1, mode: volatile }'],
    act: async (f, granted) => {
      await f.send({ t: 'open', id: 1, file: 'cache' });
      const fd = (await f.next((m) => m.t === 'ret' && m.re === 1, 'the open')).fd as number;
      await f.send({ t: 'done', index: 0, result: { ok: true, fd } });
      await granted(1);
      await f.send({ t: 'mmap', id: 2, addr: 1, pages: 2, fd, offset: 0, share: 'shared' });
      const fileId = (await f.next((m) => m.t === 'ret' && m.re === 2, 'the mmap')).fileId as number;
      await f.send({ t: 'done', index: 1, result: { ok: true, addr: 4096 }, detail: { span: [1, 3] } });
      await granted(2);
      await f.send({ t: 'fvrange', id: 3, fd: -1, fileId, start: 1, pages: 1, mode: 'volatile', now: 0 });
    },
    why: /^it sent fvrange in step 2 \(vrange\) with file pages 1 to 1 of file \d+, which no VMA of its maps in the step's span after its pieces before$/ },
  { what: 'a fork whose snapshot carries a binding its steps never made', steps: ['{ op: fork, child: C }'],
    act: async (f) => {
      await f.send({ t: 'fork', id: 1, child: 'C', mm: { vmas: [], ranges: { v: 1, limit: 1_000_000, nextId: 1, pieces: [] }, bindings: { 'map:x': { kind: 'map', addr: 1, pages: 1 } } } });
    },
    why: /^it sent fork in step 0 \(fork\) with an mm snapshot whose bindings are not those its steps made$/ },
];

async function forgedSteps(t: ExecutionContext, schedule: 'free' | 'lockstep'): Promise<void> {
  const forgers = plans.map((_, i) => `F${i}`);
  // A waits for every forger's death, then uses its own page and reads the file's pages the forgers would have written.
  const file = tempFile(`forge-steps-${schedule}.yaml`, [
    `name: forge-steps-${schedule}`, 'memory: { frames: 16 }', 'files:', '  - { name: cache, pages: 2 }', 'processes:', '  A:', '    steps:',
    ...forgers.map((f) => `      - { op: waitpid, process: ${f}, expect: { signal: SIGKILL } }`),
    '      - { op: mmap, as: buf, pages: 1 }', '      - { op: write, map: buf, page: 0, value: "still here" }',
    '      - { op: read, map: buf, page: 0, expect: { value: "still here" } }',
    '      - { op: open, file: cache }', '      - { op: mmap, as: c, pages: 2, fd: cache }',
    '      - { op: read, map: c, page: 0, expect: { value: "" } }', '      - { op: read, map: c, page: 1, expect: { value: "" } }',
    ...plans.flatMap((p, i) => [`  F${i}:`, '    steps:', ...p.steps.map((s) => `      - ${s}`)]),
    // The child a forger's fork names: never born (the fork is refused), so it runs nothing.
    '  C:', '    forked: true', '    steps:', '      - { op: signal, name: c }',
  ].join('\n') + '\n');
  const { k, a, endpoint, token, trace } = await kernelWithA(t, file, schedule);
  // Each forger takes its process and acts at once (in lockstep the kernel grants one step at a time).
  const dies = await Promise.all(forgers.map(async (_, i) => {
    const f = await takeProcess(t, endpoint, token, `remote-steps-${i}`);
    const granted = (index: number) => (schedule === 'lockstep' ? f.next((m) => m.t === 'grant' && m.index === index, `${f.name}'s grant ${index}`) : Promise.resolve());
    await plans[Number(f.name.slice(1))]!.act(f, granted);
    return ((await f.next((m: Msg) => m.t === 'die', `${f.name}'s die`, 10_000)).signal);
  }));
  const [kexit, aexit] = await Promise.all([k.exit, a.exit]);
  t.is(kexit.code, 0, k.out + k.err);
  t.is(aexit.code, 0);
  t.regex(k.out, /verdict: PASS/);
  t.regex(k.out, /A +#\d+ read map="buf" page=0 -> ok value="still here"/);
  t.regex(k.out, /A +#\d+ read map="c" page=1 -> ok value=""/);
  t.notRegex(k.err, /internal error|kernel invariant|TypeError|RangeError/);
  t.deepEqual(dies, forgers.map(() => 'SIGKILL'));
  const h = historyOf(trace);
  for (const [i, plan] of plans.entries()) {
    const bad = h.filter((e) => e.kind === 'bad-message' && e.process === `F${i}`);
    t.is(bad.length, 1, plan.what);
    t.regex(String(bad[0]?.why), plan.why, plan.what);
    t.is(bad[0]?.where, 'remote', plan.what);
    t.is(h.find((e) => e.kind === 'cleanup' && e.process === `F${i}`)?.signal, 'SIGKILL', plan.what);
  }
  t.false(h.some((e) => e.kind === 'violation' || e.kind === 'stuck'));
  noStrayAgents(t, endpoint);
}

for (const schedule of ['free', 'lockstep'] as const) {
  test(`${schedule}: a syscall of the wrong op, a second one in a one-syscall step, one whose arguments are not the step's (a name, a page, a value, an mmap's pages, a vrange piece, a fork's bindings), a done without its syscall or with a code: each forger is cut off, A passes with its data intact`, async (t) => {
    await forgedSteps(t, schedule);
  });
}
