// The offline history checker (`vrange check`): real runs give valid histories; one planted
// violation of each kind is found and named, with the lines that show it.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { checkHistory, parseHistory, CHECKS, type CheckName } from '../checker/check.js';
import { cli, runFile, runYaml, scenarioPath, tempFile } from './helpers.js';

const base = `
name: check-planted
description: A base history for the checker's planted-violation tests.
memory: { frames: 32 }
processes:
  A:
    sigbus: handle
    steps:
      - { op: mmap, as: buf, pages: 4 }
      - { op: write, map: buf, page: 0, value: keep }
      - { op: write, map: buf, page: 1, value: lose }
      - { op: vrange, map: buf, page: 1, pages: 1, mode: volatile }
      - { op: signal, name: marked }
      - { op: wait, name: reclaimed }
      - { op: read, map: buf, page: 0, expect: { value: keep } }
      - { op: read, map: buf, page: 1, expect: { signal: SIGBUS } }
      - { op: vrange, map: buf, page: 1, pages: 1, mode: nonvolatile, expect: { purged: true } }
      - { op: vrange, map: buf, page: 2, pages: 1, mode: volatile }
      - { op: vrange, map: buf, page: 2, pages: 1, mode: nonvolatile, expect: { purged: false } }
      - { op: exit }
  B:
    steps:
      - { op: mmap, as: mine, pages: 2 }
      - { op: write, map: mine, page: 0, value: b }
      - { op: crash }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true }
  - { op: signal, name: reclaimed }
`;

// A planted history may set any field of any event: its events as plain records (checkHistory
// validates each, as it does a history built in memory).
type Ev = Record<string, any>;
let anon: Ev[] = [];
let file: Ev[] = [];
let anonTrace = '';

test.before(async () => {
  const path = tempFile('check-planted.yaml', base);
  anonTrace = path.replace(/\.yaml$/, '.jsonl');
  const r = await cli(['run', path, '--seed', '1', '--trace', anonTrace]);
  if (r.code !== 0) throw new Error(`the base run failed: ${r.stdout}${r.stderr}`);
  anon = parseHistory(readFileSync(anonTrace, 'utf8')) as Ev[];
  file = (await runFile(scenarioPath('file-shared-fvrange'), { seed: 1 })).history as Ev[];
});

/** A copy with `fn` applied, renumbered so that only the planted violation is wrong. */
function plant(h: Ev[], fn: (h: Ev[]) => void): Ev[] {
  const copy = structuredClone(h).map((e) => { delete e.line; return e; });
  fn(copy);
  copy.forEach((e, i) => { e.seq = i; });
  return copy;
}
const step = (h: Ev[], process: string, index: number) => h.find((e) => e.kind === 'complete' && e.process === process && e.index === index)!;
const found = (h: Ev[]): CheckName[] => [...new Set(checkHistory(h).violations.map((v) => v.check))];

test('real histories are valid, and every check had something to check', (t) => {
  for (const h of [anon, file]) t.deepEqual(checkHistory(h).violations, []);
  const checked = checkHistory(anon).checked;
  for (const c of CHECKS) t.true(checked[c] > 0 || c === 'purge-was-volatile', `${c} checked ${checked[c]} times`);
  t.true(checkHistory(file).checked['purge-was-volatile'] > 0);
});

// A waitpid of a child that died of SIGBUS succeeds with `signal: SIGBUS` (the child's death, not
// the waiter's fault): no page of the waiter's is judged, and the waiter's end is its last step.
test('a waitpid that reports a child killed by SIGBUS is no SIGBUS of the waiter', async (t) => {
  const { report, history } = await runYaml(`
name: check-waitpid-sigbus
memory: { frames: 16 }
processes:
  A:
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: x }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile }
      - { op: fork, child: C }
      - { op: waitpid, process: C, expect: { ok: true, signal: SIGBUS } }
  C:
    forked: true
    steps:
      - { op: signal, name: forked }
      - { op: wait, name: reclaimed }
      - { op: read, map: buf, page: 0, expect: { ok: false, signal: SIGBUS } }
kernel:
  - { op: wait, name: forked }
  - { op: reclaim, all: true, expect: { freed: 1 } }
  - { op: signal, name: reclaimed }
`);
  t.true(report.ok, JSON.stringify(report.failures));
  t.deepEqual(checkHistory(history).violations, []);
  // The waiter's own last step is the waitpid (ok): A ran all its steps, and a history that cut
  // the waitpid's signal off A would still be told from one whose A was killed.
  const h = plant(history as Ev[], (h) => { h.find((e) => e.kind === 'final')!.processes.find((p: Ev) => p.process === 'A').state = 'killed'; });
  t.true(found(h).includes('well-formed'), 'a killed A with no cause in the history is flagged, whatever its waitpid reported');
});

test('planted: a read returns something other than the last write', (t) => {
  const h = plant(anon, (h) => { step(h, 'A', 6).result.value = 'tampered'; });
  t.deepEqual(found(h), ['read-last-write']);
  const v = checkHistory(h).violations[0]!;
  t.regex(v.text, /A step 6 read buf page 0 as "tampered", but the last write there wrote "keep"/);
  // The lines named are the write, the read's invoke and its completion.
  const lineOf = (e: Ev) => h.indexOf(e) + 1;
  t.true(v.lines.includes(lineOf(step(h, 'A', 1))) && v.lines.includes(lineOf(step(h, 'A', 6))));
});

test('planted: SIGBUS on a page that was never purged', (t) => {
  const h = plant(anon, (h) => { step(h, 'A', 6).result = { ok: false, signal: 'SIGBUS' }; step(h, 'A', 6).type = 'fail'; });
  t.deepEqual(found(h), ['sigbus-on-purged']);
});

