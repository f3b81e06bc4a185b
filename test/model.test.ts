// The reference model alone (model/model.ts), on small inline scenarios with hand-computed results.
// Schedules are written as text: a process name grants that process its next step, K runs the
// kernel list's next step (a reclaim only prepares), C commits the open reclaim exchange; `X*3`
// repeats. The k-th action has clock k.
import test from 'ava';
import { forkCow, order, res, run } from './model_helpers.js';
import { aWrites } from './scenario_helpers.js';

// ---- fork, copy-on-write, the exchange window ---------------------------------------------------

test('fork/COW: shared pages volatile in both, both private copies: 3 frames purged; B dies of SIGBUS', (t) => {
  const out = run(forkCow, 'A*5 B K C A*2 B');
  t.deepEqual(out.steps.map((s) => s.result), [
    { ok: true, addr: 4096 }, { ok: true }, { ok: true }, { ok: true, bytes: 16384 }, { ok: true, pid: 3 },
    { ok: true }, // B's copy-on-write of page 1
    { ok: true, freed: 3 },
    { ok: true, bytes: 16384, purged: true }, { ok: true, value: '' },
    { ok: false, signal: 'SIGBUS' }, // sigbus: kill; B's last step never runs
  ]);
  t.deepEqual(order(out.steps), ['A#0', 'A#1', 'A#2', 'A#3', 'A#4', 'B#0', 'kernel#0', 'A#5', 'A#6', 'B#1']);
  t.is(out.purgedPages, 3);
  t.is(out.framesUsed, 0);
});

test('exchange window: steps touching held pages complete after the commit, in pid order, seeing the purge', (t) => {
  const out = run(forkCow, 'A*5 B K A B C A');
  t.deepEqual(order(out.steps), ['A#0', 'A#1', 'A#2', 'A#3', 'A#4', 'B#0', 'kernel#0', 'A#5', 'B#1', 'A#6']);
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 3 });
  t.deepEqual(res(out.steps, 'A', 5), { ok: true, bytes: 16384, purged: true });
  t.deepEqual(res(out.steps, 'B', 1), { ok: false, signal: 'SIGBUS' });
});

const forkWindow = `
${aWrites(1, 1, { name: 'fork-window' })}
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile }
      - { op: fork, child: B }
      - { op: read, map: buf, page: 0 }
  B:
    forked: true
    steps:
      - { op: read, map: buf, page: 0 }
kernel:
  - { op: reclaim, all: true }
`;

test('a fork between prepare and commit: the child was not asked, so the shared page is kept', (t) => {
  const out = run(forkWindow, 'A*3 K A C A B');
  t.deepEqual(order(out.steps), ['A#0', 'A#1', 'A#2', 'A#3', 'kernel#0', 'A#4', 'B#0']);
  t.deepEqual(res(out.steps, 'A', 3), { ok: true, pid: 3 }, 'fork does not wait for the commit');
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 0 });
  t.deepEqual(res(out.steps, 'A', 4), { ok: true, value: 'a0' });
  t.deepEqual(res(out.steps, 'B', 0), { ok: true, value: 'a0' });
  t.is(out.purgedPages, 0);
});

test('the same fork before the prepare: volatility was inherited, both answer, the page goes', (t) => {
  const out = run(forkWindow, 'A*4 K C A B');
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 1 });
  t.deepEqual(res(out.steps, 'A', 4), { ok: false, signal: 'SIGBUS' });
  t.deepEqual(res(out.steps, 'B', 0), { ok: false, signal: 'SIGBUS' });
});

// ---- access modes ----------------------------------------------------------------------------------

const access = `
${aWrites(1, 0, { name: 'access' })}
      - { op: write, map: buf, page: 0, value: "a" }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile }
      - { op: read, map: buf, page: 0 }
      - { op: write, map: buf, page: 0, value: "x" }
  B:
    sigbus: handle
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "b" }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile }
      - { op: read, map: buf, page: 0 }
      - { op: query, map: buf, page: 0, pages: 1 }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: nonvolatile }
      - { op: read, map: buf, page: 0 }
kernel:
  - { op: reclaim, all: true }
  - { op: waitpid, process: A }
`;

