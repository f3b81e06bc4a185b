// Rules that need more than one scenario run to show: the purge-versus-nonvolatile race across
// seeds, the OOM killer's choice, direct reclaim before OOM, death inside a reclaim exchange.
import test from 'ava';
import { runYaml, resultsOf, limiter } from './helpers.js';

const gate = limiter(2);

const race = `
name: race
memory: { frames: 16 }
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 2 }
      - { op: write, map: m, page: 0, value: "keep me" }
      - { op: vrange, map: m, page: 0, pages: 2, mode: volatile }
      - { op: signal, name: marked }
      - { op: vrange, map: m, page: 0, pages: 2, mode: nonvolatile }
      - { op: read, map: m, page: 0 }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true }
`;

test('purge racing nonvolatile: both outcomes occur, and each is consistent', async (t) => {
  const outcomes = new Set<string>();
  const runs = await Promise.all(Array.from({ length: 14 }, (_, i) => gate(() => runYaml(race, { seed: i + 1 }))));
  for (const [i, run] of runs.entries()) {
    t.true(run.report.ok, `seed ${i + 1}: ${JSON.stringify(run.report.invariants)}`);
    const a = resultsOf(run, 'A');
    const purged = a.get(4)!.purged as boolean;
    const value = a.get(5)!.value as string;
    // purged: true <=> the data is gone; purged: false <=> the data survived.
    t.is(value, purged ? '' : 'keep me', `seed ${i + 1}`);
    const blocked = run.history.some((e) => e.kind === 'blocked' && e.process === 'A');
    if (blocked) t.true(purged, `seed ${i + 1}: a nonvolatile held by the exchange sees the purge`);
    outcomes.add(`${purged}`);
  }
  t.deepEqual([...outcomes].sort(), ['false', 'true'], 'over 14 seeds both the purge and the save happen');
});

test('OOM: nothing purgeable, the process with the most resident pages is killed', async (t) => {
  const run = await runYaml(`
name: oom
memory: { frames: 4 }
processes:
  Big:
    steps:
      - { op: mmap, as: m, pages: 3 }
      - { op: write, map: m, page: 0, value: "1" }
      - { op: write, map: m, page: 1, value: "2" }
      - { op: write, map: m, page: 2, value: "3" }
      - { op: signal, name: full }
      - { op: wait, name: never-comes }
  Small:
    steps:
      - { op: wait, name: full }
      - { op: mmap, as: m, pages: 2 }
      - { op: write, map: m, page: 0, value: "a" }
      - { op: write, map: m, page: 1, value: "b" }
      - { op: read, map: m, page: 1 }
      - { op: signal, name: small-done }
  Late:
    steps:
      - { op: wait, name: small-done }
      - { op: signal, name: never-comes }
`, { seed: 3 });
  const oom = run.history.find((e) => e.kind === 'oom-kill');
  t.truthy(oom, 'the OOM killer ran');
  t.is(oom!.process, 'Big');
  t.is(oom!.resident, 3);
  const big = run.report.kernel.processes.find((p) => p.name === 'Big')!;
  t.is(big.state, 'killed');
  t.is(big.signal, 'SIGKILL');
  t.is(resultsOf(run, 'Small').get(4)!.value, 'b', 'the faulting process got its frame');
  t.true(run.report.invariants.every((i) => i.ok), JSON.stringify(run.report.invariants));
});

test('direct reclaim purges a volatile range before the OOM killer is needed', async (t) => {
  const run = await runYaml(`
name: direct
memory: { frames: 2 }
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 2 }
      - { op: write, map: m, page: 0, value: "x" }
      - { op: write, map: m, page: 1, value: "y" }
      - { op: vrange, map: m, page: 0, pages: 1, mode: volatile }
      - { op: mmap, as: n, pages: 1 }
      - { op: write, map: n, page: 0, value: "z", expect: { ok: true } }
      - { op: vrange, map: m, page: 0, pages: 1, mode: nonvolatile, expect: { purged: true } }
      - { op: read, map: m, page: 1, expect: { value: "y" } }
`, { seed: 1 });
  t.true(run.report.ok, JSON.stringify(run.report.failures));
  t.false(run.history.some((e) => e.kind === 'oom-kill'));
  const commit = run.history.find((e) => e.kind === 'reclaim-commit')!;
  t.regex(commit.reason as string, /direct reclaim: A faulted/);
  t.is(commit.freed, 1);
});

