// Sub-page writes (issue 17 item 3; docs/scenario-format.md and docs/semantics.md, "Sub-page
// writes"): `write` with `offset` and `bytes` (or `value`) replaces only those bytes of the page.
// The loader refuses what does not fit, with the place; real runs read back the page's bytes
// (trailing zeros trimmed, inner zeros as "\u0000") for anonymous pages, copy-on-write after fork,
// shared and private file pages and shared anonymous memory, under both access modes, and the
// reference model agrees on every lockstep run (matches-model); the history checker follows them.
import test, { type ExecutionContext } from 'ava';
import { configFor, cli, scenarioPath, sessionLimiter, tempFile } from './helpers.js';
import { schemaErrors, scenarioData } from './schema-check.js';
import { runScenario, type RunOutcome } from '../harness/run.js';
import { loadScenario, parseScenario, ScenarioError } from '../shared/scenario.js';
import { POLICIES, type AccessMode, type PolicyName, type RunConfig } from '../shared/scenario-types.js';
import { parseAgentMsg } from '../shared/message_schemas.js';
import { sysWrite } from '../coordinator/fault.js';
import type { Kernel } from '../coordinator/kernel.js';
import type { Proc } from '../coordinator/process_table.js';
import { checkHistory } from '../checker/check.js';
import { explainRun, shortStep } from '../report/explain.js';
import { pageText, writeAt } from '../shared/page_bytes.js';

const gate = sessionLimiter(2);
const Z = (n: number) => '\u0000'.repeat(n);

// ---------------------------------------------------------------------------------- the loader

const oneWrite = (write: string) => `
name: t
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 1 }
      - ${write}
`;

function refused(t: ExecutionContext, write: string, path: string, fragment: string): void {
  const err = t.throws(() => parseScenario(oneWrite(write), 't.yaml'), { instanceOf: ScenarioError })!;
  t.is(err.path, path, err.message);
  t.true(err.detail.includes(fragment), `"${err.detail}" lacks "${fragment}"`);
  t.false(err.message.includes('\n'));
}

test('the loader refuses a sub-page write that does not fit, or gives both value and bytes, naming the place', (t) => {
  const at = 'processes.A.steps[1]';
  refused(t, '{ op: write, map: m, page: 0, offset: 1, value: "a", bytes: "b" }', `${at}.bytes`, 'either value or bytes, not both');
  refused(t, '{ op: write, map: m, page: 0, bytes: "b" }', `${at}.offset`, 'bytes needs offset');
  refused(t, '{ op: write, map: m, page: 0, offset: 3 }', `${at}.value`, 'missing required field "value"');
  refused(t, '{ op: write, map: m, page: 0, offset: 4096, bytes: "b" }', `${at}.offset`, 'a whole number from 0 to 4095, got 4096');
  refused(t, '{ op: write, map: m, page: 0, offset: -1, bytes: "b" }', `${at}.offset`, 'from 0 to 4095, got -1');
  refused(t, '{ op: write, map: m, page: 0, offset: 1.5, bytes: "b" }', `${at}.offset`, 'got 1.5');
  refused(t, '{ op: write, map: m, page: 0, offset: "2", bytes: "b" }', `${at}.offset`, 'got "2"');
  // UTF-8 bytes, not characters: "é" is two.
  refused(t, '{ op: write, map: m, page: 0, offset: 4095, bytes: "é" }', `${at}.bytes`, '2 bytes at offset 4095 end at byte 4097');
  refused(t, '{ op: write, map: m, page: 0, offset: 4000, value: "' + 'v'.repeat(97) + '" }', `${at}.value`, 'end at byte 4097, past the end of the page');
  refused(t, '{ op: write, map: m, page: 0, value: "x", bytes: "b" }', `${at}.bytes`, 'not both');
  refused(t, '{ op: write, map: m, page: 0, offset: 0, bytes: "' + 'b'.repeat(4097) + '" }', `${at}.bytes`, 'bytes is 4097 bytes; at most 4096 bytes');
});

