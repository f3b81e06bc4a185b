// The step interpreter's vrange: the synchronous path for memory the mm decides (vrangeLocal,
// taken by runStep) against the general path (vrangeGeneral), on random steps over an mm with
// every kind of VMA, gaps, purged pages, ranges already marked and small range limits.
import test from 'ava';
import fc from 'fast-check';
import { Mm, PTE_PURGED, Vma } from '../agents/mm.js';
import { NO_MAPPING, runStep, vrangeGeneral, type StepOutcome } from '../agents/steps.js';
import type { Agent } from '../agents/agent.js';
import { RangeSet } from '../shared/rangeset.js';
import type { PolicyName, ProcessStep, RunConfig } from '../shared/scenario-types.js';
import type { VmaKind } from '../shared/messages.js';

type VrangeStep = Extract<ProcessStep, { op: 'vrange' }>;

// Pages 1..48 anonymous (two VMAs side by side), a gap, then shmem, a private and a shared file mapping.
const layout: Array<[string, number, number, VmaKind]> = [
  ['a', 1, 32, 'anon'], ['b', 33, 16, 'anon'], ['c', 60, 16, 'shmem'], ['d', 76, 16, 'file-private'], ['e', 100, 16, 'file-shared'],
];
const lastPage = 116;
const mapNames = ['a', 'b', 'c', 'd', 'e', 'ab', 'gap', 'failed', 'nosuch'] as const;

interface World {
  policy: PolicyName;
  limit: number;
  chunkSize: number;
  purged: number[];
  marked: Array<[number, number]>;
}

interface Fake {
  agent: Agent;
  held: Map<number, number>;
  calls: unknown[];
}

function build(w: World): Fake {
  const mm = new Mm();
  for (const [name, addr, pages, kind] of layout) {
    mm.insert(Vma.fresh(addr, pages, kind, kind.startsWith('file') ? 7 : -1, kind.startsWith('file') ? 3 : 0));
    mm.bindings.set(`map:${name}`, { kind: 'map', addr, pages });
  }
  mm.bindings.set('map:ab', { kind: 'map', addr: 1, pages: 48 });
  mm.bindings.set('map:gap', { kind: 'map', addr: 40, pages: 30 });
  mm.bindings.set('map:failed', { kind: 'map', addr: NO_MAPPING, pages: 0 });
  mm.bindings.set('fd:nosuch', { kind: 'fd', fd: 3 });
  mm.ranges = new RangeSet(w.limit, w.chunkSize);
  for (const [s, n] of w.marked) {
    try { mm.ranges.mark(s, s + n, 0); } catch { /* over the limit: left out */ }
  }
  for (const v of w.purged) {
    const p = mm.pte(v);
    if (p) p.vma.setFlags(p.i, p.vma.flagsAt(p.i) | PTE_PURGED);
  }
  const held = new Map<number, number>();
  const calls: unknown[] = [];
  const config: RunConfig = { policy: w.policy, access: 'sigbus', purgeUnit: 'range', frames: 1, seed: 1, schedule: 'free' };
  const fake = {
    mm, config, now: 0, held,
    untilReleased: (_start: number, _end: number) => (held.size === 0 ? undefined : Promise.resolve()),
    call: async (args: { t: string; pages?: number }) => {
      calls.push(args);
      return { id: calls.length, purged: (args.pages ?? 0) % 2 === 1 };
    },
  };
  return { agent: fake as unknown as Agent, held, calls };
}

/** Everything a vrange can change, in a form deepEqual compares. */
function state(f: Fake): unknown {
  return { ranges: f.agent.mm.ranges.toJSON(), flags: f.agent.mm.vmas.map((v) => v.touchedIn(v.start, v.end).map((i) => [i, v.flagsAt(i)])), calls: f.calls };
}

type Got = { outcome: string } | { threw: string };