test('a mapper that dies between prepare and commit: the exchange completes without it, nothing leaks', async (t) => {
  const yaml = `
name: die-in-exchange
memory: { frames: 16 }
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 2 }
      - { op: write, map: m, page: 0, value: "p" }
      - { op: vrange, map: m, page: 0, pages: 2, mode: volatile }
      - { op: fork, child: B }
      - { op: signal, name: ready }
      - { op: waitpid, process: B, expect: { signal: SIGKILL } }
  B:
    forked: true
    steps:
      - { op: wait, name: ready }
      - { op: crash, expect: { signal: SIGKILL } }
kernel:
  - { op: wait, name: ready }
  - { op: reclaim, all: true }
  - { op: waitpid, process: A }
  - { op: check, framesUsed: 0, processes: { A: exited, B: killed } }
`;
  let inWindow = 0;
  const runs = await Promise.all(Array.from({ length: 16 }, (_, i) => gate(() => runYaml(yaml, { seed: i + 1 }))));
  for (const [i, run] of runs.entries()) {
    t.true(run.report.ok, `seed ${i + 1}: ${JSON.stringify([run.report.failures, run.report.invariants])}`);
    const seq = (kind: string, pred: (e: Record<string, unknown>) => boolean = () => true) =>
      run.history.find((e) => e.kind === kind && pred(e))?.seq ?? -1;
    const prepare = seq('reclaim-prepare');
    const death = seq('cleanup', (e) => e.process === 'B');
    const commit = seq('reclaim-commit');
    if (prepare >= 0 && prepare < death && death < commit) inWindow++;
  }
  t.true(inWindow > 0, 'some seed kills B inside the exchange window');
});

test('deaths seen by waitpid, concurrent forks, crash and empty processes, in both schedules', async (t) => {
  const yaml = `
name: lifecycle
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 1 }
      - { op: fork, child: C, expect: { ok: true } }
      - { op: waitpid, process: C, expect: { ok: true, signal: SIGSEGV } }
      - { op: waitpid, process: D, expect: { ok: true, signal: SIGKILL } }
      - { op: exit, code: 4 }
  B:
    steps:
      - { op: fork, child: D, expect: { ok: true } }
      - { op: waitpid, process: E, expect: { ok: true, exitCode: 0 } }
  C:
    forked: true
    steps:
      - { op: munmap, map: m }
      - { op: read, map: m, page: 0, expect: { signal: SIGSEGV } }
  D:
    forked: true
    steps:
      - { op: crash, expect: { ok: false, signal: SIGKILL } }
  E:
    steps: []
kernel:
  - { op: waitpid, process: A, expect: { ok: true, exitCode: 4 } }
  - { op: waitpid, process: B, expect: { ok: true, exitCode: 0 } }
  - { op: check, framesUsed: 0, processes: { A: exited, B: exited, C: killed, D: killed, E: exited } }
`;
  for (const [schedule, seed] of [['lockstep', 1], ['lockstep', 2], ['free', 0], ['free', 0]] as const) {
    const run = await gate(() => runYaml(yaml, { schedule, seed }));
    t.deepEqual(run.report.failures, [], `${schedule} ${seed}`);
    t.true(run.report.ok, `${schedule} ${seed}: ${JSON.stringify(run.report.invariants.filter((i) => !i.ok))}`);
    const pids = run.report.kernel.processes.map((p) => p.pid).filter((p) => p !== undefined).sort();
    t.is(new Set(pids).size, pids.length, 'every process has its own pid');
    t.deepEqual(resultsOf(run, 'D').get(0), { ok: false, signal: 'SIGKILL' }, 'the crash step is reported');
  }
});

// per-mm: a process that maps one file page twice and marks it through one mapping only. A purge
// by the file's own (fvrange) range tells that process of the purge through the marked mapping
// alone: the other mapping was never volatile in its mm, so its nonvolatile reports nothing purged
// (the kernel once told every mapping of a process with any volatile vote).
test('per-mm: a page mapped twice by one process and marked through one mapping: only that mapping learns of the purge', async (t) => {
  const out = await gate(() => runYaml(`
name: per-mm-mapped-twice
policy: per-mm
files: [ { name: f, pages: 1 } ]
processes:
  A:
    sigbus: handle
    steps:
      - { op: open, file: f }
      - { op: mmap, as: m1, fd: f, pages: 1 }
      - { op: mmap, as: m2, fd: f, pages: 1 }
      - { op: write, map: m1, page: 0, value: a }
      - { op: vrange, map: m2, page: 0, pages: 1, mode: volatile }
      - { op: fvrange, fd: f, page: 0, pages: 1, mode: volatile }
      - { op: signal, name: marked }
      - { op: wait, name: reclaimed }
      - { op: vrange, map: m1, page: 0, pages: 1, mode: nonvolatile, expect: { ok: true, purged: false } }
      - { op: vrange, map: m2, page: 0, pages: 1, mode: nonvolatile, expect: { ok: true, purged: true } }
      - { op: fvrange, fd: f, page: 0, pages: 1, mode: nonvolatile, expect: { ok: true, purged: true } }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true, expect: { freed: 1 } }
  - { op: signal, name: reclaimed }
`));
  t.deepEqual(out.report.failures, []);
  t.deepEqual(out.report.invariants.filter((i) => !i.ok), []);
});
