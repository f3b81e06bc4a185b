// The reference model under `--policy madv-free` (what Linux merged: MADV_FREE), on small inline
// scenarios with results computed by hand from docs/semantics.md "What Linux merged". Schedules as
// in test/model.test.ts: a process name grants its next step, K the kernel's next step (a reclaim
// only prepares), C commits the exchange.
import test from 'ava';
import { order, res, run } from './model_helpers.js';
import { aWrites } from './scenario_helpers.js';

const madv = { policy: 'madv-free' as const };

/** A writes pages 0 and 1 of 4, marks all 4, then does what `tail` says; one reclaim of everything. */
const marked = (tail: string, kernel = '  - { op: reclaim, all: true }') => `
${aWrites(4, 2, { name: 'madv' })}
      - { op: vrange, map: buf, page: 0, pages: 4, mode: volatile }
${tail}
      - { op: wait, name: end }
kernel:
${kernel}
  - { op: signal, name: end }
`;

test('MADV_FREE marks only the pages resident now; a page faulted in later is ordinary; a freed page reads "" with no SIGBUS', (t) => {
  const y = marked(`      - { op: write, map: buf, page: 2, value: "a2" }
      - { op: wait, name: go }
      - { op: read, map: buf, page: 0 }
      - { op: read, map: buf, page: 2 }
      - { op: write, map: buf, page: 1, value: "new" }
      - { op: read, map: buf, page: 1 }`, '  - { op: reclaim, all: true }\n  - { op: signal, name: go }');
  const out = run(y, 'A*5 K C K A*5 K A', madv);
  t.deepEqual(res(out.steps, 'A', 3), { ok: true, bytes: 16384 });
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 2 });
  t.deepEqual(res(out.steps, 'A', 6), { ok: true, value: '' });
  t.deepEqual(res(out.steps, 'A', 7), { ok: true, value: 'a2' });
  t.deepEqual(res(out.steps, 'A', 9), { ok: true, value: 'new' }); // the write faulted in a new zero page
  t.is(out.purgedPages, 2);
});

test('a write to a marked page before it is freed cancels the free for that page only; a read does not', (t) => {
  const out = run(marked(`      - { op: write, map: buf, page: 0, value: "w0" }
      - { op: read, map: buf, page: 1 }
      - { op: query, map: buf, page: 0, pages: 3 }`), 'A*7 K C K A', madv);
  t.deepEqual(res(out.steps, 'A', 6), { ok: true, pages: [
    { page: 0, resident: true, volatile: false, purged: false }, // written since the mark
    { page: 1, resident: true, volatile: true, purged: false }, // read: still marked
    { page: 2, resident: false, volatile: false, purged: false },
  ] });
  // Both referenced since the mark (page 0 written, page 1 read): the scan gives each its second chance.
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 0 });
});

test('second chance: the first scan that finds a page referenced keeps it; the next scan frees it', (t) => {
  const y = marked(`      - { op: read, map: buf, page: 0 }
      - { op: wait, name: done }
      - { op: read, map: buf, page: 0 }
      - { op: read, map: buf, page: 1 }`, '  - { op: reclaim, all: true }\n  - { op: reclaim, all: true }\n  - { op: signal, name: done }');
  const out = run(y, 'A*6 K C K C K A*2 K A', madv);
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 1 }); // page 1 (not referenced) goes, page 0 is kept
  t.deepEqual(res(out.steps, 'kernel', 1), { ok: true, freed: 1 }); // page 0, not referenced since
  t.deepEqual(res(out.steps, 'A', 6), { ok: true, value: '' });
  t.deepEqual(res(out.steps, 'A', 7), { ok: true, value: '' });
});

test('reclaim pages: N frees marked clean pages least recently used first, one at a time', (t) => {
  const y = marked(`      - { op: write, map: buf, page: 2, value: "a2" }
      - { op: vrange, map: buf, page: 2, pages: 1, mode: volatile }
      - { op: wait, name: done }
      - { op: read, map: buf, page: 0 }
      - { op: read, map: buf, page: 1 }
      - { op: read, map: buf, page: 2 }`, '  - { op: reclaim, pages: 2 }\n  - { op: signal, name: done }');
  // Last uses: page 0 at clock 2, page 1 at 3, page 2 at 5 (marks are not uses): pages 0 and 1 go.
  const out = run(y, 'A*6 K C K A*4 K A', madv);
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 2 });
  t.deepEqual([7, 8, 9].map((i) => res(out.steps, 'A', i)), [{ ok: true, value: '' }, { ok: true, value: '' }, { ok: true, value: 'a2' }]);
});

