// `vrange check` on files that are not histories (docs/history-format.md, "What is not a history"):
// exit 2 with `FILE:LINE: ...` naming the place and what is allowed there, never exit 0 (garbage
// accepted), 1 (a verdict on garbage) or 3 (a crash). Real histories come from `vrange run --trace`;
// every field of the first line of each kind in them is removed and given other values, by class,
// and each listed mistake (a blank line, a duplicate or `__proto__` key, a lone surrogate, a line
// too deep, too long or with too long a string, too many lines, a format that is not 2, an unknown
// policy, a number past its limit) is written as a file and checked through the real CLI.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { HistoryFormatError, parseHistory } from '../checker/check.js';
import { historyDepthMax, historyEventsMax, historyLineBytesMax, historyStringLengthMax } from '../shared/limits.js';
import { cli, limiter, scenarioPath, tempFile } from './helpers.js';

const gate = limiter(2);
const histories: Array<{ name: string; lines: string[] }> = [];

test.before(async () => {
  // fork-cow-purge: fork, exchange, decisions, notifications; file-shared-fvrange: a file's ranges;
  // kill-cleanup: a kernel kill; oom-kill: the OOM killer.
  for (const name of ['fork-cow-purge', 'file-shared-fvrange', 'kill-cleanup', 'oom-kill']) {
    const trace = tempFile(`${name}.jsonl`, '');
    const r = await gate(() => cli(['run', scenarioPath(name), '--trace', trace, '--seed', '1']));
    if (r.code !== 0 && r.code !== 1) throw new Error(`vrange run ${name}: exit ${r.code}: ${r.stderr}`);
    histories.push({ name, lines: readFileSync(trace, 'utf8').trimEnd().split('\n') });
  }
});

const join = (lines: string[]) => lines.join('\n') + '\n';
type Answer = { code: number; text: string };
/** What `vrange check` answers, in process: parseHistory refuses (2) or reads the file. */
function read(text: string): Answer {
  try { parseHistory(text, 'h.jsonl'); } catch (e) {
    if (e instanceof HistoryFormatError) return { code: 2, text: e.message };
    return { code: 3, text: String((e as Error).stack) };
  }
  return { code: 0, text: '' };
}
async function check(name: string, text: string): Promise<{ code: number | null; stdout: string; stderr: string; file: string }> {
  const file = tempFile(name, '');
  writeFileSync(file, text);
  return { ...(await gate(() => cli(['check', file]))), file };
}
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The fields a kind may lack (docs/history-format.md marks them `?`, or as older or alternative forms). */
const OPTIONAL: Record<string, readonly string[]> = {
  boot: ['format'], birth: ['parent', 'host', 'agent'], schedule: ['options', 'kernel'], invoke: ['kernel'],
  complete: ['detail', 'label', 'kernel'], 'reclaim-prepare': ['want'], decision: ['frame', 'pages', 'file', 'filePage', 'vpages'],
  'purge-notify': [], cleanup: ['exitCode', 'signal', 'interrupted', 'outside'], stuck: ['kernel'], 'expectation-failed': ['actual', 'kernel', 'ran', 'why'],
};
/** Fields the format leaves untyped (any JSON value): removed they are missing, any value is theirs. */
const UNTYPED = new Set(['message.msg', 'expectation-failed.expected', 'expectation-failed.actual', 'bad-message.t']);
/** Values of other JSON types than `v`, and, of v's type, ones outside what any field of that type allows. */
function wrongValues(v: unknown): unknown[] {
  const others: unknown[] = [null, 'x', -1, {}, [], 0.5, true];
  const ofType = (x: unknown) => (x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x);
  const out = others.filter((o) => ofType(o) !== ofType(v));
  if (typeof v === 'number') out.push(-1, 0.5, 1e308);
  return out;
}

test('the real histories are histories, and hold the kinds the tests below take apart', (t) => {
  for (const h of histories) t.is(read(join(h.lines)).code, 0, `${h.name}: ${read(join(h.lines)).text}`);
  const kinds = new Set(histories.flatMap((h) => h.lines.map((l) => (JSON.parse(l) as { kind: string }).kind)));
  for (const k of ['boot', 'birth', 'message', 'schedule', 'invoke', 'complete', 'reclaim-prepare', 'decision', 'purge-notify', 'reclaim-commit', 'file-nonvolatile', 'kill', 'oom-kill', 'cleanup', 'final', 'verdict']) {
    t.true(kinds.has(k), `some history has a ${k} event`);
  }
});

