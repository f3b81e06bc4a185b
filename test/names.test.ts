// A process named `kernel`, `commit` or `constructor` (allowed by the scenario format) runs,
// checks, and is searched (explore --all, DPOR, vrange play) as an ordinary name is: a library
// scenario with its processes renamed gives the same results, name for name.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { cli, ended } from './helpers.js';
import { compareTable, type CompareResult } from '../harness/compare.js';

const cli0 = join(process.cwd(), 'bin/vrange.js');
const run = (args: string[]) => execFileSync('node', [cli0, ...args], { encoding: 'utf8' });

test('processes named kernel and constructor: the same verdict, results and check as A and B', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-names-'));
  const text = readFileSync('scenarios/fork-cow-purge.yaml', 'utf8').replace(/\bA\b/g, 'kernel').replace(/\bB\b/g, 'constructor');
  const file = join(dir, 'names.yaml');
  writeFileSync(file, text);
  const renamed = JSON.parse(run(['run', file, '--seed', '1', '--json', '--trace', join(dir, 'h.jsonl')]));
  const plain = JSON.parse(run(['run', 'scenarios/fork-cow-purge.yaml', '--seed', '1', '--json']));
  t.true(renamed.ok);
  const name = (p: string, kernel: boolean) => (kernel ? '@list' : p === 'kernel' ? 'A' : p === 'constructor' ? 'B' : p);
  const steps = (r: { steps: Array<{ process: string; index: number; result: unknown; kernel?: true }> }) =>
    r.steps.map((s) => `${name(s.process, s.kernel === true)}#${s.index} ${JSON.stringify(s.result)}`);
  const plainSteps = (r: { steps: Array<{ process: string; index: number; result: unknown; kernel?: true }> }) =>
    r.steps.map((s) => `${s.kernel ? '@list' : s.process}#${s.index} ${JSON.stringify(s.result)}`);
  t.deepEqual(steps(renamed), plainSteps(plain));
  t.deepEqual(renamed.invariants, plain.invariants);
  t.regex(run(['check', join(dir, 'h.jsonl')]), /: valid \(/);
});

const renamedFile = () => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-names-'));
  const file = join(dir, 'names.yaml');
  writeFileSync(file, readFileSync('scenarios/fork-cow-purge.yaml', 'utf8').replace(/\bA\b/g, 'kernel').replace(/\bB\b/g, 'constructor'));
  return file;
};

test('--scheduler pct: a process named kernel is a thread of its own, the kernel list another; the same results as A and B', (t) => {
  const file = renamedFile();
  for (const seed of ['3', '8']) {
    const renamed = JSON.parse(run(['run', file, '--seed', seed, '--scheduler', 'pct', '--json']));
    const plain = JSON.parse(run(['run', 'scenarios/fork-cow-purge.yaml', '--seed', seed, '--scheduler', 'pct', '--json']));
    t.true(renamed.ok, `seed ${seed}`);
    t.true(plain.ok, `seed ${seed}`);
    const order = (r: { steps: Array<{ process: string; index: number; kernel?: true }> }) =>
      r.steps.map((s) => `${s.kernel ? '@list' : s.process === 'kernel' ? 'A' : s.process === 'constructor' ? 'B' : s.process}#${s.index}`);
    t.deepEqual(order(renamed), order(plain), `seed ${seed}: the same schedule`);
  }
});

// The schedule search (explore --all, play) over a scenario whose processes are named `kernel` and
// `commit`: race-fork-vs-reclaim with A and B renamed, which has a reclaim (so @kernel and @commit
// actions) racing both processes. Its results must be the plain scenario's, name for name.
const searchFile = () => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-names-'));
  const file = join(dir, 'race.yaml');
  writeFileSync(file, readFileSync('scenarios/race-fork-vs-reclaim.yaml', 'utf8').replace(/\bA\b/g, 'kernel').replace(/\bB\b/g, 'commit'));
  return file;
};
const plainRace = 'scenarios/race-fork-vs-reclaim.yaml';

