// Malformed arguments and input files other than scenarios and histories, through the real CLI:
// the classes a generated sweep of every option of every command found (the input5 audit). Each
// is exit 2, one line on stderr naming the option or file, the place and what is allowed, nothing
// on stdout, no file written, no stack trace.
import test, { type ExecutionContext } from 'ava';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, scenarioPath } from './helpers.js';

const demo = scenarioPath('fork-cow-purge');

/** A folder of its own (TMPDIR too): a scratch DIR, a file of `text` where asked. */
function scratch(files: Record<string, string> = {}): { dir: string; tmp: string; at: (name: string) => string } {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-malformed-args-'));
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  mkdirSync(join(dir, 'DIR'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, tmp, at: (name: string) => join(dir, name) };
}

/** `vrange ...args` is refused: exit 2, one stderr line holding every `part`, stdout empty, nothing written in `dir`. */
async function refused(t: ExecutionContext, args: string[], ...parts: Array<string | RegExp>): Promise<string> {
  const s = scratch();
  const before = readdirSync(s.dir).sort();
  const r = await cli(args, undefined, { TMPDIR: s.tmp });
  const what = `vrange ${args.map((a) => JSON.stringify(a)).join(' ')}`;
  t.is(r.code, 2, `${what}: ${r.stderr}`);
  t.is(r.stdout, '', `${what}: stdout`);
  const lines = r.stderr.trimEnd().split('\n');
  t.is(lines.length, 1, `${what}: one line, got ${JSON.stringify(r.stderr)}`);
  for (const p of parts) {
    if (typeof p === 'string') t.true(lines[0]!.includes(p), `${what}: "${lines[0]}" lacks "${p}"`);
    else t.regex(lines[0]!, p, what);
  }
  t.notRegex(r.stderr, /\n\s+at |internal error|\bundefined\b|\[object Object\]/, what);
  t.deepEqual(readdirSync(s.dir).sort(), before, `${what}: nothing written`);
  t.deepEqual(readdirSync(s.tmp), [], `${what}: no run folder`);
  return lines[0]!;
}

test('a value, a path or a command word holding a newline: still one line, the newline shown as \\u{a}', async (t) => {
  const nl = 'a\nb';
  const cases: Array<[string[], string]> = [
    [['run', demo, '--policy', nl], '--policy'], [['explore', demo, '--seed', nl], '--seed'], [['run', demo, `--frames=${nl}`], '--frames'],
    [['run', demo, '--choices', nl], '--choices'], [['run', demo, '--fault', nl], '--fault'], [['explore', demo, '--seed', '1', '--shard', nl], '--shard'],
    [['explore', demo, '--all', '--classes-by', nl], '--classes-by'], [['quiz', '--seed', nl], '--seed'], [['play', demo, '--port', nl], '--port'],
    [['agent', '--connect', nl], '--connect'], [['kernel', '--listen', nl], '--listen'], [['kernel', '--listen', 'tcp://127.0.0.1:0', '--heartbeat-ms', nl], '--heartbeat-ms'],
    [['run', demo, `--bo${nl}`], 'unknown option'], [['help', nl], 'no command'], [[nl], 'unknown command'],
    [['run', `/nonexistent/${nl}.yaml`], 'no such file'], [['check', `/nonexistent/${nl}`], 'no such file'], [['merge', `/nonexistent/${nl}.json`], 'no such file'],
    [['run', demo, '--trace', `/nonexistent/${nl}/t.jsonl`], '--trace'],
  ];
  for (const [args, names] of cases) {
    const line = await refused(t, args, names);
    // Escaped as the terminal rule writes it (\u{a}), or as JSON does inside a JSON-quoted value (\n).
    t.regex(line, /a(\\u\{a\}|\\n)b/, `${JSON.stringify(args)}: the newline escaped: ${line}`);
  }
});

test('vrange kernel reads its own options by the rules of every command', async (t) => {
  const K = ['kernel', '--listen', 'tcp://127.0.0.1:0', '--wait-ms', '1'];
  // A name of Object.prototype is no kernel option (it was "--constructor given twice").
  await refused(t, [...K, '--constructor', 'x'], 'unknown option --constructor', 'kernel takes --listen, --scenario');
  await refused(t, [...K, '--toString=x'], 'unknown option --toString');
  // An empty value is said to be empty (it was "kernel needs --listen"); a value is never an option.
  await refused(t, ['kernel', '--listen='], '--listen: the value is empty', 'tcp://HOST:PORT');
  await refused(t, ['kernel', '--listen', '--json'], '--listen needs a value', 'tcp://HOST:PORT');
  await refused(t, ['kernel', '--listen', 'tcp://127.0.0.1:0', '--heartbeat-ms', '--json'], '--heartbeat-ms needs a value');
  await refused(t, [...K, '--agents', 'mixed', '--agents', 'mixed'], '--agents is given twice');
  // Unknown options and a FILE are the kernel's words, not run's.
  await refused(t, [...K, '--bogus'], 'unknown option --bogus; kernel takes --listen');
  await refused(t, [...K, '--heartbeat', '100'], 'unknown option --heartbeat', 'did you mean --heartbeat-ms?');
  await refused(t, [...K, '--runs', '3'], '--runs does not go with kernel');
  await refused(t, [...K, 'extra.yaml'], 'kernel takes no FILE, got "extra.yaml"; give the scenario as --scenario FILE');
  // Run options the kernel would ignore are refused, not dropped in silence.
  await refused(t, [...K, '--quiet'], '--quiet does not go with kernel');
  await refused(t, [...K, '--timeout', '1000'], '--timeout does not go with kernel');
  await refused(t, [...K, '--fault', 'kill:A@0'], '--fault is not available with `vrange kernel`');
});

test('an input file given by an option is named with the option: --scenario, --key, --server-key, --trust', async (t) => {
  const s = scratch({ 'k.key': 'not a key\n', 'k.pub': 'not a key\n', 'bad.pub': 'x\n' });
  mkdirSync(s.at('trusted'));
  writeFileSync(join(s.at('trusted'), 'a.pub'), 'x\n');
  const K = ['kernel', '--listen', 'tcp://127.0.0.1:0', '--wait-ms', '1'];
  await refused(t, [...K, '--scenario', s.at('DIR')], `--scenario ${s.at('DIR')}: is a directory`);
  await refused(t, [...K, '--scenario', s.at('none.yaml')], `--scenario ${s.at('none.yaml')}: no such file`);
  await refused(t, [...K, '--scenario=--json'], '--scenario --json: no such file');
  await refused(t, [...K, '--key', s.at('DIR'), '--trust', s.at('trusted')], `--key ${s.at('DIR')}: a secret key file ends in .key`);
  await refused(t, [...K, '--key', s.at('k.key'), '--trust', s.at('trusted')], `--key ${s.at('k.key')}: not a CURVE key`);
  await refused(t, ['agent', '--connect', 'tcp://127.0.0.1:1', '--key', s.at('k.key'), '--server-key', s.at('DIR')], `--key ${s.at('k.key')}: not a CURVE key`);
  const made = await cli(['keygen', '--out', s.dir, '--name', 'good']);
  t.is(made.code, 0, made.stderr);
  writeFileSync(s.at('half.key'), readFileSync(s.at('good.key')));
  await refused(t, ['agent', '--connect', 'tcp://127.0.0.1:1', '--key', s.at('half.key'), '--server-key', s.at('good.pub')], `--key ${s.at('half.key')}: its public key ${s.at('half.pub')}: no such file`);
  await refused(t, ['agent', '--connect', 'tcp://127.0.0.1:1', '--key', s.at('good.key'), '--server-key', s.at('DIR')], `--server-key ${s.at('DIR')}: is a directory`);
  await refused(t, [...K, '--key', s.at('good.key'), '--trust', s.at('trusted')], `--trust ${s.at('trusted')}: public key ${join(s.at('trusted'), 'a.pub')}: not a CURVE key`);
});

test('--choices and --schedule-file place a wrong choice as the user counts: choice N from 1, line L of a file', async (t) => {
  const s = scratch({ 'lines.txt': 'A\n\n# a comment\nZ\n', 'list.json': '["A", "B", "Z"]', 'nums.json': '["A", 3]', 'obj.json': '{"choices": ["A", {"x": 1}]}',
    'broken.json': '["A",\n  "B",\n]\n', 'quoted.txt': '"A"\n' });
  const F = (name: string) => ['run', demo, '--schedule-file', s.at(name)];
  await refused(t, ['run', demo, '--choices', 'A,Z'], '--choices: choice 2 is "Z"', 'allowed: kernel, commit, A, B');
  await refused(t, ['run', demo, '--choices', 'Z'], '--choices: choice 1 is "Z"');
  await refused(t, ['run', demo, '--choices', 'A,,B'], '--choices: choice 2 is empty');
  await refused(t, F('lines.txt'), `--schedule-file ${s.at('lines.txt')}: line 4 is "Z"`);
  await refused(t, F('list.json'), 'choice 3 is "Z"');
  await refused(t, F('nums.json'), 'choice 2 is the number 3, not a name', 'expected a JSON array of names');
  await refused(t, F('obj.json'), 'choice 2 is an object, not a name');
  // JSON that does not parse: by line and column, one line (the parser's excerpt dropped).
  await refused(t, F('broken.json'), `--schedule-file ${s.at('broken.json')}: invalid JSON at line 3, column 1: Unexpected token ']'`);
  // A quote in a value is shown escaped, so the quoting stays readable.
  await refused(t, F('quoted.txt'), 'line 1 is "\\"A\\""');
});

test('a shard result file that is not JSON is placed by line and column, in one line', async (t) => {
  const s = scratch({ 'a.json': '{"format": "vrange-shard-result",\n "version": ]\n}', 'b.json': '{"x": NaN}' });
  await refused(t, ['merge', s.at('a.json')], `${s.at('a.json')}: not a shard result file: invalid JSON at line 2, column 13: Unexpected token ']'`);
  await refused(t, ['merge', s.at('b.json')], 'invalid JSON at line 1, column 7', 'NaN and Infinity are not JSON numbers');
});

test('vrange with no command: one line on stderr naming the commands, exit 2, stdout empty; vrange help prints the usage, exit 0', async (t) => {
  await refused(t, [], 'vrange: no command given; commands: run, explore, merge', '(see `vrange help`)');
  for (const args of [['help'], ['--help'], ['-h']]) {
    const r = await cli(args);
    t.is(r.code, 0, args.join(' '));
    t.true(r.stdout.startsWith('usage:\n'), args.join(' '));
    t.is(r.stderr, '');
  }
});

test('an output or directory name too long for the system is refused before anything runs (it was exit 70, or a run then exit 2)', async (t) => {
  const s = scratch();
  const long = 'x'.repeat(300);
  const deep = `${s.dir}/${'d/'.repeat(2100)}f`;
  await refused(t, ['run', demo, '--trace', join(s.dir, long)], '--trace', 'a name in it is 300 bytes long; at most 255');
  await refused(t, ['run', demo, '--html', join(s.dir, 'y'.repeat(213))], '--html', 'the file name is 213 bytes long; at most 212');
  await refused(t, ['run', demo, '--trace', deep], '--trace', /the path is \d+ bytes long \(made absolute\); at most 4052/);
  await refused(t, ['explore', demo, '--seed', '1', '--shard', '1/2', '--out', join(s.dir, 'z'.repeat(213))], '--out', 'at most 212');
  await refused(t, ['keygen', '--out', join(s.dir, long)], '--out', 'a name in it is 300 bytes long');
  await refused(t, ['keygen', '--out', deep], '--out', /the path is \d+ bytes long/);
  await refused(t, ['keygen', '--out', s.at('DIR'), '--name', 'k'.repeat(209)], '--name: 209 characters; at most 208');
  await refused(t, ['list', join(s.dir, long)], 'list', 'a name in it is 300 bytes long');
  t.deepEqual(readdirSync(s.at('DIR')), [], 'keygen wrote nothing');
  // The longest name allowed is written whole, with no temporary left beside it.
  const longest = join(s.at('DIR'), 'y'.repeat(212));
  const r = await cli(['run', demo, '--seed', '1', '--quiet', '--html', longest]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(readdirSync(s.at('DIR')), ['y'.repeat(212)]);
  t.regex(readFileSync(longest, 'utf8'), /<\/html>\s*$/);
  const k = await cli(['keygen', '--out', s.at('DIR'), '--name', 'k'.repeat(208)]);
  t.is(k.code, 0, k.stderr);
});
