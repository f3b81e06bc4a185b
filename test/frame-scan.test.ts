// The native scans of coordinator/frame_scan.ts answer exactly as the loop per frame they replace,
// on arrays whose differing frames fall anywhere: inside a block, at a block's edge, past the end.
import test from 'ava';
import fc from 'fast-check';
import { firstNotEqual, firstZero } from '../coordinator/frame_scan.js';

const loopNotEqual = (a: Int32Array, from: number, to: number, v: number) => {
  for (let i = Math.max(0, from); i < Math.min(to, a.length); i++) if (a[i] !== v) return i;
  return Math.max(Math.max(0, from), Math.min(to, a.length));
};

test('firstNotEqual: the first index whose value differs, as a loop finds it, for any range and value', (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: -3, max: 3 }), fc.array(fc.tuple(fc.nat(5000), fc.integer({ min: -3, max: 3 })), { maxLength: 6 }),
    fc.nat(5200), fc.nat(5200), fc.integer({ min: 0, max: 64 }), (n, v, marks, a, b, offset) => {
      // A view at an offset of a larger buffer, as the frame table's arrays are not (the scan must not assume they start at 0).
      const arr = new Int32Array(new ArrayBuffer((n + offset) * 4), offset * 4, n).fill(v);
      for (const [i, x] of marks) if (i < n) arr[i] = x;
      const [from, to] = a <= b ? [a, b] : [b, a];
      t.is(firstNotEqual(arr, from, to, v), loopNotEqual(arr, from, to, v));
      // A value the array seldom holds: the first frame of the range, whatever it is.
      t.is(firstNotEqual(arr, from, to, 7), loopNotEqual(arr, from, to, 7));
    }), { numRuns: 400 });
});

test('firstZero: the first 0 in a range, or its end, as a loop finds it', (t) => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 3000 }), fc.nat(3100), fc.nat(3100), (xs, a, b) => {
    const arr = Int32Array.from(xs);
    const [from, to] = a <= b ? [a, b] : [b, a];
    let want = Math.max(from, Math.min(to, arr.length));
    for (let i = from; i < Math.min(to, arr.length); i++) if (arr[i] === 0) { want = i; break; }
    t.is(firstZero(arr, from, to), want);
  }), { numRuns: 400 });
});
