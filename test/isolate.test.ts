// Reclaim candidates isolated by allocation stamps (coordinator/isolate.ts, issue 14): every frame
// resident at an exchange's prepare is its candidate and no other's; a frame handed out after it
// (even one freed by it and handed out again) is a new page; a pinned frame is nobody's; opening
// holds nothing frame by frame, yet counts what it holds.
import test from 'ava';
import { FrameTable } from '../coordinator/frames.js';
import { Isolated } from '../coordinator/isolate.js';

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
