// The run command's arguments, shared by every tool that runs a scenario (run, explore, compare,
// `vrange kernel`): the option table, the parse into a scenario and a RunConfig, the lockstep
// choices, and the `vrange run ...` line that reproduces a run. The CLI (cli/) calls these; the
// tools import them from here, never from cli/ (no import cycle).

import { realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario, LIMITS } from '../shared/scenario.js';
import { checkOutputPath, readInputText } from '../shared/files.js';
import { reproducibleFile } from '../shared/scenario_copy.js';
import { parseChoiceToken } from '../shared/kernel_name.js';
import { jsonMistake } from '../shared/scenario_text.js';
import { exploreRunsMax, pctDepthMax, runTimeoutMaxMs, scheduleFileBytesMax, schedulesMaxCeiling, schedulesMaxDefault, seedMax } from '../shared/limits.js';
import { didYouMean } from '../shared/suggest.js';
import { runConfigFor } from '../shared/run_config.js';
import { oneOfValue, parseCommandArgs, UsageError, wholeValue, type OptionTable } from '../shared/args.js';
import { POLICIES, type RunConfig, type Scenario } from '../shared/scenario-types.js';
import { parseFault, type Fault } from './faults.js';
import { defaultShardOut, parseShard, shardValue, type Shard } from './shard_select.js';
import { pctDepthDefault, SCHEDULERS, type SchedulerSpec } from './pct.js';
import { CLASSES_BY, type ClassesBy } from './enumerate.js';

export { UsageError };

