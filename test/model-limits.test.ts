// The reference model alone, continued (test/model.test.ts): direct reclaim, the OOM killer,
// errors, final release, deadlock, refused schedules; small inline scenarios, hand-computed results.
import test from 'ava';
import { forkCow, order, res, run } from './model_helpers.js';

// ---- direct reclaim and OOM ---------------------------------------------------------------------------

const direct = `
name: direct
memory: { frames: 3 }
processes:
  A:
    sigbus: handle
    steps:
      - { op: mmap, as: buf, pages: 2 }
      - { op: write, map: buf, page: 0, value: "a0" }
      - { op: write, map: buf, page: 1, value: "a1" }
      - { op: vrange, map: buf, page: 0, pages: 2, mode: volatile }
      - { op: read, map: buf, page: 0 }
  B:
    steps:
      - { op: mmap, as: buf, pages: 2 }
      - { op: write, map: buf, page: 0, value: "b0" }
      - { op: write, map: buf, page: 1, value: "b1" }
kernel:
  - { op: reclaim, all: true }
`;

test('direct reclaim: a write with no free frame purges a volatile unit instead of killing', (t) => {
  const out = run(direct, 'A*4 B*3 K C A');
  t.deepEqual(res(out.steps, 'B', 2), { ok: true });
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 0 });
  t.deepEqual(res(out.steps, 'A', 4), { ok: false, signal: 'SIGBUS' });
  t.is(out.purgedPages, 2);
});

test('frames held by an open exchange are not candidates: the same write OOM-kills the holder', (t) => {
  const out = run(direct, 'A*4 K B*3 C');
  t.deepEqual(res(out.steps, 'B', 2), { ok: true });
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true, freed: 0 });
  t.is(res(out.steps, 'A', 4), undefined, 'A was killed between steps: nothing in flight to report');
  t.is(out.purgedPages, 0);
  t.is(out.framesUsed, 0);
});

const oom = (first: 'H' | 'F') => `
name: oom
memory: { frames: 2 }
processes:
  ${first === 'H' ? 'H' : 'F'}: ${first === 'H' ? 'HSTEPS' : 'FSTEPS'}
  ${first === 'H' ? 'F' : 'H'}: ${first === 'H' ? 'FSTEPS' : 'HSTEPS'}
`.replace('HSTEPS', `
    steps:
      - { op: mmap, as: m, pages: 1 }
      - { op: write, map: m, page: 0, value: "h0" }
      - { op: read, map: m, page: 0 }`).replace('FSTEPS', `
    steps:
      - { op: mmap, as: m, pages: 2 }
      - { op: write, map: m, page: 0, value: "f0" }
      - { op: write, map: m, page: 1, value: "f1" }
      - { op: read, map: m, page: 1 }`);

test('OOM tie (one page each): the first in the scenario order dies, here the other process', (t) => {
  const out = run(oom('H'), 'H*2 F*4');
  t.deepEqual(res(out.steps, 'F', 2), { ok: true });
  t.deepEqual(res(out.steps, 'F', 3), { ok: true, value: 'f1' });
  t.is(res(out.steps, 'H', 2), undefined);
});

test('OOM tie where the faulting process comes first: its own write reports SIGKILL', (t) => {
  const out = run(oom('F'), 'H*2 F*3 H');
  t.deepEqual(res(out.steps, 'F', 2), { ok: false, signal: 'SIGKILL' });
  t.deepEqual(res(out.steps, 'H', 2), { ok: true, value: 'h0' });
  t.is(out.framesUsed, 0);
});

