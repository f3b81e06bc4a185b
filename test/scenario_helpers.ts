// Scenario text the tests of one rule at a time share (test/madv-free.test.ts, test/model.test.ts,
// test/model-madv.test.ts, test/model_helpers.ts): most start with process A mapping `buf` and
// writing "a0", "a1", ... into it, and many end with the kernel reclaiming once A has marked its
// pages. Each helper writes exactly the lines a test would write by hand; the test adds the rest.
import type { Chooser } from '../coordinator/scheduler.js';

/**
 * The start of a scenario: `name:` (if given), `memory: { frames }` (16 unless given), `files:` (if
 * given, as flow YAML), then process A's first steps: it maps `buf` of `pages` pages and writes
 * "a0", "a1", ... into its first `written` pages (no newline at the end). The caller's lines (A's
 * next steps, other processes, the kernel list) follow on the next lines, indented as under `steps:`.
 */
export function aWrites(pages: number, written: number, o: { name?: string; frames?: number; files?: string } = {}): string {
  const lines = [...(o.name ? [`name: ${o.name}`] : []), `memory: { frames: ${o.frames ?? 16} }`, ...(o.files ? [`files: ${o.files}`] : []),
    'processes:', '  A:', '    steps:', `      - { op: mmap, as: buf, pages: ${pages} }`];
  for (let i = 0; i < written; i++) lines.push(`      - { op: write, map: buf, page: ${i}, value: "a${i}" }`);
  return lines.join('\n');
}

/**
 * The kernel list of a mark-then-reclaim test: wait for `marked`, one `reclaim all` per entry of
 * `freed` (expecting that many frames freed; `null`: no expectation), then signal `freed` (no
 * newline at the end).
 */
export function kernelReclaims(...freed: Array<number | null>): string {
  const reclaims = freed.map((n) => `  - { op: reclaim, all: true${n === null ? '' : `, expect: { freed: ${n} }`} }`);
  return ['kernel:', '  - { op: wait, name: marked }', ...reclaims, '  - { op: signal, name: freed }'].join('\n');
}

/** A lockstep chooser that grants, of the actions enabled, the first one named in `order`. */
/** Picks the first of `order` enabled; `kernel` and `commit` name the kernel's actions (the scheduler's @kernel, @commit). */
export const preferring = (order: string[]): Chooser => {
  const names = order.map((n) => (n === 'kernel' ? '@kernel' : n === 'commit' ? '@commit' : n));
  return { choose: (enabled) => enabled.indexOf(names.find((n) => enabled.includes(n))!) };
};
