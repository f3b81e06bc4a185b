// Sweeps split over machines: `vrange explore ... --shard K/N` runs one part of a sweep
// (harness/shard_select.ts says which) and writes a shard result file; `vrange merge FILES...`
// checks that the files are the N parts of one sweep and combines them into the result the
// unsharded sweep gives (the same table, classes, witnesses and exit code), as Playwright's
// `--shard` and `merge-reports` do. The file holds everything the merge needs, so the merge runs
// nothing and needs neither the scenario nor agents. Its format is docs/sharding.md's.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { InputError, readInputText } from '../shared/files.js';
import { jsonMistake } from '../shared/scenario_text.js';
import { exploreRunsMax, framesMax, schedulesMaxCeiling, shardFileBytesMax, shardsMax } from '../shared/limits.js';
import { POLICIES, type RunConfig } from '../shared/scenario-types.js';
import { summarizeExplore, type ExploreResult, type ExploreRun } from './explore.js';
import { assembleAll, type AllPlan, type AllResult, type AllRun } from './explore_all.js';
import type { ShrinkResult } from './shrink.js';
import { CLASSES_BY, type ClassesBy } from './enumerate.js';
import type { WitnessExchange } from './explain_classes.js';
import { partSize, type Shard, type SweepKind } from './shard_select.js';

export type { SweepKind };

export const shardFormat = 'vrange-shard-result';
export const shardFormatVersion = 1;

