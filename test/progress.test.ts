// The progress bar of explore and explore --all (shared/progress.ts), drawn on a terminal's stderr.
import test from 'ava';
import { progressBar, progressBarWidth } from '../shared/progress.js';

test('the bar fills in proportion, redraws in place and ends its line when done', (t) => {
  t.is(progressBarWidth, 30);
  t.is(progressBar(0, 4), `\r[${' '.repeat(30)}] 0/4`);
  t.is(progressBar(1, 2), `\r[${'#'.repeat(15)}${' '.repeat(15)}] 1/2`);
  t.is(progressBar(1, 3), `\r[${'#'.repeat(10)}${' '.repeat(20)}] 1/3`);
  t.is(progressBar(7, 7), `\r[${'#'.repeat(30)}] 7/7\n`);
});

test('a count past the total or an empty total is a bug, said as one', (t) => {
  t.throws(() => progressBar(3, 2), { message: /done must be 0\.\.total/ });
  t.throws(() => progressBar(0, 0), { message: /total > 0/ });
  t.throws(() => progressBar(-1, 2));
});