test('every required field of every kind removed, and every field given a value of another type or out of range: exit 2 naming the line and the field', (t) => {
  let n = 0;
  for (const h of histories) {
    const seen = new Set<string>();
    h.lines.forEach((l, i) => {
      const e = JSON.parse(l) as Record<string, unknown>;
      const kind = String(e.kind);
      if (seen.has(kind)) return;
      seen.add(kind);
      for (const field of Object.keys(e)) {
        const at = new RegExp(`^h\\.jsonl:${i + 1}: `);
        const put = (o: Record<string, unknown>) => { const lines = [...h.lines]; lines[i] = JSON.stringify(o); return join(lines); };
        if (!(OPTIONAL[kind] ?? []).includes(field)) {
          const { [field]: _gone, ...without } = e;
          const a = read(put(without));
          n++;
          t.is(a.code, 2, `${h.name}: line ${i + 1} (${kind}) without ${field}: ${a.text}`);
          t.regex(a.text, at);
          // The field is named with what it needs; of two alternatives (purge-notify's runs or vpages), the choice is.
          t.true(field === 'kind' ? /"kind"/.test(a.text) : a.text.includes(`${field}: missing (required: `) || new RegExp(`\\b${field}\\b.*one of the two`).test(a.text), `${kind} without ${field}: ${a.text}`);
        }
        if (UNTYPED.has(`${kind}.${field}`) || field === 'kind') continue;
        for (const v of wrongValues(e[field])) {
          const a = read(put({ ...e, [field]: v }));
          n++;
          t.is(a.code, 2, `${h.name}: line ${i + 1} (${kind}) ${field} = ${JSON.stringify(v)}: ${a.text}`);
          t.regex(a.text, at);
          t.true(a.text.includes(`${field}`), `${kind}.${field} = ${JSON.stringify(v)} names the field: ${a.text}`);
        }
      }
    });
  }
  t.true(n > 600, `${n} lines changed`);
});

test('through the CLI: a field removed and a field mistyped, one line of each kind, exit 2 with FILE:LINE and the field, no stack', async (t) => {
  const h = histories[0]!;
  const firsts = new Map<string, number>();
  h.lines.forEach((l, i) => { const k = (JSON.parse(l) as { kind: string }).kind; if (!firsts.has(k)) firsts.set(k, i); });
  await Promise.all([...firsts].map(async ([kind, i]) => {
    const e = JSON.parse(h.lines[i]!) as Record<string, unknown>;
    const { at: _at, ...noAt } = e;
    for (const [what, o, field] of [['no at', noAt, 'at'], ['seq a string', { ...e, seq: String(e.seq) }, 'seq']] as const) {
      const lines = [...h.lines];
      lines[i] = JSON.stringify(o);
      const r = await check(`${kind}.jsonl`, join(lines));
      t.is(r.code, 2, `${kind} ${what}: ${r.stderr}`);
      t.regex(r.stderr, new RegExp(`${esc(r.file)}:${i + 1}: a "${esc(kind)}" event \\(docs/history-format\\.md\\): ${field}: `), `${kind} ${what}`);
      t.notRegex(r.stderr, /\n\s+at |internal error/);
      t.is(r.stdout, '');
    }
  }));
});

/** The history with line `i` (0-based) changed by `fn`. */
const edit = (lines: string[], i: number, fn: (l: string) => string) => join(lines.map((l, j) => (j === i ? fn(l) : l)));

