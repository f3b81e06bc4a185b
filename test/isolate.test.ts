// Reclaim candidates isolated by allocation stamps (coordinator/isolate.ts, issue 14): every frame
// resident at an exchange's prepare is its candidate and no other's; a frame handed out after it
// (even one freed by it and handed out again) is a new page; a pinned frame is nobody's; opening
// holds nothing frame by frame, yet counts what it holds.
import test from 'ava';
import { FrameTable } from '../coordinator/frames.js';
import { Isolated } from '../coordinator/isolate.js';
import fc from 'fast-check';

test('an exchange holds the frames in use at its opening, no later page, and none of an exchange open then', (t) => {
  const frames = new FrameTable(16);
  const iso = new Isolated(frames);
  const a = [frames.alloc(0), frames.alloc(0), frames.alloc(0)];
  iso.set(a[2]!, 2); // a fault of pid 2 copies from it
  t.is(iso.openFor(1), 2, 'exchange 1 holds the two unpinned frames');
  t.deepEqual(a.map((f) => iso.isCandidate(1, f)), [true, true, false]);
  const late = frames.alloc(0);
  t.false(iso.isCandidate(1, late), 'a page allocated after the prepare is not its candidate');
  t.true(iso.delete(a[2]!));
  // The frame exchange 1 held is freed and handed out again: a new page, nobody's yet.
  t.true(frames.decref(a[0]!));
  const again = frames.alloc(0);
  t.is(again, a[0]!, 'the freed frame is reused first');
  t.false(iso.isCandidate(1, again));
  t.true(iso.has(a[1]!) && !iso.has(again));
  // A direct reclaim opening now: everything in use that exchange 1 does not hold.
  t.is(iso.openFor(2), 3);
  t.deepEqual([a[1]!, a[2]!, late, again].map((f) => iso.isCandidate(2, f)), [false, true, true, true]);
  t.deepEqual(iso.candidatesOf(2)(a[1]!), false);
  iso.close(1);
  t.false(iso.isCandidate(2, a[1]!), 'still not exchange 2\'s after exchange 1 closes: it was held at 2\'s opening');
  t.is(iso.openFor(3), 1, 'exchange 3 gets what is free of holds now: the frame exchange 1 released');
  t.true(iso.isCandidate(3, a[1]!));
  t.throws(() => iso.set(a[1]!, 2), { message: /pinned while held/ });
});

// The reclaim path asks for candidates a piece at a time (candidatePieces, candidateRun: one loop
// over the frame table's arrays, no call per frame); the pieces must be exactly the frames
// candidatesOf accepts one by one, with pins and earlier exchanges too, and anonymous ones only
// when asked so.
test('candidatePieces and candidateRun say what candidatesOf says frame by frame, pins and earlier exchanges included', (t) => {
  fc.assert(fc.property(fc.array(fc.constantFrom('alloc', 'free', 'pin', 'unpin', 'open', 'file'), { minLength: 1, maxLength: 60 }), fc.integer({ min: 0, max: 2 ** 16 }), (ops, seed) => {
    const frames = new FrameTable(40);
    const iso = new Isolated(frames);
    const live: number[] = [];
    let xid = 0;
    let r = seed;
    const pick = <T>(xs: T[]): T | undefined => { r = (r * 1103515245 + 12345) % 2 ** 31; return xs[r % Math.max(xs.length, 1)]; };
    for (const op of ops) {
      if (op === 'alloc' && frames.used < frames.total) live.push(frames.alloc(0));
      else if (op === 'file' && frames.used < frames.total) { const f = frames.alloc(0); frames.ownerFile[f] = 0; frames.ownerPage[f] = f; live.push(f); }
      else if (op === 'free') { const f = pick(live); if (f !== undefined) { frames.decref(f); live.splice(live.indexOf(f), 1); } }
      else if (op === 'pin') { const f = pick(live); if (f !== undefined && !iso.has(f)) iso.set(f, 7); }
      else if (op === 'unpin') { const f = pick(live); if (f !== undefined) iso.delete(f); }
      else if (op === 'open') iso.openFor(++xid);
    }
    for (let x = 1; x <= xid + 1; x++) {
      const one = iso.candidatesOf(x);
      for (const [from, count] of [[0, 40], [3, 11], [39, 5], [-2, 4]] as const) {
        for (const anonOnly of [false, true]) {
          const want: number[] = [];
          for (let f = from; f < from + count; f++) {
            if (!one(f) || (anonOnly && frames.ownerFile[f]! >= 0)) continue;
            const n = want.length;
            if (n > 0 && want[n - 2]! + want[n - 1]! === f) want[n - 1]!++; else want.push(f, 1);
          }
          t.deepEqual(iso.candidatePieces(x, from, count, anonOnly), want, `exchange ${x}, frames ${from}.. (${count}), anonOnly ${anonOnly}`);
        }
        let run = 0;
        while (run < count && one(from + run)) run++;
        t.is(iso.candidateRun(x, from, count), run, `exchange ${x}: the run from frame ${from}`);
      }
    }
  }), { numRuns: 150 });
});

// The frame table tells the isolation of every free by method call (frames.watcher), frame by frame
// and a run at once: each exchange's count of the candidates still in use (the `candidates` of
// its reclaim-prepare event) goes down by exactly its candidates freed.
test('frees told to the isolation, one by one or a run at once, take exactly the freed candidates off each exchange\'s count', (t) => {
  const frames = new FrameTable(64);
  const iso = new Isolated(frames);
  const a = Array.from({ length: 10 }, () => frames.alloc(0));
  t.is(iso.openFor(1), 10);
  const b = Array.from({ length: 6 }, () => frames.alloc(0));
  iso.set(b[0]!, 3);
  t.is(iso.openFor(2), 5, 'exchange 2: the 6 later frames, less the pinned one');
  for (const f of [...a.slice(0, 4), ...b.slice(0, 4)]) frames.incref(f);
  frames.decrefRunBy(a[0]!, 4, 2); // 4 of exchange 1's
  frames.decrefRunBy(b[0]!, 4, 2); // 1 pinned, 3 of exchange 2's
  t.true(frames.decref(a[9]!));
  const counts = (iso as unknown as { open: Map<number, { live: number }> }).open;
  t.deepEqual([counts.get(1)!.live, counts.get(2)!.live], [10 - 5, 5 - 3]);
  t.is(iso.openFor(3), frames.used - 5 - 2, 'exchange 3 holds what is in use and held by neither');
});
