// `vrange explore ... --shard K/N` and `vrange merge`: N = 3 shards, each a real `vrange` process
// running real agents, merged, print what the unsharded sweep prints (the table, the failures
// with their commands, the shrunk first failure, the outcome classes and witnesses) and exit
// with its code, for a seed sweep, a kill sweep and `--all`; and the merge refuses files that are
// not the N parts of one sweep (exit 2, one line naming the file).

import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, limiter, scenarioPath, type CliResult } from './helpers.js';
import { main } from '../cli/cli.js';
import { inShard, parseShard, partSize } from '../harness/shard_select.js';
import { UsageError } from '../shared/args.js';
import { shardsMax } from '../shared/limits.js';

const limit = limiter(3);
const run = (args: string[]) => limit(() => cli(args));

/** The output with the wall-clock figures (which no two runs share) taken out, and merge's note on them. */
const timeless = (out: string) => out.split('\n')
  .filter((l) => !/^merged \d+ shards/.test(l))
  .map((l) => l.replace(/ in \d+\.\d s.*$/, ' in T s'))
  .join('\n');

/** Runs the sweep unsharded and as 3 shards, and merges the shards' files (text and --json). */
async function sweep(args: string[]): Promise<{ whole: CliResult; wholeJson?: CliResult; shards: CliResult[]; merged: CliResult; mergedJson: CliResult; files: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-shard-'));
  const files = [1, 2, 3].map((k) => join(dir, `part-${k}.json`));
  const [whole, ...shards] = await Promise.all([
    run(['explore', ...args]),
    ...files.map((f, i) => run(['explore', ...args, '--shard', `${i + 1}/3`, '--out', f])),
  ]);
  // Given in another order than 1, 2, 3: the merge orders them itself.
  const merged = await cli(['merge', files[2]!, files[0]!, files[1]!]);
  const mergedJson = await cli(['merge', ...files, '--json']);
  return { whole: whole!, shards, merged, mergedJson, files };
}

function sameAsUnsharded(t: import('ava').ExecutionContext, s: Awaited<ReturnType<typeof sweep>>): void {
  t.is(s.merged.code, s.whole.code, s.merged.stderr);
  t.is(s.merged.stderr, '');
  t.is(timeless(s.merged.stdout), timeless(s.whole.stdout));
  for (const sh of s.shards) t.not(sh.code, 2, sh.stderr);
}

test('a seed sweep: its 3 shards merged print the unsharded table and exit code; --json is the unsharded document', async (t) => {
  const args = [scenarioPath('fork-cow-purge'), '--runs', '5', '--seed', '7'];
  const [s, wholeJson] = await Promise.all([sweep(args), run(['explore', ...args, '--json'])]);
  sameAsUnsharded(t, s);
  t.is(s.whole.code, 0);
  t.regex(s.merged.stdout, /^ok {40}5$/m);
  t.deepEqual(JSON.parse(s.mergedJson.stdout), JSON.parse(wholeJson.stdout));
  // Each shard ran its part only: seeds 7, 10 / 8, 11 / 9 (item i goes to shard i mod 3 + 1).
  const parts = s.files.map((f) => (JSON.parse(readFileSync(f, 'utf8')) as { explore: { runs: Array<{ seed: number }> } }).explore.runs.map((r) => r.seed));
  t.deepEqual(parts, [[7, 10], [8, 11], [9]]);
  t.regex(s.shards[1]!.stdout, /^ok {40}2$/m, 'a shard prints its own part\'s table');
});

test('a failing seed sweep: the merged failures, the first failure shrunk (by the shard that ran it) and exit 1, as unsharded; an empty shard', async (t) => {
  // Two runs, three shards: the third shard's part is empty, and merges all the same.
  const s = await sweep([scenarioPath('deadlock-demo'), '--runs', '2', '--seed', '1']);
  sameAsUnsharded(t, s);
  t.is(s.merged.code, 1);
  t.is((s.merged.stdout.match(/^FAILED seed/gm) ?? []).length, 2);
  t.regex(s.merged.stdout, /^shrunk the first failure in \d+ run\(s\)/m);
  t.deepEqual(s.shards.map((x) => x.code), [1, 1, 0], 'each shard fails by its own runs; the empty one has none');
});