test('a sub-page write loads as value and offset, whichever name it used; a whole-page write is unchanged', (t) => {
  const step = (w: string) => parseScenario(oneWrite(w), 't.yaml').processes[0]!.steps[1];
  t.deepEqual(step('{ op: write, map: m, page: 0, offset: 4094, bytes: "é" }'), { op: 'write', map: 'm', page: 0, offset: 4094, value: 'é' });
  t.deepEqual(step('{ op: write, map: m, page: 0, offset: 4094, value: "é" }'), { op: 'write', map: 'm', page: 0, offset: 4094, value: 'é' });
  t.deepEqual(step('{ op: write, map: m, page: 0, offset: 0, bytes: "" }'), { op: 'write', map: 'm', page: 0, offset: 0, value: '' });
  t.deepEqual(step('{ op: write, map: m, page: 0, value: "abc" }'), { op: 'write', map: 'm', page: 0, value: 'abc' });
  // Every form the loader accepts is valid against the JSON Schema too.
  for (const w of ['{ op: write, map: m, page: 0, offset: 7, bytes: "x" }', '{ op: write, map: m, page: 0, offset: 7, value: "x" }']) {
    t.is(schemaErrors(scenarioData(oneWrite(w))), undefined, w);
  }
  t.is(shortStep(step('{ op: write, map: m, page: 2, offset: 2, bytes: "xy" }')!), 'write m page 2 +2 "xy"');
});

test('vrange run refuses a sub-page write past the page with exit code 2 and one line', async (t) => {
  const file = tempFile('past-the-page.yaml', oneWrite('{ op: write, map: m, page: 0, offset: 4090, bytes: "0123456789" }'));
  const r = await cli(['run', file]);
  t.is(r.code, 2);
  t.is(r.stdout, '');
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.regex(r.stderr, /processes\.A\.steps\[1\]\.bytes: 10 bytes at offset 4090 end at byte 4100/);
});

// ------------------------------------------------------------------------- the page model itself

test('the page model: zeros around a sub-page write, only its bytes replaced, trailing zeros trimmed', (t) => {
  t.is(pageText(writeAt(undefined, 2, 'xy')), `${Z(2)}xy`);
  t.is(pageText(writeAt('abcdef', 2, 'XY')), 'abXYef');
  t.is(pageText(writeAt('ab', 5, 'c')), `ab${Z(3)}c`);
  t.is(pageText(writeAt(`end${Z(2)}`, 0, 'E')), 'End', 'a sub-page write keeps the bytes, and the page then reads trimmed');
  t.is(pageText(writeAt(undefined, 4094, 'é')), `${Z(4094)}é`);
  // Bytes, not characters: overwriting half of "é" leaves an invalid byte, read as U+FFFD, and
  // writing its other half back gives a valid page again.
  const half = writeAt('é', 1, 'x');
  t.is(pageText(half), '\uFFFDx');
  t.is(pageText(writeAt(half, 0, 'y')), 'yx');
  t.throws(() => writeAt(undefined, 4095, 'ab'), { message: /page invariant/ });
});

// ----------------------------------------------------------------------- the receiver's checks

test('a forged write message with a bad offset is refused by the kernel\'s entry check; one past the page is EINVAL', async (t) => {
  const base = { t: 'write', id: 1, vpage: 1, frame: -1, cow: false, value: 'xy', anon: true };
  t.true(parseAgentMsg(base).ok);
  t.true(parseAgentMsg({ ...base, offset: 0 }).ok);
  t.true(parseAgentMsg({ ...base, offset: 4095 }).ok);
  for (const offset of [4096, -1, 1.5, '3', null, Number.NaN, 2 ** 53]) {
    const r = parseAgentMsg({ ...base, offset });
    t.false(r.ok, `offset ${String(offset)}`);
    if (!r.ok) t.regex(r.why, /^write\.offset/);
  }
  // In range, but its bytes would end past the page: the syscall's own check, before it looks at anything.
  const k = {} as Kernel;
  const proc = {} as Proc;
  t.deepEqual(await sysWrite(k, proc, { ...base, t: 'write', offset: 4095 }), { errno: 'EINVAL' });
  t.deepEqual(await sysWrite(k, proc, { ...base, t: 'write', offset: 4094, value: 'éa' }), { errno: 'EINVAL' });
});