test('an OOM victim with a step in flight (a wait granted early) reports it as SIGKILL first', (t) => {
  const out = run(`
name: oom-wait
memory: { frames: 3 }
processes:
  H:
    steps:
      - { op: mmap, as: m, pages: 2 }
      - { op: write, map: m, page: 0, value: "h0" }
      - { op: write, map: m, page: 1, value: "h1" }
      - { op: wait, name: never }
  F:
    steps:
      - { op: mmap, as: m, pages: 2 }
      - { op: write, map: m, page: 0, value: "f0" }
      - { op: write, map: m, page: 1, value: "f1" }
      - { op: waitpid, process: H }
      - { op: signal, name: never }
`, 'H*4 F*5');
  t.deepEqual(order(out.steps).slice(-5), ['F#1', 'H#3', 'F#2', 'F#3', 'F#4']);
  t.deepEqual(res(out.steps, 'H', 3), { ok: false, signal: 'SIGKILL' });
  t.deepEqual(res(out.steps, 'F', 3), { ok: true, signal: 'SIGKILL' });
});

// ---- errors, files, deadlock ---------------------------------------------------------------------------

test('errors: EINVAL, ENOMEM, EBADF change nothing; fds lowest free from 3; SIGSEGV ends even a handler', (t) => {
  const out = run(`
name: errors
memory: { frames: 16 }
files: [ { name: f, pages: 2 } ]
processes:
  A:
    sigbus: handle
    steps:
      - { op: open, file: f }
      - { op: open, file: f, fd: g }
      - { op: close, fd: g }
      - { op: fvrange, fd: g, page: 0, pages: 1, mode: volatile }
      - { op: close, fd: g }
      - { op: open, file: f, fd: h }
      - { op: mmap, as: buf, pages: 2 }
      - { op: mmap, as: bad, fd: f, pages: 2, offset: 1 }
      - { op: vrange, map: buf, byteOffset: 100, byteLength: 4096, mode: volatile }
      - { op: vrange, map: buf, page: 0, pages: 3, mode: volatile }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: sticky }
      - { op: vrange, map: buf, byteOffset: 4096, byteLength: 4095, mode: volatile }
      - { op: fvrange, fd: f, page: 1, pages: 2, mode: volatile }
      - { op: query, fd: f, page: 0, pages: 0 }
      - { op: query, map: buf, page: 1, pages: 2 }
      - { op: query, map: buf, page: 0, pages: 2 }
      - { op: read, map: buf, page: 5 }
      - { op: read, map: buf, page: 0 }
kernel:
  - { op: kill, process: A }
`, 'A*17 K');
  const errno = (e: string) => ({ ok: false, errno: e });
  t.deepEqual(out.steps.map((s) => s.result), [
    { ok: true, fd: 3 }, { ok: true, fd: 4 }, { ok: true }, errno('EBADF'), errno('EBADF'), { ok: true, fd: 4 },
    { ok: true, addr: 4096 }, errno('EINVAL'), errno('EINVAL'), errno('ENOMEM'), errno('EINVAL'), errno('EINVAL'),
    errno('EINVAL'), errno('EINVAL'), errno('ENOMEM'),
    { ok: true, pages: [{ page: 0, resident: false, volatile: false, purged: false }, { page: 1, resident: false, volatile: false, purged: false }] },
    { ok: false, signal: 'SIGSEGV' },
    errno('ESRCH'),
  ]);
});

test('anon-only: the VMAs are walked in address order, a refused file VMA is EINVAL before the hole in front of it (v14 madvise_volatile)', (t) => {
  const out = run(`
name: anon-only-order
memory: { frames: 16 }
files: [ { name: f, pages: 2 } ]
processes:
  A:
    steps:
      - { op: open, file: f }
      - { op: mmap, as: m, fd: f, pages: 2 }
      - { op: vrange, map: m, page: 0, pages: 3, mode: volatile }
      - { op: vrange, map: m, page: 0, pages: 2, mode: volatile }
      - { op: fvrange, fd: f, page: 0, pages: 2, mode: volatile }
      - { op: mmap, as: a, pages: 1 }
      - { op: mmap, as: b, pages: 1 }
      - { op: mmap, as: g, fd: f, pages: 1 }
      - { op: munmap, map: b }
      - { op: vrange, map: a, page: 0, pages: 3, mode: volatile }
      - { op: vrange, map: a, page: 0, pages: 2, mode: volatile }
      - { op: vrange, map: m, page: 1, pages: 3, mode: volatile }
`, 'A*12', { policy: 'anon-only' });
  // m (file) at pages 1-2, a at 3, b at 4 (unmapped again), g (file) at 5. EINVAL: [m][hole], [a][hole][g] (the
  // kind of g is checked before the hole in front of it), [m][a][hole]; ENOMEM: [a][hole].
  t.deepEqual(out.steps.slice(2).map((s) => s.result), [
    { ok: false, errno: 'EINVAL' }, { ok: false, errno: 'EINVAL' }, { ok: true, bytes: 8192 },
    { ok: true, addr: 3 * 4096 }, { ok: true, addr: 4 * 4096 }, { ok: true, addr: 5 * 4096 }, { ok: true },
    { ok: false, errno: 'EINVAL' }, { ok: false, errno: 'ENOMEM' }, { ok: false, errno: 'EINVAL' },
  ]);
});