test('access sigbus: kill ends A (waitpid sees SIGBUS); handle lets B go on; nonvolatile reports purged', (t) => {
  const out = run(access, 'A*3 B*3 K C A B*4 K');
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 2 });
  t.deepEqual(res(out.steps, 'A', 3), { ok: false, signal: 'SIGBUS' });
  t.is(res(out.steps, 'A', 4), undefined, 'A is dead');
  t.deepEqual(res(out.steps, 'B', 3), { ok: false, signal: 'SIGBUS' });
  t.deepEqual(res(out.steps, 'B', 4), { ok: true, pages: [{ page: 0, resident: false, volatile: true, purged: true }] });
  t.deepEqual(res(out.steps, 'B', 5), { ok: true, bytes: 4096, purged: true });
  t.deepEqual(res(out.steps, 'B', 6), { ok: true, value: '' });
  t.deepEqual(res(out.steps, 'kernel', 1), { ok: true, signal: 'SIGBUS' });
});

test('access zero: a purged page reads "" at once; nonvolatile still reports purged', (t) => {
  const out = run(access, 'A*3 B*3 K C A*2 B*4 K', { access: 'zero' });
  t.deepEqual(res(out.steps, 'A', 3), { ok: true, value: '' });
  t.deepEqual(res(out.steps, 'A', 4), { ok: true });
  t.deepEqual(res(out.steps, 'B', 3), { ok: true, value: '' });
  t.deepEqual(res(out.steps, 'B', 5), { ok: true, bytes: 4096, purged: true });
  t.deepEqual(res(out.steps, 'kernel', 1), { ok: true, exitCode: 0 });
  t.is(out.framesUsed, 0);
});

// ---- policies --------------------------------------------------------------------------------------

const fileMarks = `
name: file-marks
memory: { frames: 16 }
files: [ { name: f, pages: 2 } ]
processes:
  A:
    sigbus: handle
    steps:
      - { op: open, file: f }
      - { op: mmap, as: m, fd: f, pages: 2 }
      - { op: write, map: m, page: 0, value: "x0" }
      - { op: write, map: m, page: 1, value: "x1" }
      - { op: vrange, map: m, page: 0, pages: 2, mode: volatile }
      - { op: read, map: m, page: 0 }
      - { op: read, map: m, page: 1 }
  B:
    sigbus: handle
    steps:
      - { op: open, file: f }
      - { op: mmap, as: m, fd: f, pages: 2 }
      - { op: vrange, map: m, page: 1, pages: 1, mode: volatile }
      - { op: read, map: m, page: 0 }
kernel:
  - { op: reclaim, all: true }
  - { op: check, files: { f: { open: 2, mapped: 2 } } }
`;
const fileMarksSchedule = 'A*5 B*3 K C K A A B';

test('shared-file: vrange on a shared file mapping marks the file; one mapper suffices', (t) => {
  const out = run(fileMarks, fileMarksSchedule, { policy: 'shared-file' });
  t.deepEqual(res(out.steps, 'A', 0), { ok: true, fd: 3 });
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 2 });
  t.deepEqual(res(out.steps, 'kernel', 1), { ok: true });
  t.deepEqual(res(out.steps, 'A', 5), { ok: false, signal: 'SIGBUS' });
  t.deepEqual(res(out.steps, 'A', 6), { ok: false, signal: 'SIGBUS' });
  t.deepEqual(res(out.steps, 'B', 3), { ok: false, signal: 'SIGBUS' }, 'purged for everyone');
});

test('per-mm: a file page goes only if every mapper marked it', (t) => {
  const out = run(fileMarks, fileMarksSchedule, { policy: 'per-mm' });
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 1 });
  t.deepEqual(res(out.steps, 'A', 5), { ok: true, value: 'x0' });
  t.deepEqual(res(out.steps, 'A', 6), { ok: false, signal: 'SIGBUS' });
  t.deepEqual(res(out.steps, 'B', 3), { ok: true, value: 'x0' });
});

