// The offline checker (`vrange check`) and the order of a process's steps (check `well-formed`):
// a step invoked after a later one of the same process is out of order, a skipped step is named,
// and a step invoked twice is flagged once as doubled, not also as out of order. Histories written
// by hand (test/history_helpers.ts), so each case is checked every time.
import test from 'ava';
import { cleanup, found, history, step, texts, type Ev } from './history_helpers.js';

const birth: Ev = { kind: 'birth', process: 'A', pid: 2, osPid: 100 };
const procs = [{ process: 'A', pid: 2, state: 'exited', steps: 3 }];
const sig = (name: string): Ev => ({ op: 'signal', name });

test('steps in order: no violation (the control)', (t) => {
  t.is(texts(history([birth, ...step('A', 0, sig('a')), ...step('A', 1, sig('b')), ...step('A', 2, sig('c')), cleanup('A', 2)], procs)), '');
});

test('a step invoked after a later step of its process is out of order', (t) => {
  // A runs 0, then 2 (1 left no events so far), then 1: the late 1 is out of order.
  const h = history([birth, ...step('A', 0, sig('a')), ...step('A', 2, sig('c')), ...step('A', 1, sig('b')), cleanup('A', 2)], procs);
  const all = texts(h);
  t.regex(all, /A step 2 invoked, but its next step is 1: step 1 left no events/);
  t.regex(all, /A step 1 invoked after its step 2 \(steps out of order\)/);
  t.deepEqual(found(h), ['well-formed']);
});

test('a step invoked twice is doubled, not out of order', (t) => {
  const h = history([birth, ...step('A', 0, sig('a')), ...step('A', 1, sig('b')), ...step('A', 1, sig('b')), ...step('A', 2, sig('c')), cleanup('A', 2)], procs);
  const all = texts(h);
  t.regex(all, /A step 1 invoked twice/);
  t.notRegex(all, /out of order/);
});
