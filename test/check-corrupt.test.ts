// `vrange check` on corrupted histories. Real histories (library scenarios run with --trace) are
// corrupted mechanically: each line deleted in turn, each step result replaced by [], {}, null, a
// number or a string, adjacent lines swapped, the file truncated, a line duplicated, each documented
// field given another type, each step's events (its invoke and its complete) deleted together. For
// every corruption the checker must not throw, must answer "invalid" (1) or "not a history" (2) and
// name the line, whenever the corruption lost a required event (docs/history-format.md, Required
// events) or broke a line's shape; it may answer "valid" only when a narration line was removed.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { checkHistory, parseHistory, HistoryFormatError } from '../checker/check.js';
import { loadScenario, parseScenario } from '../shared/scenario.js';
import { parseFault } from '../harness/faults.js';
import { runScenario } from '../harness/run.js';
import { cli, configFor, limiter, scenarioPath, tempFile } from './helpers.js';

const gate = limiter(2);
/** Events a history may not lose (docs/history-format.md). */
const REQUIRED = new Set(['boot', 'birth', 'invoke', 'complete', 'cleanup', 'final', 'verdict']);

interface Base { name: string; lines: string[] }
const bases: Base[] = [];

test.before(async () => {
  // anon-sigbus: a SIGBUS death and a handled SIGBUS; fork-cow-purge: fork and purge; file-shared-fvrange:
  // a file's ranges; kill-cleanup: a kernel kill step; free schedule once.
  const runs: Array<[string, Record<string, unknown>]> = [['anon-sigbus', {}], ['fork-cow-purge', {}], ['file-shared-fvrange', {}], ['kill-cleanup', {}], ['anon-sigbus', { schedule: 'free', seed: 0 }]];
  for (const [name, over] of runs) {
    const s = loadScenario(scenarioPath(name));
    const trace = tempFile(`${name}.jsonl`, '');
    await gate(() => runScenario(s, configFor(s, over), { trace }));
    bases.push({ name: `${name}${over.schedule ? ` (${over.schedule})` : ''}`, lines: readFileSync(trace, 'utf8').trim().split('\n') });
  }
  // A deadlock of the kernel list in the free schedule: the process it waits for is killed first.
  const orphan = parseScenario(`
name: orphaned-wait
description: The kernel waits for a signal from A, and A is killed before it sends it.
memory: { frames: 4 }
processes:
  A:
    steps:
      - { op: signal, name: hello }
kernel:
  - { op: wait, name: hello }
  - { op: reclaim, all: true }
`, 'orphaned-wait.yaml');
  const trace = tempFile('orphaned-wait.jsonl', '');
  await gate(() => runScenario(orphan, configFor(orphan, { schedule: 'free', seed: 0 }), { trace, faults: [parseFault('kill:A@0', orphan)] }));
  bases.push({ name: 'orphaned-wait (free, kill:A@0)', lines: readFileSync(trace, 'utf8').trim().split('\n') });
});

type Answer = { code: 0 | 1 | 2; lines: number[]; text: string };
/** What `vrange check` answers for this text, in process (the CLI maps it to exit codes 0, 1, 2). */
function answer(text: string): Answer {
  let events;
  try { events = parseHistory(text, 'h.jsonl'); } catch (e) {
    if (!(e instanceof HistoryFormatError)) throw e;
    const m = e.message.match(/^h\.jsonl:(\d+): /);
    return { code: 2, lines: m ? [Number(m[1])] : [], text: e.message };
  }
  const r = checkHistory(events);
  return { code: r.ok ? 0 : 1, lines: r.violations.flatMap((v) => v.lines), text: r.violations.map((v) => `${v.check}: ${v.text}`).join(' | ') };
}
const join = (lines: string[]) => lines.join('\n') + '\n';
/** The lines with seq counted up again: only the corruption itself is wrong (a kernel that forgot to record an event). */
const renumber = (lines: string[]) => lines.map((l, i) => JSON.stringify({ ...JSON.parse(l), seq: i }));
const kindOf = (line: string) => (JSON.parse(line) as { kind: string }).kind;

test('the real histories are valid', (t) => {
  for (const b of bases) t.is(answer(join(b.lines)).code, 0, `${b.name}: ${answer(join(b.lines)).text}`);
  t.true(bases.some((b) => b.lines.some((l) => l.includes('"signal":"SIGBUS"'))), 'some base has a SIGBUS result');
});

test('deleting any required line is never valid, and the answer names a line', (t) => {
  let n = 0;
  for (const b of bases) {
    for (let i = 0; i < b.lines.length; i++) {
      const kind = kindOf(b.lines[i]!);
      const a = answer(join(renumber(b.lines.filter((_, j) => j !== i))));
      if (!REQUIRED.has(kind)) continue; // narration: valid or not, it must not throw (it did not)
      n++;
      t.not(a.code, 0, `${b.name}: line ${i + 1} (${kind}) deleted, yet valid`);
      t.true(a.lines.length > 0, `${b.name}: line ${i + 1} (${kind}) deleted: no line named (${a.text})`);
    }
  }
  t.true(n > 100, `${n} deletions of required lines`);
});

