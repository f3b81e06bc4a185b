// The `vrange` command as a user runs it: exit codes, the JSON report, determinism, and that no
// agent process outlives a run, even when the coordinator itself is killed.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { cli, isAlive, scenarioPath, tempFile } from './helpers.js';

const demo = scenarioPath('fork-cow-purge');

test('run --json prints the report of the spec and exits 0', async (t) => {
  const r = await cli(['run', demo, '--seed', '3', '--json']);
  t.is(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  for (const key of ['scenario', 'policy', 'access', 'purgeUnit', 'schedule', 'seed', 'ok', 'steps', 'failures', 'invariants', 'kernel']) {
    t.true(key in report, key);
  }
  t.is(report.seed, 3);
  t.is(report.scenario, 'fork-cow-purge');
  t.deepEqual(report.steps[0], { process: 'A', index: 0, op: 'mmap', result: { ok: true, addr: 4096 } });
  t.deepEqual(Object.keys(report.kernel.frames), ['total', 'used']);
  t.deepEqual(report.kernel.processes.map((p: { name: string; pid: number }) => [p.name, p.pid]), [['A', 2], ['B', 3]]);
});

test('the default output starts with the seed and ends with the verdict', async (t) => {
  const r = await cli(['run', demo, '--seed', '5']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.is(lines[0], 'seed 5');
  t.regex(lines[lines.length - 1]!, /^verdict: PASS/);
  t.regex(r.stdout, /PURGED anonymous frame \d+ \(A@\d+, B@\d+\): every process mapping the page has it volatile/);
  t.regex(r.stdout, /B killed by SIGBUS; cleanup freed/);
});

test('lockstep: the same seed gives the same steps, byte for byte', async (t) => {
  const a = await cli(['run', demo, '--seed', '11', '--json']);
  const b = await cli(['run', demo, '--seed', '11', '--json']);
  t.is(JSON.stringify(JSON.parse(a.stdout).steps), JSON.stringify(JSON.parse(b.stdout).steps));
});

test('lockstep: different seeds choose different interleavings', async (t) => {
  const orders = new Set<string>();
  for (let seed = 1; seed <= 6; seed++) {
    const r = await cli(['run', demo, '--seed', String(seed), '--json']);
    orders.add(JSON.parse(r.stdout).steps.map((s: { process: string; index: number }) => `${s.process}${s.index}`).join(','));
  }
  t.true(orders.size >= 2, `only ${orders.size} distinct order(s) over 6 seeds`);
});

test('a failed expectation exits 1 and prints a command that reproduces it', async (t) => {
  const path = tempFile('wrong.yaml', `name: wrong
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 1 }
      - { op: read, map: m, page: 0, expect: { value: "x" } }
`);
  const r = await cli(['run', path, '--seed', '4']);
  t.is(r.code, 1);
  t.regex(r.stdout, /expectation failed: A step 1: expected \{"value":"x"\}, got \{"ok":true,"value":""\}/);
  t.regex(r.stdout, new RegExp(`reproduce: vrange run ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --seed 4 `));
});

test('bad input exits 2 before anything runs, naming the file, the path and what is allowed', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['name: x\nprocesses: { A: { steps: [ { op: mmap, as: m, pages: "x" } ] } }\n', /processes\.A\.steps\[0\]\.pages: expected a whole number/],
    ['name: x\nprocesses: { A: { steps: [ { op: mmapp } ] } }\n', /unknown op "mmapp"; allowed: open, close, mmap/],
    ['name: x\nprocesses: { A: { steps: [ { op: read, map: m, page: 0 } ] } }\n', /processes\.A\.steps\[0\]\.map/],
    ['name: x\nprocesses: { A: { steps: [ { op: wait, name: never } ] } }\n', /nothing can ever signal "never"/],
    ['name: x\nprocesses: { A: { steps: [ { op: fork, child: B } ] }, B: { steps: [] } }\n', /forked: true/],
    ['name: [unclosed\n', /invalid YAML/],
  ];
  for (const [text, message] of cases) {
    const path = tempFile('bad.yaml', text);
    const r = await cli(['run', path]);
    t.is(r.code, 2, text);
    t.true(r.stderr.includes(path), r.stderr);
    t.regex(r.stderr, message);
    t.is(r.stdout, '', 'nothing ran');
  }
});