// ------------------------------------------------------------------------------------ real runs

type Over = Partial<RunConfig>;
const SCHEDULES: Over[] = [{ schedule: 'lockstep', seed: 1 }, { schedule: 'lockstep', seed: 2 }, { schedule: 'free', seed: 0 }];

async function run(t: ExecutionContext, yaml: string, over: Over): Promise<RunOutcome> {
  const s = parseScenario(yaml, 'inline.yaml');
  t.is(schemaErrors(scenarioData(yaml)), undefined, 'the JSON Schema accepts it');
  const lockstep = (over.schedule ?? 'lockstep') === 'lockstep';
  const out = await gate((session) => runScenario(s, configFor(s, over), { checkModel: lockstep, session }));
  const where = JSON.stringify(over);
  t.deepEqual(out.report.failures, [], `${where}: expectations`);
  t.deepEqual(out.report.invariants.filter((i) => !i.ok), [], `${where}: invariants`);
  if (lockstep) t.true(out.report.invariants.some((i) => i.name === 'matches-model' && i.ok && !i.detail), `${where}: the model agrees`);
  t.deepEqual(checkHistory(out.history).violations, [], `${where}: the history checker`);
  return out;
}

const results = (out: RunOutcome, process: string) => {
  const m = new Map<number, unknown>();
  for (const s of out.report.steps) if (s.process === process) m.set(s.index, s.result);
  return (i: number) => m.get(i);
};
const value = (v: string) => ({ ok: true, value: v });

const ANON = `
name: sub-anon
memory: { frames: 16 }
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 4 }
      - { op: write, map: m, page: 0, offset: 2, bytes: "xy" }
      - { op: read, map: m, page: 0 }
      - { op: write, map: m, page: 1, value: "abcdef" }
      - { op: write, map: m, page: 1, offset: 2, value: "XY" }
      - { op: read, map: m, page: 1 }
      - { op: write, map: m, page: 1, value: "whole" }
      - { op: read, map: m, page: 1 }
      - { op: write, map: m, page: 2, value: "end\\0\\0" }
      - { op: read, map: m, page: 2 }
      - { op: write, map: m, page: 2, offset: 4094, bytes: "é" }
      - { op: read, map: m, page: 2 }
      - { op: write, map: m, page: 3, value: "é" }
      - { op: write, map: m, page: 3, offset: 1, bytes: "x" }
      - { op: read, map: m, page: 3 }
      - { op: write, map: m, page: 3, offset: 0, bytes: "y" }
      - { op: read, map: m, page: 3 }
      - { op: write, map: m, page: 0, offset: 0, bytes: "" }
      - { op: read, map: m, page: 0 }
`;

for (const over of SCHEDULES) {
  test(`anonymous pages (${JSON.stringify(over)}): a sub-page write keeps the zeros or the bytes around it; a whole-page write reads back exactly`, async (t) => {
    const r = results(await run(t, ANON, over), 'A');
    t.deepEqual(r(1), { ok: true });
    t.deepEqual(r(2), value(`${Z(2)}xy`), 'into a zero page');
    t.deepEqual(r(5), value('abXYef'), 'over a value: only its bytes');
    t.deepEqual(r(7), value('whole'), 'a whole-page write replaces the whole page');
    t.deepEqual(r(9), value(`end${Z(2)}`), 'a whole-page value reads back exactly, trailing zeros and all');
    t.deepEqual(r(11), value(`end${Z(4091)}é`), 'up to the last byte of the page');
    t.deepEqual(r(14), value('\uFFFDx'), 'half a character overwritten');
    t.deepEqual(r(16), value('yx'), 'bytes, not characters');
    t.deepEqual(r(18), value(`${Z(2)}xy`), 'a zero-length write changes nothing');
  });
}

