// Throughput of RangeSet edits against the number of ranges already held.
// For 10, 1,000 and 100,000 existing ranges: 200,000 alternating mark/unmark calls of random
// small ranges (1..8 pages) over the same page space, 5 repetitions each on a fresh copy of
// the set; prints the median calls per second and its ratio to the 10-range figure.
// Run: node dist/bench/rangeset.bench.js

import { performance } from 'node:perf_hooks';
import { RangeSet } from '../shared/rangeset.js';

const sizes = [10, 1_000, 100_000];
const opsPerRun = 200_000;
const repeats = 5;
const pagesPerRange = 8; // the page space is 8 pages per existing range, so edits hit ranges

/** mulberry32: a small seeded PRNG, so every run edits the same pages. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

function build(n: number, rand: () => number): RangeSet {
  const set = new RangeSet();
  for (let i = 0; i < n; i++) {
    const start = i * pagesPerRange + Math.floor(rand() * 4);
    set.mark(start, start + 1 + Math.floor(rand() * 4), i);
  }
  return set;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const results: Array<{ size: number; perSec: number; piecesAfter: number }> = [];
for (const size of sizes) {
  const rand = prng(0x5eed + size);
  const base = build(size, rand);
  const space = size * pagesPerRange;
  const starts = new Float64Array(opsPerRun);
  const ends = new Float64Array(opsPerRun);
  for (let k = 0; k < opsPerRun; k++) {
    starts[k] = Math.floor(rand() * space);
    ends[k] = starts[k] + 1 + Math.floor(rand() * 8);
  }
  const rates: number[] = [];
  let piecesAfter = 0;
  for (let rep = 0; rep < repeats; rep++) {
    const set = base.clone();
    const t0 = performance.now();
    for (let k = 0; k < opsPerRun; k += 2) {
      set.mark(starts[k], ends[k], k);
      set.unmark(starts[k + 1], ends[k + 1]);
    }
    const ms = performance.now() - t0;
    rates.push((opsPerRun / ms) * 1000);
    piecesAfter = set.size;
    set.checkInvariants();
  }
  results.push({ size, perSec: median(rates), piecesAfter });
}

const ref = results[0].perSec;
console.log(`RangeSet: ${opsPerRun.toLocaleString('en')} alternating mark/unmark calls, median of ${repeats}`);
console.log('ranges held   calls/s       vs 10   pieces after');
for (const r of results) {
  console.log(
    `${r.size.toLocaleString('en').padStart(11)}   ${Math.round(r.perSec).toLocaleString('en').padStart(11)}   ` +
    `${(r.perSec / ref).toFixed(2).padStart(5)}   ${r.piecesAfter.toLocaleString('en').padStart(12)}`,
  );
}
