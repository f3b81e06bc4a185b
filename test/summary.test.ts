// `vrange run FILE --quiet`: the summary's counts are the history's. Real runs through the CLI
// with `--trace`: the steps counted by op and result, the purged pages, the deaths and the
// verdict are compared with what the recorded history (and the --json report) says.

import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, scenarioPath, tempFile } from './helpers.js';
import type { HistoryEvent } from '../coordinator/history.js';

interface Parsed { seed: string; steps: number; counts: Record<string, Record<string, number>>; purges: string; deaths: string; failures: string; verdict: string; repro?: string; lines: string[] }

function parse(stdout: string): Parsed {
  const lines = stdout.trimEnd().split('\n');
  const at = (prefix: string) => lines.find((l) => l.startsWith(prefix)) ?? '';
  const counts: Record<string, Record<string, number>> = {};
  const from = lines.findIndex((l) => l.startsWith('steps: '));
  for (let i = from + 1; lines[i]?.startsWith('  '); i++) {
    const [, op, rest] = /^ {2}(\S+)\s+(.*)$/.exec(lines[i]!)!;
    counts[op!] = Object.fromEntries(rest!.split(', ').map((p) => { const [k, c] = p.split(' '); return [c!, Number(k!.replace(/,/g, ''))]; }));
  }
  return { seed: at('seed '), steps: Number(/^steps: ([\d,]+)/.exec(at('steps: '))?.[1]?.replace(/,/g, '')), counts, purges: at('purges: '),
    deaths: at('deaths: '), failures: at('failures: '), verdict: at('verdict: '), repro: lines.find((l) => l.startsWith('reproduce: ')), lines };
}

/** The counts by op and result class, from the history's `complete` events. */
function historyCounts(history: HistoryEvent[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const e of history) {
    if (e.kind !== 'complete') continue;
    const r = e.result as { ok: boolean; errno?: string; signal?: string; stuck?: boolean };
    const c = r.stuck ? 'stuck' : r.ok ? 'ok' : r.errno ?? r.signal ?? 'failed';
    const op = (out[e.op] ??= {});
    op[c] = (op[c] ?? 0) + 1;
  }
  return out;
}

async function quietRun(file: string, extra: string[] = []): Promise<{ code: number | null; s: Parsed; history: HistoryEvent[]; stderr: string }> {
  const trace = join(mkdtempSync(join(tmpdir(), 'vrange-quiet-')), 'run.jsonl');
  const r = await cli(['run', file, '--seed', '1', '--quiet', '--trace', trace, ...extra]);
  const history = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as HistoryEvent);
  return { code: r.code, s: parse(r.stdout), history, stderr: r.stderr };
}

for (const name of ['fork-cow-purge', 'oom-kill', 'anon-sigbus', 'kill-cleanup']) {
  test(`--quiet on ${name}: counts by op and result, purges and deaths are the history's`, async (t) => {
    const { code, s, history } = await quietRun(scenarioPath(name));
    t.is(code, 0);
    t.is(s.seed, 'seed 1');
    const completes = history.filter((e) => e.kind === 'complete');
    t.is(s.steps, completes.length);
    t.deepEqual(s.counts, historyCounts(history));
    // Purged pages: the pages of every purge-notify (each names the vpages one process lost) are
    // not the kernel's count (a shared page is one page); the kernel's count is in the JSON report.
    const json = await cli(['run', scenarioPath(name), '--seed', '1', '--json']);
    const report = JSON.parse(json.stdout) as { kernel: { purgedPages: number; processes: Array<{ name: string; state: string; signal?: string }> } };
    t.regex(s.purges, new RegExp(`^purges: ${report.kernel.purgedPages} page\\(s\\) purged; ${history.filter((e) => e.kind === 'reclaim-commit').length} reclaim exchange`));
    const killed = history.filter((e) => e.kind === 'cleanup' && e.signal !== undefined).map((e) => e.process as string);
    const said = s.deaths === 'deaths: none' ? [] : s.deaths.slice('deaths: '.length).split(', ').map((d) => d.split(' ')[0]);
    t.deepEqual(said.sort(), killed.sort());
    t.is(s.failures, 'failures: none');
    t.is(s.verdict, `verdict: PASS (${completes.length} steps)`);
    t.is(s.repro, undefined);
    // A summary, not a narration: no line per step.
    t.true(s.lines.length < completes.length, `${s.lines.length} lines for ${completes.length} steps`);
  });
}

test('--quiet on a failing run: the failure, FAIL and the reproduce line, like the full report', async (t) => {
  const file = tempFile('quiet-fail.yaml', `name: quiet-fail
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 2 }
      - { op: write, map: m, page: 0, value: x }
      - { op: read, map: m, page: 0, expect: { value: y } }
`);
  const { code, s } = await quietRun(file);
  t.is(code, 1);
  t.is(s.failures, 'failures: 1');
  t.true(s.lines.includes('  expectation: A step 2: expected {"value":"y"}, got {"ok":true,"value":"x"}'), s.lines.join('\n'));
  t.regex(s.verdict, /^verdict: FAIL \(1 expectation\(s\) failed, 0 invariant\(s\) broken\)$/);
  t.is(s.repro, `reproduce: vrange run ${file} --seed 1 --policy shared-file --access sigbus --purge-unit range --frames 1024 --schedule lockstep`);
  t.deepEqual(s.counts, { mmap: { ok: 1 }, write: { ok: 1 }, read: { ok: 1 } });
});

test('--quiet with --json is refused (exit 2, one line); --json alone is unchanged', async (t) => {
  const r = await cli(['run', scenarioPath('fork-cow-purge'), '--seed', '1', '--quiet', '--json']);
  t.is(r.code, 2);
  t.is(r.stdout, '');
  t.is(r.stderr, 'vrange run: --quiet and --json: give one; --json already prints nothing but the JSON document (see `vrange help run`)\n');
  const j = await cli(['run', scenarioPath('fork-cow-purge'), '--seed', '1', '--json']);
  t.is(j.code, 0);
  t.is((JSON.parse(j.stdout) as { scenario: string }).scenario, 'fork-cow-purge');
});