/** The path with every link resolved, or as given when it does not exist yet. */
function realOrSelf(p: string): string {
  try { return realpathSync(p); } catch { return resolve(p); }
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const scenariosDir = join(packageRoot, 'scenarios');

const R = 'run', E = 'explore', C = 'compare';

/** The options of run, explore and compare (and of `vrange kernel`, which parses as run). */
export const runOptions = {
  policy: { type: 'string', value: `one of ${POLICIES.join(', ')}`, commands: [R, E] },
  access: { type: 'string', value: 'sigbus or zero', commands: [R, E, C] },
  'purge-unit': { type: 'string', value: 'range or page', commands: [R, E, C] },
  frames: { type: 'string', value: `a whole number from 1 to ${LIMITS.framesMax}`, commands: [R, E, C] },
  seed: { type: 'string', value: `a whole number from 0 to ${seedMax}`, commands: [R, E, C] },
  schedule: { type: 'string', value: 'lockstep or free', commands: [R, E, C] },
  json: { type: 'boolean', commands: [R, E, C] },
  quiet: { type: 'boolean', commands: [R] },
  trace: { type: 'string', value: 'a file to write the history to', commands: [R] },
  html: { type: 'string', value: 'a file to write the picture to', commands: [R, E] },
  fault: { type: 'string', multiple: true, value: 'kill:P@N, kill:P@N+, kill:reclaim, pause:P@N:MS or random:kill=R,pause=P', commands: [R, E, C] },
  'check-model': { type: 'boolean', commands: [R] },
  choices: { type: 'string', value: 'a comma-separated list of process names, kernel and commit', commands: [R, E] },
  'schedule-file': { type: 'string', value: 'a file of choices (a JSON list, or one name a line)', commands: [R, E] },
  scheduler: { type: 'string', value: 'uniform or pct', commands: [R, E] },
  depth: { type: 'string', value: () => `a whole number from 1 to ${pctDepthMax}`, commands: [R, E] },
  'every-kill': { type: 'boolean', commands: [E] },
  strict: { type: 'boolean', commands: [E] },
  all: { type: 'boolean', commands: [E] },
  'max-schedules': { type: 'string', value: () => `a whole number from 1 to ${schedulesMaxCeiling}`, commands: [E] },
  'count-schedules': { type: 'boolean', commands: [E] },
  'classes-by': { type: 'string', value: `one of ${CLASSES_BY.join(', ')}`, commands: [E] },
  'no-shrink': { type: 'boolean', commands: [E] },
  runs: { type: 'string', value: () => `a whole number from 1 to ${exploreRunsMax}`, commands: [E] },
  'check-determinism': { type: 'boolean', commands: [E] },
  timeout: { type: 'string', value: () => `a whole number of milliseconds from 1 to ${runTimeoutMaxMs}`, commands: [R, E] },
  shard: { type: 'string', value: shardValue, commands: [E] },
  out: { type: 'string', value: 'a file to write the shard result to', commands: [E] },
} as const satisfies OptionTable;

export interface RunCommand {
  file: string; scenario: Scenario; config: RunConfig; json: boolean; quiet: boolean; trace?: string; html?: string; faults: Fault[]; checkModel: boolean;
  /** `--timeout MS`: each run's wall-clock bound, instead of the one its scenario's size gives (shared/limits.ts runTimeoutFor). */
  timeoutMs?: number;
  /** Lockstep choices to replay (`--choices A,B,kernel` or `--schedule-file W`), instead of the seed's: scheduler actions (`@kernel`, `@commit`). */
  choices?: string[];
  /** `explore --shard K/N`: this part of the sweep only, its result written to `out` (harness/shard.ts). */
  shard?: Shard;
  out?: string;
  /** The options as given, but those that only say where and how to print (--shard, --out, --json): every shard of one sweep has the same. */
  options: Record<string, string | string[] | boolean>;
  /** `--scheduler`: who picks each lockstep choice from the seed (uniform, the default, or PCT with its depth). */
  scheduler: SchedulerSpec;
}

/** Longest choice list a `--choices`/`--schedule-file` may give (a run takes at most runStepsMax actions). */
export const choicesMax = 100_000;

/**
 * Reads `--choices A,B,commit` or a schedule file: a JSON array of names, or one name per line.
 * A mistake is placed as the user counts: `choice N` (from 1) of --choices and of a JSON list, and
 * `line L` of a file of lines (blank and `#` lines counted, as an editor shows them); JSON that does
 * not parse, by line and column.
 */
export function parseChoices(values: { choices?: string; 'schedule-file'?: string }, scenario: Scenario): string[] | undefined {
  if (values.choices !== undefined && values['schedule-file'] !== undefined) throw new UsageError('give --choices or --schedule-file, not both');
  let list: Array<{ name: string; at: string }> | undefined;
  let where = '--choices';
  // `-` is the empty list: always the first enabled action.
  if (values.choices !== undefined) {
    const parts = values.choices.split(',').map((x) => x.trim());
    if (values.choices.trim() === '-') list = [];
    else {
      const empty = parts.findIndex((x) => x === '' || x === '-');
      if (empty >= 0) throw new UsageError(`--choices: choice ${empty + 1} is empty; give names separated by commas (a process, kernel or commit), or - alone for none`);
      list = parts.map((name, i) => ({ name, at: `choice ${i + 1}` }));
    }
  }
  if (values['schedule-file'] !== undefined) {
    where = `--schedule-file ${values['schedule-file']}`;
    const text = readInputText(values['schedule-file'], '--schedule-file', scheduleFileBytesMax);
    const trimmed = text.trim();
    if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
      let doc: unknown;
      try { doc = JSON.parse(text); } catch (e) { throw new UsageError(`${where}: ${jsonMistake(text, e)}; expected a JSON array of names, or {"choices": [...]}`); }
      if (!Array.isArray(doc) && doc !== null && typeof doc === 'object') {
        const extra = Object.keys(doc).filter((k) => k !== 'choices');
        if (extra.length > 0) throw new UsageError(`${where}: unknown field ${JSON.stringify(extra[0]).slice(0, 60)}; the only field allowed is "choices"`);
      }
      const arr = Array.isArray(doc) ? doc : (doc as { choices?: unknown } | null)?.choices;
      if (!Array.isArray(arr)) throw new UsageError(`${where}: expected a JSON array of names, or {"choices": [...]}`);
      const notName = arr.findIndex((x) => typeof x !== 'string');
      if (notName >= 0) throw new UsageError(`${where}: choice ${notName + 1} is ${describeJson(arr[notName])}, not a name; expected a JSON array of names, or {"choices": [...]}`);
      list = (arr as string[]).map((name, i) => ({ name, at: `choice ${i + 1}` }));
    } else {
      list = text.split('\n').map((x, i) => ({ name: x.trim(), at: `line ${i + 1}` })).filter((x) => x.name !== '' && !x.name.startsWith('#'));
    }
  }
  if (list === undefined) return undefined;
  if (list.length > choicesMax) throw new UsageError(`${where}: ${list.length} choices; at most ${choicesMax}`);
  const processNames = scenario.processes.map((p) => p.name);
  const allowed = new Set(['kernel', 'commit', ...processNames, '@kernel', '@commit']);
  // `@kernel`/`@commit` always name the kernel's actions; the bare words only when no process has that name.
  return list.map(({ name, at }) => {
    const action = parseChoiceToken(name, processNames);
    if (action === undefined) throw new UsageError(`${where}: ${at} is ${JSON.stringify(name)}; allowed: ${[...allowed].join(', ')}${didYouMean(name, allowed)}`);
    return action;
  });
}

