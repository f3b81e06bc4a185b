// A local agent is this project's own code, but the kernel treats its bad messages as it treats a
// remote one's (docs/protocol.md, Bad messages): the process is killed, never the kernel, the rest
// of the batch is handled, and since a local bad message is a bug in vrange the run fails
// (`run-completed`). Driven through the kernel's entry itself, with real local agents.

import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel } from '../coordinator/kernel.js';
import { parseScenario } from '../shared/scenario.js';
import { configFor } from './helpers.js';

test('a bad message from a local agent kills that process, not the kernel; the run is marked failed', async (t) => {
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
    // The mmap with pages -1 of issue 11 and a string, in one batch with a well-formed pong.
    kernel.deliverFrame(a.agent!, [{ t: 'mmap', id: 1, addr: 1, pages: -1, fd: -1, offset: 0, share: 'private' }, { t: 'pong', seq: 1 }, 'junk']);
    await reaped;
    const bad = kernel.history.events.filter((e) => e.kind === 'bad-message');
    t.deepEqual(bad.map((e) => [e.process, e.where, e.t]), [['A', 'local', 'mmap'], ['A', 'local', '?']]);
    t.regex(bad[0]!.why as string, /^mmap\.pages: /);
    t.is(kernel.history.events.find((e) => e.kind === 'cleanup' && e.process === 'A')!.signal, 'SIGKILL');
    t.is(kernel.fatalError, undefined);
    t.true(kernel.violations.some((v) => v.name === 'run-completed' && /A's local agent broke the protocol \(mmap\.pages/.test(v.text)));
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
