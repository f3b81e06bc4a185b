// Fuzzing the command line: every command × every option with a missing, empty, negative, huge,
// non-numeric, repeated or unknown value, and extra or missing positionals. Each is exit 2 with
// one line that names the option and says what is allowed, never a stack trace, and nothing
// runs. The bulk goes through the CLI's main() in this process (validation errors come before any
// agent starts); a sample runs the real bin/vrange.js.
import test from 'ava';
import { COMMANDS, main } from '../cli/cli.js';
import { runOptions } from '../harness/command.js';
import { parseCommandArgs, UsageError } from '../shared/args.js';
import { parseFault } from '../harness/faults.js';
import { loadScenario } from '../shared/scenario.js';
import { cli, limiter, root, scenarioPath } from './helpers.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const demo = scenarioPath('fork-cow-purge');
type Case = { args: string[]; names: string; allowed?: RegExp };

const shardValues = /expected K\/N, whole numbers with 1 <= K <= N <= 1024/;
const numeric: Record<string, RegExp> = {
  frames: /a whole number from 1 to 4000000/, seed: /a whole number from 0 to 2147483647/,
  runs: /a whole number from 1 to \d+/, 'max-schedules': /a whole number from 1 to \d+/,
};
const enums: Record<string, RegExp> = {
  policy: /allowed: shared-file, per-mm, anon-only/, access: /allowed: sigbus, zero/,
  'purge-unit': /allowed: range, page/, schedule: /allowed: lockstep, free/,
};
const good: Record<string, string> = {
  policy: 'per-mm', access: 'zero', 'purge-unit': 'page', schedule: 'lockstep', frames: '8', seed: '3', runs: '2', 'max-schedules': '10',
  shard: '1/2', out: '/tmp/vrange-cli-args-shard.json',
  trace: '/tmp/vrange-cli-args-trace.jsonl', html: '/tmp/vrange-cli-args.html', choices: 'A', 'schedule-file': demo, fault: 'kill:A@0',
};

function casesFor(command: 'run' | 'explore' | 'compare'): Case[] {
  const out: Case[] = [];
  const add = (args: string[], names: string, allowed?: RegExp) => out.push({ args: [command, ...args], names, allowed });
  for (const [name, spec] of Object.entries(runOptions)) {
    const mine = (spec.commands as readonly string[]).includes(command);
    const flag = `--${name}`;
    if (!mine) { add([demo, flag, ...(spec.type === 'string' ? [good[name] ?? 'x'] : [])], flag); continue; }
    if (spec.type === 'boolean') {
      add([demo, `${flag}=1`], flag, /takes no value/);
      add([demo, flag, flag], flag, /given twice/);
      continue;
    }
    add([demo, flag], flag, /needs a value/);
    add([flag, '--json', demo], flag, /needs a value/);
    add([demo, `${flag}=`], flag, /the value is empty/);
    add([demo, flag, ''], flag, /the value is empty/);
    if (numeric[name]) for (const v of ['-1', '-3', '99999999999999999999', 'abc', '1.5', '1e3', '0x10', ' 3']) add([demo, flag, v], flag, numeric[name]);
    if (enums[name]) for (const v of ['bogus', '-1', 'LOCKSTEP']) add([demo, flag, v], flag, enums[name]);
    if (name === 'shard') for (const v of ['0/2', '3/2', '1/0', '1/1025', '2', '1/2/3', '-1/2', 'a/b', '1.0/2']) add([demo, '--seed', '1', flag, v], flag, shardValues);
    if (name === 'out') add([demo, '--seed', '1', '--shard', '1/2', flag, '/nonexistent/x.json'], flag, /the directory \/nonexistent does not exist/);
    if (!('multiple' in spec) && good[name]) add([demo, flag, good[name]!, flag, good[name]!], flag, /given twice; give it once/);
    if (name === 'fault') {
      for (const v of ['random:kill', 'random:', 'random:kill=', 'random:kill=2', 'random:kill=-0.5', 'random:kill=0.1,kill=0.2', 'random:kil=0.5',
        'random:kill=0', 'kill:Z@0', 'kill:A@99', 'kill:A@-1', 'kill:A@1x', 'kill:A', 'kill', 'pause:A@0', 'pause:A@0:0', 'pause:A@0:99999999', 'explode:A', '-3']) {
        add([demo, flag, v], flag);
      }
    }
    if (name === 'trace' && command === 'run') for (const v of ['/nonexistent/x', '/proc/x', '/tmp']) add([demo, flag, v], flag);
    if (name === 'choices') add([demo, flag, 'A,Zed'], flag, /allowed: kernel, commit, A, B/);
    if (name === 'schedule-file') add([demo, flag, '/nonexistent/w'], flag, /no such file/);
  }
  add([demo, '--bogus'], '--bogus', /unknown option --bogus; \w+ takes --/);
  add([demo, '--frame', '3'], '--frame', /did you mean --frames\?/);
  add([demo, '-x'], '-x', /unknown option "-x"/);
  add([demo, '-3'], '-3', /unknown option "-3"/);
  add([demo, 'extra'], 'FILE', /takes one scenario FILE, got 2/);
  add([], 'FILE', /takes one scenario FILE, got 0/);
  return out;
}