test('deleting a whole step (its invoke and its complete) is never valid, the last step of a program too', (t) => {
  let n = 0;
  for (const b of bases) {
    const events = b.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const [i, e] of events.entries()) {
      if (e.kind !== 'complete') continue;
      const inv = events.findIndex((x) => x.kind === 'invoke' && x.process === e.process && x.index === e.index);
      const a = answer(join(renumber(b.lines.filter((_, j) => j !== i && j !== inv))));
      n++;
      t.not(a.code, 0, `${b.name}: ${e.process} step ${e.index} (${e.op}) deleted, yet valid`);
      t.true(a.lines.length > 0, `${b.name}: ${e.process} step ${e.index}: no line named`);
    }
  }
  t.true(n > 50, `${n} steps deleted`);
});

test('a step result replaced by [], {}, null, a number or a string: not a history, naming its line', (t) => {
  for (const b of bases) {
    for (let i = 0; i < b.lines.length; i++) {
      const e = JSON.parse(b.lines[i]!) as Record<string, unknown>;
      if (e.kind !== 'complete') continue;
      for (const junk of [[], {}, null, 7, 'x', { ok: true }, { ok: false }]) {
        if (junk && typeof junk === 'object' && !Array.isArray(junk) && 'ok' in junk && (SHAPELESS_OK.has(String(e.op)) && junk.ok === true && e.type === 'ok')) continue;
        const lines = [...b.lines];
        lines[i] = JSON.stringify({ ...e, result: junk });
        const a = answer(join(lines));
        t.is(a.code, 2, `${b.name}: line ${i + 1} result ${JSON.stringify(junk)}: ${a.text}`);
        t.deepEqual(a.lines, [i + 1]);
      }
    }
  }
});
/** Ops whose success is just `{ ok: true }`: that replacement changes nothing. */
const SHAPELESS_OK = new Set(['close', 'munmap', 'write', 'exit', 'signal', 'wait', 'kill', 'check']);

test('a read result with no value and no signal, or a waitpid with neither exitCode nor signal, is not a history', (t) => {
  const b = bases[0]!;
  for (const [op, bad] of [['read', { ok: true }], ['waitpid', { ok: true }], ['mmap', { ok: true, addr: 'x' }], ['read', { ok: false }]] as const) {
    const i = b.lines.findIndex((l) => { const e = JSON.parse(l); return e.kind === 'complete' && e.op === op && e.type === (bad.ok ? 'ok' : 'fail'); });
    if (i < 0) continue;
    const lines = [...b.lines];
    lines[i] = JSON.stringify({ ...JSON.parse(lines[i]!), result: bad });
    const a = answer(join(lines));
    t.is(a.code, 2, `${op} ${JSON.stringify(bad)}`);
    t.regex(a.text, new RegExp(`^h\\.jsonl:${i + 1}: a "complete" event`));
  }
});

