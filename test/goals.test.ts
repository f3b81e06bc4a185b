// Goals in scenarios (docs/scenario-format.md, Goals): the loader's refusals, each one line with
// the file, the place and what is allowed; goalsReached on step results; explore --all's goal lines.

import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario, parseScenario, ScenarioError } from '../shared/scenario.js';
import { conditionText, goalProgress, goalReached, goalsOf, goalsReached } from '../checker/goals.js';
import { exploreAll } from '../harness/explore_all.js';
import { cli, configFor, root, scenarioPath, sessionLimiter, tempFile } from './helpers.js';

const withSession = sessionLimiter(2);

const BASE = `
name: g
processes:
  A:
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "a0" }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile, label: mark }
      - { op: signal, name: marked }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: nonvolatile, label: unmark }
      - { op: read, map: buf, page: 0 }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true, label: purge }
`;

const withGoals = (goals: string) => `${BASE}goals:\n${goals}`;

const GOOD = withGoals(`
  - name: data-lost
    title: "A is told its data is gone"
    when:
      - { process: A, label: unmark, result: { purged: true } }
      - { process: A, step: 5, result: { value: "" } }
  - name: data-kept
    when:
      - { process: A, label: unmark, result: { purged: false } }
      - { process: kernel, label: purge, result: { freed: 0 } }
`);

function rejects(t: ExecutionContext, text: string, place: string, fragment: string): void {
  const err = t.throws(() => parseScenario(text, 'g.yaml'), { instanceOf: ScenarioError })!;
  t.is(err.path, place, err.message);
  t.true(err.message.startsWith(`g.yaml: ${place}: `), err.message);
  t.true(err.message.includes(fragment), err.message);
  t.false(err.message.includes('\n'), err.message);
}

test('goals load with label references resolved to indexes, kernel steps included; no goals: none', (t) => {
  const s = parseScenario(GOOD, 'g.yaml');
  t.deepEqual(goalsOf(s), [
    { name: 'data-lost', title: 'A is told its data is gone', when: [
      { process: 'A', index: 4, label: 'unmark', result: { purged: true } },
      { process: 'A', index: 5, result: { value: '' } },
    ] },
    { name: 'data-kept', title: '', when: [
      { process: 'A', index: 4, label: 'unmark', result: { purged: false } },
      { process: 'kernel', index: 1, label: 'purge', result: { freed: 0 } },
    ] },
  ]);
  t.deepEqual(goalsOf(parseScenario(BASE, 'g.yaml')), []);
  t.is(conditionText(goalsOf(s)[0]!.when[0]!, s), 'A #4 (unmark) vrange gives {"purged":true}');
});

test('a result field the step\'s op cannot report is refused with the place and the allowed fields', (t) => {
  rejects(t, withGoals('  - { name: x, when: [ { process: A, step: 5, result: { purged: true } } ] }'),
    'goals[0].when[0].result.purged', 'allowed fields for a result of op read: ok, errno, signal, stuck, value');
  rejects(t, withGoals('  - { name: x, when: [ { process: A, step: 0, result: { ok: true } }, { process: A, label: unmark, result: { purgd: true } } ] }'),
    'goals[0].when[1].result.purgd', 'did you mean "purged"?');
  rejects(t, withGoals('  - { name: x, when: [ { process: kernel, step: 1, result: { value: "" } } ] }'),
    'goals[0].when[0].result.value', 'allowed fields for a result of op reclaim: ok, errno, signal, stuck, freed');
});

test('a result field of the wrong type is refused as expect refuses it', (t) => {
  rejects(t, withGoals('  - { name: x, when: [ { process: A, label: unmark, result: { purged: "no" } } ] }'),
    'goals[0].when[0].result.purged', 'expected true or false, got "no"');
});

test('an unknown label is refused with the labels and "did you mean"', (t) => {
  rejects(t, withGoals('  - { name: x, when: [ { process: A, label: unmrak, result: { ok: true } } ] }'),
    'goals[0].when[0].label', 'process A has no step labelled "unmrak"; its labels: mark, unmark; did you mean "unmark"?');
  rejects(t, withGoals('  - { name: x, when: [ { process: kernel, label: purg, result: { ok: true } } ] }'),
    'goals[0].when[0].label', 'the kernel has no step labelled "purg"; its labels: purge; did you mean "purge"?');
});

test('a step index past the end, an unknown process, both or neither of step and label are refused', (t) => {
  rejects(t, withGoals('  - { name: x, when: [ { process: A, step: 6, result: { ok: true } } ] }'),
    'goals[0].when[0].step', 'process A has 6 steps (0 to 5); got step 6');
  rejects(t, withGoals('  - { name: x, when: [ { process: B, step: 0, result: { ok: true } } ] }'),
    'goals[0].when[0].process', 'unknown process "B"; processes: A, kernel');
  rejects(t, withGoals('  - { name: x, when: [ { process: A, step: 0, label: mark, result: { ok: true } } ] }'),
    'goals[0].when[0].label', 'give either step or label, not both');
  rejects(t, withGoals('  - { name: x, when: [ { process: A, result: { ok: true } } ] }'),
    'goals[0].when[0]', 'missing field: give step or label');
});

