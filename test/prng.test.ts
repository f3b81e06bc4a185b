// The seeded PRNGs (shared/prng.ts) and the random fault plan (harness/faults.ts): over many
// small seeds the draws spread as they should from the first draw on, the fault stream is
// independent of the schedule's, and `--fault random:kill=R,pause=P` kills and pauses at the rates
// asked. Seeds are fixed, so each statistic is the same number on every run: the bounds below are
// chi-square critical values at p = 0.001 (a fair generator fails one in a thousand seed sets; these
// seed sets pass, and a degenerate seeding fails by orders of magnitude).
import test from 'ava';
import { Prng, STREAMS, splitmix64, type Stream } from '../shared/prng.js';
import { FaultPlan, parseFault, type Fault } from '../harness/faults.js';
import { prngChooser } from '../coordinator/scheduler.js';
import { parseScenario } from '../shared/scenario.js';
import { judge } from '../harness/judge.js';
import { runScenario } from '../harness/run.js';
import { configFor, sessionLimiter } from './helpers.js';

const gate = sessionLimiter(2);

const SEEDS = 1000;
const seeds = Array.from({ length: SEEDS }, (_, i) => i);
/** Chi-square critical values at p = 0.001, by degrees of freedom. */
const CRIT: Record<number, number> = { 1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52, 6: 22.46, 7: 24.32, 8: 26.12, 9: 27.88, 10: 29.59, 15: 37.70 };

function chiSquare(observed: number[], probs: number[]): number {
  const n = observed.reduce((a, b) => a + b, 0);
  return observed.reduce((x, o, i) => x + (o - n * probs[i]!) ** 2 / (n * probs[i]!), 0);
}
const uniform = (k: number) => Array.from({ length: k }, () => 1 / k);
function counts(values: number[], k: number): number[] {
  const c = new Array<number>(k).fill(0);
  for (const v of values) c[v]!++;
  return c;
}

test('splitmix64 gives the reference outputs (Vigna\'s splitmix64.c from state 0)', (t) => {
  let state = 0n;
  const out: string[] = [];
  for (let i = 0; i < 3; i++) { const r = splitmix64(state); state = r.state; out.push(r.out.toString(16).padStart(16, '0')); }
  t.deepEqual(out, ['e220a8397b1dcdaf', '6e789e6aa1b965f4', '06c45d188009454f']);
});

test('same seed and stream, same sequence; each stream of a seed is its own sequence', (t) => {
  const draw = (seed: number, stream: Stream) => { const r = new Prng(seed, stream); return Array.from({ length: 16 }, () => r.below(1000)); };
  t.deepEqual(draw(7, 'schedule'), draw(7, 'schedule'));
  const streams = Object.keys(STREAMS) as Stream[];
  const seqs = new Set(streams.map((s) => draw(7, s).join(',')));
  t.is(seqs.size, streams.length);
  t.throws(() => new Prng(1.5), { message: /not a whole number/ });
});

for (const stream of Object.keys(STREAMS) as Stream[]) {
  test(`stream ${stream}: over ${SEEDS} small seeds the first draws are uniform and unrelated to the seed`, (t) => {
    for (const n of [2, 3, 5, 16]) {
      const first = seeds.map((s) => new Prng(s, stream).below(n));
      const second = seeds.map((s) => { const r = new Prng(s, stream); r.below(n); return r.below(n); });
      t.true(chiSquare(counts(first, n), uniform(n)) < CRIT[n - 1]!, `first draw below(${n}): ${counts(first, n)}`);
      t.true(chiSquare(counts(second, n), uniform(n)) < CRIT[n - 1]!, `second draw below(${n}): ${counts(second, n)}`);
      // Neighbouring seeds: the pair (first of seed s, first of seed s+1) spreads over all n*n cells.
      const pairs = seeds.slice(0, -1).map((s) => first[s]! * n + first[s + 1]!);
      if (n <= 5) t.true(chiSquare(counts(pairs, n * n), uniform(n * n)) < (n === 2 ? CRIT[3]! : n === 3 ? CRIT[8]! : 51.18 /* df 24 */), `neighbour pairs below(${n}): ${counts(pairs, n * n)}`);
    }
    // A probability's first draw, in tenths.
    const tenths = seeds.map((s) => Math.floor(new Prng(s, stream).fraction() * 10));
    t.true(chiSquare(counts(tenths, 10), uniform(10)) < CRIT[9]!, `first fraction() in tenths: ${counts(tenths, 10)}`);
  });
}

