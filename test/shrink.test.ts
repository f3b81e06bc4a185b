// Exploration with shrinking: a failing run is cut down to fewer faults and a shorter lockstep
// schedule (ddmin over fixed fault specs and replayed choices), and the printed one-line command
// reproduces the failure.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { parseScenario } from '../shared/scenario.js';
import { explore } from '../harness/explore.js';
import { replayChooser } from '../harness/replay.js';
import { cli, configFor, scenarioPath, tempFile } from './helpers.js';
import { loadScenario } from '../shared/scenario.js';

const race = `
name: shrink-race
description: B reads what A writes, with nothing ordering them; C does unrelated work.
memory: { frames: 32 }
files:
  - { name: f, pages: 2 }
processes:
  A:
    steps:
      - { op: open, file: f }
      - { op: mmap, as: m, fd: f, pages: 1 }
      - { op: write, map: m, page: 0, value: x }
  B:
    steps:
      - { op: open, file: f }
      - { op: mmap, as: m, fd: f, pages: 1 }
      - { op: read, map: m, page: 0, expect: { value: x } }
  C:
    steps:
      - { op: mmap, as: a, pages: 4 }
      - { op: write, map: a, page: 0, value: "1" }
      - { op: write, map: a, page: 1, value: "2" }
      - { op: read, map: a, page: 0 }
`;

const killed = `
name: shrink-kill
description: The kernel expects A to exit normally; C does unrelated work. Only a kill of A breaks it.
memory: { frames: 32 }
processes:
  A:
    steps:
      - { op: mmap, as: a, pages: 2 }
      - { op: write, map: a, page: 0, value: "1" }
      - { op: write, map: a, page: 1, value: "2" }
      - { op: exit }
  C:
    steps:
      - { op: mmap, as: c, pages: 4 }
      - { op: write, map: c, page: 0, value: "1" }
      - { op: write, map: c, page: 1, value: "2" }
      - { op: read, map: c, page: 0 }
kernel:
  - { op: waitpid, process: A, expect: { exitCode: 0 } }
`;

test('replayChooser takes each named action when enabled, else the first enabled one', (t) => {
  const c = replayChooser(['B', '@kernel', 'A']);
  t.is(c.choose(['A', 'B']), 1);
  t.is(c.choose(['A', 'B']), 0, '@kernel is not enabled: the first enabled action');
  t.is(c.choose(['B', 'A']), 1);
  t.is(c.choose(['B', 'A']), 0, 'the list is used up');
  t.is(c.followed, 2);
  t.is(c.deviated, 1);
});

