// A local agent that the OS does not run for a while (a loaded machine) is slow, not gone: the
// kernel waits for its answer past exchangeTimeoutMs instead of keeping its pages, so what a run
// purges does not depend on the machine's load. Only a stopped (SIGSTOP: a pause fault) or remote
// mapper is judged by its silence (coordinator/reclaim.ts waitFor, docs/semantics.md).
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cli } from './helpers.js';
import { exchangeTimeoutMs } from '../shared/limits.js';

const scenario = `
name: slow-mapper
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 2 }
      - { op: write, map: m, page: 0, value: a }
      - { op: write, map: m, page: 1, value: b }
      - { op: vrange, map: m, page: 0, pages: 2, mode: volatile }
      - { op: signal, name: marked }
      - { op: wait, name: reclaimed }
      - { op: vrange, map: m, page: 0, pages: 2, mode: nonvolatile, expect: { purged: true } }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true, expect: { freed: 2 } }
  - { op: signal, name: reclaimed }
`;

for (const schedule of ['lockstep', 'free']) {
  test(`${schedule}: a mapper asleep past exchangeTimeoutMs before its answer is waited for, and its pages are purged`, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vrange-slow-'));
    const file = path.join(dir, 'slow.yaml');
    fs.writeFileSync(file, scenario);
    const trace = path.join(dir, 'run.trace');
    const slowMs = exchangeTimeoutMs + 600;
    const r = await cli(['run', file, '--schedule', schedule, '--seed', '3', '--trace', trace, '--json'], undefined, { VRANGE_TEST_SLOW_PREPARE: `A:${slowMs}` });
    t.is(r.code, 0, r.stderr + r.stdout.slice(0, 2000));
    const events = fs.readFileSync(trace, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; [k: string]: unknown });
    t.deepEqual(events.filter((e) => e.kind === 'no-answer'), [], 'nobody was judged silent');
    const commit = events.find((e) => e.kind === 'reclaim-commit')!;
    t.is(commit.freed, 2);
    fs.rmSync(dir, { recursive: true, force: true });
  });
}