test('errors as madvise gives them: nonvolatile, fvrange, shared anonymous and file mappings are EINVAL; a hole marks the mapped part, then ENOMEM', (t) => {
  const y = `
name: madv-errors
memory: { frames: 16 }
files: [{ name: f, pages: 2 }]
processes:
  A:
    steps:
      - { op: mmap, as: a, pages: 2 }
      - { op: mmap, as: hole, pages: 1 }
      - { op: mmap, as: b, pages: 1 }
      - { op: munmap, map: hole }
      - { op: write, map: a, page: 0, value: "a0" }
      - { op: write, map: b, page: 0, value: "b0" }
      - { op: vrange, map: a, page: 0, pages: 4, mode: volatile }
      - { op: vrange, map: a, page: 0, pages: 1, mode: nonvolatile }
      - { op: open, file: f }
      - { op: fvrange, fd: f, page: 0, pages: 1, mode: volatile }
      - { op: fvrange, fd: f, page: 0, pages: 1, mode: nonvolatile }
      - { op: mmap, as: shm, pages: 1, share: shared }
      - { op: write, map: shm, page: 0, value: "s0" }
      - { op: vrange, map: shm, page: 0, pages: 1, mode: volatile }
      - { op: mmap, as: fm, pages: 1, fd: f, share: private }
      - { op: vrange, map: fm, page: 0, pages: 1, mode: volatile }
      - { op: wait, name: end }
kernel:
  - { op: reclaim, all: true }
  - { op: signal, name: end }
`;
  const out = run(y, 'A*16 K C K A', madv);
  t.deepEqual(res(out.steps, 'A', 6), { ok: false, errno: 'ENOMEM' });
  for (const i of [7, 9, 10, 13, 15]) t.deepEqual(res(out.steps, 'A', i), { ok: false, errno: 'EINVAL' }, `step ${i}`);
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 2 }); // a0 and b0: both marked despite the ENOMEM
});

test('a walk that meets a VMA that is not anonymous stops there with EINVAL: the anonymous pages before it are marked, those after not', (t) => {
  const y = `
name: madv-walk
memory: { frames: 16 }
processes:
  A:
    steps:
      - { op: mmap, as: a, pages: 1 }
      - { op: mmap, as: shm, pages: 1, share: shared }
      - { op: mmap, as: b, pages: 1 }
      - { op: write, map: a, page: 0, value: "a0" }
      - { op: write, map: b, page: 0, value: "b0" }
      - { op: vrange, map: a, page: 0, pages: 3, mode: volatile }
      - { op: read, map: a, page: 0 }
      - { op: read, map: b, page: 0 }
kernel:
  - { op: reclaim, all: true }
`;
  const out = run(y, 'A*6 K C A*2', madv);
  t.deepEqual(res(out.steps, 'A', 5), { ok: false, errno: 'EINVAL' });
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 1 });
  t.deepEqual(res(out.steps, 'A', 6), { ok: true, value: '' });
  t.deepEqual(res(out.steps, 'A', 7), { ok: true, value: 'b0' });
});

/** A writes page 0, forks B; `a` and `b` are the steps of each after that. */
const forked = (a: string, b: string, kernel: string) => `
${aWrites(1, 1, { name: 'madv-fork' })}
${a}
      - { op: wait, name: end }
  B:
    forked: true
    steps:
${b}
      - { op: wait, name: end }
kernel:
${kernel}
  - { op: signal, name: end }
`;

test('fork: marked before the fork, the clean ptes are copied and the shared page goes; marked after, the dirty copy in B blocks it', (t) => {
  const before = run(forked(`      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile }
      - { op: fork, child: B }`, `      - { op: read, map: buf, page: 0 }`, '  - { op: reclaim, all: true }'), 'A*4 K C B K A B', madv);
  t.deepEqual(res(before.steps, 'kernel', 0), { ok: true, freed: 1 });
  t.deepEqual(res(before.steps, 'B', 0), { ok: true, value: '' });
  const after = run(forked(`      - { op: fork, child: B }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile }`, `      - { op: read, map: buf, page: 0 }`, '  - { op: reclaim, all: true }'), 'A*4 K C B K A B', madv);
  t.deepEqual(res(after.steps, 'kernel', 0), { ok: true, freed: 0 });
  t.deepEqual(res(after.steps, 'B', 0), { ok: true, value: 'a0' });
});

test('fork: both mark the shared page before a scan, it goes; a scan between the marks redirties it, and the later mark marks it again', (t) => {
  const both = forked(`      - { op: fork, child: B }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile }
      - { op: wait, name: done }
      - { op: read, map: buf, page: 0 }`, `      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile }`,
  '  - { op: reclaim, all: true }\n  - { op: reclaim, all: true }\n  - { op: signal, name: done }');
  const early = run(both, 'A*4 B K C K C K A*2 K A B', madv);
  t.deepEqual(res(early.steps, 'kernel', 0), { ok: true, freed: 1 });
  t.deepEqual(res(early.steps, 'A', 5), { ok: true, value: '' });
  // B marks only after the first scan found its dirty pte and took A's mark back. CHOICE
  // (docs/semantics.md, "the choices left open"): no folio dirty bit, so B's mark marks the page
  // again (6.x would skip a PG_dirty folio another mm maps); A's pte is still clean: it goes.
  const late = run(both, 'A*4 K C B K C K A*2 K A B', madv);
  t.deepEqual(res(late.steps, 'kernel', 0), { ok: true, freed: 0 });
  t.deepEqual(res(late.steps, 'B', 0), { ok: true, bytes: 4096 });
  t.deepEqual(res(late.steps, 'kernel', 1), { ok: true, freed: 1 });
  t.deepEqual(res(late.steps, 'A', 5), { ok: true, value: '' });
});