const other: Case[] = [
  { args: ['check'], names: 'HISTORY', allowed: /got 0/ }, { args: ['check', 'a', 'b'], names: 'HISTORY', allowed: /got 2/ },
  { args: ['check', demo, '--json=1'], names: '--json' }, { args: ['check', demo, '--json', '--json'], names: '--json' },
  { args: ['check', demo, '--bogus'], names: '--bogus', allowed: /check takes --json/ },
  { args: ['list', '--bogus'], names: '--bogus', allowed: /list takes no options/ }, { args: ['list', 'a', 'b'], names: 'DIR' },
  { args: ['quiz', '--seed', '-1'], names: '--seed', allowed: /a whole number from 0 to 2147483647/ }, { args: ['quiz', '--seed'], names: '--seed', allowed: /needs a value/ },
  { args: ['quiz', '--seed='], names: '--seed' }, { args: ['quiz', '--seed', 'x'], names: '--seed' }, { args: ['quiz', '--seed', '1', '--seed', '2'], names: '--seed' },
  { args: ['quiz', '--answers=1'], names: '--answers' }, { args: ['quiz', 'extra'], names: 'FILE' }, { args: ['quiz', '--bogus'], names: '--bogus' },
  { args: ['keygen', '--out'], names: '--out', allowed: /needs a value: a directory/ }, { args: ['keygen', '--out='], names: '--out' },
  { args: ['keygen', '--name', 'bad name'], names: '--name', allowed: /letters, digits/ }, { args: ['keygen', 'extra'], names: 'FILE' },
  { args: ['keygen', '--bogus'], names: '--bogus' }, { args: ['keygen', '--out', '/proc/x'], names: '--out', allowed: /under \/proc/ },
  { args: ['help', 'bogus'], names: '"bogus"', allowed: /commands: run, explore/ }, { args: ['help', 'a', 'b'], names: 'COMMAND' },
  { args: ['rnu', demo], names: '"rnu"', allowed: /did you mean "run"\?/ },
  { args: ['merge'], names: 'FILE', allowed: /got none/ }, { args: ['merge', demo, '--bogus'], names: '--bogus', allowed: /merge takes --json/ },
  { args: ['merge', demo, '--json', '--json'], names: '--json' }, { args: ['merge', '/nonexistent/a.json'], names: '/nonexistent/a.json', allowed: /no such file/ },
  { args: ['merge', demo], names: demo, allowed: /not a shard result file: invalid JSON at line 1, column 1: / },
  { args: ['explore', demo, '--shard', '1/2'], names: '--shard', allowed: /needs --seed BASE/ },
  { args: ['explore', demo, '--out', 'x.json'], names: '--out', allowed: /goes with --shard/ },
];