test('a kill sweep (--every-kill): its 3 shards merged print the unsharded table and exit code', async (t) => {
  const s = await sweep([scenarioPath('race-purge-vs-nonvolatile'), '--every-kill', '--seed', '2']);
  sameAsUnsharded(t, s);
  t.regex(s.whole.stdout, /16 run\(s\), one per kill point/);
  t.regex(s.merged.stdout, /faults injected: \d+ kill\(s\)/);
  const sizes = s.files.map((f) => (JSON.parse(readFileSync(f, 'utf8')) as { explore: { runs: unknown[] } }).explore.runs.length);
  t.deepEqual(sizes, [6, 5, 5]);
});

test('explore --all: its 3 shards merged give the unsharded outcome classes, counts, witnesses and exit code', async (t) => {
  const args = [scenarioPath('race-purge-vs-nonvolatile'), '--all', '--seed', '1', '--policy', 'per-mm'];
  const [s, wholeJson] = await Promise.all([sweep(args), run(['explore', ...args, '--json'])]);
  sameAsUnsharded(t, s);
  t.regex(s.merged.stdout, /traces: \d+ \(one schedule per trace/);
  t.regex(s.merged.stdout, /replay: vrange run .* --choices /);
  t.deepEqual(JSON.parse(s.mergedJson.stdout), JSON.parse(wholeJson.stdout));
  // A class no shard's run reached is a problem only when merged: one shard alone does not say so.
  t.notRegex(s.shards.map((x) => x.stdout).join('\n'), /no real run reached/);
});

/** main() in this process, its output captured (merge runs nothing: no agents, no children). */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const [w1, w2] = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((s: string) => { out.stdout += s; return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => { out.stderr += s; return true; }) as typeof process.stderr.write;
  try { return { code: await main(args), ...out }; } finally { process.stdout.write = w1; process.stderr.write = w2; }
}

test.serial('merge refuses files of other sweeps, missing or doubled shards and malformed files: exit 2, one line naming the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-shard-'));
  const [a, b] = [join(dir, 'a.json'), join(dir, 'b.json')];
  const made = await Promise.all([a, b].map((f, i) => run(['explore', scenarioPath('race-purge-vs-nonvolatile'), '--runs', '2', '--seed', '1', '--shard', `${i + 1}/2`, '--out', f])));
  for (const m of made) t.is(m.code, 0, m.stderr);
  t.is((await inProcess(['merge', a, b])).code, 0, 'the two shards merge');
  const doc = JSON.parse(readFileSync(b, 'utf8')) as Record<string, any>;
  const variant = (name: string, change: (d: Record<string, any>) => void, text?: string): string => {
    const d = structuredClone(doc);
    change(d);
    const path = join(dir, name);
    writeFileSync(path, text ?? JSON.stringify(d));
    return path;
  };
  mkdirSync(join(dir, 'folder.json'));
  // A shard of --all: 4 reduced schedules, shard 1/4 runs one, the witness of its class.
  const all = join(dir, 'all.json');
  const madeAll = await run(['explore', scenarioPath('race-death-during-reclaim'), '--all', '--seed', '1', '--shard', '1/4', '--out', all]);
  t.is(madeAll.code, 0, madeAll.stderr);
  const allDoc = JSON.parse(readFileSync(all, 'utf8')) as Record<string, any>;
  const allVariant = (name: string, change: (d: Record<string, any>) => void): string => {
    const d = structuredClone(allDoc);
    change(d);
    writeFileSync(join(dir, name), JSON.stringify(d));
    return join(dir, name);
  };
  const cases: Array<[string[], string, RegExp]> = [
    [['merge', a], 'shard 2/2', /shard 2\/2 of .* is missing: got 1 of 2 shard files \(1\/2\)/],
    [['merge', a, a], a, /given twice/],
    [['merge', a, variant('copy.json', () => {}), b], 'copy.json', /shard 2\/2 again/],
    [['merge', a, variant('seed.json', (d) => { d.config.seed = 9; })], 'seed.json', /another run configuration \(seed is 9, not 1\)/],
    [['merge', a, variant('runs.json', (d) => { d.sweep.runs = 3; })], 'runs.json', /another sweep \(runs is 3, not 2\)/],
    [['merge', a, variant('kind.json', (d) => { d.sweep.kind = 'kills'; d.sweep.runs = null; })], 'kind.json', /another sweep \(kind is "kills", not "seeds"\)/],
    [['merge', a, variant('options.json', (d) => { d.options['max-tries'] = '3'; })], 'options.json', /a sweep with other options \(--max-tries is "3", not given\)/],
    [['merge', a, variant('other.json', (d) => { d.scenario.sha256 = 'f'.repeat(64); })], 'other.json', /of another scenario/],
    [['merge', a, variant('path.json', (d) => { d.scenario.file = 'elsewhere.yaml'; })], 'path.json', /names the scenario FILE as "elsewhere.yaml"/],
    [['merge', a, variant('version.json', (d) => { d.vrange = '0.0.1'; })], 'version.json', /written by vrange 0.0.1/],
    [['merge', a, variant('count.json', (d) => { d.shard = { index: 3, count: 3 }; d.explore.runs = []; })], 'count.json', /split into 3 shards, not 2/],
    [['merge', a, variant('k.json', (d) => { d.shard.index = 3; })], 'k.json', /K is larger than N/],
    [['merge', a, variant('lost.json', (d) => { d.explore.runs = []; })], 'lost.json', /has 1 of them, the file 0/],
    [['merge', a, variant('moved.json', (d) => { d.explore.runs[0].index = 0; })], 'moved.json', /explore\.runs\[0\]\.index is 0, not 1/],
    [['merge', a, variant('field.json', (d) => { d.explore.runs[0].outcome = 3; })], 'field.json', /explore\.runs\[0\]\.outcome: Expected string/],
    [['merge', a, variant('extra.json', (d) => { d.surprise = 1; })], 'extra.json', /surprise/],
    [['merge', a, variant('notjson.json', () => {}, '{"format": ')], 'notjson.json', /invalid JSON at line 1, column 12/],
    [['merge', a, variant('history.jsonl', () => {}, '{"kind":"start"}\n')], 'history.jsonl', /format: /],
    [['merge', a, join(dir, 'folder.json')], 'folder.json', /is a directory/],
    [['merge', a, join(dir, 'absent.json')], 'absent.json', /no such file/],
    [['merge', allVariant('nowitness.json', (d) => { delete d.all.runs[0].witness; })], 'nowitness.json', /all\.runs\[0\] is the file's first run of its outcome class but has no witness/],
    [['merge', allVariant('noall.json', (d) => { delete d.all; })], 'noall.json', /a sweep of kind "all" holds "all" and nothing of the other kind/],
    [['merge', allVariant('plan.json', (d) => { d.all.plan.reduced = 5; })], 'plan.json', /planned is \d+, but the plan has 5 reduced schedules/],
    [['merge', all, a], 'a.json', /of another scenario/],
    [['merge', all], 'shards 2/4, 3/4, 4/4', /are missing: got 1 of 4 shard files \(1\/4\)/],
    [['merge'], 'FILE', /got none/],
    [['merge', a, '--bogus'], '--bogus', /merge takes --json/],
    [['merge', a, '--json=1'], '--json', /takes no value/],
  ];
  for (const [args, names, message] of cases) {
    const r = await inProcess(args);
    const what = args.map((x) => x.replace(dir + '/', '')).join(' ');
    t.is(r.code, 2, `${what}: ${r.stderr}`);
    t.is(r.stdout, '', what);
    t.is(r.stderr.trimEnd().split('\n').length, 1, `${what}: ${r.stderr}`);
    t.true(r.stderr.includes(names), `${what}: ${r.stderr} names ${names}`);
    t.regex(r.stderr, message, what);
    t.notRegex(r.stderr, /\n\s+at |internal error/, what);
  }
});

