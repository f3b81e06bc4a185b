// Page runs: how the reclaim exchange names many pages in one message.
//
// A run list is a flat array of numbers, `stride` numbers a run: [start, count, ...extra].
// Runs are ascending and disjoint, and every count is at least 1. The prepare and the commit
// carry [start, count] pairs (stride 2); the agent's answer carries [start, count, rangeId,
// markedAt] (stride 4), one entry per piece of a volatile range, so an mm answers 100,000 pages
// of one range with four numbers instead of 300,000.

/** Runs [start, count] of an ascending list of distinct pages. */
export function runsOf(sortedPages: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < sortedPages.length;) {
    const start = sortedPages[i]!;
    let j = i + 1;
    while (j < sortedPages.length && sortedPages[j] === start + (j - i)) j++;
    out.push(start, j - i);
    i = j;
  }
  return out;
}

/** Every page of a run list, ascending. */
export function pagesOf(runs: readonly number[], stride = 2): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs.length; i += stride) for (let p = runs[i]!; p < runs[i]! + runs[i + 1]!; p++) out.push(p);
  return out;
}

/** Number of pages a run list names. */
export function pageCount(runs: readonly number[], stride = 2): number {
  let n = 0;
  for (let i = 1; i < runs.length; i += stride) n += runs[i]!;
  return n;
}

/**
 * Whether `x` is a well-formed run list of this stride: numbers, integer starts and counts >= 1,
 * ascending and disjoint. Anything that crossed a socket from an agent is checked with this.
 */
export function isRunList(x: unknown, stride: number): x is number[] {
  if (!Array.isArray(x) || x.length % stride !== 0) return false;
  let prevEnd = -Infinity;
  for (let i = 0; i < x.length; i += stride) {
    for (let k = 0; k < stride; k++) if (typeof x[i + k] !== 'number' || !Number.isFinite(x[i + k])) return false;
    const start = x[i] as number;
    const count = x[i + 1] as number;
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < prevEnd || count < 1) return false;
    prevEnd = start + count;
  }
  return true;
}

/** Index (a multiple of stride) of the run holding `page`, or -1. Binary search. */
export function runIndexOf(runs: readonly number[], page: number, stride = 2): number {
  let lo = 0;
  let hi = runs.length / stride;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const i = mid * stride;
    if (runs[i]! + runs[i + 1]! <= page) lo = mid + 1;
    else if (runs[i]! > page) hi = mid;
    else return i;
  }
  return -1;
}

/**
 * The parts of `runs` (any stride, extra fields kept) that lie inside `within` (stride 2).
 * Both ascending; a linear merge.
 */
export function clipRuns(runs: readonly number[], stride: number, within: readonly number[]): number[] {
  const out: number[] = [];
  let w = 0;
  for (let i = 0; i < runs.length; i += stride) {
    const s = runs[i]!;
    const e = s + runs[i + 1]!;
    while (w < within.length && within[w]! + within[w + 1]! <= s) w += 2;
    for (let k = w; k < within.length && within[k]! < e; k += 2) {
      const a = Math.max(s, within[k]!);
      const b = Math.min(e, within[k]! + within[k + 1]!);
      if (b > a) {
        out.push(a, b - a);
        for (let x = 2; x < stride; x++) out.push(runs[i + x]!);
      }
    }
  }
  return out;
}

/** Splits a run list into pieces of at most `maxRuns` runs each (at least one piece, maybe empty). */
export function splitRuns(runs: readonly number[], stride: number, maxRuns: number): number[][] {
  const out: number[][] = [];
  const step = maxRuns * stride;
  for (let i = 0; i === 0 || i < runs.length; i += step) out.push(runs.slice(i, i + step));
  return out;
}
