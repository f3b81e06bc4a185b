// SIGKILL at every step of the scenarios in scenarios/: each `kill:P@N` (before step N) and each
// `kill:P@N+` (step N in flight), one real run each (lockstep, seed 1). Every history must pass the
// offline checker (`vrange check`), every kernel invariant must hold but `no-deadlock` (a killed
// process may be the one the others wait for), and no frame may leak.
//
// Every scenario is about 2,500 real runs, too many for every `npm test` on a 2-core machine; by
// default the sweep covers four scenarios that between them kill mappers of shared files, a marker
// before its file is released, a process in direct reclaim and a mapper inside an exchange
// (fork-cow-purge is swept by faults.test.ts). `VRANGE_SWEEP=all npm test` sweeps every scenario.
import test from 'ava';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario } from '../shared/scenario.js';
import { runScenario } from '../harness/run.js';
import { parseFault } from '../harness/faults.js';
import { checkHistory } from '../checker/check.js';
import { configFor, limiter, root, sessionLimiter } from './helpers.js';

// Two runs at a time, each in a run session (agents reused from run to run; a killed one is replaced).
const gate = sessionLimiter(2);
/** One slice at a time (its runs two at a time), so slices finish one by one. */
const oneTest = limiter(1);
const dir = join(root, 'scenarios');
const everyScenario = process.env.VRANGE_SWEEP === 'all';
const chosen = new Set(['marker-exits.yaml', 'direct-reclaim.yaml', 'race-death-during-reclaim.yaml', 'file-shared-fvrange.yaml']);
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && (everyScenario || chosen.has(f))).sort();

test('the sweep has scenarios to kill', (t) => {
  t.true(files.length >= (everyScenario ? 30 : 4), `${files.length} scenarios`);
});
/** Runs per ava test: ava's timeout counts from the last result, so long sweeps are cut in slices. */
const slice = 24;

/** The steps each process reaches in the run without faults (same seed, so the same schedule up to a fault). */
const baselines = new Map<string, Promise<Set<string>>>();
function reached(file: string): Promise<Set<string>> {
  let b = baselines.get(file);
  if (!b) {
    const s = loadScenario(join(dir, file));
    // A step reported `stuck` (a deadlock) was never started: no fault can land on it.
    b = gate((session) => runScenario(s, configFor(s, { seed: 1 }), { session })).then(({ history }) => {
      const stuck = new Set(history.filter((e) => e.kind === 'complete' && (e.result as { stuck?: boolean }).stuck).map((e) => `${e.process}@${e.index}`));
      return new Set(history.filter((e) => e.kind === 'invoke').map((e) => `${e.process}@${e.index}`).filter((x) => !stuck.has(x)));
    });
    baselines.set(file, b);
  }
  return b;
}

for (const file of files) {
  const s = loadScenario(join(dir, file));
  const specs: string[] = [];
  for (const p of s.processes) for (let n = 0; n < p.steps.length; n++) specs.push(`kill:${p.name}@${n}`, `kill:${p.name}@${n}+`);
  for (let from = 0; from < specs.length; from += slice) {
    const part = specs.slice(from, from + slice);
    test(`${file.replace(/\.yaml$/, '')}: ${part[0]} .. ${part[part.length - 1]}`, (t) => oneTest(async () => {
      const steps = await reached(file);
      await Promise.all(part.map((spec) => gate(async (session) => {
        const { report, history } = await runScenario(s, configFor(s, { seed: 1 }), { faults: [parseFault(spec, s)], session });
        const broken = report.invariants.filter((i) => !i.ok && i.name !== 'no-deadlock');
        t.deepEqual(broken, [], `${spec}: invariants`);
        t.deepEqual(checkHistory(history).violations, [], `${spec}: the history checker`);
        const final = history.find((e) => e.kind === 'final') as { frames: { used: number; pageCache: number } } | undefined;
        t.truthy(final, spec);
        if (report.kernel.processes.every((p) => p.state !== 'running')) {
          t.is(final!.frames.used, final!.frames.pageCache, `${spec}: every process ended, so only page cache is left`);
        }
        // A step the run without faults reaches is reached here too (same schedule until the fault):
        // the fault must have been injected there. (A process that dies earlier never reaches some steps.)
        const at = spec.replace(/^kill:/, '').replace(/\+$/, '');
        if (steps.has(at)) t.true(history.some((e) => e.kind === 'fault' && e.as === spec), `${spec}: injected`);
      })));
    }));
  }
}