/** A word of the renamed scenario's output as the plain one writes it: the processes kernel and commit are A and B; the kernel list's @kernel, @commit are kernel, commit. */
const words: Record<string, string> = { kernel: 'A', commit: 'B', '@kernel': 'kernel', '@commit': 'commit' };
const plainWord = (w: string) => words[w] ?? w;
/** Every `P#i` in a line (an outcome line, a summary), its owner as the plain scenario names it. */
const stepsIn = (l: string) => l.replace(/(?<![\w@-])(@kernel|@commit|kernel|commit)#/g, (_, w: string) => `${plainWord(w)}#`);
/** A play option's label (`@kernel: reclaim prepare ...`, `kernel #3 signal ...`), its owner as the plain scenario names it. */
const labelOwner = (l: string) => l.replace(/^(@kernel|@commit|kernel|commit)(?=[ :])/, (w) => plainWord(w))
  .replace(/ (fork|waitpid) (kernel|commit)$/, (_, op: string, w: string) => ` ${op} ${plainWord(w)}`);
const choicesOf = (line: string) => /--choices (\S+)/.exec(line)![1]!.split(',');

interface Rec { process: string; index: number; op: string; result: unknown; kernel?: true }
const recs = (steps: Rec[], renamed: boolean) => steps.map((x) => `${x.kernel ? 'LIST' : renamed ? plainWord(x.process) : x.process}#${x.index} ${x.op} ${JSON.stringify(x.result)}`);

interface AllJson {
  reduced: number; all: number; modelActions: number; problems: string[]; differing: Array<{ step: string; cells: string[] }>;
  classes: Array<{ results: string[]; traces: number; schedules: number; realRuns: number; modelWitness: string[]; witness: { choices: string[]; steps: Rec[]; repro: string } }>;
}

test('explore --all: processes named kernel and commit give the plain scenario\'s traces, DPOR work, schedules, classes and witnesses', async (t) => {
  const file = searchFile();
  const [a, b] = await Promise.all([cli(['explore', file, '--all', '--count-schedules', '--json']), cli(['explore', plainRace, '--all', '--count-schedules', '--json'])]);
  t.is(a.code, 0, a.stderr);
  t.is(b.code, 0, b.stderr);
  const renamed = JSON.parse(a.stdout) as AllJson;
  const plain = JSON.parse(b.stdout) as AllJson;
  t.deepEqual(renamed.problems, []);
  t.deepEqual(plain.problems, []);
  t.true(plain.classes.length >= 2 && plain.reduced > 10, 'the race has several classes and many traces');
  t.deepEqual([renamed.reduced, renamed.all, renamed.modelActions], [plain.reduced, plain.all, plain.modelActions], 'traces, schedules and the DPOR\'s model actions');
  const view = (r: AllJson, renamedOne: boolean) => r.classes.map((c) => ({
    results: c.results.map((l) => (renamedOne ? stepsIn(l) : l)).sort(), traces: c.traces, schedules: c.schedules, realRuns: c.realRuns,
    modelWitness: renamedOne ? c.modelWitness.map(plainWord) : c.modelWitness,
    choices: renamedOne ? c.witness.choices.map(plainWord) : c.witness.choices,
    repro: renamedOne ? choicesOf(c.witness.repro).map(plainWord) : choicesOf(c.witness.repro),
    steps: recs(c.witness.steps, renamedOne),
  }));
  t.deepEqual(view(renamed, true), view(plain, false));
  const byStep = (x: { step: string }, y: { step: string }) => (x.step < y.step ? -1 : 1);
  t.deepEqual(renamed.differing.map((d) => ({ ...d, step: stepsIn(d.step) })).sort(byStep), [...plain.differing].sort(byStep), 'the steps that tell the classes apart');
  // The kernel list and the processes are told apart in every place that names them.
  t.true(renamed.classes.every((c) => c.results.some((l) => l.startsWith('@kernel#')) && c.results.some((l) => l.startsWith('kernel#'))));
  t.true(renamed.classes.some((c) => c.witness.choices.includes('@commit') && c.witness.choices.includes('commit')));
  // A witness's replay line runs the same steps.
  const w = renamed.classes[0]!.witness;
  const replay = await cli([...w.repro.split(' ').slice(1), '--json']);
  t.is(replay.code, 0, replay.stderr);
  t.deepEqual(recs((JSON.parse(replay.stdout) as { steps: Rec[] }).steps, true), recs(w.steps, true));
});

/** Plays `vrange play FILE --tty` through a pipe, always taking the last option, then quits: the options shown, the outcome lines, the replay line. */
async function playLast(file: string): Promise<{ code: number | null; options: string[][]; outcome: string[]; replay: string; out: string }> {
  const child = spawn(process.execPath, [cli0, 'play', file, '--tty'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const options: string[][] = [];
  let out = '', buf = '', pending: string[] = [];
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      out += l + '\n';
      pending.push(l);
      if (!/^choose |^u undo, q quit$/.test(l)) continue;
      const shown = pending.filter((x) => /^ {2}\d+\. /.test(x)).map((x) => x.replace(/^ {2}\d+\. /, ''));
      pending = [];
      if (l.startsWith('choose ')) { options.push(shown); child.stdin.write(`${shown.length}\n`); } else child.stdin.write('q\n');
    }
  });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const { code } = await ended(child);
  const at = out.indexOf('the run is over:');
  const outcome = out.slice(at).split('\n').filter((l) => /^ {2}\S|^outcome class|^not yet reached|^you have reached/.test(l));
  return { code, options, outcome, replay: /^replay: (.*)$/m.exec(out)?.[1] ?? '', out };
}

