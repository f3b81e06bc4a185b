// What the commands print echoes what the user gave (a scenario's path and description, a history's
// path, --listen's endpoint, keygen's --out, a value on the command line). None of it may reach the
// terminal raw (an escape sequence would move the cursor or fake a line), and an echoed value is cut
// so that a 100 KB argument gives a message of one short line that still says what is allowed.
import test from 'ava';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { messageLine, messageWordMax, terminalText } from '../shared/printable.js';
import { cli, scenarioPath } from './helpers.js';

const ESC = '\u001b';
const evil = `${ESC}[2J${ESC}]0;owned\u0007`;
const dir = mkdtempSync(join(tmpdir(), `vrange-term-${evil}-`));
const scenario = join(dir, `two-marks${evil}.yaml`);
copyFileSync(scenarioPath('race-two-marks'), scenario);

const noEscape = (t: { is: (a: unknown, b: unknown, m?: string) => void }, what: string, text: string) =>
  t.is([...text].filter((c) => c === ESC || c === '\u0007').length, 0, `${what}: ${JSON.stringify(text.slice(0, 400))}`);

test('explore, explore --all and its refusal print the scenario path escaped', async (t) => {
  for (const args of [['explore', scenario, '--runs', '1'], ['explore', scenario, '--all'], ['explore', scenario, '--all', '--max-schedules', '1']]) {
    const r = await cli(args);
    t.true([0, 1, 2].includes(r.code!), `${args.join(' ')}: ${r.code} ${r.stderr}`);
    noEscape(t, `${args.join(' ')} stdout`, r.stdout);
    noEscape(t, `${args.join(' ')} stderr`, r.stderr);
    t.regex(r.stdout + r.stderr, /\\u\{1b\}\[2J/, 'the escape is shown, not dropped');
  }
});

test('check prints the history path escaped', async (t) => {
  const trace = join(dir, `h${evil}.jsonl`);
  const run = await cli(['run', scenarioPath('fork-cow-purge'), '--seed', '1', '--trace', trace]);
  t.is(run.code, 0, run.stderr);
  const r = await cli(['check', trace]);
  t.is(r.code, 0, r.stderr);
  noEscape(t, 'check stdout', r.stdout);
});

test('kernel: every line of a refusal, and the scenario header, are escaped', async (t) => {
  const r = await cli(['kernel', '--listen', `tcp://evil${evil}:1`]);
  t.is(r.code, 2);
  t.true(r.stderr.split('\n').length > 2, 'a refusal of several lines');
  noEscape(t, 'kernel --listen', r.stderr);
  const described = join(dir, 'described.yaml');
  writeFileSync(described, readFileSync(scenarioPath('fork-cow-purge'), 'utf8').replace(/^description: >\n/m, `description: "x \\e[2J y"\nx-old: >\n`).replace(/^x-old: >\n(  .*\n)+/m, ''));
  const k = await cli(['kernel', '--listen', 'tcp://127.0.0.1:0', '--scenario', described, '--wait-ms', '1']);
  t.is(k.code, 1, k.stderr);
  t.regex(k.stdout, /x \\u\{1b\}\[2J y/);
  noEscape(t, 'kernel header', k.stdout + k.stderr);
  // With --json, stdout is the JSON document as it is: its newlines are not escaped.
  const j = await cli(['kernel', '--listen', 'tcp://127.0.0.1:0', '--scenario', described, '--wait-ms', '1', '--json']);
  t.is(j.code, 1, j.stderr);
  t.is((JSON.parse(j.stdout) as { scenario: string }).scenario, 'fork-cow-purge');
});

test('keygen prints the paths it wrote escaped', async (t) => {
  const out = join(dir, `keys${evil}`);
  mkdirSync(out);
  const r = await cli(['keygen', '--out', out, '--name', 'k']);
  t.is(r.code, 0, r.stderr);
  noEscape(t, 'keygen', r.stdout);
});

test('an error message cuts an echoed value of 100,000 characters and keeps what is allowed', async (t) => {
  const long = 'A'.repeat(100_000);
  for (const args of [['run', scenarioPath('fork-cow-purge'), '--choices', long], ['run', scenarioPath('fork-cow-purge'), '--seed', long],
    ['run', scenarioPath('fork-cow-purge'), `--${long}`], ['run', join(dir, long.slice(0, 200), long.slice(0, 200))]]) {
    const r = await cli(args);
    t.is(r.code, 2);
    t.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr.slice(0, 300));
    t.true(r.stderr.length < 2_000, `${args.join(' ').slice(0, 80)}: ${r.stderr.length} characters`);
  }
  const r = await cli(['run', scenarioPath('fork-cow-purge'), '--choices', long]);
  t.regex(r.stderr, /\.\.\.\(9974\d characters left out\)\.\.\.A+"; allowed: kernel, commit, A, B/);
});

test('messageLine: long words cut, short ones and spaces kept, escapes shown; terminalText line by line', (t) => {
  t.is(messageLine('a b c'), 'a b c');
  const w = 'x'.repeat(messageWordMax);
  t.is(messageLine(`${w} ok`), `${w} ok`);
  const cut = messageLine(`${'y'.repeat(1000)} allowed: 1`);
  t.is(cut, `${'y'.repeat(200)}...(740 characters left out)...${'y'.repeat(60)} allowed: 1`);
  t.is(messageLine(`p${ESC}q`), 'p\\u{1b}q');
  t.is(terminalText(`a${ESC}\nb\u0007`), 'a\\u{1b}\nb\\u{7}');
});