test('planted: purged: true with no purge behind it', (t) => {
  const h = plant(anon, (h) => { step(h, 'A', 10).result.purged = true; });
  t.deepEqual(found(h), ['purged-backed']);
});

test('planted: a purge while volatile not reported by the next nonvolatile', (t) => {
  const h = plant(anon, (h) => { step(h, 'A', 8).result.purged = false; });
  t.deepEqual(found(h), ['purge-reported']);
});

test('planted: a purge of a page its process had not marked volatile', (t) => {
  const h = plant(anon, (h) => {
    const d = h.find((e) => e.kind === 'decision' && e.purge)!;
    d.votes[0].vpage = 1; // page 0 of buf (vpage 1) was never volatile
    h.find((e) => e.kind === 'purge-notify')!.runs = [1, 1];
  });
  const named = checkHistory(h).violations.filter((v) => v.check === 'purge-was-volatile');
  t.is(named.length, 2, 'the decision and the notification are each named');
  t.regex(named[0]!.text, /purged, but A had page 1 not volatile/);
  // And what follows from it: the SIGBUS and the purged: true on page 2 now have no purge behind them.
  t.deepEqual(found(h), ['purge-was-volatile', 'sigbus-on-purged', 'purged-backed']);
});

test('planted: a file page purged although the file range was not volatile', (t) => {
  const h = plant(file, (h) => {
    const d = h.find((e) => e.kind === 'decision' && e.purge && e.pageKind === 'file')!;
    d.filePage = 99;
  });
  t.true(found(h).includes('purge-was-volatile'));
});

test('planted: a file purge reported as not purged, and a file range reported purged without a purge', (t) => {
  const unreported = plant(file, (h) => { h.find((e) => e.kind === 'file-nonvolatile' && e.purged === true)!.purged = false; });
  t.deepEqual(found(unreported), ['purge-reported']);
  const unbacked = plant(file, (h) => {
    // A nonvolatile before any reclaim: nothing can have been purged yet.
    const firstReclaim = h.findIndex((e) => e.kind === 'reclaim-prepare');
    const fresh = h.findIndex((e, i) => e.kind === 'file-nonvolatile' && e.purged === false && (firstReclaim < 0 || i < firstReclaim));
    if (fresh >= 0) { h[fresh]!.purged = true; return; }
    // Otherwise make one up, right after the boot, over the whole file.
    h.splice(1, 0, { seq: 0, at: 0, kind: 'file-nonvolatile', file: 'f', start: 0, pages: 4, purged: true, by: 'A' });
  });
  t.deepEqual(found(unbacked), ['purged-backed']);
});

test('planted: a dead process still named, still holding frames, never cleaned up', (t) => {
  const named = plant(anon, (h) => {
    const at = h.findIndex((e) => e.kind === 'cleanup' && e.process === 'B');
    h.splice(at + 1, 0, { seq: 0, at: 0, kind: 'purge-notify', xid: 9, process: 'B', vpages: [1] });
  });
  t.true(found(named).includes('dead-hold-nothing'));
  const holding = plant(anon, (h) => { h.find((e) => e.kind === 'final')!.processes.find((p: Ev) => p.process === 'B').resident = 2; });
  t.deepEqual(found(holding), ['dead-hold-nothing']);
  t.regex(checkHistory(holding).violations[0]!.text, /B ended \(killed\) but still holds 2 frames/);
  const uncleaned = plant(anon, (h) => { h.splice(h.findIndex((e) => e.kind === 'cleanup' && e.process === 'B'), 1); });
  t.deepEqual(found(uncleaned), ['death-cleaned']);
});

test('planted: frames that do not add up at the end', (t) => {
  const h = plant(anon, (h) => { const f = h.find((e) => e.kind === 'final')!; f.frames.used += 1; f.frames.free -= 1; });
  t.deepEqual(found(h), ['no-frame-leak']);
});

test('planted: a step invoked and never completed, and a history cut short', (t) => {
  const lost = plant(anon, (h) => { h.splice(h.indexOf(step(h, 'A', 6)), 1); });
  t.true(found(lost).includes('well-formed'));
  const cut = plant(anon, (h) => { h.pop(); });
  t.deepEqual(found(cut), ['well-formed']);
});

test('vrange check: exit 0 on a valid history, 1 naming the violation and its lines, 2 on a file that is not a history', async (t) => {
  const ok = await cli(['check', anonTrace]);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /valid \(\d+ events; checked: well-formed \d+, sigbus-on-purged 1/);

  const lines = readFileSync(anonTrace, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const read = lines.find((e) => e.kind === 'complete' && e.process === 'A' && e.index === 6);
  read.result.value = 'tampered';
  const bad = tempFile('bad.jsonl', lines.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const r = await cli(['check', bad]);
  t.is(r.code, 1);
  t.regex(r.stdout, new RegExp(`INVALID: 1 violation\\(s\\)[\\s\\S]*read-last-write: A step 6 read buf page 0 as "tampered".*lines [\\d, ]*${lines.indexOf(read) + 1}\\)`));

  const junk = tempFile('junk.jsonl', `${readFileSync(anonTrace, 'utf8').split('\n')[0]}\nnot json\n`);
  const j = await cli(['check', junk]);
  t.is(j.code, 2);
  t.regex(j.stderr, /junk\.jsonl:2: invalid JSON at column 2: Unexpected token .o.; a history has one JSON object \(RFC 8259\) per line/);
  writeFileSync(junk, '');
  t.is((await cli(['check', junk])).code, 2);
});
