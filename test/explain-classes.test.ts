// Outcome classes that explain themselves (issue 15 item 4, harness/explain_classes.ts): only the
// steps whose results differ between classes, side by side; a reclaim exchange's prepare and
// commit as lines of their own in witnesses; the warning when classes leave steps out;
// `--classes-by all`, refused values, and shards that carry it.

import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coverageWarnings, differingSteps, differingTable, goalLines, witnessExchanges, witnessLines } from '../harness/explain_classes.js';
import { enumerate, uncountedSteps } from '../harness/enumerate.js';
import { replayChooser } from '../harness/replay.js';
import { runScenario } from '../harness/run.js';
import { loadScenario, parseScenario } from '../shared/scenario.js';
import { cli, configFor, scenarioPath, tempFile } from './helpers.js';

test('differingSteps: only steps whose results differ, only the fields that differ, a step one class never ran', (t) => {
  const classes = [
    { results: ['A#0 mmap -> {"ok":true,"addr":4096}', 'A#5 vrange -> {"ok":true,"bytes":8192,"purged":false}', 'B#1 read -> {"ok":true,"value":"b"}'] },
    { results: ['A#0 mmap -> {"ok":true,"addr":4096}', 'A#5 vrange -> {"ok":true,"bytes":8192,"purged":true}'] },
    { results: ['A#0 mmap -> {"ok":true,"addr":4096}', 'A#5 vrange -> {"ok":false,"errno":"EINVAL"}', 'B#1 read -> {"ok":true,"value":"b"}'] },
  ];
  t.deepEqual(differingSteps(classes), [
    { step: 'A#5 vrange', cells: ['ok: true, bytes: 8192, purged: false', 'ok: true, bytes: 8192, purged: true', 'ok: false, errno: "EINVAL"'] },
    { step: 'B#1 read', cells: ['ok: true, value: "b"', '(not run)', 'ok: true, value: "b"'] },
  ]);
  t.deepEqual(differingSteps(classes.slice(0, 2)), [
    { step: 'A#5 vrange', cells: ['purged: false', 'purged: true'] },
    { step: 'B#1 read', cells: ['ok: true, value: "b"', '(not run)'] },
  ], 'with two classes only purged differs at A#5');
  t.deepEqual(differingSteps(classes.slice(0, 1)), [], 'one class: nothing to tell apart');
});

test('differingTable: step, then one column per class, four classes a table', (t) => {
  const rows = [{ step: 'A#5 vrange', cells: ['purged: false', 'purged: true', 'x', 'y', 'z'] }];
  t.deepEqual(differingTable(rows, 5), [
    '  step        class 1        class 2       class 3  class 4',
    '  A#5 vrange  purged: false  purged: true  x        y',
    '  step        class 5',
    '  A#5 vrange  z',
  ]);
  const long = differingTable([{ step: 'A#0 read', cells: ['v'.repeat(60), 'w'] }], 2)[1]!;
  t.true(long.includes(`${'v'.repeat(39)}…`), long);
});