test('anon-only: vrange on a file mapping is EINVAL and nothing is purged', (t) => {
  const out = run(fileMarks, fileMarksSchedule, { policy: 'anon-only' });
  t.deepEqual(res(out.steps, 'A', 4), { ok: false, errno: 'EINVAL' });
  t.deepEqual(res(out.steps, 'B', 2), { ok: false, errno: 'EINVAL' });
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 0 });
  t.deepEqual(res(out.steps, 'A', 6), { ok: true, value: 'x1' });
  t.is(out.framesUsed, 2, 'tmpfs keeps its pages after the last close');
});

const privateMapper = `
name: private-mapper
memory: { frames: 16 }
files: [ { name: f, pages: 2 } ]
processes:
  S:
    sigbus: handle
    steps:
      - { op: open, file: f }
      - { op: mmap, as: m, fd: f, pages: 2 }
      - { op: write, map: m, page: 0, value: "s0" }
      - { op: write, map: m, page: 1, value: "s1" }
      - { op: fvrange, fd: f, page: 0, pages: 2, mode: volatile }
      - { op: read, map: m, page: 0 }
      - { op: read, map: m, page: 1 }
      - { op: signal, name: done }
  P:
    steps:
      - { op: open, file: f }
      - { op: mmap, as: m, fd: f, pages: 2, share: private }
      - { op: read, map: m, page: 0 }
      - { op: wait, name: done }
`;

for (const [policy, freed, page1] of [
  ['shared-file', 1, { ok: false, signal: 'SIGBUS' }], ['anon-only', 1, { ok: false, signal: 'SIGBUS' }],
  ['per-mm', 0, { ok: true, value: 's1' }],
] as const) {
  test(`${policy}: fvrange file, a private mapper that read page 0 (not copied)`, (t) => {
    const out = run(privateMapper + 'kernel:\n  - { op: reclaim, all: true }\n', 'S*5 P*3 K C S*3 P', { policy });
    t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed });
    t.deepEqual(res(out.steps, 'S', 5), { ok: true, value: 's0' }, 'page 0 is mapped private and not yet copied: kept');
    t.deepEqual(res(out.steps, 'S', 6), page1);
  });
}

const inconsistency = `
name: inconsistency
memory: { frames: 16 }
files: [ { name: f, pages: 1 } ]
processes:
  A:
    sigbus: handle
    steps:
      - { op: open, file: f }
      - { op: mmap, as: m, fd: f, pages: 1 }
      - { op: write, map: m, page: 0, value: "x" }
      - { op: fvrange, fd: f, page: 0, pages: 1, mode: volatile }
      - { op: vrange, map: m, page: 0, pages: 1, mode: nonvolatile }
      - { op: query, map: m, page: 0, pages: 1 }
      - { op: vrange, map: m, page: 0, pages: 1, mode: nonvolatile }
      - { op: read, map: m, page: 0 }
      - { op: fvrange, fd: f, page: 0, pages: 1, mode: nonvolatile }
      - { op: read, map: m, page: 0 }
kernel:
  - { op: reclaim, all: true }
`;

test('per-mm: vrange nonvolatile lands in the mm; the fvrange mark still purges; only fvrange reports it', (t) => {
  const out = run(inconsistency, 'A*5 K C A*5', { policy: 'per-mm' });
  t.deepEqual(res(out.steps, 'A', 4), { ok: true, bytes: 4096, purged: false });
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 1 });
  t.deepEqual(res(out.steps, 'A', 5), { ok: true, pages: [{ page: 0, resident: false, volatile: true, purged: true }] });
  t.deepEqual(res(out.steps, 'A', 6), { ok: true, bytes: 4096, purged: false }, "this mm's own marks only");
  t.deepEqual(res(out.steps, 'A', 7), { ok: false, signal: 'SIGBUS' });
  t.deepEqual(res(out.steps, 'A', 8), { ok: true, bytes: 4096, purged: true });
  t.deepEqual(res(out.steps, 'A', 9), { ok: true, value: '' });
});

test('shared-file: the same vrange nonvolatile clears the file mark; nothing is purged', (t) => {
  const out = run(inconsistency, 'A*5 K C A*5', { policy: 'shared-file' });
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 0 });
  t.deepEqual(res(out.steps, 'A', 5), { ok: true, pages: [{ page: 0, resident: true, volatile: false, purged: false }] });
  t.deepEqual(res(out.steps, 'A', 7), { ok: true, value: 'x' });
});

