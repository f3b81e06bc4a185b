// Goals in scenarios (docs/scenario-format.md, Goals): the loader's refusals, each one line with
// the file, the place and what is allowed; goalsReached on step results; explore --all's goal lines.

import test, { type ExecutionContext } from 'ava';
import { parseScenario, ScenarioError } from '../shared/scenario.js';
import { conditionText, goalProgress, goalReached, goalsOf, goalsReached } from '../checker/goals.js';

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

test('a label that names two steps is refused: give step: N', (t) => {
  const text = GOOD.replace('mode: volatile, label: mark', 'mode: volatile, label: unmark');
  rejects(t, text, 'goals[0].when[0].label', 'label "unmark" names 2 steps of process A (2, 4); give step: N instead');
});

test('goalsReached: every condition must hold in the one run; a step that did not run does not hold', (t) => {
  const s = parseScenario(GOOD, 'g.yaml');
  const run = (purged: boolean, value: string, freed: number) => [
    { process: 'A', index: 4, op: 'vrange', result: { ok: true, bytes: 4096, purged } },
    { process: 'kernel', index: 1, op: 'reclaim', result: { ok: true, freed } },
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
