// Text the product does not write itself (a scenario's description, file, map and signal names,
// labels and values; the paths on the command line) holding control, C1 and bidi characters (ESC,
// CSI, BEL, U+202E and the isolates, the directional marks) never reaches the terminal or a page
// as it is: the narration, --quiet, --json, --html and the internal-error lines show each one as an
// escape (shared/printable.ts; remote peers' text: test/remote-forge.test.ts).
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from './helpers.js';

/** Every character a terminal or a browser acts on or reorders by, but a newline and a tab. */
const acting = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const bad = '\u202e\u2066\u200f\u001b[31m\u009b\u0007';
const rawIn = (text: string) => { const m = acting.exec(text); return m ? JSON.stringify(text.slice(Math.max(0, m.index - 60), m.index + 20)) : ''; };

const dir = mkdtempSync(join(tmpdir(), 'vrange-untrusted-'));
const scenario = join(dir, `probe${bad}.yaml`);
const q = (s: string) => JSON.stringify(s);
writeFileSync(scenario, `name: untrusted-probe
description: ${q(`desc${bad} line`)}
memory: { frames: 4 }
files:
  - { name: ${q(`f${bad}`)}, pages: 2 }
processes:
  A:
    steps:
      - { op: open, file: ${q(`f${bad}`)}, label: ${q(`L${bad}`)} }
      - { op: mmap, as: ${q(`m${bad}`)}, pages: 1 }
      - { op: write, map: ${q(`m${bad}`)}, page: 0, value: ${q(`v${bad}`)} }
      - { op: read, map: ${q(`m${bad}`)}, page: 0, expect: { value: ${q(`x${bad}`)} } }
      - { op: signal, name: ${q(`s${bad}`)} }
`);

test('a run of a scenario full of control and bidi characters: narration, --quiet, --json and --html show each as an escape', async (t) => {
  const html = join(dir, 'page.html');
  for (const args of [[], ['--quiet'], ['--schedule', 'free'], ['--html', html]]) {
    const r = await cli(['run', scenario, ...args]);
    t.is(r.code, 1, r.stderr); // the read's expect fails: the run went through
    t.is(rawIn(r.stdout), '', `run ${args.join(' ')}: stdout`);
    t.is(rawIn(r.stderr), '', `run ${args.join(' ')}: stderr`);
  }
  const page = readFileSync(html, 'utf8');
  t.is(rawIn(page), '', 'the --html page');
  t.true(page.includes('desc\\u{202e}\\u{2066}\\u{200f}\\u{1b}[31m\\u{9b}\\u{7} line'), 'the description, escaped, not dropped');
  t.true(page.includes('file f\\u{202e}'), 'the file name, escaped');
  // --json: still one JSON document, whose strings parse back to what the scenario said.
  const j = await cli(['run', scenario, '--json']);
  t.is(rawIn(j.stdout), '', 'run --json');
  const report = JSON.parse(j.stdout) as { steps: Array<{ label?: string }> };
  t.is(report.steps[0]!.label, `L${bad}`);
});

test('the internal error of a bug in vrange shows the command line and the stack escaped', async (t) => {
  // The test hook makes A's local agent exit by itself: a bug in vrange, exit 70, with the command to show it.
  const r = await cli(['run', scenario], undefined, { VRANGE_TEST_EXIT_AT: 'A:1' });
  t.is(r.code, 70, r.stderr);
  t.regex(r.stderr, /please report it with the command that shows it: vrange run '.*probe\\u\{202e\}/);
  t.is(rawIn(r.stderr), '', 'stderr');
  t.is(rawIn(r.stdout), '', 'stdout');
});

test('explore --shard prints the result file it wrote, and explore --json its document, escaped', async (t) => {
  const out = join(dir, `shard${bad}.json`);
  const r = await cli(['explore', scenario, '--runs', '2', '--seed', '1', '--shard', '1/2', '--out', out]);
  t.true([0, 1].includes(r.code!), r.stderr);
  t.regex(r.stdout, /shard result: .*shard\\u\{202e\}/);
  t.is(rawIn(r.stdout + r.stderr), '', 'explore --shard');
  const j = await cli(['explore', scenario, '--runs', '1', '--json']);
  t.is(rawIn(j.stdout), '', 'explore --json');
  t.notThrows(() => JSON.parse(j.stdout));
});