test('goal names: [a-z0-9-]+, unique; when: at least one condition; unknown fields named', (t) => {
  rejects(t, withGoals('  - { name: Big, when: [ { process: A, step: 0, result: { ok: true } } ] }'),
    'goals[0].name', 'expected a goal name of a-z, 0-9 and -');
  rejects(t, withGoals('  - { name: x, when: [ { process: A, step: 0, result: { ok: true } } ] }\n  - { name: x, when: [ { process: A, step: 1, result: { ok: true } } ] }'),
    'goals[1].name', 'duplicate goal name "x" (already goals[0])');
  rejects(t, withGoals('  - { name: x, when: [] }'), 'goals[0].when', 'a list of 1 to 64 conditions');
  rejects(t, withGoals('  - { name: x, tilte: y, when: [ { process: A, step: 0, result: { ok: true } } ] }'),
    'goals[0].tilte', 'allowed fields for a goal: name, title, when; did you mean "title"?');
});

test('a process named kernel makes `process: kernel` ambiguous: refused', (t) => {
  const text = `name: k\nprocesses:\n  kernel:\n    steps:\n      - { op: exit }\ngoals:\n  - { name: x, when: [ { process: kernel, step: 0, result: { ok: true } } ] }\n`;
  rejects(t, text, 'goals', 'a process is named "kernel"');
});

test('a label that names two steps is refused: give step: N', (t) => {
  const text = GOOD.replace('mode: volatile, label: mark', 'mode: volatile, label: unmark');
  rejects(t, text, 'goals[0].when[0].label', 'label "unmark" names 2 steps of process A (2, 4); give step: N instead');
});

test('goalsReached: every condition must hold in the one run; a step that did not run does not hold', (t) => {
  const s = parseScenario(GOOD, 'g.yaml');
  const run = (purged: boolean, value: string, freed: number) => [
    { process: 'A', index: 4, op: 'vrange', result: { ok: true, bytes: 4096, purged } },
    { process: 'kernel', index: 1, op: 'reclaim', result: { ok: true, freed }, kernel: true as const },
    { process: 'A', index: 5, op: 'read', result: { ok: true, value } },
  ];
  t.deepEqual(goalsReached(s, run(true, '', 1)), ['data-lost']);
  t.deepEqual(goalsReached(s, run(false, 'a0', 0)), ['data-kept']);
  t.deepEqual(goalsReached(s, run(true, 'a0', 0)), [], 'purged but read "a0": neither (each needs both of its conditions)');
  t.deepEqual(goalsReached(s, run(true, '', 1).slice(0, 2)), [], 'the read has not run yet');
  const p = goalProgress(s, run(true, 'a0', 1));
  t.deepEqual(p.map((g) => [g.goal.name, g.reached, g.conditions.map((c) => c.reached)]), [['data-lost', false, [true, false]], ['data-kept', false, [false, false]]]);
  t.deepEqual(p[0]!.conditions[1]!.actual, { ok: true, value: 'a0' });
  t.false(goalReached(goalsOf(s)[1]!, []));
});

/** The challenge scenarios scenarios/README.md lists. */
const CHALLENGES = [...readFileSync(join(root, 'scenarios', 'README.md'), 'utf8').matchAll(/^\| `(challenge-[a-z0-9-]+)` \|/gm)].map((m) => m[1]!);

test('six challenges, each listed, each with goals; explore --all: every goal is reached by some class and by not every class', async (t) => {
  t.is(CHALLENGES.length, 6);
  await Promise.all(CHALLENGES.map((name) => withSession(async (session) => {
    const s = loadScenario(scenarioPath(name));
    t.true(goalsOf(s).length >= 2, name);
    t.true(readFileSync(scenarioPath(name), 'utf8').startsWith('# yaml-language-server: $schema=../schema/scenario.schema.json\n'), name);
    const r = await exploreAll(scenarioPath(name), s, configFor(s, { seed: 1 }), 10_000, { session });
    t.deepEqual(r.problems, [], name);
    t.true(r.classes.length >= 2, name);
    t.deepEqual(r.goals.map((g) => g.name), goalsOf(s).map((g) => g.name), name);
    for (const g of r.goals) {
      t.true(g.reachedBy.length >= 1, `${name}: goal ${g.name} is reached by some class`);
      t.true(g.reachedBy.length < r.classes.length, `${name}: goal ${g.name} is not reached by every class`);
      // Checked again from the witnesses' own steps: the class's witness reaches the goal.
      for (const by of g.reachedBy) {
        const c = r.classes[by.class - 1]!;
        if (by.runs === c.realRuns) t.true(goalsReached(s, c.witness!.steps).includes(g.name), `${name}: class ${by.class}'s witness reaches ${g.name}`);
      }
    }
  })));
});