test('a schedule race: explore finds it, shrinks the schedule, and the printed command reproduces it', async (t) => {
  const file = tempFile('race.yaml', race);
  const s = parseScenario(race, file);
  const result = await explore({ file, scenario: s, base: configFor(s, { seed: 1 }), runs: 6, faultSpecs: [], checkDeterminism: false });
  t.true(result.failing.length > 0, 'some seed lets B read before A writes');
  t.true(result.failing.every((r) => r.outcome === 'expectation failed'));
  const sh = result.shrunk!;
  t.true(sh.reproduced);
  t.true(sh.after.choices.length < sh.before.choices, `${sh.before.choices} -> ${sh.after.choices.length}`);
  t.true(sh.after.choices.every((c) => c === 'B'), `only B needs to be scheduled first: ${sh.after.choices}`);
  const args = sh.repro.replace(/^vrange /, '').split(' ');
  const replay = await cli(args);
  t.is(replay.code, 1, replay.stdout);
  t.regex(replay.stdout, /B\s+#2 read .*EXPECTED \{"value":"x"\}/);
  const again = await cli(args);
  const stable = (out: string) => out.replace(/\(OS pid \d+\)/g, '').replace(/\/tmp\/\S+/g, '');
  t.is(stable(again.stdout), stable(replay.stdout), 'the same command gives the same run');
});

test('random kills: shrinking keeps the one kill that matters and drops the rest', async (t) => {
  const file = tempFile('killed.yaml', killed);
  const s = parseScenario(killed, file);
  const result = await explore({ file, scenario: s, base: configFor(s, { seed: 1 }), runs: 10, faultSpecs: ['random:kill=0.2'],
    checkDeterminism: false, strict: true });
  t.true(result.failing.length > 0);
  const sh = result.shrunk!;
  t.true(sh.reproduced);
  t.is(sh.after.faults.length, 1, `faults left: ${sh.after.faults}`);
  t.regex(sh.after.faults[0]!, /^kill:A@\d\+?$/);
  t.true(sh.before.faults.length >= 1);
  t.regex(sh.repro, /--fault kill:A@\d\+? --choices /);
  const replay = await cli(sh.repro.replace(/^vrange /, '').split(' '));
  t.is(replay.code, 1);
});

test('explore --every-kill: one run per kill:P@N and kill:P@N+, each history checked, all valid', async (t) => {
  const r = await cli(['explore', scenarioPath('fork-cow-purge'), '--every-kill', '--seed', '1', '--json']);
  t.is(r.code, 0, r.stdout.slice(-2000));
  const out = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
  const s = loadScenario(scenarioPath('fork-cow-purge'));
  const steps = s.processes.reduce((n, p) => n + p.steps.length, 0);
  t.is(out.runs.length, 2 * steps);
  t.is(out.historiesChecked, 2 * steps);
  t.deepEqual(out.failing, []);
  t.true(out.kills >= 2 * steps - 8, `kills injected ${out.kills}`);
  t.deepEqual(new Set(out.runs.map((x: { faults: string[] }) => x.faults[0])).size, 2 * steps);
});

test('explore --every-kill says how many runs it makes, and makes that many', async (t) => {
  const file = tempFile('two.yaml', `name: two
processes:
  A: { steps: [ { op: mmap, as: m, pages: 1 }, { op: write, map: m, page: 0, value: x } ] }
  B: { steps: [ { op: signal, name: s } ] }
`);
  const r = await cli(['explore', file, '--every-kill', '--seed', '1']);
  t.is(r.code, 0, r.stdout + r.stderr);
  const announced = Number(/: (\d+) run\(s\), one per kill point/.exec(r.stdout)?.[1]);
  const made = [...r.stdout.matchAll(/^(\S+)\s+(\d+)$/gm)].reduce((n, m) => n + Number(m[2]), 0);
  t.is(announced, 2 * 3, 'kill:P@N and kill:P@N+ for each of 3 steps');
  t.is(made, announced);
});

test('--choices and --schedule-file: names are checked, and they go with lockstep only', async (t) => {
  const file = tempFile('race.yaml', race);
  const bad = await cli(['run', file, '--choices', 'A,Z']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--choices: choice 2 is "Z"; allowed: kernel, commit, A, B, C/);
  t.is((await cli(['run', file, '--choices', 'A', '--schedule', 'free'])).code, 2);
  for (const [doc, want] of [['{"choices": ["A"], "seed": 3}', /--schedule-file .*: unknown field "seed"; the only field allowed is "choices"/],
    ['{"choices": [1]}', /expected a JSON array of names, or \{"choices": \[\.\.\.\]\}/]] as const) {
    const r = await cli(['run', file, '--schedule-file', tempFile('w-bad.json', doc)]);
    t.is(r.code, 2, doc);
    t.regex(r.stderr, want, doc);
  }
  const list = ['C', 'C', 'kernel', 'A', 'B', 'C', 'A', 'A', 'A', 'B', 'commit'];
  const w = tempFile('w.json', JSON.stringify(list));
  const trace = w.replace(/\.json$/, '.jsonl');
  const ok = await cli(['run', file, '--schedule-file', w, '--seed', '3', '--trace', trace]);
  t.is(ok.code, 0, ok.stdout + ok.stderr);
  const taken = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.kind === 'schedule');
  // Each listed name is taken when it is enabled; otherwise the first enabled action.
  taken.forEach((e, i) => t.is(e.choice, list[i] !== undefined && e.options.includes(list[i]) ? list[i] : e.options[0], `choice ${i}`));
  t.true(taken.some((e, i) => e.choice === list[i] && e.options[0] !== list[i]), 'the list overrode the default at least once');
});