const PURGED = `
name: sub-purged
memory: { frames: 16 }
processes:
  A:
    sigbus: handle
    steps:
      - { op: mmap, as: m, pages: 1 }
      - { op: write, map: m, page: 0, value: "abcdef" }
      - { op: vrange, map: m, page: 0, pages: 1, mode: volatile }
      - { op: signal, name: marked }
      - { op: wait, name: purged }
      - { op: write, map: m, page: 0, offset: 2, bytes: "XY" }
      - { op: read, map: m, page: 0 }
      - { op: vrange, map: m, page: 0, pages: 1, mode: nonvolatile, expect: { ok: true, purged: true } }
      - { op: write, map: m, page: 0, offset: 3, bytes: "Z" }
      - { op: read, map: m, page: 0 }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true, expect: { ok: true, freed: 1 } }
  - { op: signal, name: purged }
`;

for (const access of ['zero', 'sigbus'] as const satisfies readonly AccessMode[]) {
  for (const over of SCHEDULES) {
    test(`a purged anonymous page, access ${access} (${JSON.stringify(over)}): ${access === 'zero' ? 'the partial write faults in a zero page' : 'the partial write gets SIGBUS'}`, async (t) => {
      const r = results(await run(t, PURGED, { ...over, access }), 'A');
      if (access === 'zero') {
        t.deepEqual(r(5), { ok: true });
        t.deepEqual(r(6), value(`${Z(2)}XY`), 'the rest of the page is zero');
        t.deepEqual(r(9), value(`${Z(2)}XZ`));
      } else {
        t.deepEqual(r(5), { ok: false, signal: 'SIGBUS' });
        t.deepEqual(r(6), { ok: false, signal: 'SIGBUS' });
        t.deepEqual(r(9), value(`${Z(3)}Z`), 'after nonvolatile: a zero page, then its bytes');
      }
    });
  }
}

const FORK = `
name: sub-fork
memory: { frames: 16 }
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 1 }
      - { op: mmap, as: sh, pages: 1, share: shared }
      - { op: write, map: m, page: 0, value: "parent" }
      - { op: write, map: sh, page: 0, value: "shared" }
      - { op: fork, child: B }
      - { op: wait, name: bdone }
      - { op: read, map: m, page: 0 }
      - { op: read, map: sh, page: 0 }
      - { op: waitpid, process: B }
      - { op: write, map: m, page: 0, offset: 6, bytes: "!" }
      - { op: read, map: m, page: 0 }
  B:
    forked: true
    steps:
      - { op: write, map: m, page: 0, offset: 0, bytes: "CH" }
      - { op: read, map: m, page: 0 }
      - { op: write, map: sh, page: 0, offset: 0, bytes: "S" }
      - { op: signal, name: bdone }
`;

for (const over of SCHEDULES) {
  test(`after fork (${JSON.stringify(over)}): the copy-on-write copy starts as the parent's page; shared anonymous memory is one page`, async (t) => {
    const out = await run(t, FORK, over);
    const a = results(out, 'A');
    const b = results(out, 'B');
    t.deepEqual(b(1), value('CHrent'), 'the child\'s copy: the parent\'s bytes, then its own');
    t.deepEqual(a(6), value('parent'), 'the parent\'s page is untouched');
    t.deepEqual(a(7), value('Shared'), 'shared anonymous memory: the child\'s byte in the one page');
    t.deepEqual(a(10), value('parent!'), 'the only mapper left writes in place');
  });
}

