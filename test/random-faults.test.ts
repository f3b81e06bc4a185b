// `--fault random:kill=R,pause=P` (harness/faults.ts): two independent draws per step from the
// seed's fault stream, one for the kill at rate R and one for the pause at rate P; when both fire
// the kill wins. Checked on the pure decision (randomDecision) and on the plan itself over many
// seeds (no wall clock, no process): each rate is honoured within a chi-square bound, the two are
// independent, and the same seed gives the same faults whatever else the plan holds.
import test from 'ava';
import fc from 'fast-check';
import { FaultPlan, randomDecision, type Fault } from '../harness/faults.js';

const SEEDS = 1000;
const STEPS = 20;
/** Chi-square critical values at p = 0.001 (fixed seeds: each statistic is the same number on every run). */
const CRIT: Record<number, number> = { 1: 10.83, 2: 13.82, 3: 16.27 };

function chiSquare(observed: number[], probs: number[]): number {
  const n = observed.reduce((a, b) => a + b, 0);
  return observed.reduce((x, o, i) => x + (o - n * probs[i]!) ** 2 / (n * probs[i]!), 0);
}

const random = (kill: number, pause: number): Fault => ({ kind: 'random', kill, pause, spec: `random:kill=${kill},pause=${pause}` });

/** The plan's decision before each of `steps` steps of process A (the plan keeps no deaths: every step is asked). */
function decisions(faults: Fault[], seed: number, steps = STEPS): string[] {
  const plan = new FaultPlan(faults, seed);
  return Array.from({ length: steps }, (_, i) => {
    const d = plan.beforeStep('A', i);
    return d === undefined ? '-' : 'kill' in d ? `kill ${d.kill}` : `pause ${d.spec} ${d.pauseMs}`;
  });
}

test('randomDecision: the kill fires below R on its own draw, the pause below P on the other; a kill wins', (t) => {
  fc.assert(fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }),
    fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (r, p, kd, pd) => {
      const d = randomDecision({ kill: r, pause: p }, kd, pd);
      if (kd < r) return d === 'kill';
      return d === (pd < p ? 'pause' : undefined);
    }));
  // The pause's draw alone decides it: whatever the kill's draw is (short of a kill), R does not matter.
  t.is(randomDecision({ kill: 0.7, pause: 0.6 }, 0.75, 0.5), 'pause');
  t.is(randomDecision({ kill: 0.7, pause: 0.6 }, 0.1, 0.5), 'kill');
  t.is(randomDecision({ kill: 0.7, pause: 0.6 }, 0.75, 0.65), undefined);
});

for (const [r, p] of [[0.7, 0.6], [0.3, 0.5], [0.05, 0.2], [0, 0.6], [0.6, 0]] as const) {
  test(`random:kill=${r},pause=${p}: over ${SEEDS} seeds x ${STEPS} steps, kills at ${r}, pauses at ${p} of the steps not killed`, (t) => {
    let kills = 0; let pauses = 0; let n = 0;
    for (let s = 0; s < SEEDS; s++) {
      for (const d of decisions([random(r, p)], s)) { n++; if (d.startsWith('kill')) kills++; else if (d.startsWith('pause')) pauses++; }
    }
    const cells = [kills, pauses, n - kills - pauses];
    const probs = [r, (1 - r) * p, (1 - r) * (1 - p)];
    const kept = probs.map((q, i) => [cells[i]!, q] as const).filter(([, q]) => q > 0);
    if (kept.length > 1) {
      const x2 = chiSquare(kept.map(([c]) => c), kept.map(([, q]) => q));
      t.true(x2 < CRIT[kept.length - 1]!, `${n} steps: ${kills} kills, ${pauses} pauses; expected ${probs.map((q) => Math.round(q * n))}; chi-square ${x2.toFixed(1)}`);
    }
    for (let i = 0; i < 3; i++) if (probs[i] === 0) t.is(cells[i], 0, `cell ${i} has probability 0`);
    // Each rate within a tolerance of 3 percentage points, the pause's among the steps not killed.
    t.true(Math.abs(kills / n - r) < 0.03, `kill rate ${(kills / n).toFixed(3)}, asked ${r}`);
    if (r < 1) t.true(Math.abs(pauses / (n - kills) - p) < 0.03, `pause rate among steps not killed ${(pauses / (n - kills)).toFixed(3)}, asked ${p}`);
  });
}

test(`the kill and pause draws are independent: with kill=0.5,pause=0.5 each step of 2 processes splits 1/2, 1/4, 1/4 (${SEEDS} seeds)`, (t) => {
  // Over pairs of consecutive steps too: (outcome at i, outcome at i+1) spread as the product.
  const o = (d: string) => (d.startsWith('kill') ? 0 : d.startsWith('pause') ? 1 : 2);
  const q = [0.5, 0.25, 0.25];
  const pairs = new Array<number>(9).fill(0);
  for (let s = 0; s < SEEDS; s++) {
    const ds = decisions([random(0.5, 0.5)], s, 10);
    for (let i = 0; i + 1 < ds.length; i += 2) pairs[o(ds[i]!) * 3 + o(ds[i + 1]!)]!++;
  }
  const probs = q.flatMap((a) => q.map((b) => a * b));
  const x2 = chiSquare(pairs, probs);
  t.true(x2 < 26.12 /* df 8, p 0.001 */, `${JSON.stringify(pairs)}: chi-square ${x2.toFixed(1)}`);
});

test('reproducible: the same seed gives the same faults; another seed others; a fixed fault of the plan does not shift the random draws', (t) => {
  const f = random(0.3, 0.4);
  for (let s = 0; s < 50; s++) t.deepEqual(decisions([f], s, 40), decisions([f], s, 40), `seed ${s}`);
  const distinct = new Set(Array.from({ length: 50 }, (_, s) => decisions([f], s, 40).join('|')));
  t.true(distinct.size >= 49, `${distinct.size} distinct sequences of 50 seeds`);
  // A fixed kill before step 3 and a fixed pause before step 5 of A: the random fault's draws at
  // every other step are the same; at step 3 the fixed kill wins; at 5 a random kill wins over the fixed pause.
  // Without the fix, a fixed fault that fired cut the loop short and the random fault drew nothing there.
  for (let s = 0; s < 200; s++) {
    const alone = decisions([f], s);
    const fixed: Fault[] = [{ kind: 'kill-before', process: 'A', step: 3, spec: 'kill:A@3' }, f, { kind: 'pause', process: 'A', step: 5, ms: 10, spec: 'pause:A@5:10' }];
    const mixed = decisions(fixed, s);
    alone.forEach((d, i) => {
      if (i === 3) t.is(mixed[i], 'kill kill:A@3');
      // (Between two pauses the first in the plan's order is carried out: here the random one.)
      else if (i === 5) t.is(mixed[i], d !== '-' ? d : 'pause pause:A@5:10 10', `seed ${s}`);
      else t.is(mixed[i], d, `seed ${s} step ${i}`);
    });
  }
});