test('vrange play: processes named kernel and commit give the plain scenario\'s moves, outcome, class and replay', async (t) => {
  const file = searchFile();
  const [renamed, plain] = await Promise.all([playLast(file), playLast(plainRace)]);
  t.is(renamed.code, 0, renamed.out);
  t.is(plain.code, 0, plain.out);
  t.true(plain.options.flat().some((o) => o.startsWith('kernel: commit exchange')), 'the game took the reclaim\'s commit');
  t.deepEqual(renamed.options.map((os) => os.map(labelOwner)), plain.options, 'the same moves offered, the kernel list\'s as @kernel');
  t.true(renamed.options.flat().some((o) => o.startsWith('@kernel: reclaim prepare')) && renamed.options.flat().some((o) => o.startsWith('kernel #')));
  t.regex(plain.outcome.join('\n'), /outcome class \d of the \d explore --all finds/);
  // The lines and a summary's parts in name order (the names sort differently).
  const norm = (ls: string[]) => ls.map((l) => (/^ {2}/.test(l) ? l : l.replace(/(finds|class \d+): (.*)$/, (_, h: string, rest: string) => `${h}: ${rest.split('; ').sort().join('; ')}`))).sort();
  t.deepEqual(norm(renamed.outcome.map(stepsIn)), norm(plain.outcome), 'the outcome, its class and the classes not reached');
  t.deepEqual(choicesOf(renamed.replay).map(plainWord), choicesOf(plain.replay));
  const again = JSON.parse(run([...renamed.replay.split(' ').slice(1), '--json'])) as { ok: boolean; steps: Rec[] };
  const plainAgain = JSON.parse(run([...plain.replay.split(' ').slice(1), '--json'])) as { ok: boolean; steps: Rec[] };
  t.deepEqual(recs(again.steps, true), recs(plainAgain.steps, false), 'the replay lines give the same run');
});

test('vrange run --html: the kernel list and a process named kernel get a lane each (the list\'s is @kernel), with their own steps', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-names-'));
  const count = (html: string, attr: string) => {
    const out: Record<string, number> = {};
    for (const m of html.matchAll(new RegExp(`${attr}="([^"]*)"`, 'g'))) out[m[1]!] = (out[m[1]!] ?? 0) + 1;
    return out;
  };
  run(['run', searchFile(), '--seed', '1', '--html', join(dir, 'r.html')]);
  run(['run', plainRace, '--seed', '1', '--html', join(dir, 'p.html')]);
  const renamed = readFileSync(join(dir, 'r.html'), 'utf8');
  const plain = readFileSync(join(dir, 'p.html'), 'utf8');
  const lanes = (html: string) => [...html.matchAll(/class="lane" data-lane="([^"]*)"/g)].map((m) => m[1]!);
  t.deepEqual(lanes(renamed).map(plainWord), lanes(plain));
  const bars = (html: string, map: (w: string) => string) => Object.fromEntries(Object.entries(count(html, 'data-process')).map(([k, v]) => [map(k), v]));
  t.deepEqual(bars(renamed, plainWord), bars(plain, (w) => w), 'each lane holds its own steps');
});