test('bad arguments exit 2 with what is allowed', async (t) => {
  const r = await cli(['run', demo, '--policy', 'bogus']);
  t.is(r.code, 2);
  t.regex(r.stderr, /--policy: "bogus" is not allowed; allowed: shared-file, per-mm, anon-only/);
  const r2 = await cli(['run', demo, '--frames', '0']);
  t.is(r2.code, 2);
  const r3 = await cli(['run']);
  t.is(r3.code, 2);
  const r4 = await cli(['run', '/nonexistent/x.yaml']);
  t.is(r4.code, 2);
  t.regex(r4.stderr, /x\.yaml/);
});

test('no agent process outlives a run', async (t) => {
  const trace = tempFile('trace.jsonl', '');
  const r = await cli(['run', demo, '--seed', '2', '--trace', trace]);
  t.is(r.code, 0);
  const events = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const pids = events.filter((e) => e.kind === 'birth').map((e) => e.osPid as number);
  t.is(pids.length, 2);
  for (const pid of pids) t.false(isAlive(pid), `agent ${pid} still alive`);
  t.true(events.some((e) => e.kind === 'message' && e.dir === 'send' && e.msg.t === 'grant'), 'the trace has the messages');
  t.true(events.some((e) => e.kind === 'decision'), 'the trace has the kernel decisions');
});

test('agents end when the coordinator is killed with SIGKILL', async (t) => {
  const steps = Array.from({ length: 3000 }, (_, i) => `      - { op: write, map: m, page: ${i % 4}, value: "v${i}" }`).join('\n');
  const path = tempFile('long.yaml', `name: long\nprocesses:\n  A:\n    steps:\n      - { op: mmap, as: m, pages: 4 }\n${steps}\n  B:\n    steps:\n      - { op: mmap, as: m, pages: 4 }\n${steps}\n`);
  const agents: number[] = [];
  let killed = false;
  const r = await cli(['run', path, '--seed', '1'], (chunk, pid) => {
    for (const m of chunk.matchAll(/OS pid (\d+)/g)) agents.push(Number(m[1]));
    if (!killed && agents.length === 2 && chunk.includes('#50 ')) { killed = true; process.kill(pid, 'SIGKILL'); }
  });
  t.is(r.code, null, 'the coordinator died of SIGKILL');
  t.is(agents.length, 2);
  const deadline = Date.now() + 5000;
  while (agents.some(isAlive) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  t.deepEqual(agents.filter(isAlive), [], 'every agent ended by itself');
});

test('vrange list shows every scenario with its description', async (t) => {
  const r = await cli(['list']);
  t.is(r.code, 0);
  t.regex(r.stdout, /fork-cow-purge\s+.*scenarios\/fork-cow-purge\.yaml\n\s+Parent marks a buffer volatile and forks/);
});

test('explore: many seeds, each history checked, a failing run printed with its reproduction', async (t) => {
  const path = tempFile('flaky.yaml', `name: flaky
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 1 }
      - { op: write, map: m, page: 0, value: "x" }
      - { op: vrange, map: m, page: 0, pages: 1, mode: volatile }
      - { op: signal, name: marked }
      - { op: vrange, map: m, page: 0, pages: 1, mode: nonvolatile, expect: { purged: false } }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true }
`);
  const r = await cli(['explore', path, '--runs', '8', '--seed', '1']);
  t.is(r.code, 1, 'the purge wins the race for some seed: an expectation fails');
  t.regex(r.stdout, /ok\s+\d+\n/);
  t.regex(r.stdout, /expectation failed\s+\d+\n/);
  const repro = r.stdout.match(/FAILED seed (\d+) \(expectation failed\): (vrange run .*)/);
  t.truthy(repro);
  const again = await cli(repro![2]!.split(' ').slice(1).concat('--json'));
  t.is(again.code, 1, 'the printed command reproduces the failure');
  t.is(JSON.parse(again.stdout).failures[0].index, 4);
});
