// `--shard K/N`: which part of a sweep's work list one shard runs. Every shard computes the same
// whole work list (the seeds of `--runs`, the kill points of `--every-kill`, the reduced schedules
// of `--all`) and takes the items whose 0-based index i has i mod N = K - 1: shard 1/3 runs items
// 0, 3, 6, ..., shard 2/3 runs 1, 4, 7, ... Round robin rather than contiguous blocks, so that
// neighbouring items (a process's kill points, the schedules of one subtree), which cost about
// the same, spread over the shards. The union of the N parts is the whole list, and no item is in
// two parts (harness/shard.ts merges them back).

import { UsageError } from '../shared/args.js';
import { shardsMax } from '../shared/limits.js';

/** Shard `index` (1-based, K) of `count` (N). */
export interface Shard { index: number; count: number }

export const shardValue = () => `K/N, whole numbers with 1 <= K <= N <= ${shardsMax}`;

/** Parses `--shard K/N` (undefined stays undefined). */
export function parseShard(value: string | undefined): Shard | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d{1,7})\/(\d{1,7})$/.exec(value);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || index < 1 || count < 1 || index > count || count > shardsMax) {
    throw new UsageError(`--shard: "${value}" is not allowed; expected ${shardValue()}`);
  }
  return { index, count };
}

/** Whether item `i` (0-based) of the work list is in `shard`. */
export function inShard(i: number, shard: Shard): boolean {
  return i % shard.count === shard.index - 1;
}

/** How many of `total` items `shard` runs. */
export function partSize(total: number, shard: Shard): number {
  return total < shard.index ? 0 : Math.floor((total - shard.index) / shard.count) + 1;
}

/** What a sweep runs: seeds (`--runs`), kill points (`--every-kill`) or reduced schedules (`--all`). */
export type SweepKind = 'seeds' | 'kills' | 'all';

/** The default `--out` of a shard: `NAME.KIND.shard-K-of-N.json` in the current directory (NAME: the scenario file's name without .yaml/.yml/.json). */
export function defaultShardOut(file: string, kind: SweepKind, shard: Shard): string {
  const base = file.split(/[\\/]/).at(-1)!.replace(/\.(ya?ml|json)$/i, '');
  return `${base}.${kind}.shard-${shard.index}-of-${shard.count}.json`;
}