async function attempt(run: () => StepOutcome | Promise<StepOutcome>): Promise<Got> {
  try {
    // JSON keeps the key order, so the result and detail must be built the same way, not just hold the same.
    return { outcome: JSON.stringify(await run()) };
  } catch (e) {
    return { threw: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

const worldArb: fc.Arbitrary<World> = fc.record({
  policy: fc.constantFrom<PolicyName>('shared-file', 'per-mm', 'anon-only'),
  limit: fc.oneof(fc.constant(1_000_000), fc.integer({ min: 0, max: 12 })),
  chunkSize: fc.constantFrom(4, 5, 128),
  purged: fc.array(fc.integer({ min: 0, max: lastPage }), { maxLength: 40 }),
  marked: fc.array(fc.tuple(fc.integer({ min: 0, max: lastPage }), fc.integer({ min: 1, max: 10 })), { maxLength: 12 }),
});

const stepArb: fc.Arbitrary<{ step: VrangeStep; hold: boolean }> = fc.record({
  map: fc.oneof({ arbitrary: fc.constant('a'), weight: 4 }, fc.constantFrom(...mapNames)),
  page: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 16 }), weight: 8 }, fc.constant(undefined), fc.integer({ min: -2, max: 50 })),
  pages: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 8 }), weight: 8 }, fc.constant(undefined), fc.integer({ min: 0, max: 20 })),
  bytes: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 5 },
    { arbitrary: fc.tuple(fc.integer({ min: 0, max: 12 }).map((x) => x * 2048), fc.integer({ min: 0, max: 20 * 4096 })), weight: 1 },
  ),
  mode: fc.constantFrom('volatile', 'volatile', 'nonvolatile', 'nonvolatile', 'bogus'),
  hold: fc.integer({ min: 0, max: 9 }).map((x) => x < 2),
}).map(({ map, page, pages, bytes, mode, hold }) => {
  const step = { op: 'vrange', map, mode } as VrangeStep;
  if (bytes) { step.byteOffset = bytes[0]; step.byteLength = bytes[1]; } else {
    if (page !== undefined) step.page = page;
    if (pages !== undefined) step.pages = pages;
  }
  return { step, hold };
});

test('property: runStep (synchronous path where it applies) and vrangeGeneral give the same outcome and mm', async (t) => {
  let sync = 0;
  let async = 0;
  let threw = 0;
  let enomem = 0;
  await fc.assert(
    fc.asyncProperty(worldArb, fc.array(stepArb, { minLength: 5, maxLength: 40, size: 'max' }), async (world, steps) => {
      const fast = build(world);
      const general = build(world);
      for (let k = 0; k < steps.length; k++) {
        const { step, hold } = steps[k]!;
        for (const f of [fast, general]) {
          f.agent.now = 1000 + k;
          f.held.clear();
          if (hold) f.held.set(1 + k, k); // an exchange open somewhere: the synchronous path must not be taken
        }
        let wasSync = false;
        const a = await attempt(() => {
          const out = runStep(fast.agent, step);
          wasSync = !(out instanceof Promise);
          return out;
        });
        const b = await attempt(() => vrangeGeneral(general.agent, step));
        if (wasSync) sync++; else async++;
        if ('threw' in a) threw++; else if (a.outcome.includes('ENOMEM')) enomem++;
        if (wasSync && hold) throw new Error('synchronous path taken while an exchange was open');
        const where = `step ${k} ${JSON.stringify(step)} policy ${world.policy}`;
        t.deepEqual(a, b, where);
        t.deepEqual(state(fast), state(general), where);
        fast.agent.mm.ranges.checkInvariants();
      }
    }),
    { numRuns: 400 },
  );
  // Both paths were exercised, so the comparison says something.
  t.log(`synchronous outcomes: ${sync}, general: ${async}; ENOMEM ${enomem}, thrown ${threw}`);
  t.true(sync > 3000 && async > 3000);
});

