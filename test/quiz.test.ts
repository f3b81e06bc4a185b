// `vrange quiz`: a seed makes the problem, --answers reveals it. Same seed, same quiz; the answers
// are what the real run gives, what the reference model gives for the same schedule, and what any
// other schedule gives (the quiz orders its phases with signal/wait).
import test from 'ava';
import { makeQuiz, answerQuiz, quizConfig } from '../harness/quiz.js';
import { actionsOf } from '../harness/run.js';
import { runModel } from '../model/model.js';
import { loadScenario } from '../shared/scenario.js';
import { cli, tempFile } from './helpers.js';

const sorted = (o: Record<string, unknown>) => JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1))));

test('same seed, same quiz; different seeds, different quizzes; every quiz is a valid scenario with questions', (t) => {
  t.is(makeQuiz(7).yaml, makeQuiz(7).yaml);
  t.deepEqual(makeQuiz(7).questions, makeQuiz(7).questions);
  const texts = new Set<string>();
  const kinds = new Set<string>();
  for (let seed = 0; seed < 60; seed++) {
    const q = makeQuiz(seed);
    texts.add(q.yaml.replace(/quiz-\d+/, 'quiz'));
    kinds.add(q.scenario.files.length ? 'file' : q.scenario.processes.length > 1 ? 'fork' : 'anon');
    t.true(q.questions.length >= 3 && q.questions.length <= 5, `seed ${seed}: ${q.questions.length} questions`);
    t.deepEqual(q.questions.map((x) => x.label), q.questions.map((_, i) => `Q${i + 1}`));
  }
  t.true(texts.size >= 30, `only ${texts.size} distinct quizzes in 60 seeds`);
  t.deepEqual([...kinds].sort(), ['anon', 'file', 'fork']);
});

// Seeds 1 anonymous, 4 a file under per-mm with a private mapper, 13 a file under shared-file with two
// markers, 17 a fork, 18 a file under anon-only.
for (const seed of [1, 4, 13, 17, 18]) {
  test(`quiz ${seed}: the answers are the run's, the model's, and any schedule's`, async (t) => {
    const q = makeQuiz(seed);
    const { answers, ok, history } = await answerQuiz(q);
    t.true(ok);
    const run = history.filter((e) => e.kind === 'complete');
    for (const a of answers) {
      const rec = run.find((e) => e.process === a.process && e.index === a.index)!;
      t.deepEqual(a.result, rec.result as never, a.label);
    }
    const model = runModel(q.scenario, quizConfig(q), actionsOf(history)).steps;
    for (const a of answers) {
      const m = model.find((s) => s.process === a.process && s.index === a.index)!;
      t.is(sorted(m.result), sorted(a.result), `${a.label}: the model agrees`);
    }
    const other = await answerQuiz(q, seed + 1000);
    t.deepEqual(other.answers.map((a) => a.result), answers.map((a) => a.result), 'another schedule, the same answers');
    t.true(answers.some((a) => a.rules.length > 0), 'some answer names its rule');
  });
}

test('quiz 17 (fork): the page both have volatile goes, the page the child took back stays, each with its rule', async (t) => {
  const { answers } = await answerQuiz(makeQuiz(17));
  t.deepEqual(answers.map((a) => [a.label, a.result]), [
    ['Q1', { ok: true, bytes: 8192, purged: true }], ['Q2', { ok: true, value: '' }],
    ['Q3', { ok: true, value: 'a1' }], ['Q4', { ok: true, bytes: 8192, purged: true }]]);
  t.deepEqual(answers.map((a) => a.rules), [['anon-every-mapper-volatile'], ['anon-every-mapper-volatile'], ['anon-mapper-not-volatile'], ['anon-every-mapper-volatile']]);
});

test('the command prints a scenario that runs, with the answers only when asked', async (t) => {
  const q = await cli(['quiz', '--seed', '4']);
  t.is(q.code, 0, q.stderr);
  t.regex(q.stdout, /#   Q1  A #4  vrange m pages 0-1 volatile/);
  t.notRegex(q.stdout, /->/);
  const s = loadScenario(tempFile('q.yaml', q.stdout));
  t.is(s.name, 'quiz-4');
  t.is(s.policy, 'per-mm');
  const a = await cli(['quiz', '--seed', '4', '--answers']);
  t.is(a.code, 0, a.stderr);
  t.true(a.stdout.startsWith(q.stdout.replace(/# answers: .*\n/, '')));
  t.regex(a.stdout, /Q2  A #7  read m page 1  ->  value="f1"\n#\s+per-mm-private-mapper: exchange 1 kept f page 1/);
  const bad = await cli(['quiz', '--seed', 'x']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--seed: "x" is not allowed/);
});
