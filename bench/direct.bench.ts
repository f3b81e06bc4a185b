// (8) Direct reclaim of one page, against the number of frames: the kernel's own cost of the
// exchange a fault runs when no frame is free (coordinator/page_alloc.ts: vmscan.runExchange(1)).
// A kernel of N frames, every frame in use as a page of a tmpfs file's page cache, one page of it
// in a volatile file range; each sample is one direct reclaim (candidates, whom to ask, the units,
// the decision, the purge), then the page is filled again and the next page marked. In process,
// with no agent: no mm needs asking, so the figure is what the kernel's structures cost, not the
// messages (an anonymous kernel of 1,000,000 frames would need 1,000,000 write steps to fill, four
// times what one scenario may hold). Baseline: 1,000 frames.
// Goal (issue 14): the cost independent of the number of frames (1,000,000 within 2x of 1,000).
//
// Run: node dist/bench/direct.bench.js [--json [FILE]] [--quick] [--repeats N] [--sizes N,N,...]

import { fileURLToPath } from 'node:url';
import { Kernel } from '../coordinator/kernel.js';
import { emit, nowMs, parseArgs, summarise, type Row } from './lib.js';
import { scenarioOf } from './harness.js';

/** Microseconds of each of `repeats` direct reclaims of one page in a kernel of `frames` frames, all in use. */
async function measure(frames: number, repeats: number): Promise<number[]> {
  const scenario = scenarioOf({ name: 'bench-direct', memory: { frames }, files: [{ name: 'cache', pages: frames }], processes: {} });
  const k = new Kernel({ scenario, runDir: '/nonexistent', traceMessages: false,
    config: { policy: 'shared-file', access: 'sigbus', purgeUnit: 'range', frames, seed: 1, schedule: 'free' } });
  const file = k.files[0]!;
  const fill = (page: number) => {
    const f = k.frames.alloc(0);
    if (f < 0) throw new Error('bench: no free frame to fill');
    file.insert(page, f, k.frames);
  };
  for (let p = 0; p < frames; p++) fill(p);
  if (k.frames.free !== 0) throw new Error('bench: the frames are not all in use');
  const out: number[] = [];
  for (let r = 0; r < repeats + 3; r++) {
    const page = (r * 7919) % frames;
    file.ranges.mark(page, page + 1, r);
    const t0 = nowMs();
    const { freed } = await k.vmscan.runExchange(1, 'bench: direct reclaim of one page');
    const us = (nowMs() - t0) * 1000;
    if (freed !== 1) throw new Error(`bench: direct reclaim freed ${freed} frames, not 1`);
    file.ranges.unmark(page, page + 1);
    file.purged.delete(page);
    fill(page);
    if (r >= 3) out.push(us); // the first three warm the code up
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const repeats = args.repeats ?? 30;
  const sizes = args.sizes ?? (args.quick ? [1_000, 100_000] : [1_000, 1_000_000]);
  const rows: Row[] = [];
  let base = 0;
  for (const frames of sizes) {
    const s = summarise(await measure(frames, repeats));
    if (frames === sizes[0]) base = s.median;
    rows.push({ name: `${frames.toLocaleString('en')} frames, all in use`, unit: 'us/reclaim', summary: s, ratio: s.median / base,
      against: `${sizes[0]!.toLocaleString('en')} frames (1 = independent of frames)` });
  }
  const last = rows[rows.length - 1]!;
  emit({ bench: 'direct', what: 'one direct reclaim of one page (kernel only, page-cache frames), against the number of frames',
    goal: 'the largest size within 2x of the smallest', goalMet: (last.ratio ?? Infinity) <= 2, rows }, args);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main().catch((e) => { console.error(e); process.exit(1); });
