// Shared by the benchmarks: repeated measurement, summary statistics, the printed table and
// the `--json [FILE]` output. Every benchmark prints the median and the spread (min, max and
// the interquartile range) of its repeated runs, and a ratio against a baseline measured in
// the same run on the same machine.

import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

export interface Summary { median: number; min: number; max: number; q1: number; q3: number; runs: number }

export function summarise(xs: number[]): Summary {
  if (xs.length === 0) throw new Error('summarise: no samples');
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))]!;
  return { median: at(0.5), min: s[0]!, max: s[s.length - 1]!, q1: at(0.25), q3: at(0.75), runs: s.length };
}

export interface Row {
  /** What was measured, e.g. "16 clients, pipelined". */
  name: string;
  unit: string;
  summary: Summary;
  /** This row's median against the baseline's median (for rates: this / baseline). */
  ratio?: number;
  /** What the ratio is taken against. */
  against?: string;
  /** Anything else worth keeping (counts, sizes). */
  extra?: Record<string, number | string | boolean>;
}

export interface BenchReport {
  bench: string;
  what: string;
  goal?: string;
  goalMet?: boolean;
  rows: Row[];
  machine: { cpus: number; model: string; loadavg: number[]; node: string };
  at: string;
}

/** Command-line flags every benchmark understands. */
/** `sizes`: the sizes to measure instead of a benchmark's own (those that have sizes). */
export interface BenchArgs { json: boolean; jsonFile?: string; quick: boolean; repeats?: number; sizes?: number[] }

export function parseArgs(argv = process.argv.slice(2)): BenchArgs {
  const out: BenchArgs = { json: false, quick: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--json') {
      out.json = true;
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) { out.jsonFile = next; i++; }
    } else if (a === '--quick') out.quick = true;
    else if (a === '--repeats') out.repeats = Number(argv[++i]);
    else if (a === '--sizes') out.sizes = (argv[++i] ?? '').split(',').map(Number);
    else if (a.startsWith('--')) {
      process.stderr.write(`unknown option ${a}; allowed: --json [FILE], --quick, --repeats N, --sizes N,N,...\n`);
      process.exit(2);
    }
  }
  if (out.sizes !== undefined && !out.sizes.every((n) => Number.isInteger(n) && n >= 1)) {
    process.stderr.write('--sizes: whole numbers >= 1, comma-separated\n');
    process.exit(2);
  }
  if (out.repeats !== undefined && !(Number.isInteger(out.repeats) && out.repeats >= 1)) {
    process.stderr.write('--repeats: a whole number >= 1\n');
    process.exit(2);
  }
  return out;
}

export function machine(): BenchReport['machine'] {
  return { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', loadavg: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version };
}

const fmt = (x: number) => (Math.abs(x) >= 1000 ? Math.round(x).toLocaleString('en') : Math.abs(x) >= 10 ? x.toFixed(1) : x.toPrecision(3));

/** Prints the table (to stderr when the JSON goes to stdout) and writes the JSON if asked. */
export function emit(report: Omit<BenchReport, 'machine' | 'at'>, args: BenchArgs): BenchReport {
  const full: BenchReport = { ...report, machine: machine(), at: new Date().toISOString() };
  const out = args.json && !args.jsonFile ? process.stderr : process.stdout;
  const lines = [`== ${report.bench}: ${report.what}`];
  if (report.goal) lines.push(`   goal: ${report.goal}${report.goalMet === undefined ? '' : report.goalMet ? '  [met]' : '  [NOT met]'}`);
  const w = Math.max(...report.rows.map((r) => r.name.length), 4);
  lines.push(`   ${'case'.padEnd(w)}  ${'median'.padStart(12)}  ${'min'.padStart(10)}  ${'max'.padStart(10)}  ${'IQR'.padStart(21)}  unit          ratio`);
  for (const r of report.rows) {
    const s = r.summary;
    lines.push(`   ${r.name.padEnd(w)}  ${fmt(s.median).padStart(12)}  ${fmt(s.min).padStart(10)}  ${fmt(s.max).padStart(10)}  ${`${fmt(s.q1)}..${fmt(s.q3)}`.padStart(21)}  ${r.unit.padEnd(12)}  ${r.ratio === undefined ? '' : `${r.ratio.toFixed(3)} vs ${r.against}`}`);
    if (r.extra) lines.push(`   ${''.padEnd(w)}  ${Object.entries(r.extra).map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v) : v}`).join(' ')}`);
  }
  lines.push(`   (${full.machine.cpus} cpus, load ${full.machine.loadavg.join(' ')}, node ${full.machine.node}; n=${report.rows[0]?.summary.runs ?? 0} runs each)`);
  out.write(lines.join('\n') + '\n');
  if (args.json) {
    const text = JSON.stringify(full, null, 2) + '\n';
    if (args.jsonFile) writeFileSync(args.jsonFile, text); else process.stdout.write(text);
  }
  return full;
}

export function nowMs(): number { return Number(process.hrtime.bigint()) / 1e6; }

/** Runs `fn` `n` times (after `warmup` unrecorded runs) and returns each run's value. */
export async function repeat(n: number, fn: () => Promise<number> | number, warmup = 0): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await fn());
  return xs;
}
