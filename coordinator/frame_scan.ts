// Scans of the frame table's typed arrays done by the runtime's native code, not a JavaScript loop
// per frame (issue 14, "rate flat"). Reclaim checks runs of tens of thousands of frames (every
// frame's reference count is n, every frame has the run's mapper set, none is a page-cache page);
// in a fresh kernel those loops run in V8's interpreter at 50 to 200 ns a frame, the larger part of
// a cold 25,000-page reclaim. Here a run is compared a block at a time with a block of the expected
// value (Buffer#compare, a memcmp), and only a block that differs is walked frame by frame, so the
// answer is exactly the loop's.

/** Frames compared by one memcmp; a block that differs is then walked frame by frame. */
const BLOCK = 1024;
/** Below this many frames the plain loop is cheaper than making the views. */
const SHORT = 32;

const template = new Int32Array(BLOCK);
const templateBytes = Buffer.from(template.buffer, template.byteOffset, template.byteLength);
let templateValue = 0;

/** The first index in [from, to) whose value is not `v`, or `to` when there is none. */
export function firstNotEqual(a: Int32Array, from: number, to: number, v: number): number {
  from = Math.max(0, from);
  to = Math.min(to, a.length);
  if (to - from < SHORT) {
    for (let i = from; i < to; i++) if (a[i] !== v) return i;
    return Math.max(from, to);
  }
  if (templateValue !== v) { template.fill(v); templateValue = v; }
  const bytes = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  for (let i = from; i < to; i += BLOCK) {
    const n = Math.min(BLOCK, to - i);
    if (bytes.compare(templateBytes, 0, n * 4, i * 4, (i + n) * 4) === 0) continue;
    for (let j = i; j < i + n; j++) if (a[j] !== v) return j;
  }
  return to;
}

/** The first index in [from, to) whose value is 0, or `to` when there is none (TypedArray#indexOf). */
export function firstZero(a: Int32Array, from: number, to: number): number {
  from = Math.max(0, from);
  to = Math.min(to, a.length);
  if (to <= from) return Math.max(from, to);
  const k = a.subarray(from, to).indexOf(0);
  return k < 0 ? to : from + k;
}

/** Frames per block of FrameTable's allocation-order summary (`allocBlockMax`). */
export const ALLOC_BLOCK = 512;