const FILES = `
name: sub-files
memory: { frames: 16 }
files:
  - { name: f, pages: 2 }
processes:
  A:
    steps:
      - { op: open, file: f }
      - { op: mmap, as: s, pages: 2, fd: f }
      - { op: mmap, as: p, pages: 2, fd: f, share: private }
      - { op: write, map: s, page: 0, value: "filedata" }
      - { op: write, map: p, page: 0, offset: 4, bytes: "XX" }
      - { op: read, map: p, page: 0 }
      - { op: read, map: s, page: 0 }
      - { op: write, map: s, page: 0, offset: 0, bytes: "F" }
      - { op: read, map: s, page: 0 }
      - { op: read, map: p, page: 0 }
      - { op: write, map: p, page: 1, offset: 1, bytes: "q" }
      - { op: read, map: p, page: 1 }
      - { op: read, map: s, page: 1 }
      - { op: write, map: s, page: 1, offset: 2, bytes: "sh" }
      - { op: read, map: s, page: 1 }
      - { op: signal, name: a }
      - { op: wait, name: b }
      - { op: read, map: s, page: 0 }
      - { op: read, map: p, page: 0 }
  B:
    steps:
      - { op: wait, name: a }
      - { op: open, file: f }
      - { op: mmap, as: s, pages: 1, fd: f }
      - { op: mmap, as: p, pages: 1, fd: f, share: private }
      - { op: read, map: p, page: 0 }
      - { op: write, map: s, page: 0, offset: 8, bytes: "+B" }
      - { op: read, map: s, page: 0 }
      - { op: read, map: p, page: 0 }
      - { op: write, map: p, page: 0, offset: 0, bytes: "p" }
      - { op: read, map: p, page: 0 }
      - { op: signal, name: b }
`;

for (const over of SCHEDULES) {
  test(`file pages (${JSON.stringify(over)}): a shared mapping writes the page cache's page; a private one copies the file's page first`, async (t) => {
    const out = await run(t, FILES, over);
    const a = results(out, 'A');
    const b = results(out, 'B');
    t.deepEqual(a(5), value('fileXXta'), 'the private copy starts as the file\'s page');
    t.deepEqual(a(6), value('filedata'), 'the file is untouched by a private write');
    t.deepEqual(a(8), value('Filedata'));
    t.deepEqual(a(9), value('fileXXta'), 'the copy is its own');
    t.deepEqual(a(11), value(`${Z(1)}q`), 'a private copy of a hole: zeros');
    t.deepEqual(a(12), value(''), 'the file page stays a hole');
    t.deepEqual(a(14), value(`${Z(2)}sh`), 'a shared write fills the hole with zeros around its bytes');
    t.deepEqual(b(6), value('Filedata+B'), 'another process\'s shared mapping: the same page');
    t.deepEqual(b(7), value('Filedata+B'), 'a private page not yet copied reads the file\'s page');
    t.deepEqual(b(9), value('piledata+B'), 'and is copied from the page as it is now');
    t.deepEqual(a(17), value('Filedata+B'));
    t.deepEqual(a(18), value('fileXXta'));
  });
}

const FILE_PURGED = `
name: sub-file-purged
memory: { frames: 16 }
files:
  - { name: f, pages: 2 }
processes:
  A:
    sigbus: handle
    steps:
      - { op: open, file: f }
      - { op: mmap, as: s, pages: 2, fd: f }
      - { op: write, map: s, page: 0, value: "page0data" }
      - { op: write, map: s, page: 1, value: "page1data" }
      - { op: fvrange, fd: f, page: 0, pages: 2, mode: volatile }
      - { op: signal, name: marked }
      - { op: wait, name: purged }
      - { op: mmap, as: p, pages: 2, fd: f, share: private }
      - { op: write, map: s, page: 0, offset: 4, bytes: "ZZ" }
      - { op: read, map: s, page: 0 }
      - { op: write, map: p, page: 1, offset: 4, bytes: "PP" }
      - { op: read, map: p, page: 1 }
      - { op: read, map: s, page: 1 }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true, expect: { ok: true, freed: 2 } }
  - { op: signal, name: purged }
`;

