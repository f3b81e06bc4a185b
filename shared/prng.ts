// The seeded PRNGs behind every choice vrange makes from a seed. pure-rand's xoroshiro128+ gives
// the same sequence for the same seed on every machine.
//
// Seeding. pure-rand's `xoroshiro128plus(seed)` puts the 32-bit seed into the state almost as it is
// (`[-1, ~seed, seed, 0]`), so its first outputs are a plain function of the seed: for small seeds
// the first draw of a probability was ~0.0002 every time, and the first choice among n followed
// `seed mod n`. Here the seed goes through splitmix64 first (the seeding the xoroshiro authors
// recommend: https://prng.di.unimi.it/), which fills all 128 bits of state, so consecutive seeds
// give unrelated sequences from the first draw on.
//
// Streams. Each use of a seed draws from its own stream: the splitmix64-seeded generator jumped
// 2^64 steps ahead once per stream index (pure-rand's `jump`, its recommended way to make
// independent sequences from one seed). So `--fault random:...` draws nothing from the schedule's
// stream: adding faults does not change which action the schedule picks at each decision, and the
// fault draws of a seed do not depend on how many decisions the schedule made.

import { xoroshiro128plus, unsafeUniformIntDistribution, type RandomGenerator } from 'pure-rand';

/** The independent streams of one seed (the value is the number of jumps; never renumber). */
export const STREAMS = { schedule: 0, faults: 1, scenario: 2, quiz: 3 } as const;
export type Stream = keyof typeof STREAMS;

const MASK64 = (1n << 64n) - 1n;

/** splitmix64 (Steele, Lea, Flood 2014): the next state and output from a 64-bit state. */
export function splitmix64(state: bigint): { state: bigint; out: bigint } {
  const s = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return { state: s, out: z ^ (z >> 31n) };
}

const hi = (x: bigint) => Number(BigInt.asIntN(32, x >> 32n));
const lo = (x: bigint) => Number(BigInt.asIntN(32, x));

/** A xoroshiro128+ generator whose 128-bit state is two splitmix64 outputs of `seed`, jumped `jumps` times. */
export function seededGenerator(seed: number, jumps = 0): RandomGenerator {
  if (!Number.isSafeInteger(seed)) throw new Error(`prng: seed ${seed} is not a whole number`);
  const a = splitmix64(BigInt.asUintN(64, BigInt(seed)));
  const b = splitmix64(a.state);
  // pure-rand's state is [s0 high, s0 low, s1 high, s1 low]; splitmix64 never gives two zero words.
  const gen = xoroshiro128plus.fromState([hi(a.out), lo(a.out), hi(b.out), lo(b.out)]);
  if (jumps > 0 && gen.unsafeJump === undefined) throw new Error('prng: this pure-rand xoroshiro128plus cannot jump');
  for (let i = 0; i < jumps; i++) gen.unsafeJump!();
  return gen;
}

export class Prng {
  private readonly gen: RandomGenerator;
  constructor(readonly seed: number, readonly stream: Stream = 'schedule') {
    this.gen = seededGenerator(seed, STREAMS[stream]);
  }
  /** An integer in [0, n). */
  below(n: number): number {
    if (!(n >= 1) || !Number.isSafeInteger(n)) throw new Error(`Prng.below(${n}): need a whole n >= 1`);
    return unsafeUniformIntDistribution(0, n - 1, this.gen);
  }
  /** A number in [0, 1), on a grid of 2^-32. */
  fraction(): number {
    return unsafeUniformIntDistribution(0, 0xffffffff, this.gen) / 0x100000000;
  }
}
