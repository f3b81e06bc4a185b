// "did you mean": a close name is suggested, a name that merely has the same length is not.
import test from 'ava';
import { closest, didYouMean } from '../shared/suggest.js';

test('a typo gets the name it most likely meant', (t) => {
  t.is(closest('polcy', ['policy', 'access', 'seed']), 'policy');
  t.is(closest('per_mm', ['shared-file', 'per-mm', 'anon-only']), 'per-mm');
  t.is(closest('Bb', ['B', 'C']), 'B');
  t.is(closest('a', ['A', 'B']), 'A', 'a different case is the closest of all');
  t.is(closest('volatil', ['volatile', 'nonvolatile']), 'volatile');
});

test('nothing is suggested when nothing of the word is kept', (t) => {
  t.is(closest('Z', ['A', 'B']), undefined, 'one edit away, but no letter in common');
  t.is(closest('xy', ['ab']), undefined);
  t.is(closest('fred', ['ok', 'errno', 'signal', 'stuck']), undefined);
  t.is(didYouMean('Z', ['A']), '');
  t.is(didYouMean(5, ['A']), '');
});