test('vrange explore --all prints which classes reach which goal, in text and --json; a goal no class reaches is a line, not a failure', async (t) => {
  const file = scenarioPath('challenge-6-broken-promise');
  const [perMm, sharedFile, json] = await Promise.all([
    cli(['explore', file, '--all', '--seed', '1']),
    cli(['explore', file, '--all', '--seed', '1', '--policy', 'shared-file']),
    cli(['explore', file, '--all', '--seed', '1', '--json']),
  ]);
  t.is(perMm.code, 0, perMm.stderr);
  t.regex(perMm.stdout, /^goals: 2; reached by some outcome class: 2$/m);
  t.regex(perMm.stdout, /^ {2}goal broken-promise \(B is told purged: false, yet its read of the page gets SIGBUS\): reached by class \d \(all \d+ of its real runs\)$/m);
  t.regex(perMm.stdout, /^ {2}goals reached: broken-promise$/m, 'the class that reaches it says so');
  t.is(sharedFile.code, 0, 'a goal no class reaches is not a failure: ' + sharedFile.stdout);
  t.regex(sharedFile.stdout, /^ {2}goal broken-promise \(.*\): reached by no outcome class$/m);
  t.notRegex(sharedFile.stdout, /PROBLEM/);
  const doc = JSON.parse(json.stdout) as { goals: Array<{ name: string; reachedBy: Array<{ class: number; runs: number; of: number }> }>; classes: Array<{ goals: Record<string, number>; realRuns: number }> };
  const broken = doc.goals.find((g) => g.name === 'broken-promise')!;
  t.is(broken.reachedBy.length, 1);
  const c = doc.classes[broken.reachedBy[0]!.class - 1]!;
  t.is(c.goals['broken-promise'], c.realRuns);
  t.is(broken.reachedBy[0]!.runs, c.realRuns);
});

test('a goal on a step the classes leave out: a class may reach it in some of its real runs only, and says how many', async (t) => {
  // The classes are made of the expected step (the mark) only: one class, whose runs differ at the read.
  const text = BASE.replace('label: mark }', 'label: mark, expect: { ok: true } }') + `goals:
  - { name: read-kept, when: [ { process: A, step: 5, result: { value: "a0" } } ] }
`;
  const s = parseScenario(text, 'g.yaml');
  const r = await withSession((session) => exploreAll('g.yaml', s, configFor(s, { seed: 1 }), 1_000, { session }));
  t.is(r.classes.length, 1);
  const [g] = r.goals;
  t.is(g!.reachedBy.length, 1);
  t.true(g!.reachedBy[0]!.runs > 0 && g!.reachedBy[0]!.runs < g!.reachedBy[0]!.of, JSON.stringify(g));
});

test('vrange run says which goals the run reached; the replay line of a class\'s witness reaches its goals again', async (t) => {
  const file = scenarioPath('challenge-1-sigbus');
  const [sigbus, inTime, none] = await Promise.all([
    cli(['run', file, '--seed', '1', '--choices', 'A,A,A,A,kernel,kernel,A,commit']),
    cli(['run', file, '--seed', '1', '--choices', 'A,A,A,A,A,kernel,kernel,commit']),
    cli(['run', scenarioPath('race-purge-vs-nonvolatile'), '--seed', '1']),
  ]);
  t.is(sigbus.code, 0, sigbus.stderr);
  t.regex(sigbus.stdout, /^goals reached: sigbus \(1 of 2; not reached: read-in-time\)$/m);
  t.regex(inTime.stdout, /^goals reached: read-in-time \(1 of 2; not reached: sigbus\)$/m);
  t.notRegex(none.stdout, /^goals reached/m, 'a scenario without goals prints no goal line');
});

test('vrange run and explore refuse a bad goal before anything runs: one line naming the file and the place, exit 2', async (t) => {
  const file = tempFile('bad-goal.yaml', withGoals('  - { name: x, when: [ { process: A, label: unmark, result: { value: "a0" } } ] }'));
  for (const args of [['run', file, '--seed', '1'], ['explore', file, '--all']]) {
    const r = await cli(args);
    t.is(r.code, 2, r.stdout + r.stderr);
    t.is(r.stdout, '');
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.true(r.stderr.includes(`${file}: goals[0].when[0].result.value: unknown field "value"; allowed fields for a result of op vrange: ok, errno, signal, stuck, bytes, purged`), r.stderr);
  }
});