test('--shard K/N: parsed and checked; the parts are disjoint and cover the work list', (t) => {
  t.deepEqual(parseShard('2/3'), { index: 2, count: 3 });
  t.deepEqual(parseShard(`${shardsMax}/${shardsMax}`), { index: shardsMax, count: shardsMax });
  for (const bad of ['0/3', '4/3', '1/0', `1/${shardsMax + 1}`, '1', '1/2/3', '-1/2', '1.0/2', ' 1/2', 'a/b', '1/02x']) {
    t.throws(() => parseShard(bad), { instanceOf: UsageError, message: /--shard: .* expected K\/N, whole numbers with 1 <= K <= N <= 1024/ }, bad);
  }
  for (let total = 0; total <= 40; total++) {
    for (let n = 1; n <= 7; n++) {
      const owners = Array.from({ length: total }, (_, i) => Array.from({ length: n }, (_, k) => k + 1).filter((k) => inShard(i, { index: k, count: n })));
      t.true(owners.every((o) => o.length === 1), `${total} items, ${n} shards: each item in exactly one shard`);
      for (let k = 1; k <= n; k++) t.is(partSize(total, { index: k, count: n }), owners.filter((o) => o[0] === k).length);
    }
  }
});

test('explore --shard: the arguments it needs and refuses', async (t) => {
  const demo = scenarioPath('fork-cow-purge');
  const cases: Array<[string[], RegExp]> = [
    [['explore', demo, '--shard', '1/2'], /--shard needs --seed BASE/],
    [['explore', demo, '--out', '/tmp/x.json', '--seed', '1'], /--out goes with --shard/],
    [['explore', demo, '--all', '--seed', '1', '--shard', '1/2', '--html', '/tmp/x.html'], /--html does not go with --shard/],
    [['explore', demo, '--seed', '1', '--shard', '1/2', '--out', '/nonexistent/x.json'], /--out \/nonexistent\/x.json: the directory \/nonexistent does not exist/],
    [['explore', demo, '--seed', '1', '--shard', '1/2', '--out', demo], /--out .*: is the scenario FILE/],
    [['run', demo, '--shard', '1/2'], /--shard goes with explore/],
  ];
  for (const [args, message] of cases) {
    const r = await inProcess(args);
    t.is(r.code, 2, args.join(' '));
    t.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    t.regex(r.stderr, message);
  }
  const help = await inProcess(['help', 'merge']);
  t.regex(help.stdout, /^usage:\n {2}vrange merge FILES\.\.\. \[--json\]/);
});

test('a shard stopped by SIGINT writes no result file (a part with runs missing cannot be merged) and exits 130', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-shard-'));
  const out = join(dir, 'part.json');
  let sent = false;
  let seen = '';
  // Each run pauses A for a minute: the signal comes while the shard's first run is under way (or before it starts).
  const r = await cli(['explore', scenarioPath('fork-cow-purge'), '--runs', '2', '--seed', '1', '--fault', 'pause:A@1:60000', '--shard', '1/2', '--out', out], (chunk, pid) => {
    seen += chunk;
    if (!sent && /^shard 1\/2: .*\n/m.test(seen)) { sent = true; process.kill(pid, 'SIGINT'); }
  });
  t.true(sent, r.stdout);
  t.is(r.code, 130, r.stderr);
  t.regex(r.stderr, /shard 1\/2 was stopped: no result file written/);
  t.throws(() => readFileSync(out), { code: 'ENOENT' });
});