test('the schedule chooser: the first three choices among 3 actions spread over all 27 orders', (t) => {
  const orders = seeds.map((s) => { const c = prngChooser(s); return c.choose(['A', 'B', 'C']) * 9 + c.choose(['A', 'B', 'C']) * 3 + c.choose(['A', 'B', 'C']); });
  t.true(chiSquare(counts(orders, 27), uniform(27)) < 54.05 /* df 26, p 0.001 */, `${counts(orders, 27)}`);
});

const random = (kill: number, pause: number): Fault => ({ kind: 'random', kill, pause, spec: `random:kill=${kill},pause=${pause}` });

/** One process of `steps` steps under the plan of `seed`: the step it is killed before, and its pauses before that. */
function simulate(fault: Fault, seed: number, steps: number): { killAt: number | undefined; pauses: number } {
  const plan = new FaultPlan([fault], seed);
  let pauses = 0;
  for (let i = 0; i < steps; i++) {
    const d = plan.beforeStep('A', i);
    if (d && 'kill' in d) return { killAt: i, pauses };
    if (d && 'pauseMs' in d) pauses++;
  }
  return { killAt: undefined, pauses };
}

test(`random:kill=0.1: over ${SEEDS} seeds the step of the first kill is geometric, as the rate says`, (t) => {
  const k = 0.1;
  const steps = 30;
  // Bins: steps 0..5 one by one, 6-8, 9-13, 14-29, never killed.
  const bins: Array<[number, number]> = [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [6, 8], [9, 13], [14, 29]];
  const p = (i: number) => (1 - k) ** i * k;
  const probs = bins.map(([a, b]) => { let x = 0; for (let i = a; i <= b; i++) x += p(i); return x; });
  probs.push((1 - k) ** steps);
  const observed = new Array<number>(bins.length + 1).fill(0);
  for (const s of seeds) {
    const { killAt } = simulate(random(k, 0), s, steps);
    const bin = killAt === undefined ? bins.length : bins.findIndex(([a, b]) => killAt >= a && killAt <= b);
    observed[bin]!++;
  }
  const x2 = chiSquare(observed, probs);
  t.true(x2 < CRIT[bins.length]!, `first kill by step ${JSON.stringify(observed)}, expected ${probs.map((q) => Math.round(q * SEEDS))}: chi-square ${x2.toFixed(1)}`);
  t.true(observed[0]! < 0.15 * SEEDS, `killed before its first step in ${observed[0]} of ${SEEDS} seeds (rate 0.1)`);
});

test(`random:pause=0.2: over ${SEEDS} seeds the number of pauses in 20 steps is binomial, as the rate says`, (t) => {
  const q = 0.2;
  const n = 20;
  const choose = (a: number, b: number) => { let c = 1; for (let i = 0; i < b; i++) c = (c * (a - i)) / (i + 1); return c; };
  const pmf = (j: number) => choose(n, j) * q ** j * (1 - q) ** (n - j);
  // Bins 0..7 and 8+.
  const probs = Array.from({ length: 8 }, (_, j) => pmf(j));
  probs.push(1 - probs.reduce((a, b) => a + b, 0));
  const observed = new Array<number>(9).fill(0);
  for (const s of seeds) observed[Math.min(simulate(random(0, q), s, n).pauses, 8)]!++;
  const x2 = chiSquare(observed, probs);
  t.true(x2 < CRIT[8]!, `pauses per run ${JSON.stringify(observed)}, expected ${probs.map((x) => Math.round(x * SEEDS))}: chi-square ${x2.toFixed(1)}`);
});