/** The version of vrange (package.json): shards of different versions may have different work lists or verdicts. */
export const vrangeVersion: string = (JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'), 'utf8')) as { version: string }).version;


/** What decides the work list and the verdicts, besides the scenario and the RunConfig: equal in every shard of one sweep. */
export interface Sweep {
  kind: SweepKind;
  /** `--runs` of a seed sweep (null otherwise). */
  runs: number | null;
  faults: string[]; strict: boolean; shrink: boolean; checkDeterminism: boolean;
  choices: string[] | null; timeoutMs: number | null;
  /** `--max-schedules` of `--all` (null otherwise). */
  maxSchedules: number | null;
  /** `--classes-by` of `--all` (null otherwise): what an outcome class is made of. */
  classesBy: ClassesBy | null;
}

const int = (min = 0, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const strings = z.array(z.string());

const configSchema = z.object({
  policy: z.enum(POLICIES as [RunConfig['policy'], ...RunConfig['policy'][]]), access: z.enum(['sigbus', 'zero']), purgeUnit: z.enum(['range', 'page']),
  frames: int(1, framesMax), seed: int(0, 2 ** 31 - 1), schedule: z.enum(['lockstep', 'free']),
}).strict();

const sweepSchema = z.object({
  kind: z.enum(['seeds', 'kills', 'all']), runs: int(1, exploreRunsMax).nullable(), faults: strings, strict: z.boolean(), shrink: z.boolean(),
  checkDeterminism: z.boolean(), choices: strings.nullable(), timeoutMs: int(1).nullable(), maxSchedules: int(1, schedulesMaxCeiling).nullable(),
  classesBy: z.enum(CLASSES_BY as [ClassesBy, ...ClassesBy[]]).nullable(),
}).strict();

const exploreRunSchema = z.object({
  index: int(), seed: int(), faults: strings, outcome: z.string(), broken: strings, repro: z.string(), kills: int(), pauses: int(), violations: strings,
}).strict();

const shrinkSchema = z.object({
  reproduced: z.boolean(), runs: int(), before: z.object({ faults: strings, choices: int() }).strict(),
  after: z.object({ faults: strings, choices: strings }).strict(), broken: strings, repro: z.string(),
}).strict();

const stepSchema = z.object({ process: z.string(), index: int(), op: z.string(), result: z.object({ ok: z.boolean() }).passthrough(), label: z.string().optional(), kernel: z.literal(true).optional() }).strict();

const planSchema = z.object({
  all: int().optional(), reduced: int(0, schedulesMaxCeiling), reducedClasses: int(), modelActions: int(), blocked: int(),
  classes: z.array(z.object({ key: z.string(), results: strings, traces: int(1), schedules: int(1).optional(), modelWitness: strings, variants: int(1).optional() }).strict()),
  classesBy: z.enum(CLASSES_BY as [ClassesBy, ...ClassesBy[]]), uncounted: strings,
  goals: z.array(z.object({ name: z.string(), title: z.string() }).strict()),
}).strict();

const exchangeSchema = z.object({
  xid: int(), reason: z.string(), by: z.string().optional(), prepared: int(), committed: int().optional(),
  asked: int(), pages: int(), freed: int().optional(), waited: z.array(z.object({ step: z.string(), at: int() }).strict()),
}).strict();

const allRunSchema = z.object({
  index: int(), key: z.string(), repro: z.string(), problems: strings, goals: strings,
  witness: z.object({ choices: strings, steps: z.array(stepSchema), exchanges: z.array(exchangeSchema) }).strict().optional(),
}).strict();

const shardFileSchema = z.object({
  format: z.literal(shardFormat), version: z.literal(shardFormatVersion), vrange: z.string().max(64),
  shard: z.object({ index: int(1, shardsMax), count: int(1, shardsMax) }).strict(),
  scenario: z.object({ file: z.string().min(1).max(4096), sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 hex digits') }).strict(),
  config: configSchema, sweep: sweepSchema,
  /** The explore options as given (harness/command.ts parseRun `options`): a new option that changes the sweep is compared too. */
  options: z.record(z.union([z.string(), z.boolean(), z.array(z.string())])),
  /** Items in the sweep's whole work list. */
  planned: int(0, schedulesMaxCeiling),
  /** Wall-clock seconds the shard's runs took. */
  seconds: z.number().min(0).finite(),
  explore: z.object({ runs: z.array(exploreRunSchema).max(exploreRunsMax), shrunk: shrinkSchema.nullable() }).strict().optional(),
  all: z.object({ plan: planSchema, runs: z.array(allRunSchema).max(schedulesMaxCeiling) }).strict().optional(),
}).strict();

export type ShardFile = z.infer<typeof shardFileSchema>;

// Both directions are checked by the compiler: what explore makes fits the file, what the file holds fits what the merge takes.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _runsFit: Same<z.infer<typeof exploreRunSchema>, ExploreRun> = true;
const _shrinkFits: Same<z.infer<typeof shrinkSchema>, ShrinkResult> = true;
// A field added to RunConfig must be added to configSchema (else every shard file of it would be refused).
const _configFits: Same<z.infer<typeof configSchema>, RunConfig> = true;
const _exchangeFits: Same<z.infer<typeof exchangeSchema>, WitnessExchange> = true;
void _runsFit; void _shrinkFits; void _configFits; void _exchangeFits;

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export interface ShardHead {
  shard: Shard; scenario: { file: string; sha256: string }; config: RunConfig; sweep: Sweep;
  options: Record<string, string | string[] | boolean>; planned: number; seconds: number;
}

/** The file of a shard of a seed or kill sweep (`runs`: the shard's runs; `shrunk`: its first failure shrunk). */
export function exploreShardFile(head: ShardHead, result: ExploreResult): ShardFile {
  return { format: shardFormat, version: shardFormatVersion, vrange: vrangeVersion, ...head,
    explore: { runs: result.runs, shrunk: result.shrunk ?? null } };
}

/** The file of a shard of `--all`. */
export function allShardFile(head: ShardHead, plan: AllPlan, runs: AllRun[]): ShardFile {
  return { format: shardFormat, version: shardFormatVersion, vrange: vrangeVersion, ...head, all: { plan, runs } };
}

const where = (path: ReadonlyArray<string | number>) => path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '');

/** Reads and checks one shard result file; an InputError (one line naming the file) if it is not one. */
export function readShardFile(path: string): ShardFile {
  const text = readInputText(path, '', shardFileBytesMax);
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (e) { throw new InputError(`${path}: not a shard result file: ${jsonMistake(text, e)}`); }
  const parsed = shardFileSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InputError(`${path}: not a shard result file of this vrange: ${where(issue.path) || 'the document'}: ${issue.message}`);
  }
  const f = parsed.data;
  const bad = (what: string) => new InputError(`${path}: not a whole shard result file: ${what}`);
  if (f.shard.index > f.shard.count) throw bad(`shard ${f.shard.index}/${f.shard.count}: K is larger than N`);
  const wanted = f.sweep.kind === 'all' ? 'all' : 'explore';
  if (!f[wanted] || f[wanted === 'all' ? 'explore' : 'all']) throw bad(`a sweep of kind "${f.sweep.kind}" holds "${wanted}" and nothing of the other kind`);
  if (f.all && f.all.plan.reduced !== f.planned) throw bad(`planned is ${f.planned}, but the plan has ${f.all.plan.reduced} reduced schedules`);
  const runs: Array<{ index: number }> = f.explore?.runs ?? f.all!.runs;
  const part = partSize(f.planned, f.shard);
  if (runs.length !== part) throw bad(`shard ${f.shard.index}/${f.shard.count} of ${f.planned} runs has ${part} of them, the file ${runs.length}`);
  runs.forEach((r, i) => {
    const expected = f.shard.index - 1 + i * f.shard.count;
    if (r.index !== expected) throw bad(`${wanted}.runs[${i}].index is ${r.index}, not ${expected} (the ${i + 1}th run of shard ${f.shard.index}/${f.shard.count})`);
  });
  if (f.all) {
    // The first run of a class in this file is its witness in the merge, unless another shard ran the class earlier: it must carry one.
    const known = new Set(f.all.plan.classes.map((c) => c.key));
    const seen = new Set<string>();
    f.all.runs.forEach((r, i) => {
      const first = known.has(r.key) && !seen.has(r.key);
      seen.add(r.key);
      if (first && !r.witness) throw bad(`all.runs[${i}] is the file's first run of its outcome class but has no witness`);
      if (!first && r.witness) throw bad(`all.runs[${i}] has a witness, but is not the file's first run of a class of the plan`);
    });
  }
  return f;
}

/** The text of a shard result file; refused (InputError) if it is larger than the merge reads. */
export function shardFileText(doc: ShardFile): string {
  const text = JSON.stringify(doc) + '\n';
  const bytes = Buffer.byteLength(text);
  if (bytes > shardFileBytesMax) {
    throw new InputError(`the result of shard ${doc.shard.index}/${doc.shard.count} is ${bytes} bytes, more than vrange merge reads (${shardFileBytesMax / 2 ** 20} MiB): split the sweep into more shards`);
  }
  return text;
}

/** The first field where two values differ, as `name: a, not b` (JSON). */
function difference(a: Record<string, unknown>, b: Record<string, unknown>): string | undefined {
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return `${k} is ${JSON.stringify(b[k])}, not ${JSON.stringify(a[k])}`;
  }
  return undefined;
}

export interface Merged {
  kind: SweepKind; file: string; config: RunConfig; sweep: Sweep; shards: number;
  /** The shards' seconds added up. */
  seconds: number;
  explore?: ExploreResult; all?: AllResult;
  /** The options as every shard was given them (harness/command.ts parseRun `options`). */
  options: Record<string, string | string[] | boolean>;
}

/** Merges the shard files at `paths` (read and checked here); InputError when they are not the N shards of one sweep. */
export function mergeShards(paths: string[]): Merged {
  const files = paths.map((p) => ({ path: p, f: readShardFile(p) }));
  const first = files[0]!;
  const ref = first.f;
  const byIndex = new Map<number, string>();
  for (const { path, f } of files) {
    const other = (what: string) => new InputError(`${path}: ${what} than ${first.path}: not a shard of the same sweep`);
    if (f.vrange !== ref.vrange) throw other(`written by vrange ${f.vrange}, another version`);
    if (f.scenario.sha256 !== ref.scenario.sha256) throw other(`of another scenario (${f.scenario.file}, sha256 ${f.scenario.sha256.slice(0, 12)}…, not ${ref.scenario.sha256.slice(0, 12)}…)`);
    if (f.scenario.file !== ref.scenario.file) throw other(`names the scenario FILE as ${JSON.stringify(f.scenario.file)}, not ${JSON.stringify(ref.scenario.file)}: run every shard with the same FILE argument, or its replay commands differ,`);
    const dc = difference(ref.config, f.config);
    if (dc) throw other(`of another run configuration (${dc})`);
    const ds = difference(ref.sweep, f.sweep);
    if (ds) throw other(`of another sweep (${ds})`);
    const dopt = difference(ref.options, f.options);
    if (dopt) throw other(`of a sweep with other options (--${dopt.replace(/ is undefined,/, ' is not given,').replace(/, not undefined$/, ', not given')})`);
    if (f.shard.count !== ref.shard.count) throw other(`shard ${f.shard.index}/${f.shard.count}: of a split into ${f.shard.count} shards, not ${ref.shard.count},`);
    if (f.planned !== ref.planned || JSON.stringify(f.all?.plan) !== JSON.stringify(ref.all?.plan)) throw other(`with another work list (${f.planned} items, not ${ref.planned}, or other outcome classes)`);
    const dup = byIndex.get(f.shard.index);
    if (dup !== undefined) {
      throw new InputError(dup === path ? `${path}: given twice: give each shard's file once`
        : `${path}: shard ${f.shard.index}/${f.shard.count} again (${dup} is that shard too): give each shard's file once`);
    }
    byIndex.set(f.shard.index, path);
  }
  const n = ref.shard.count;
  const missing = Array.from({ length: n }, (_, i) => i + 1).filter((k) => !byIndex.has(k));
  if (missing.length) {
    const named = missing.slice(0, 10).map((k) => `${k}/${n}`).join(', ') + (missing.length > 10 ? ` and ${missing.length - 10} more` : '');
    throw new InputError(`${missing.length === 1 ? 'shard' : 'shards'} ${named} of ${ref.scenario.file} (${ref.sweep.kind}) ${missing.length === 1 ? 'is' : 'are'} missing: `
      + `got ${files.length} of ${n} shard files (${[...byIndex.keys()].sort((a, b) => a - b).map((k) => `${k}/${n}`).join(', ')})`);
  }
  const merged: Merged = { kind: ref.sweep.kind, file: ref.scenario.file, config: ref.config, sweep: ref.sweep, shards: n,
    seconds: files.reduce((s, x) => s + x.f.seconds, 0), options: ref.options };
  if (ref.all) {
    merged.all = assembleAll(ref.all.plan, files.flatMap((x) => x.f.all!.runs));
  } else {
    const runs = files.flatMap((x) => x.f.explore!.runs);
    // The unsharded sweep shrinks its first failure; so did the shard that ran it (each shard shrinks its own first).
    const firstFailing = runs.filter((r) => r.outcome !== 'ok').sort((a, b) => a.index - b.index)[0];
    const owner = firstFailing && files.find((x) => x.f.explore!.runs.includes(firstFailing))!.f;
    merged.explore = summarizeExplore(runs, ref.planned, owner?.explore!.shrunk ?? undefined);
  }
  return merged;
}