test('the real witness of a purge that races a nonvolatile shows the prepare, the waiting grant and the commit as lines of their own', async (t) => {
  const s = loadScenario(scenarioPath('race-purge-vs-nonvolatile'));
  const choices = 'A,A,A,A,A,@kernel,@kernel,A,@commit,A,A,@kernel,@kernel'.split(',');
  const { report, history } = await runScenario(s, configFor(s, { seed: 1 }), { chooser: replayChooser(choices) });
  const exchanges = witnessExchanges(history);
  t.is(exchanges.length, 1);
  const x = exchanges[0]!;
  t.like(x, { xid: 1, by: 'kernel#1 reclaim', asked: 1, pages: 2, freed: 2, waited: [{ step: 'A#5 vrange', at: x.prepared }] });
  t.true(x.committed! >= x.prepared);
  const lines = witnessLines(report.steps, exchanges);
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const prepare = at(/^ {8}-- prepare exchange 1 \(.*kernel#1 reclaim\): asks 1 process for 2 pages$/);
  const waits = at(/^ {8}-- A#5 vrange granted: waits for exchange 1/);
  const commit = at(/^ {8}-- commit exchange 1: freed 2 frames$/);
  const reclaimDone = at(/^ +\d+\. kernel +#1 reclaim -> /);
  const nonvolatileDone = at(/^ +\d+\. A +#5 vrange -> .*"purged":true/);
  t.true(prepare >= 0 && prepare < waits && waits < commit && commit < reclaimDone && commit < nonvolatileDone, lines.join('\n'));
  t.is(lines.filter((l) => /^ +\d+\. /.test(l)).length, report.steps.length, 'every step is still one numbered line');
});

/** Only the mark has an expect: one class by the expected steps, two by every step (the read differs). */
const PARTIAL = `
name: partial
processes:
  A:
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "a0" }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile, expect: { ok: true } }
      - { op: signal, name: marked }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: nonvolatile }
      - { op: read, map: buf, page: 0 }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true }
`;

test('classes by expected steps warn which steps they leave out, and which classes hold runs that differ there; --classes-by all splits them', (t) => {
  const s = parseScenario(PARTIAL, 'partial.yaml');
  const config = configFor(s, { seed: 1 });
  const expected = enumerate(s, config);
  const all = enumerate(s, config, 1_000, false, 'all');
  t.is(expected.classes.length, 1);
  t.is(expected.classes[0]!.variants, 2);
  t.is(all.classes.length, 2);
  t.is(all.classes[0]!.variants, undefined, 'classes by every step have nothing left out');
  const uncounted = uncountedSteps(s, config.policy);
  t.deepEqual(uncounted, ['A#0 mmap', 'A#1 write', 'A#3 signal', 'A#4 vrange', 'A#5 read', 'kernel#0 wait', 'kernel#1 reclaim']);
  const [w] = coverageWarnings('expected', uncounted, expected.classes);
  t.regex(w!, /^the classes are made of the steps with an expect \(and kernel checks\) only; 7 steps are not compared \(A#0 mmap, A#1 write, A#3 signal, A#4 vrange, A#5 read, kernel#0 wait and 1 more\), and the traces of class 1 \(2\) differ there/);
  t.deepEqual(coverageWarnings('all', uncountedSteps(s, config.policy, 'all'), all.classes), []);
  const library = loadScenario(scenarioPath('race-purge-vs-nonvolatile'));
  const [same] = coverageWarnings('expected', uncountedSteps(library, 'shared-file'), enumerate(library, configFor(library)).classes);
  t.regex(same!, /in this scenario they give the same results in every trace of a class/);
  const none = loadScenario(scenarioPath('challenge-1-sigbus'));
  t.deepEqual(uncountedSteps(none, 'shared-file'), [], 'no expect anywhere: every step counts, no warning');
});

test('vrange explore --all --classes-by all: the classes of every step, the differing steps side by side; other values refused', async (t) => {
  const file = tempFile('partial.yaml', PARTIAL);
  const [byExpected, byAll, bad, alone] = await Promise.all([
    cli(['explore', file, '--all', '--seed', '1']),
    cli(['explore', file, '--all', '--seed', '1', '--classes-by', 'all']),
    cli(['explore', file, '--all', '--classes-by', 'every']),
    cli(['explore', file, '--classes-by', 'all']),
  ]);
  t.is(byExpected.code, 0, byExpected.stderr);
  t.regex(byExpected.stdout, /^outcome classes: 1; found by the real runs: 1$/m);
  t.regex(byExpected.stdout, /^warning: the classes are made of the steps with an expect .* --classes-by all makes classes of every step's result$/m);
  t.is(byAll.code, 0, byAll.stderr);
  t.regex(byAll.stdout, /^outcome classes: 2; found by the real runs: 2 \(classes by every step's result\)$/m);
  t.notRegex(byAll.stdout, /^warning:/m);
  t.regex(byAll.stdout, /^ {2}step +class 1 +class 2$/m);
  t.regex(byAll.stdout, /^ {2}A#4 vrange +purged: (true|false) +purged: (true|false)$/m);
  t.regex(byAll.stdout, /^ {2}A#5 read +value: "(a0)?" +value: "(a0)?"$/m);
  t.notRegex(byAll.stdout, /^ {2}A#0 mmap {2}/m, 'a step with one result in every class is not in the table');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--classes-by: "every" is not allowed; allowed: expected, all/);
  t.is(alone.code, 2);
  t.regex(alone.stderr, /--classes-by goes with explore --all/);
});

test('shards carry --classes-by: merged they give the unsharded result; shards of another --classes-by do not merge', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-classes-'));
  const file = tempFile('partial.yaml', PARTIAL);
  const args = [file, '--all', '--seed', '1', '--classes-by', 'all'];
  const parts = [1, 2].map((k) => join(dir, `all-${k}.json`));
  const other = join(dir, 'expected-2.json');
  const made = await Promise.all([
    cli(['explore', ...args, '--json']),
    ...parts.map((f, i) => cli(['explore', ...args, '--shard', `${i + 1}/2`, '--out', f])),
    cli(['explore', file, '--all', '--seed', '1', '--shard', '2/2', '--out', other]),
  ]);
  for (const m of made) t.is(m.code, 0, m.stderr);
  const merged = await cli(['merge', ...parts, '--json']);
  t.is(merged.code, 0, merged.stderr);
  t.deepEqual(JSON.parse(merged.stdout), JSON.parse(made[0]!.stdout));
  t.is((JSON.parse(merged.stdout) as { classes: unknown[] }).classes.length, 2);
  const refused = await cli(['merge', parts[0]!, other]);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /another sweep \(classesBy is "expected", not "all"\)/);
});

test('goal lines: by class with its real runs, none reached, and a title that would move the cursor is escaped', (t) => {
  t.deepEqual(goalLines([
    { name: 'a', title: '', reachedBy: [{ class: 1, runs: 3, of: 3 }, { class: 2, runs: 1, of: 4 }] },
    { name: 'b', title: 'clear\u001b[2Jscreen', reachedBy: [] },
    { name: 'c', title: 'one', reachedBy: [{ class: 2, runs: 1, of: 1 }] },
  ]), [
    'goals: 3; reached by some outcome class: 2',
    '  goal a: reached by class 1 (all 3 of its real runs), class 2 (1 of its 4 real runs)',
    '  goal b (clear\\x1b[2Jscreen): reached by no outcome class',
    '  goal c (one): reached by class 2 (its one real run)',
  ]);
  t.deepEqual(goalLines([]), []);
});