test('swapped, duplicated and truncated lines are never valid, and the answer names a line', (t) => {
  for (const b of bases) {
    for (let i = 0; i + 1 < b.lines.length; i++) {
      const swapped = [...b.lines];
      [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
      const s = answer(join(swapped));
      t.not(s.code, 0, `${b.name}: lines ${i + 1} and ${i + 2} swapped`);
      t.true(s.lines.length > 0);
      const dup = [...b.lines.slice(0, i + 1), b.lines[i]!, ...b.lines.slice(i + 1)];
      const d = answer(join(dup));
      t.not(d.code, 0, `${b.name}: line ${i + 1} duplicated`);
      t.true(d.lines.length > 0);
      // Duplicated and renumbered: a required event twice is still wrong.
      if (REQUIRED.has(kindOf(b.lines[i]!))) {
        const r = answer(join(renumber(dup)));
        t.not(r.code, 0, `${b.name}: line ${i + 1} (${kindOf(b.lines[i]!)}) duplicated and renumbered, yet valid`);
        t.true(r.lines.length > 0);
      }
    }
    for (let keep = 0; keep < b.lines.length; keep += Math.max(1, Math.floor(b.lines.length / 40))) {
      const cut = answer(join(b.lines.slice(0, keep)));
      t.not(cut.code, 0, `${b.name}: cut after line ${keep}`);
      const half = b.lines.slice(0, keep + 1);
      half[keep] = half[keep]!.slice(0, Math.floor(half[keep]!.length / 2));
      const h = answer(half.join('\n'));
      t.is(h.code, 2, `${b.name}: line ${keep + 1} cut in half`);
      t.deepEqual(h.lines, [keep + 1]);
    }
  }
});

/** Another type for a JSON value. */
function retype(v: unknown): unknown[] {
  if (typeof v === 'number') return [String(v), null];
  if (typeof v === 'string') return [7, ['x']];
  if (typeof v === 'boolean') return [String(v), 1];
  if (Array.isArray(v)) return ['x', {}];
  if (v && typeof v === 'object') return ['x', []];
  return [{}];
}
/** Fields the format leaves untyped: a message as the protocol has it, what an expectation named. */
const UNTYPED = new Set(['message.msg', 'expectation-failed.expected', 'expectation-failed.actual', 'bad-message.t']);

test('every documented field given another type: not a history, naming its line', (t) => {
  let n = 0;
  for (const b of bases.slice(0, 3)) {
    for (let i = 0; i < b.lines.length; i++) {
      const e = JSON.parse(b.lines[i]!) as Record<string, unknown>;
      for (const field of Object.keys(e)) {
        if (field === 'kind' || UNTYPED.has(`${e.kind}.${field}`)) continue;
        for (const other of retype(e[field])) {
          const lines = [...b.lines];
          lines[i] = JSON.stringify({ ...e, [field]: other });
          const a = answer(join(lines));
          n++;
          t.is(a.code, 2, `${b.name}: line ${i + 1} (${e.kind}) field ${field} = ${JSON.stringify(other)}: ${a.text}`);
          t.deepEqual(a.lines, [i + 1]);
        }
      }
    }
  }
  t.true(n > 500, `${n} retyped fields`);
});

test('vrange check: exit 2 with the line on a broken line, 1 on a lost step, never a stack trace', async (t) => {
  const b = bases[0]!;
  const i = b.lines.findIndex((l) => l.includes('"signal":"SIGBUS"') && kindOf(l) === 'complete');
  const garbage = [...b.lines];
  garbage[i] = JSON.stringify({ ...JSON.parse(garbage[i]!), result: [] });
  const g = await cli(['check', tempFile('garbage.jsonl', join(garbage))]);
  t.is(g.code, 2, g.stdout + g.stderr);
  t.regex(g.stderr, new RegExp(`garbage\\.jsonl:${i + 1}: a "complete" event \\(docs/history-format\\.md\\): result`));
  t.notRegex(g.stderr, /\n\s+at /);
  const lost = await cli(['check', tempFile('lost.jsonl', join(b.lines.filter((_, j) => j !== i)))]);
  t.is(lost.code, 1, lost.stdout + lost.stderr);
  t.regex(lost.stdout, /INVALID[\s\S]*well-formed: .*invoked but never completed \(line \d+\)/);
  const unknown = await cli(['check', tempFile('unknown.jsonl', join([b.lines[0]!, '{"seq":1,"at":2,"kind":"bogus"}']))]);
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /unknown\.jsonl:2: unknown kind "bogus"; allowed: boot, birth/);
});

test('every variant of a line the kernel writes and docs/history-format.md gives is a history line', (t) => {
  // A remote kernel refuses a peer by its address (and CURVE key) or by its routing id, and logs a
  // bad message from an agent with no process yet by its routing id (coordinator/remote.ts, kernel.ts).
  const b = bases[0]!;
  const narration = [
    { kind: 'agent-refused', address: 'tcp://10.0.0.7:5000', publicKey: 'k', mechanism: 'CURVE', why: 'unknown key' },
    { kind: 'agent-refused', address: 'tcp://10.0.0.7:5000', why: 'handshake failed' },
    { kind: 'agent-refused', agent: 'remote-0123456789ab', why: 'its first message is not a hello' },
    { kind: 'bad-message', agent: 'remote-0123456789ab', where: 'remote', t: 'grant', why: 'not from an agent' },
    { kind: 'bad-message', process: 'A', pid: 2, where: 'local', t: 'done', why: 'a done for no step' },
  ];
  for (const n of narration) {
    // Put after boot, renumbering every seq after it.
    const lines = [b.lines[0]!, JSON.stringify({ seq: 1, at: 1, ...n }), ...b.lines.slice(1).map((l) => JSON.stringify({ ...JSON.parse(l), seq: JSON.parse(l).seq + 1 }))];
    t.notThrows(() => parseHistory(join(lines), 'h.jsonl'), `${n.kind} ${JSON.stringify(n)}`);
  }
  // A bad message or a refusal that names nobody is still not a history line.
  for (const n of [{ kind: 'bad-message', where: 'remote', t: 'x', why: 'w' }, { kind: 'agent-refused', why: 'w' }]) {
    const lines = [b.lines[0]!, JSON.stringify({ seq: 1, at: 1, ...n }), ...b.lines.slice(1)];
    t.is(answer(join(lines)).code, 2, JSON.stringify(n));
  }
});