test('vrange on anonymous memory: result and detail shapes, purged pages cleared, no syscall', async (t) => {
  const f = build({ policy: 'shared-file', limit: 1_000_000, chunkSize: 128, purged: [3, 4, 9], marked: [] });
  const out1 = runStep(f.agent, { op: 'vrange', map: 'a', page: 1, pages: 4, mode: 'volatile' });
  t.false(out1 instanceof Promise);
  t.deepEqual(await out1, { result: { ok: true, bytes: 4 * 4096 }, detail: { span: [2, 6], purgedPages: [] } });
  t.deepEqual(f.agent.mm.ranges.coalesced(), [[2, 4]]);
  const out2 = await runStep(f.agent, { op: 'vrange', map: 'a', page: 0, pages: 8, mode: 'nonvolatile' });
  t.is(JSON.stringify(out2), JSON.stringify({ result: { ok: true, bytes: 8 * 4096, purged: true }, detail: { span: [1, 9], purgedPages: [3, 4] } }));
  t.deepEqual(f.agent.mm.ranges.coalesced(), []);
  t.is(f.agent.mm.pte(3)!.vma.flagsAt(2) & PTE_PURGED, 0);
  t.not(f.agent.mm.pte(9)!.vma.flagsAt(8) & PTE_PURGED, 0); // outside the span: kept
  t.deepEqual(f.calls, []);
  // Over the range limit: ENOMEM and the set unchanged.
  const g = build({ policy: 'shared-file', limit: 1, chunkSize: 128, purged: [], marked: [[10, 2]] });
  t.deepEqual(await runStep(g.agent, { op: 'vrange', map: 'a', page: 20, pages: 2, mode: 'volatile' }), { result: { ok: false, errno: 'ENOMEM' } });
  t.is(g.agent.mm.ranges.size, 1);
});

test('anon-only: the VMAs are walked in address order and a refused file VMA is EINVAL before the hole in front of it (v14 madvise_volatile)', async (t) => {
  const f = build({ policy: 'anon-only', limit: 1_000_000, chunkSize: 128, purged: [], marked: [] });
  const mm = f.agent.mm;
  const sizes = new Map<string, number>();
  const bind = (name: string, addr: number, pages: number) => { sizes.set(name, pages); mm.bindings.set(`map:${name}`, { kind: 'map', addr, pages }); };
  const errnoOf = async (map: string) =>
    ((await vrangeGeneral(f.agent, { op: 'vrange', map, page: 0, pages: sizes.get(map)!, mode: 'volatile' } as VrangeStep)).result as { errno?: string }).errno;
  bind('d-gap-e', 76, 40); // file-private d, the gap 92..100, file-shared e: d is met first
  bind('e-past', 100, 20); // file-shared e, then unmapped past 116
  bind('a-gap', 20, 30); // anonymous a and b, then the gap from 49: no refused VMA
  t.is(await errnoOf('d-gap-e'), 'EINVAL');
  t.is(await errnoOf('e-past'), 'EINVAL');
  t.is(await errnoOf('a-gap'), 'ENOMEM');
  mm.unmap(60, 76); // shmem c gone: b, a gap 49..76, then file-private d
  bind('b-gap-d', 40, 40);
  t.is(await errnoOf('b-gap-d'), 'EINVAL', 'the kind of the VMA after the hole is checked before the hole');
  bind('gap-only', 50, 5);
  t.is(await errnoOf('gap-only'), 'ENOMEM');
  bind('b-gap', 40, 20); // b, then the gap 49..60 (nothing after it in the span)
  t.is(await errnoOf('b-gap'), 'ENOMEM', 'a hole at the end is ENOMEM, whatever lies past the span');
  t.deepEqual(mm.ranges.coalesced(), []);
  t.deepEqual(f.calls, []);
  // Under the other policies nothing is refused: a hole is ENOMEM.
  const g = build({ policy: 'shared-file', limit: 1_000_000, chunkSize: 128, purged: [], marked: [] });
  g.agent.mm.bindings.set('map:d-gap-e', { kind: 'map', addr: 76, pages: 40 });
  t.is(((await vrangeGeneral(g.agent, { op: 'vrange', map: 'd-gap-e', page: 0, pages: 40, mode: 'volatile' } as VrangeStep)).result as { errno?: string }).errno, 'ENOMEM');
});