test('each listed mistake is exit 2, naming the file, the line, the place and what is allowed', async (t) => {
  const h = histories[0]!.lines;
  const cases: Array<[string, string, RegExp]> = [
    ['blank line', h.slice(0, 3).join('\n') + '\n\n' + join(h.slice(3)), /:4: an empty line; a history has one JSON object on every line, with no blank lines/],
    ['a whitespace line', h.slice(0, 3).join('\n') + '\n  \t\n' + join(h.slice(3)), /:4: an empty line/],
    ['__proto__ key', edit(h, 3, (l) => l.replace(/^\{/, '{"__proto__":{"x":1},')), /:4: __proto__: a key "__proto__" \(column 2\).*not allowed/],
    ['__proto__ key deep in a field', edit(h, 1, (l) => l.replace('"msg":{', '"msg":{"__proto__":1,')), /:2: msg\.__proto__: a key "__proto__"/],
    ['duplicate key', edit(h, 3, (l) => l.replace(/^\{/, '{"seq":99,')), /:4: seq: the key "seq" is given twice in one object \(column 2 and column 11\); each key may appear once/],
    ['duplicate key written another way', edit(h, 3, (l) => l.replace(/^\{/, '{"s\\u0065q":99,')), /:4: seq: the key "seq" is given twice/],
    ['lone surrogate', edit(h, 3, (l) => l.replace(/^\{/, '{"x":"\\ud800",')), /:4: x: a string with a lone surrogate \(column 6: an escape such as \\ud800 with no pair\)/],
    ['lone surrogate in a key', edit(h, 3, (l) => l.replace(/^\{/, '{"\\udc00":1,')), /:4: .*a key with a lone surrogate/],
    ['deep nesting', edit(h, 3, (l) => l.replace(/^\{/, `{"x":${'['.repeat(100_000)}${']'.repeat(100_000)},`)),
      new RegExp(`:4: nested more than ${historyDepthMax} objects and arrays deep \\(at column \\d+\\); a history line nests at most ${historyDepthMax} \\(historyDepthMax\\)`)],
    ['a string too long', edit(h, 3, (l) => l.replace(/^\{/, `{"x":"${'a'.repeat(historyStringLengthMax + 1)}",`)),
      /:4: x: a string of 1,048,577 characters \(column 6\); a history string has at most 1,048,576 \(historyStringLengthMax\)/],
    ['NaN', edit(h, 3, (l) => l.replace(/"at":\d+/, '"at":NaN')), /:4: invalid JSON at column \d+: Unexpected token 'N' \(NaN and Infinity are not JSON numbers\); a history has one JSON object \(RFC 8259\) per line/],
    ['boot without format but with kernel: true marks', edit(h, 0, (l) => l.replace(/,"format":2/, '')),
      /:\d+: kernel: true marks the kernel list in format 2, but the boot line \(line 1\) has no format/],
    ['boot format 3', edit(h, 0, (l) => l.replace(/"format":2/, '"format":3')), /:1: a "boot" event \(docs\/history-format\.md\): format: 2, the format this vrange writes and reads \(or no format: an older history\)/],
    ['boot format "2"', edit(h, 0, (l) => l.replace(/"format":2/, '"format":"2"')), /:1: a "boot" event .*format: 2, the format/],
    ['unknown policy', edit(h, 0, (l) => l.replace(/"policy":"[^"]+"/, '"policy":"nope"')), /:1: a "boot" event .*policy: Invalid enum value\. Expected 'shared-file' \| 'per-mm' \| 'anon-only' \| 'madv-free', received 'nope'/],
    ['frames 1e308', edit(h, 0, (l) => l.replace(/"frames":\d+/, '"frames":1e308')), /:1: a "boot" event .*frames: a whole number from 1 to 4000000 \(framesMax\)$/m],
    ['seq 1e400', edit(h, 3, (l) => l.replace(/"seq":\d+/, '"seq":1e400')), /:4: a "[a-z-]+" event .*seq: a whole number from 0 to 4999999 \(historyEventsMax\)$/m],
    ['a seed past --seed\'s', edit(h, 0, (l) => l.replace(/"seed":\d+/, '"seed":4294967296')), /:1: a "boot" event .*seed: a whole number from 0 to 2147483647 \(seedMax\)/],
  ];
  await Promise.all(cases.map(async ([what, text, message]) => {
    const r = await check('h.jsonl', text);
    t.is(r.code, 2, `${what}: ${r.stderr}`);
    t.regex(r.stderr, new RegExp(`^vrange: ${esc(r.file)}:`), what);
    t.regex(r.stderr, message, what);
    t.is(r.stderr.trim().split('\n').length, 1, `${what}: one line`);
    t.notRegex(r.stderr, /\n\s+at |internal error/);
  }));
});

test('a line longer than historyLineBytesMax and more lines than historyEventsMax: exit 2 naming the limit', async (t) => {
  const h = histories[0]!.lines;
  const long = edit(h, 3, (l) => l.replace(/^\{/, `{"x":[${'0,'.repeat(historyLineBytesMax / 2)}0],`));
  const r = await check('long.jsonl', long);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /long\.jsonl:4: a line of [\d,]+ bytes; a history line has at most 67,108,864 \(historyLineBytesMax\)/);
  const many = await check('many.jsonl', join([...h, ...Array<string>(historyEventsMax + 1 - h.length).fill('{}')]));
  t.is(many.code, 2, many.stderr);
  t.regex(many.stderr, /many\.jsonl: 5,000,001 lines; a history has at most 5,000,000 \(historyEventsMax, the most events a run keeps\)/);
});

test('a dropped, duplicated or swapped line is a history that is not valid (exit 1), a CRLF or unterminated last line and an older history without format still read', async (t) => {
  const h = histories[0]!.lines;
  for (const [what, lines] of [['dropped', [...h.slice(0, 5), ...h.slice(6)]], ['duplicated', [h[0]!, ...h]], ['swapped', [h[1]!, h[0]!, ...h.slice(2)]]] as const) {
    const r = await check(`${what}.jsonl`, join([...lines]));
    t.is(r.code, 1, `${what}: ${r.stdout}${r.stderr}`);
    t.regex(r.stdout, /INVALID[\s\S]*well-formed/, what);
  }
  for (const [what, text] of [['crlf', join(h).replace(/\n/g, '\r\n')], ['no final newline', h.join('\n')]]) {
    const r = await check(`${what}.jsonl`, text);
    t.is(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
  }
  // Format 1 (docs/history-format.md, Names): no format, no kernel: true marks, the kernel list by process "kernel".
  const older = h.map((l) => { const e = JSON.parse(l) as Record<string, unknown>; delete e.format; delete e.kernel; return JSON.stringify(e); });
  const r = await check('older.jsonl', join(older));
  t.is(r.code, 0, `${r.stdout}${r.stderr}`);
});
