// A local agent is this project's own code, but the kernel treats its bad messages as it treats a
// remote one's (docs/protocol.md, Bad messages): the process is killed, never the kernel, the rest
// of the batch is handled, and since a local bad message is a bug in vrange the run is no verdict
// (`Kernel.bugs`): `vrange run` exits 70 (internal error), never 1 nor 0. Driven through the
// kernel's entry itself, with real local agents, and end to end through the CLI with an agent made
// to send a bad message (agents/test_hooks.ts, VRANGE_TEST_FORGE_DONE).

import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel } from '../coordinator/kernel.js';
import { parseScenario } from '../shared/scenario.js';
import { cli, configFor, tempFile } from './helpers.js';
import { VrangeBug, isVrangeBug } from '../harness/run.js';

test('a bad message from a local agent kills that process, not the kernel; the run is marked a bug in vrange', async (t) => {
  const s = parseScenario(`
name: local-bad
memory: { frames: 4 }
processes:
  A:
    steps:
      - { op: signal, name: x }
  B:
    steps:
      - { op: signal, name: y }
`, 'inline.yaml');
  const runDir = mkdtempSync(join(tmpdir(), 'vrange-test-run-'));
  t.teardown(() => rmSync(runDir, { recursive: true, force: true }));
  const kernel = new Kernel({ scenario: s, config: configFor(s), runDir, traceMessages: false, poolSize: 0 });
  try {
    await kernel.start();
    const a = kernel.procs.find((p) => p.name === 'A')!;
    const reaped = kernel.whenReaped(a);
    // The mmap with pages -1 of issue 11 and a string, in one batch with a well-formed pong and
    // hello: a local agent is never pinged and has said hello, so both answer nothing, as from a remote agent.
    kernel.deliverFrame(a.agent!, [{ t: 'mmap', id: 1, addr: 1, pages: -1, fd: -1, offset: 0, share: 'private' }, { t: 'pong', seq: 1 }, { t: 'hello', osPid: 1 }, 'junk']);
    await reaped;
    const bad = kernel.history.events.filter((e) => e.kind === 'bad-message');
    t.deepEqual(bad.map((e) => [e.process, e.where, e.t]), [['A', 'local', 'mmap'], ['A', 'local', 'pong'], ['A', 'local', 'hello'], ['A', 'local', '?']]);
    t.regex(bad[0]!.why as string, /^mmap\.pages: /);
    t.is(bad[1]!.why, 'its pong answers ping 1, but the last ping sent to it was 0 and it had answered 0');
    t.is(bad[2]!.why, 'a second hello (an agent says hello once, as its first message)');
    t.is(kernel.history.events.find((e) => e.kind === 'cleanup' && e.process === 'A')!.signal, 'SIGKILL');
    t.is(kernel.fatalError, undefined);
    t.true(kernel.bugs.some((b) => /^A's local agent broke the protocol \(mmap\.pages/.test(b)), JSON.stringify(kernel.bugs));
    // The kernel went on: the run itself completed (what makes it no verdict is the bug).
    t.false(kernel.violations.some((v) => v.name === 'run-completed'));
    const b = kernel.procs.find((p) => p.name === 'B')!;
    t.true(b.live);
    // A batch of 25 bad messages: 10 logged one by one, the other 15 counted in one more event.
    const bReaped = kernel.whenReaped(b);
    kernel.deliverFrame(b.agent!, Array.from({ length: 25 }, (_, i) => ({ t: 'pong', seq: -i - 1 })));
    await bReaped;
    const badB = kernel.history.events.filter((e) => e.kind === 'bad-message' && e.process === 'B');
    t.is(badB.length, 11);
    t.is(badB[10]!.t, '*');
    t.regex(badB[10]!.why as string, /^15 more bad message\(s\) in the same batch/);
  } finally {
    await kernel.shutdown();
  }
});

const twoProcesses = `
name: local-forge
memory: { frames: 4 }
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 1 }
      - { op: write, map: m, page: 0, value: "a" }
      - { op: read, map: m, page: 0 }
  B:
    steps:
      - { op: signal, name: y }
`;

for (const schedule of ['lockstep', 'free']) {
  test(`vrange run (${schedule}): a local agent that breaks the protocol is a bug in vrange: exit 70, no verdict, the trace kept`, async (t) => {
    const file = tempFile('local-forge.yaml', twoProcesses);
    const trace = join(mkdtempSync(join(tmpdir(), 'vrange-test-')), 'trace.jsonl');
    // A's agent reports its step 1 (the write) as step 2: no expectation anywhere, so before the fix
    // the run "failed" (exit 1) on run-completed, as if the scenario were wrong.
    const r = await cli(['run', file, '--schedule', schedule, '--trace', trace], undefined, { VRANGE_TEST_FORGE_DONE: 'A:1' });
    t.is(r.code, 70, r.stdout + r.stderr);
    t.regex(r.stderr, /vrange kernel: A \(pid 2\) broke the protocol \(.*\): SIGKILL \(a local agent: a bug in vrange\)/);
    t.regex(r.stderr, /vrange: internal error \(a bug in vrange, not a problem with the input\): VrangeBug: the run is no verdict on the scenario: A's local agent broke the protocol/);
    t.regex(r.stderr, /please report it with the command that shows it: vrange run /);
    t.notRegex(r.stdout, /verdict: (PASS|FAIL)/);
    const h = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    // Free: the agent goes on to its step 2 in the same batch, and that read is no syscall of step 1
    // (the write), the step the kernel has in flight: a bad message too (coordinator/step_calls.ts).
    t.deepEqual(h.filter((e) => e.kind === 'bad-message').map((e) => [e.process, e.where, e.t]),
      [['A', 'local', 'done'], ...(schedule === 'free' ? [['A', 'local', 'read']] : [])]);
    t.true(h.some((e) => e.kind === 'complete' && e.process === 'B'), 'B ran on');
  });
}

for (const schedule of ['lockstep', 'free']) {
  test(`vrange run (${schedule}): a local agent that exits by itself (its own bug, exit 70) is a bug in vrange: exit 70, not a failed run`, async (t) => {
    const file = tempFile('local-exit.yaml', twoProcesses);
    const r = await cli(['run', file, '--schedule', schedule], undefined, { VRANGE_TEST_EXIT_AT: 'A:1' });
    t.is(r.code, 70, r.stdout + r.stderr);
    t.regex(r.stderr, /vrange agent A pid \d+: test hook VRANGE_TEST_EXIT_AT: exiting at step 1/);
    t.regex(r.stderr, /vrange: internal error \(a bug in vrange, not a problem with the input\): VrangeBug: the run is no verdict on the scenario: A's local agent exited by itself with code 70 (during|before) step [01]/);
    t.notRegex(r.stdout, /verdict: (PASS|FAIL)/);
  });
}

test('without the hook the same scenario passes (exit 0): the hook is what breaks it', async (t) => {
  const r = await cli(['run', tempFile('local-forge.yaml', twoProcesses)]);
  t.is(r.code, 0, r.stdout + r.stderr);
});

test('what stops a run as a bug in vrange: a broken invariant of the kernel or a JavaScript error; not the bound or an agent that did not start', (t) => {
  t.true(isVrangeBug(new Error('kernel invariant: exchange 3 isolated twice')));
  t.true(isVrangeBug(new Error('kernel invariant (after step 3): frame 2 leaked')));
  t.true(isVrangeBug(new Error('rmap invariant: pid 2 page 5 mapped twice')));
  t.true(isVrangeBug(new TypeError("Cannot read properties of undefined (reading 'pid')")));
  t.false(isVrangeBug(new Error('the run took longer than 120000 ms (set by --timeout); give it more with --timeout MS')));
  t.false(isVrangeBug(new Error('the run was stopped: no new agent is started')));
  t.regex(new VrangeBug(['a', 'b']).message, /^the run is no verdict on the scenario: a; b$/);
});