test('a scan that finds a dirty mapper takes every mapper\'s mark back: the marker must mark again', (t) => {
  const y = forked(`      - { op: fork, child: B }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile }
      - { op: query, map: buf, page: 0, pages: 1 }
      - { op: wait, name: scanned }
      - { op: query, map: buf, page: 0, pages: 1 }
      - { op: read, map: buf, page: 0 }`, `      - { op: write, map: buf, page: 0, value: "b0" }`,
  '  - { op: reclaim, all: true }\n  - { op: signal, name: scanned }\n  - { op: reclaim, all: true }');
  // B's write copies the page only after the scan: the frame has no mark left, the second scan frees nothing.
  const out = run(y, 'A*5 K C K A B K C A K A*2 B', madv);
  t.deepEqual(res(out.steps, 'A', 4), { ok: true, pages: [{ page: 0, resident: true, volatile: true, purged: false }] });
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 0 });
  t.deepEqual(res(out.steps, 'A', 6), { ok: true, pages: [{ page: 0, resident: true, volatile: false, purged: false }] });
  t.deepEqual(res(out.steps, 'kernel', 2), { ok: true, freed: 0 });
  t.deepEqual(res(out.steps, 'A', 7), { ok: true, value: 'a0' });
});

test('fork: the written copy survives (2 frames freed, not 3), and nobody gets SIGBUS', (t) => {
  const y = `
${aWrites(2, 2, { name: 'madv-cow' })}
      - { op: vrange, map: buf, page: 0, pages: 2, mode: volatile }
      - { op: fork, child: B }
      - { op: read, map: buf, page: 1 }
      - { op: wait, name: end }
  B:
    forked: true
    steps:
      - { op: write, map: buf, page: 1, value: "b1" }
      - { op: read, map: buf, page: 0 }
      - { op: read, map: buf, page: 1 }
      - { op: wait, name: end }
kernel:
  - { op: reclaim, all: true }
  - { op: signal, name: end }
`;
  const out = run(y, 'A*5 B K C A B*2 K A B', madv);
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 2 });
  t.deepEqual(res(out.steps, 'A', 5), { ok: true, value: '' });
  t.deepEqual(res(out.steps, 'B', 1), { ok: true, value: '' });
  t.deepEqual(res(out.steps, 'B', 2), { ok: true, value: 'b1' });
});

test('the exchange holds the marked pages: a write to one between prepare and commit waits, then sees the free', (t) => {
  const y = marked('      - { op: write, map: buf, page: 0, value: "late" }\n      - { op: read, map: buf, page: 0 }');
  const out = run(y, 'A*4 K A C A K A', madv);
  t.deepEqual(order(out.steps).slice(0, 7), ['A#0', 'A#1', 'A#2', 'A#3', 'kernel#0', 'A#4', 'A#5']);
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 2 });
  t.deepEqual(res(out.steps, 'A', 5), { ok: true, value: 'late' }); // written after the free: a new page
});

test('a mark that then fails (a hole: ENOMEM) still marks, so over a held page it waits for the commit too', (t) => {
  const y = marked(`      - { op: munmap, map: buf, page: 2, pages: 1 }
      - { op: vrange, map: buf, page: 0, pages: 4, mode: volatile }`);
  const out = run(y, 'A*5 K A C K A', madv);
  // A#5 marks pages 0-1 (held by the exchange, marked at A#3) and meets the hole: it completes after the commit.
  t.deepEqual(order(out.steps).slice(4, 7), ['A#4', 'kernel#0', 'A#5']);
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 2 });
  t.deepEqual(res(out.steps, 'A', 5), { ok: false, errno: 'ENOMEM' });
});

test('direct reclaim: a write that finds no free frame frees a marked clean page, scanning again past a second chance', (t) => {
  const y = `
${aWrites(3, 2, { name: 'madv-direct', frames: 2 })}
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile }
      - { op: read, map: buf, page: 0 }
      - { op: write, map: buf, page: 2, value: "a2" }
      - { op: read, map: buf, page: 0 }
      - { op: read, map: buf, page: 2 }
`;
  const out = run(y, 'A*8', madv);
  t.deepEqual(res(out.steps, 'A', 5), { ok: true });
  t.deepEqual(res(out.steps, 'A', 6), { ok: true, value: '' });
  t.deepEqual(res(out.steps, 'A', 7), { ok: true, value: 'a2' });
  t.is(out.purgedPages, 1);
});