/** main() in this process, its output captured. Only for arguments that fail before a run. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const [w1, w2] = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((s: string) => { out.stdout += s; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => { out.stderr += s; return true; }) as typeof process.stderr.write;
  try {
    return { code: await main(args), ...out };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}

test.serial('every command × option with a bad value: exit 2, one line naming the option and what is allowed', async (t) => {
  const cases = [...casesFor('run'), ...casesFor('explore'), ...casesFor('compare'), ...other];
  t.true(cases.length > 250, `${cases.length} cases`);
  for (const c of cases) {
    const r = await inProcess(c.args);
    const what = `vrange ${c.args.map((a) => JSON.stringify(a)).join(' ')}`;
    t.is(r.code, 2, `${what}: ${r.stderr}`);
    t.is(r.stdout, '', `${what}: nothing runs`);
    const lines = r.stderr.trimEnd().split('\n');
    t.is(lines.length, 1, `${what}: one line, got ${r.stderr}`);
    t.true(lines[0]!.startsWith('vrange'), what);
    t.true(lines[0]!.includes(c.names), `${what}: "${lines[0]}" does not name ${c.names}`);
    if (c.allowed) t.regex(lines[0]!, c.allowed, what);
    t.notRegex(r.stderr, /\n\s+at |LIMITS\.|Max\)|internal error|ERR_PARSE_ARGS|ambiguous/, what);
  }
});

test('property-style: the parser takes a dash-led value for an option and refuses a -- led one', (t) => {
  const table = { seed: { type: 'string' }, json: { type: 'boolean' }, fault: { type: 'string', multiple: true } } as const;
  t.deepEqual(parseCommandArgs('x', ['--seed', '-3', 'F'], table), { values: { seed: '-3' }, positionals: ['F'] });
  t.deepEqual(parseCommandArgs('x', ['--seed=-3', '--fault', 'a', '--fault=b', '--', '--json'], table), { values: { seed: '-3', fault: ['a', 'b'] }, positionals: ['--json'] });
  t.deepEqual(parseCommandArgs('x', ['-', '--json'], table), { values: { json: true }, positionals: ['-'] });
  t.throws(() => parseCommandArgs('x', ['--seed', '--json'], table), { instanceOf: UsageError, message: '--seed needs a value' });
  t.throws(() => parseCommandArgs('x', ['--constructor'], table), { instanceOf: UsageError, message: /unknown option --constructor/ });
  t.throws(() => parseCommandArgs('x', ['--__proto__=1'], table), { instanceOf: UsageError, message: /unknown option --__proto__/ });
});

test('fault specs are checked fully: keys, values, rates, process names and step numbers', (t) => {
  const s = loadScenario(demo);
  const bad: Array<[string, RegExp]> = [
    ['random:kill', /kill needs a value: kill=R, a probability from 0 to 1/], ['random:', /unknown key ""/],
    ['random:kill=1.5', /kill="1.5" is not a probability from 0 to 1/], ['random:pause=-0.1', /not a probability/],
    ['random:kill=0.1,kill=0.2', /kill is given twice/], ['random:kil=0.5', /unknown key "kil".*did you mean "kill"\?/],
    ['random:kill=0,pause=0', /injects nothing/], ['random:kill=NaN', /not a probability/], ['random:kill=1e-3', /not a probability/],
    ['kill:a@0', /no process "a".*did you mean "A"\?/], ['kill:A@9', /process A has steps 0 to 8, not "9"/], ['kill:A@-1', /a step number after @/],
    ['kill:A@1x', /unexpected "x" after the step number/], ['kill:A', /expected kill:P@N/], ['kill', /kill needs its target/],
    ['pause:A@0', /expected pause:P@N:MS/], ['pause:A@0:0', /MS must be from 1 to 60000/], ['pause:B@99:10', /process B has steps/],
    ['kil:A@0', /not a fault.*did you mean "kill"\?/],
  ];
  for (const [spec, message] of bad) t.throws(() => parseFault(spec, s), { message }, spec);
  for (const spec of ['random:kill=0.5', 'random:pause=1', 'random:kill=.25,pause=0.5', 'kill:A@0', 'kill:B@1+', 'kill:reclaim', 'pause:A@2:100']) {
    t.notThrows(() => parseFault(spec, s), spec);
  }
});

test('the real binary: a sample of bad arguments, each exit 2 with one line and no stack trace', async (t) => {
  const limit = limiter(2);
  const sample: Array<[string[], RegExp]> = [
    [['run', demo, '--seed', '-3'], /^vrange run: --seed: "-3" is not allowed; expected a whole number from 0 to 2147483647 \(see `vrange help run`\)$/],
    [['run', demo, '--frames', '-1'], /--frames: "-1" is not allowed; expected a whole number from 1 to 4000000/],
    [['run', demo, '--fault', 'random:kill'], /--fault random:kill: kill needs a value/],
    [['explore', demo, '--runs', '0'], /--runs: "0" is not allowed/],
    [['compare', demo, '--bogus'], /^vrange compare: unknown option --bogus/],
    [['quiz', '--seed', '-1'], /^vrange quiz: --seed/],
    [['keygen', '--out', '/proc/nope'], /--out \/proc\/nope: is under \/proc/],
    [['run', demo, '--trace', '/nonexistent/x'], /--trace \/nonexistent\/x: the directory \/nonexistent does not exist/],
  ];
  await Promise.all(sample.map(([args, message]) => limit(async () => {
    const r = await cli(args);
    t.is(r.code, 2, args.join(' '));
    t.is(r.stdout, '');
    t.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    t.regex(r.stderr.trimEnd(), message);
  })));
});

test('every option of run, explore and compare is in that command\'s usage, and every command has one', async (t) => {
  for (const command of ['run', 'explore', 'compare'] as const) {
    const usage = (await inProcess(['help', command])).stdout;
    for (const [name, spec] of Object.entries(runOptions)) {
      if ((spec.commands as readonly string[]).includes(command)) t.true(usage.includes(`--${name}`), `vrange help ${command} names --${name}`);
    }
  }
  for (const command of COMMANDS) t.regex((await inProcess(['help', command])).stdout, new RegExp(`^usage:\\n {2}vrange ${command}\\b`), command);
});

test('vrange help CMD and CMD --help print that command\'s usage only', async (t) => {
  for (const args of [['help', 'run'], ['run', '--help'], ['run', demo, '-h']]) {
    const r = await inProcess(args);
    t.is(r.code, 0);
    t.regex(r.stdout, /^usage:\n {2}vrange run FILE/);
    t.notRegex(r.stdout, /vrange explore|vrange keygen/);
  }
  const e = await inProcess(['help', 'explore']);
  t.is((e.stdout.match(/^ {2}vrange explore/gm) ?? []).length, 2, 'both explore forms');
  const k = await inProcess(['help', 'keygen']);
  t.regex(k.stdout, /vrange keygen \[--out DIR\] \[--name NAME\]/);
  const all = await inProcess(['help']);
  t.regex(all.stdout, /vrange help \[COMMAND\]/);
});

test('outputs never overwrite the scenario or each other; --choices has no empty entry; explore --json is one document', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-test-'));
  const file = join(dir, 'mine.yaml');
  const text = readFileSync(join(root, 'scenarios', 'anon-zero-fill.yaml'), 'utf8');
  writeFileSync(file, text);
  const over = await cli(['run', file, '--trace', file]);
  t.is(over.code, 2);
  t.regex(over.stderr, /--trace .*: is the scenario FILE/);
  t.is(readFileSync(file, 'utf8'), text, 'the scenario is untouched');
  const both = await cli(['run', file, '--trace', join(dir, 't'), '--html', join(dir, 't')]);
  t.is(both.code, 2);
  t.regex(both.stderr, /--trace and --html name the same file/);
  for (const choices of ['A,,A', ',', 'A,-']) {
    const r = await cli(['run', file, '--choices', choices]);
    t.is(r.code, 2, choices);
    t.regex(r.stderr, /--choices: choice \d+ is empty/);
  }
  const e = await cli(['explore', file, '--runs', '2', '--seed', '1', '--json']);
  t.is(e.code, 0, e.stderr);
  t.notThrows(() => JSON.parse(e.stdout), 'stdout is one JSON document');
});

test('vrange agent parses like every other command: dash-led values, unknown options and stray words are one line, exit 2', async (t) => {
  for (const args of [
    ['agent', '--connect', 'tcp://127.0.0.1:1', '--connect-timeout-ms', '-5'],
    ['agent', '--connect', 'tcp://127.0.0.1:1', '--token', '-abc'],
    ['agent', '--connect', '-x'],
    ['agent', '--bogus'],
    ['agent', 'stray'],
  ]) {
    const r = await cli(args);
    t.is(r.code, 2, args.join(' '));
    t.is(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /^vrange agent: .*\(see `vrange help agent`\)\n$/, args.join(' '));
    t.notRegex(r.stderr, /ambiguous|Did you forget/);
  }
});