test('final release: ashmem frees its pages, tmpfs keeps them; both lose their volatility', (t) => {
  const out = run(`
name: release
memory: { frames: 16 }
files: [ { name: r, pages: 1, kind: ashmem }, { name: c, pages: 1 } ]
processes:
  A:
    steps:
      - { op: open, file: r }
      - { op: open, file: c }
      - { op: mmap, as: mr, fd: r, pages: 1 }
      - { op: mmap, as: mc, fd: c, pages: 1 }
      - { op: write, map: mr, page: 0, value: "r" }
      - { op: write, map: mc, page: 0, value: "c" }
      - { op: fvrange, fd: r, page: 0, pages: 1, mode: volatile }
      - { op: fvrange, fd: c, page: 0, pages: 1, mode: volatile }
      - { op: exit, code: 7 }
  B:
    steps:
      - { op: wait, name: gone }
      - { op: open, file: c }
      - { op: mmap, as: mc, fd: c, pages: 1 }
      - { op: read, map: mc, page: 0 }
kernel:
  - { op: check, framesUsed: 2, files: { r: { open: 1, mapped: 1, volatile: [[0, 1]] } } }
  - { op: waitpid, process: A }
  - { op: check, framesUsed: 1, files: { r: { open: 0, mapped: 0, volatile: [] }, c: { open: 0, mapped: 0, volatile: [] } } }
  - { op: signal, name: gone }
  - { op: check, framesUsed: 0, processes: { A: exited } }
`, 'A*8 K A K*3 B*4 K');
  t.deepEqual(res(out.steps, 'kernel', 0), { ok: true });
  t.deepEqual(res(out.steps, 'kernel', 1), { ok: true, exitCode: 7 });
  t.deepEqual(res(out.steps, 'kernel', 2), { ok: true });
  t.deepEqual(res(out.steps, 'B', 3), { ok: true, value: 'c' });
  t.deepEqual(res(out.steps, 'kernel', 4), {
    ok: false, mismatches: [{ field: 'framesUsed', expected: 0, actual: 1 }],
  });
  t.is(out.framesUsed, 1);
});

test('deadlock: each waiting step reports stuck, processes by pid then the kernel', (t) => {
  const out = run(`
name: deadlock
memory: { frames: 16 }
processes:
  S:
    steps:
      - { op: exit }
      - { op: signal, name: go }
  W:
    steps:
      - { op: wait, name: go }
kernel:
  - { op: waitpid, process: W }
`, 'S K');
  t.deepEqual(out.steps, [
    { process: 'S', index: 0, op: 'exit', result: { ok: true } },
    { process: 'W', index: 0, op: 'wait', result: { ok: false, stuck: true } },
    { process: 'kernel', index: 0, op: 'waitpid', result: { ok: false, stuck: true }, kernel: true },
  ]);
});

test('a schedule that grants what cannot run is refused', (t) => {
  t.throws(() => run(forkCow, 'B'), { message: /cannot be granted/ });
  t.throws(() => run(forkCow, 'C'), { message: /no reclaim exchange/ });
  t.throws(() => run(forkCow, 'A*5 B K'), { message: /exchange open/ });
});