test(`random:kill=0.05,pause=0.2: kills and pauses together keep their rates (${SEEDS} seeds)`, (t) => {
  let draws = 0; let kills = 0; let pauses = 0;
  for (const s of seeds) {
    const plan = new FaultPlan([random(0.05, 0.2)], s);
    for (let i = 0; i < 10; i++) {
      const d = plan.beforeStep('A', i);
      draws++;
      if (d && 'kill' in d) { kills++; break; }
      if (d && 'pauseMs' in d) pauses++;
    }
  }
  // Each step: kill 0.05; pause 0.2 when not killed (independent draws, a kill wins): 0.19; nothing 0.76.
  const x2 = chiSquare([kills, pauses, draws - kills - pauses], [0.05, 0.95 * 0.2, 0.95 * 0.8]);
  t.true(x2 < CRIT[2]!, `${draws} draws: ${kills} kills, ${pauses} pauses; chi-square ${x2.toFixed(1)}`);
});

test(`the fault stream is independent of the schedule stream of the same seed (${SEEDS} seeds)`, (t) => {
  // Joint (the schedule's first choice of 2, whether the fault plan's first draw pauses at rate 0.5).
  const cells = seeds.map((s) => {
    const choice = prngChooser(s).choose(['A', 'B']);
    const d = new FaultPlan([random(0, 0.5)], s).beforeStep('A', 0);
    return choice * 2 + (d ? 1 : 0);
  });
  t.true(chiSquare(counts(cells, 4), uniform(4)) < CRIT[3]!, `${counts(cells, 4)}`);
});

test('explore with random faults on real processes: kills at different steps, and pauses', async (t) => {
  const yaml = `
name: prng-faults
description: Two processes of eight steps; random faults land where the draws say.
memory: { frames: 16 }
processes:
  A:
    steps:
      - { op: mmap, as: a, pages: 2 }
      - { op: write, map: a, page: 0, value: a0 }
      - { op: write, map: a, page: 1, value: a1 }
      - { op: read, map: a, page: 0 }
      - { op: read, map: a, page: 1 }
      - { op: vrange, map: a, page: 0, pages: 2, mode: volatile }
      - { op: vrange, map: a, page: 0, pages: 2, mode: nonvolatile }
      - { op: exit }
  B:
    steps:
      - { op: mmap, as: b, pages: 2 }
      - { op: write, map: b, page: 0, value: b0 }
      - { op: write, map: b, page: 1, value: b1 }
      - { op: read, map: b, page: 0 }
      - { op: read, map: b, page: 1 }
      - { op: munmap, map: b, page: 0, pages: 2 }
      - { op: mmap, as: c, pages: 1 }
      - { op: exit }
`;
  const scenario = parseScenario(yaml, 'prng-faults.yaml');
  const spec = 'random:kill=0.12,pause=0.04';
  // explore's runs: seeds base, base+1, ... each judged as explore judges it.
  const runs = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => gate(async (session) => {
    const { report, history } = await runScenario(scenario, configFor(scenario, { seed }), { faults: [parseFault(spec, scenario)], checkModel: true, session });
    return { seed, judged: judge(report, history, true, false), faults: history.filter((e) => e.kind === 'fault').map((e) => String(e.as)) };
  })));
  for (const r of runs) t.deepEqual(r.judged.broken, [], `seed ${r.seed}: the kernel keeps every invariant under the faults`);
  const kills = runs.flatMap((r) => r.faults.filter((f) => f.startsWith('kill:')));
  const pauses = runs.flatMap((r) => r.faults.filter((f) => f.startsWith('pause:')));
  t.true(pauses.length >= 1, `pauses: ${pauses.join(' ')}`);
  t.true(new Set(kills).size >= 2, `kills at different steps: ${kills.join(' ')}`);
  t.true(kills.some((k) => !k.endsWith('@0')), `some kill after a process's first step: ${kills.join(' ')}`);
  t.true(runs.some((r) => r.faults.every((f) => !f.startsWith('kill:'))) || kills.length < runs.length * 2, 'not every process of every run is killed');
});
