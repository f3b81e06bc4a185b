// The seeded PRNG behind every choice a lockstep run makes. pure-rand's xoroshiro128+
// gives the same sequence for the same seed on every machine.
import { xoroshiro128plus, unsafeUniformIntDistribution } from 'pure-rand';

export class Prng {
  private readonly gen;
  constructor(readonly seed: number) { this.gen = xoroshiro128plus(seed | 0); }
  /** An integer in [0, n). */
  below(n: number): number {
    if (!(n >= 1)) throw new Error(`Prng.below(${n}): need n >= 1`);
    return unsafeUniformIntDistribution(0, n - 1, this.gen);
  }
}