for (const access of ['zero', 'sigbus'] as const satisfies readonly AccessMode[]) {
  // madv-free has no fvrange (EINVAL): nothing purges a file page there; scenarios/zero-fill-partial-write
  // runs its partial write to a freed anonymous page under madv-free too (test/scenarios.test.ts).
  for (const policy of POLICIES.filter((p) => p !== 'madv-free') as readonly PolicyName[]) {
    test(`a purged file page, access ${access}, ${policy}: shared and private partial writes ${access === 'zero' ? 'land on zeros' : 'get SIGBUS'}`, async (t) => {
      for (const over of SCHEDULES) {
        const a = results(await run(t, FILE_PURGED, { ...over, access, policy }), 'A');
        const where = JSON.stringify(over);
        if (access === 'zero') {
          t.deepEqual(a(9), value(`${Z(4)}ZZ`), `${where}: shared: the hole is filled with zeros around its bytes`);
          t.deepEqual(a(11), value(`${Z(4)}PP`), `${where}: private: the copy starts as zeros`);
          t.deepEqual(a(12), value(''), `${where}: the file page stays purged`);
        } else {
          for (const i of [8, 9, 10, 11, 12]) t.deepEqual(a(i), { ok: false, signal: 'SIGBUS' }, `${where}: step ${i}`);
        }
      }
    });
  }
}

// ------------------------------------------------------------------------------------ the library

test('zero-fill-partial-write: under access zero the rest of the purged page is zero; with --access sigbus the write gets SIGBUS', async (t) => {
  const s = loadScenario(scenarioPath('zero-fill-partial-write'));
  t.is(s.access, 'zero');
  for (const [access, over] of [['zero', SCHEDULES[0]!], ['sigbus', SCHEDULES[0]!], ['zero', SCHEDULES[2]!]] as const) {
    const out = await gate((session) => runScenario(s, configFor(s, { ...over, access }), { checkModel: over.schedule === 'lockstep', session }));
    const a = results(out, 'A');
    t.deepEqual(a(10), value('HDR:v1|tail'), 'a page never purged keeps its bytes');
    if (access === 'zero') {
      t.true(out.report.ok, JSON.stringify(out.report.failures));
      t.deepEqual(a(7), value(`${Z(7)}tail`));
      t.deepEqual(a(8), { ok: true, bytes: 4096, purged: true });
    } else {
      // The scenario's expectations are access zero's: exactly the steps that differ fail, the
      // write and the read after it, and the kernel's check of 2 frames (the write took none).
      t.deepEqual(a(6), { ok: false, signal: 'SIGBUS' });
      t.deepEqual(a(7), { ok: false, signal: 'SIGBUS' });
      t.deepEqual(out.report.failures.map((f) => [f.process, f.index]), [['A', 6], ['A', 7], ['kernel', 4]]);
    }
    t.deepEqual(out.report.invariants.filter((i) => !i.ok), []);
  }
});

test('explain: a read after a partial write to a purged page is explained by the purge that zeroed the rest', async (t) => {
  const s = loadScenario(scenarioPath('zero-fill-partial-write'));
  const config = configFor(s, { schedule: 'lockstep', seed: 1 });
  const out = await gate((session) => runScenario(s, config, { session }));
  const x = explainRun(s, config, out.history);
  t.deepEqual(x.get('A#7')?.rules, ['anon-every-mapper-volatile'], 'the zeros around "tail" are the purge\'s');
  t.deepEqual(x.get('A#8')?.rules, ['anon-every-mapper-volatile'], 'and so is purged: true');
  t.deepEqual(x.get('A#10')?.rules, ['no-decision'], 'page 1 was never purged');
});

// ------------------------------------------------------------------------------ the history checker

test('the history checker follows sub-page writes: a read that lost the bytes around one is flagged', async (t) => {
  const out = await run(t, ANON, { schedule: 'lockstep', seed: 1 });
  const before = checkHistory(out.history);
  t.deepEqual(before.violations, []);
  const lines = structuredClone(out.history) as Array<Record<string, unknown>>;
  const read = lines.find((e) => e.kind === 'complete' && e.process === 'A' && e.index === 5)!;
  read.result = { ok: true, value: 'XY' }; // a kernel that dropped the rest of the page
  const after = checkHistory(lines);
  t.deepEqual(after.violations.map((v) => v.check), ['read-last-write']);
  t.regex(after.violations[0]!.text, /read m page 1 as "XY", but the last write there wrote "abXYef"/);
});