test('every line that names a kernel-list item says @kernel when a process is named kernel: stuck, no-deadlock, a failed expectation, --quiet counts, compare rows, check messages', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-names-'));
  // The process `kernel` and the kernel list each wait for what the other signals after its own wait: both stuck.
  const yaml = (name: string) => `name: stuck-both
memory:
  frames: 64
processes:
  ${name}:
    steps:
      - { op: wait, name: a, expect: { ok: false, stuck: true } }
      - { op: signal, name: b }
kernel:
  - { op: wait, name: b, expect: { ok: true } }
  - { op: signal, name: a }
`;
  const file = join(dir, 'stuck.yaml');
  writeFileSync(file, yaml('kernel'));
  const out = (args: string[]) => { try { return run(args); } catch (e) { return (e as { stdout: string }).stdout; } };
  const text = out(['run', file, '--seed', '1', '--trace', join(dir, 'h.jsonl')]);
  t.regex(text, /\nkernel +step 0 is STUCK: it waits for signal "a"/, 'the process');
  t.regex(text, /\n@kernel +step 0 is STUCK: it waits for signal "b"/, 'the kernel list');
  t.regex(text, /FAIL no-deadlock: kernel step 0 waits for signal "a"; @kernel step 0 waits for signal "b"\n/);
  t.regex(text, /\nexpectation failed: @kernel step 0: expected \{"ok":true\}, got \{"ok":false,"stuck":true\}\n/);
  t.regex(out(['run', file, '--seed', '1', '--quiet']), /\nsteps: 2 \(kernel 1, @kernel 1\)\n/);
  // With no process of that name the plain word, as before.
  writeFileSync(file, yaml('A'));
  const plain = out(['run', file, '--seed', '1']);
  t.regex(plain, /\nkernel +step 0 is STUCK: it waits for signal "b"/);
  t.regex(plain, /FAIL no-deadlock: A step 0 waits for signal "a"; kernel step 0 waits for signal "b"\n/);
  t.regex(plain, /\nexpectation failed: kernel step 0: expected/);
  // The offline checker: a kernel-list step invoked twice is the kernel list's, not the process kernel's.
  const h = readFileSync(join(dir, 'h.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; kernel?: true; seq: number });
  const at = h.findIndex((e) => e.kind === 'invoke' && e.kernel === true);
  const doubled = [...h.slice(0, at + 1), h[at]!, ...h.slice(at + 1)].map((e, seq) => JSON.stringify({ ...e, seq }));
  writeFileSync(join(dir, 'bad.jsonl'), doubled.join('\n') + '\n');
  t.regex(out(['check', join(dir, 'bad.jsonl')]), /the kernel list step 0 invoked twice/);
});

test('compareTable: a kernel-list row reads @kernel when a process is named kernel, kernel otherwise', (t) => {
  const answer = { result: { ok: true, freed: 1 }, rules: ['r'], why: ['w'] };
  const row = { process: 'kernel', index: 0, kernel: true as const, step: 'reclaim', answers: { 'shared-file': answer, 'per-mm': { ...answer, result: { ok: true, freed: 2 } } }, proposalsAgree: false };
  const c = { scenario: 's', seed: 1, schedule: 'lockstep', policies: ['shared-file', 'per-mm'], steps: 1, amongProposals: 1, differing: [row],
    runs: { 'shared-file': { ok: true, failures: 0, broken: [] }, 'per-mm': { ok: true, failures: 0, broken: [] } } } as unknown as CompareResult;
  const named = compareTable(c, ['kernel']).join('\n');
  t.regex(named, /\n +@kernel #0 reclaim /);
  t.regex(named, /\n +@kernel #0 under shared-file, per-mm: w/);
  t.regex(compareTable(c, ['A']).join('\n'), /\n +kernel #0 reclaim /);
});