/** A JSON value named for a message: its type, and a short number or literal as written. */
function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `the ${typeof v} ${JSON.stringify(v).slice(0, 40)}`;
}

/**
 * Parses `run` (or `explore`, `compare`) arguments and loads the scenario; throws UsageError,
 * InputError or ScenarioError. Every argument is checked, and every output path, before a run.
 */
export function parseRun(args: string[], command = 'run'): RunCommand & { runs: number; checkDeterminism: boolean; everyKill: boolean; strict: boolean; shrink: boolean; all: boolean; maxSchedules: number; countSchedules: boolean; classesBy: ClassesBy } {
  const { values, positionals } = parseCommandArgs(command, args, runOptions);
  if (positionals.length !== 1) {
    throw new UsageError(`${command} takes one scenario FILE, got ${positionals.length}${positionals.length ? ` (${positionals.map((p) => JSON.stringify(p)).join(', ')})` : ''}`);
  }
  const file = positionals[0]!;
  const policy = oneOfValue('policy', values.policy, POLICIES);
  const access = oneOfValue('access', values.access, ['sigbus', 'zero'] as const);
  const purgeUnit = oneOfValue('purge-unit', values['purge-unit'], ['range', 'page'] as const);
  const schedule = oneOfValue('schedule', values.schedule, ['lockstep', 'free'] as const) ?? 'lockstep';
  const frames = wholeValue('frames', values.frames, 1, LIMITS.framesMax);
  const seed = wholeValue('seed', values.seed, 0, seedMax) ?? Math.floor(Math.random() * 2 ** 31);
  const runs = wholeValue('runs', values.runs, 1, exploreRunsMax) ?? 100;
  const classesBy = oneOfValue('classes-by', values['classes-by'], CLASSES_BY) ?? 'expected';
  const maxSchedules = wholeValue('max-schedules', values['max-schedules'], 1, schedulesMaxCeiling) ?? schedulesMaxDefault;
  if (values.choices !== undefined && values['schedule-file'] !== undefined) throw new UsageError('give --choices or --schedule-file, not both');
  if ((values.choices !== undefined || values['schedule-file'] !== undefined) && schedule !== 'lockstep') {
    throw new UsageError('--choices and --schedule-file replay a lockstep schedule; they do not go with --schedule free');
  }
  const schedulerName = oneOfValue('scheduler', values.scheduler, SCHEDULERS) ?? 'uniform';
  const depth = wholeValue('depth', values.depth, 1, pctDepthMax);
  if (depth !== undefined && schedulerName !== 'pct') throw new UsageError('--depth goes with --scheduler pct');
  if (schedulerName === 'pct') {
    if (schedule !== 'lockstep') throw new UsageError('--scheduler pct picks lockstep choices; it does not go with --schedule free');
    const replay = ['choices', 'schedule-file'].find((k) => values[k as keyof typeof values] !== undefined);
    if (replay) throw new UsageError(`--scheduler pct picks the choices from the seed; --${replay} gives them: give one or the other`);
  }
  const scheduler: SchedulerSpec = schedulerName === 'pct' ? { name: 'pct', depth: depth ?? pctDepthDefault } : { name: 'uniform' };
  if (values.all) {
    const other = ['fault', 'every-kill', 'choices', 'schedule-file', 'runs', 'strict', 'no-shrink', 'check-determinism', 'scheduler', 'depth'].find((k) => values[k as keyof typeof values] !== undefined);
    if (schedule !== 'lockstep' || other) {
      throw new UsageError(`--all enumerates lockstep schedules without faults: it does not go with ${other ? `--${other}` : '--schedule free'}`);
    }
  } else if (command === 'explore') {
    const other = ['max-schedules', 'count-schedules', 'classes-by', 'html'].find((k) => values[k as keyof typeof values] !== undefined);
    if (other) throw new UsageError(`--${other} goes with explore --all`);
  }
  const shard = parseShard(values.shard);
  if (values.out !== undefined && !shard) throw new UsageError('--out goes with --shard K/N (it names the shard result file)');
  if (shard && values.seed === undefined) throw new UsageError('--shard needs --seed BASE: every shard must compute the same work list, and without --seed each would draw its own');
  if (shard && values.html !== undefined) throw new UsageError('--html does not go with --shard: merge the shards (vrange merge), then draw a witness with its replay command and --html');
  const out = shard ? values.out ?? defaultShardOut(file, values.all ? 'all' : values['every-kill'] ? 'kills' : 'seeds', shard) : undefined;
  if (values.quiet && values.json) throw new UsageError('--quiet and --json: give one; --json already prints nothing but the JSON document');
  if (values.trace !== undefined) checkOutputPath(values.trace, '--trace');
  if (out !== undefined) checkOutputPath(out, '--out');
  if (values.html !== undefined) checkOutputPath(values.html, '--html');
  // An output never overwrites the scenario, a schedule file, or the other output.
  const same = (a: string, b: string) => resolve(a) === resolve(b) || (realOrSelf(a) === realOrSelf(b));
  const inputs: Array<[string, string]> = [['the scenario FILE', file], ...(values['schedule-file'] !== undefined ? [['--schedule-file', values['schedule-file']] as [string, string]] : [])];
  for (const [flag, target] of [['--trace', values.trace], ['--html', values.html], ['--out', out]] as Array<[string, string | undefined]>) {
    if (target === undefined) continue;
    for (const [what, input] of inputs) if (same(target, input)) throw new UsageError(`${flag} ${target}: is ${what}; the run would overwrite it: give another file`);
  }
  if (values.trace !== undefined && values.html !== undefined && same(values.trace, values.html)) {
    throw new UsageError(`--trace and --html name the same file (${values.html}): give each its own`);
  }
  const scenario = loadScenario(file);
  const config: RunConfig = runConfigFor(scenario, { policy, access, purgeUnit, frames, seed, schedule });
  const faults = (values.fault ?? []).map((f) => parseFault(f, scenario));
  const choices = parseChoices(values, scenario);
  return { file, scenario, config, json: values.json ?? false, quiet: values.quiet ?? false, trace: values.trace, html: values.html, faults,
    timeoutMs: wholeValue('timeout', values.timeout, 1, runTimeoutMaxMs),
    checkModel: values['check-model'] ?? false, scheduler, runs, checkDeterminism: values['check-determinism'] ?? false, choices,
    everyKill: values['every-kill'] ?? false, strict: values.strict ?? false, shrink: !(values['no-shrink'] ?? false),
    all: values.all ?? false, maxSchedules, classesBy, countSchedules: values['count-schedules'] ?? false, ...(shard ? { shard, out } : {}),
    options: Object.fromEntries(Object.entries(values).filter(([k]) => !['shard', 'out', 'json'].includes(k)).sort(([a], [b]) => (a < b ? -1 : 1))) };
}

/**
 * The `vrange run` line that gives this run again. `choices` are written as `--choices` takes them
 * (shared/kernel_name.ts choiceTokens: the scheduler's `@kernel` is `kernel` unless a process takes
 * that word). A replayed schedule needs no scheduler; PCT's seed does.
 */
export function reproduce(file: string, c: RunConfig, faults: Array<{ spec: string }> = [], choices?: readonly string[], scheduler?: SchedulerSpec, timeoutMs?: number): string {
  // A scenario read from /dev/stdin, or a file gone or changed since: a copy of the text that ran.
  return `vrange run ${reproducibleFile(file)} --seed ${c.seed} --policy ${c.policy} --access ${c.access} --purge-unit ${c.purgeUnit} --frames ${c.frames} --schedule ${c.schedule}`
    + faults.map((f) => ` --fault ${f.spec}`).join('') + (choices ? ` --choices ${choices.length ? choices.join(',') : '-'}`
    : scheduler?.name === 'pct' ? ` --scheduler pct --depth ${scheduler.depth}` : '')
    // A run past a bound it was given fails by it: the line reproduces that too.
    + (timeoutMs !== undefined ? ` --timeout ${timeoutMs}` : '');
}

