// agents/pte_table.ts against a Map of every entry: rewriteFlags and bitsIn skip the walk of a
// chunk when its OR and AND of flags prove the answer, and must answer exactly as the walk does
// after any mix of sets, replacements, removals and rewrites (whole chunks and parts of them).
import test from 'ava';
import fc from 'fast-check';
import { PteTable } from '../agents/pte_table.js';

const SPAN = 64;

test('PteTable: entries, rewriteFlags and bitsIn answer as a Map of every entry would, across any changes', (t) => {
  const op = fc.oneof(
    // A run of entries written ascending with the same flags (a fork's child, a process writing).
    fc.record({ op: fc.constant('setRun' as const), i: fc.nat(1600), n: fc.integer({ min: 1, max: 1100 }), frame: fc.nat(5000), flags: fc.nat(SPAN - 1) }),
    fc.record({ op: fc.constant('set' as const), i: fc.nat(1600), frame: fc.nat(5000), flags: fc.nat(SPAN - 1) }),
    fc.record({ op: fc.constant('delete' as const), i: fc.nat(1600) }),
    fc.record({ op: fc.constant('rewrite' as const), a: fc.nat(1600), n: fc.integer({ min: 1, max: 1100 }), set: fc.integer({ min: 1, max: SPAN - 1 }), clear: fc.nat(SPAN - 1), dropHigh: fc.boolean() }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 25 }), fc.array(fc.tuple(fc.nat(2000), fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 1, max: SPAN - 1 })), { maxLength: 6 }), (ops, probes) => {
    const pt = new PteTable();
    const model = new Map<number, number>();
    for (const o of ops) {
      if (o.op === 'setRun') for (let k = 0; k < o.n; k++) { const e = (o.frame + k + 1) * SPAN + o.flags; pt.set(o.i + k, e); model.set(o.i + k, e); }
      else if (o.op === 'set') { const e = (o.frame + 1) * SPAN + o.flags; pt.set(o.i, e); model.set(o.i, e); }
      else if (o.op === 'delete') t.is(pt.delete(o.i), model.delete(o.i));
      else {
        const clear = o.clear & ~o.set;
        pt.rewriteFlags(o.a, o.a + o.n, SPAN, o.set, clear, o.dropHigh);
        for (let i = o.a; i < o.a + o.n; i++) {
          const e = model.get(i) ?? 0;
          model.set(i, (o.dropHigh ? 0 : e & ~(SPAN - 1)) | (((e & (SPAN - 1)) | o.set) & ~clear));
        }
      }
    }
    t.is(pt.size, model.size);
    t.deepEqual([...pt.entries()], [...model].sort((x, y) => x[0] - y[0]));
    for (const [a, n, mask] of probes) {
      let want = 0;
      for (const [i, e] of model) if (i >= a && i < a + n) want |= e;
      t.is(pt.bitsIn(a, a + n, mask), want & mask, `bitsIn(${a}, ${a + n}, ${mask})`);
    }
  }), { numRuns: 300 });
});
