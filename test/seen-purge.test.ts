// A mark made after the prepare, of a page the commit purges (docs/semantics.md): under per-mm a
// shared file page whose own range is volatile is purged whatever its mappers answered, so a mapper
// that marked it volatile in its mm after its answer, or was born after the prepare and marked it
// since, had it purged while volatile: its next nonvolatile must say `purged: true` (the spec's
// "if and only if"). The kernel tells those mappers in the commit (`seen`), the history says so
// (`purge-notify.seen`), and the checker and the reference model agree. Each case is forced with
// --choices: @kernel is the reclaim's prepare, @commit its commit.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { cli, tempFile } from './helpers.js';
import { res, run } from './model_helpers.js';

const head = (name: string) => `name: ${name}
policy: per-mm
memory: { frames: 8 }
files: [ { name: f, pages: 1 } ]
processes:
  A:
    steps:
      - { op: open, file: f, fd: d }
      - { op: mmap, as: m, fd: d, pages: 1, share: shared }
      - { op: write, map: m, page: 0, value: x }
      - { op: fvrange, fd: d, page: 0, pages: 1, mode: volatile }
`;

/** A answers the prepare "not volatile", then marks the page in its mm before the commit. */
const markedAfterAnswer = `${head('marked-after-answer')}      - { op: vrange, map: m, page: 0, pages: 1, mode: volatile }
      - { op: vrange, map: m, page: 0, pages: 1, mode: nonvolatile }
kernel:
  - { op: reclaim, all: true }
`;

/** B is forked after the prepare (nobody asks it), marks the inherited mapping, then the commit purges the page. */
const bornAfterPrepare = `${head('born-after-prepare')}      - { op: fork, child: B }
  B:
    forked: true
    steps:
      - { op: vrange, map: m, page: 0, pages: 1, mode: volatile }
      - { op: vrange, map: m, page: 0, pages: 1, mode: nonvolatile }
kernel:
  - { op: reclaim, all: true }
`;

const cases = [
  { name: 'a mapper that marked the page after its answer', yaml: markedAfterAnswer, choices: 'A,A,A,A,@kernel,A,@commit,A', who: 'A', index: 5, model: 'A*4 K A C A' },
  { name: 'a child born after the prepare that marked the page', yaml: bornAfterPrepare, choices: 'A,A,A,A,@kernel,A,B,@commit,B', who: 'B', index: 1, model: 'A*4 K A B C B' },
];

for (const c of cases) {
  test(`${c.name}: its nonvolatile says purged, the history says why, and the checker finds it valid`, async (t) => {
    const file = tempFile(`${c.who}.yaml`, c.yaml);
    const trace = file.replace(/\.yaml$/, '.jsonl');
    const r = await cli(['run', file, '--choices', c.choices, '--json', '--trace', trace]);
    t.is(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { ok: boolean; steps: Array<{ process: string; index: number; result: Record<string, unknown> }> };
    t.true(report.ok, 'every invariant holds');
    t.deepEqual(report.steps.find((s) => s.process === c.who && s.index === c.index)?.result, { ok: true, bytes: 4096, purged: true });
    const events = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const decision = events.find((e) => e.kind === 'decision')!;
    t.is(decision.rule, 'file-range-volatile', 'the file\'s own range purged the page, not the mappers\' votes');
    const told = events.filter((e) => e.kind === 'purge-notify' && e.process === c.who);
    t.deepEqual(told.map((e) => e.seen), [[1, 1]], 'offered the purged page it did not hold (vpage 1, one page)');
    const checked = await cli(['check', trace]);
    t.is(checked.code, 0, checked.stdout + checked.stderr);
    // The reference model, on the same schedule.
    t.deepEqual(res(run(c.yaml, c.model).steps, c.who, c.index), { ok: true, bytes: 4096, purged: true });
  });
}

test('a mapper that did not mark the page is offered it and stays not purged', async (t) => {
  // A never marks the page in its mm: the commit offers it (seen), and its nonvolatile still says false.
  const yaml = `${head('never-marked')}      - { op: vrange, map: m, page: 0, pages: 1, mode: nonvolatile }
kernel:
  - { op: reclaim, all: true }
`;
  const file = tempFile('never.yaml', yaml);
  const r = await cli(['run', file, '--choices', 'A,A,A,A,@kernel,@commit,A', '--json']);
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { steps: Array<{ process: string; index: number; result: Record<string, unknown> }> };
  t.deepEqual(report.steps.find((s) => s.process === 'A' && s.index === 4)?.result, { ok: true, bytes: 4096, purged: false });
  t.deepEqual(res(run(yaml, 'A*4 K C A').steps, 'A', 4), { ok: true, bytes: 4096, purged: false });
});