const shmem = `
name: shmem
memory: { frames: 16 }
processes:
  A:
    steps:
      - { op: mmap, as: s, pages: 1, share: shared }
      - { op: write, map: s, page: 0, value: "a" }
      - { op: vrange, map: s, page: 0, pages: 1, mode: volatile }
      - { op: fork, child: B }
      - { op: wait, name: b-wrote }
      - { op: read, map: s, page: 0 }
      - { op: wait, name: reclaimed }
      - { op: read, map: s, page: 0 }
      - { op: signal, name: end }
  B:
    forked: true
    steps:
      - { op: write, map: s, page: 0, value: "b" }
      - { op: vrange, map: s, page: 0, pages: 1, mode: nonvolatile }
      - { op: signal, name: b-wrote }
      - { op: wait, name: end }
kernel:
  - { op: wait, name: b-wrote }
  - { op: reclaim, all: true }
  - { op: signal, name: reclaimed }
`;

test('shared anonymous memory: parent and child see each other; kept while one mapper is not volatile', (t) => {
  const out = run(shmem, 'A*4 B*3 A*2 K*2 C K A*3 B', { policy: 'shared-file' });
  t.deepEqual(res(out.steps, 'B', 1), { ok: true, bytes: 4096, purged: false });
  t.deepEqual(res(out.steps, 'A', 5), { ok: true, value: 'b' });
  t.deepEqual(res(out.steps, 'kernel', 1), { ok: true, freed: 0 });
  t.deepEqual(res(out.steps, 'A', 7), { ok: true, value: 'b' });
  t.is(out.framesUsed, 0, 'the hidden shmem file goes with its last mapping');
});

// ---- purge order -------------------------------------------------------------------------------------

const order4 = `
name: order
memory: { frames: 16 }
processes:
  A:
    sigbus: handle
    steps:
      - { op: mmap, as: buf, pages: 4 }
      - { op: write, map: buf, page: 0, value: "p0" }
      - { op: write, map: buf, page: 1, value: "p1" }
      - { op: write, map: buf, page: 2, value: "p2" }
      - { op: write, map: buf, page: 3, value: "p3" }
      - { op: read, map: buf, page: 0 }
      - { op: vrange, map: buf, page: 2, pages: 2, mode: volatile }
      - { op: vrange, map: buf, page: 0, pages: 2, mode: volatile }
      - { op: query, map: buf, page: 0, pages: 4 }
kernel:
  - { op: reclaim, pages: 1 }
`;
const q = (page: number, resident: boolean, purged: boolean) => ({ page, resident, volatile: true, purged });

test('purgeUnit range: the oldest-marked range goes whole, whatever its address', (t) => {
  const out = run(order4, 'A*8 K C A', { purgeUnit: 'range' });
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 2 });
  t.deepEqual(res(out.steps, 'A', 8), { ok: true, pages: [q(0, true, false), q(1, true, false), q(2, false, true), q(3, false, true)] });
});

test('purgeUnit page: least recently read or written first; marking is not use', (t) => {
  const out = run(order4, 'A*8 K C A', { purgeUnit: 'page' });
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 1 });
  t.deepEqual(res(out.steps, 'A', 8), { ok: true, pages: [q(0, true, false), q(1, false, true), q(2, true, false), q(3, true, false)] });
});

test('range ties (a child inherits mark times): the parent (lower pid) goes first; a wait granted early completes at the signal', (t) => {
  const out = run(`
${aWrites(2, 2, { name: 'tie' })}
      - { op: vrange, map: buf, page: 0, pages: 2, mode: volatile }
      - { op: fork, child: B }
      - { op: wait, name: end }
  B:
    forked: true
    steps:
      - { op: write, map: buf, page: 1, value: "b1" }
      - { op: query, map: buf, page: 0, pages: 2 }
      - { op: signal, name: end }
kernel:
  - { op: reclaim, pages: 1 }
`, 'A*6 B K C B B');
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 2 }, "A's range: shared page 0 and A's page 1");
  t.deepEqual(res(out.steps, 'B', 1), { ok: true, pages: [q(0, false, true), q(1, true, false)] });
  t.deepEqual(order(out.steps).slice(-3), ['B#1', 'B#2', 'A#5']);
});

