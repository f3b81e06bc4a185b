// The `vrange` command.
//
//   vrange run FILE [--policy P] [--access sigbus|zero] [--purge-unit range|page] [--frames N]
//                   [--seed N] [--schedule lockstep|free] [--json] [--trace FILE] [--html FILE]
//   vrange list [DIR]
//
// Exit codes: 0 every expectation and invariant held; 1 one failed; 2 the file or the arguments
// are wrong (nothing was run).

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadScenario, ScenarioError, LIMITS } from '../shared/scenario.js';
import { POLICIES, type RunConfig, type Scenario } from '../shared/scenario-types.js';
import { runScenario } from './run.js';
import { runTimeoutMaxMs } from '../shared/limits.js';
import { replayChooser } from './scheduler.js';
import { footer, header } from './report.js';
import { renderHtml } from './html.js';
import { FaultError, parseFault, type Fault } from './faults.js';
import { explore, exploreRunsMax } from './explore.js';
import { exploreAll, formatAll, writeWitnessPages } from './explore_all.js';
import { schedulesMaxCeiling, schedulesMaxDefault, TooManySchedules } from './enumerate.js';
import { checkHistory, formatCheck, HistoryFormatError, parseHistory } from './check.js';
import { REMOTE_USAGE, agentCommand, kernelCommand, keygenCommand } from './remote_cli.js';
import { KeyError } from '../shared/keys.js';
import { compareCommand } from './compare.js';
import { quizCommand } from './quiz.js';

export class UsageError extends Error {}

const USAGE = `usage:
  vrange run FILE [--policy shared-file|per-mm|anon-only] [--access sigbus|zero]
                  [--purge-unit range|page] [--frames N] [--seed N]
                  [--schedule lockstep|free] [--json] [--trace FILE] [--html FILE]
                  [--fault kill:P@N|kill:P@N+|kill:reclaim|pause:P@N:MS|random:kill=R,pause=R]...
                  [--check-model] [--choices A,B,kernel,commit,... | --schedule-file W]
                  [--timeout MS]  the run's time bound (default: 120 s + 3 ms a step + 250 ms a process)
  vrange explore FILE [--runs N] [--fault SPEC]... [--seed BASE] [--policy P] [--schedule S]
                  [--every-kill] [--strict] [--no-shrink] [--check-determinism] [--json]
                             N runs with seeds from BASE, each history checked; the first
                             failure is shrunk to fewer faults and a shorter schedule
                  --every-kill  one run per kill:P@N and kill:P@N+ instead
                  --strict      with faults, the scenario's expectations count too
  vrange explore FILE --all [--policy P] [--max-schedules N] [--html OUT.html] [--json]
                             every lockstep schedule (reduced), grouped by outcome, with a
                             witness and a replay command per outcome
  vrange check HISTORY [--json]
                             check a --trace history offline: exit 0 valid, 1 invalid
  vrange compare FILE [--seed N] [--schedule S] [--access A] [--purge-unit U] [--frames N] [--json]
                             every policy, same seed: the steps whose result differs, and why
  vrange quiz [--seed S] [--answers]
                             a small scenario from the seed: what does each marked step return?
  vrange list [DIR]          list the scenarios in DIR (default: the bundled scenarios/)
${REMOTE_USAGE}
  vrange help`;

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const scenariosDir = join(packageRoot, 'scenarios');

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag}: "${value}" is not allowed; allowed: ${allowed.join(', ')}`);
  return value as T;
}

function wholeNumber(flag: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag}: "${value}" is not allowed; expected a whole number from ${min} to ${max}`);
  }
  return Number(value);
}

const runOptions = {
  policy: { type: 'string' }, access: { type: 'string' }, 'purge-unit': { type: 'string' }, frames: { type: 'string' },
  seed: { type: 'string' }, schedule: { type: 'string' }, json: { type: 'boolean' }, trace: { type: 'string' }, html: { type: 'string' },
  fault: { type: 'string', multiple: true }, 'check-model': { type: 'boolean' }, choices: { type: 'string' }, 'schedule-file': { type: 'string' },
  'every-kill': { type: 'boolean' }, strict: { type: 'boolean' }, all: { type: 'boolean' }, 'max-schedules': { type: 'string' }, 'no-shrink': { type: 'boolean' }, runs: { type: 'string' }, 'check-determinism': { type: 'boolean' },
  timeout: { type: 'string' },
} as const;

export interface RunCommand {
  file: string; scenario: Scenario; config: RunConfig; json: boolean; trace?: string; html?: string; faults: Fault[]; checkModel: boolean;
  /** `--timeout MS`: each run's wall-clock bound, instead of the one its scenario's size gives (shared/limits.ts runTimeoutFor). */
  timeoutMs?: number;
  /** Lockstep choices to replay (`--choices A,B,kernel` or `--schedule-file W`), instead of the seed's. */
  choices?: string[];
}

/** Longest choice list a `--choices`/`--schedule-file` may give (a run takes at most runStepsMax actions). */
export const choicesMax = 100_000;

/** Reads `--choices A,B,commit` or a schedule file: a JSON array of names, or one name per line. */
export function parseChoices(values: { choices?: string; 'schedule-file'?: string }, scenario: Scenario): string[] | undefined {
  if (values.choices !== undefined && values['schedule-file'] !== undefined) throw new UsageError('give --choices or --schedule-file, not both');
  let list: string[] | undefined;
  let where = '--choices';
  // `-` is the empty list: always the first enabled action.
  if (values.choices !== undefined) list = values.choices.split(',').map((x) => x.trim()).filter((x) => x !== '' && x !== '-');
  if (values['schedule-file'] !== undefined) {
    where = `--schedule-file ${values['schedule-file']}`;
    let text: string;
    try { text = readFileSync(values['schedule-file'], 'utf8'); } catch (e) { throw new UsageError(`${where}: cannot read it: ${(e as Error).message}`); }
    const trimmed = text.trim();
    if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
      let doc: unknown;
      try { doc = JSON.parse(trimmed); } catch (e) { throw new UsageError(`${where}: not JSON: ${(e as Error).message}`); }
      const arr = Array.isArray(doc) ? doc : (doc as { choices?: unknown }).choices;
      if (!Array.isArray(arr) || arr.some((x) => typeof x !== 'string')) throw new UsageError(`${where}: expected a JSON array of names, or {"choices": [...]}`);
      list = arr as string[];
    } else {
      list = trimmed.split('\n').map((x) => x.trim()).filter((x) => x !== '' && !x.startsWith('#'));
    }
  }
  if (list === undefined) return undefined;
  if (list.length > choicesMax) throw new UsageError(`${where}: ${list.length} choices; at most ${choicesMax} (choicesMax)`);
  const allowed = new Set(['kernel', 'commit', ...scenario.processes.map((p) => p.name)]);
  list.forEach((c, i) => {
    if (!allowed.has(c)) throw new UsageError(`${where}: choice ${i} is "${c}"; allowed: ${[...allowed].join(', ')}`);
  });
  return list;
}

/** Parses `run` (or `explore`) arguments and loads the scenario; throws UsageError or ScenarioError. */
export function parseRun(args: string[], command = 'run'): RunCommand & { runs: number; checkDeterminism: boolean; everyKill: boolean; strict: boolean; shrink: boolean; all: boolean; maxSchedules: number } {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: runOptions });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (command === 'run' && (values.runs !== undefined || values['check-determinism'])) throw new UsageError('--runs and --check-determinism go with explore, not run');
  if (positionals.length !== 1) throw new UsageError(`run takes one scenario FILE, got ${positionals.length}`);
  const file = positionals[0]!;
  const policy = oneOf('policy', values.policy, POLICIES);
  const access = oneOf('access', values.access, ['sigbus', 'zero'] as const);
  const purgeUnit = oneOf('purge-unit', values['purge-unit'], ['range', 'page'] as const);
  const schedule = oneOf('schedule', values.schedule, ['lockstep', 'free'] as const) ?? 'lockstep';
  const frames = wholeNumber('frames', values.frames, 1, LIMITS.framesMax);
  const seed = wholeNumber('seed', values.seed, 0, 2 ** 31 - 1) ?? Math.floor(Math.random() * 2 ** 31);
  const scenario = loadScenario(file);
  const config: RunConfig = {
    policy: policy ?? scenario.policy ?? 'shared-file',
    access: access ?? scenario.access ?? 'sigbus',
    purgeUnit: purgeUnit ?? scenario.purgeUnit ?? 'range',
    frames: frames ?? scenario.memory.frames,
    seed, schedule,
  };
  const faults = (values.fault ?? []).map((f) => parseFault(f, scenario));
  const runs = wholeNumber('runs', values.runs, 1, exploreRunsMax) ?? 100;
  const choices = parseChoices(values, scenario);
  if (choices && schedule !== 'lockstep') throw new UsageError('--choices and --schedule-file replay a lockstep schedule; they do not go with --schedule free');
  if (command === 'run' && (values['every-kill'] || values.strict || values['no-shrink'] || values.all || values['max-schedules'] !== undefined)) {
    throw new UsageError('--every-kill, --strict, --no-shrink, --all and --max-schedules go with explore, not run');
  }
  if (values.all && (schedule !== 'lockstep' || values.fault?.length || values['every-kill'] || choices)) {
    throw new UsageError('--all enumerates lockstep schedules without faults: it does not go with --schedule free, --fault, --every-kill or --choices');
  }
  return { file, scenario, config, json: values.json ?? false, trace: values.trace, html: values.html, faults,
    timeoutMs: wholeNumber('timeout', values.timeout, 1, runTimeoutMaxMs),
    checkModel: values['check-model'] ?? false, runs, checkDeterminism: values['check-determinism'] ?? false, choices,
    everyKill: values['every-kill'] ?? false, strict: values.strict ?? false, shrink: !(values['no-shrink'] ?? false),
    all: values.all ?? false, maxSchedules: wholeNumber('max-schedules', values['max-schedules'], 1, schedulesMaxCeiling) ?? schedulesMaxDefault };
}

export function reproduce(file: string, c: RunConfig, faults: Array<{ spec: string }> = [], choices?: readonly string[]): string {
  return `vrange run ${file} --seed ${c.seed} --policy ${c.policy} --access ${c.access} --purge-unit ${c.purgeUnit} --frames ${c.frames} --schedule ${c.schedule}`
    + faults.map((f) => ` --fault ${f.spec}`).join('') + (choices ? ` --choices ${choices.length ? choices.join(',') : '-'}` : '');
}

async function run(args: string[]): Promise<number> {
  const cmd = parseRun(args);
  const out = (line: string) => process.stdout.write(line + '\n');
  const narration: string[] = [];
  const say = (line: string) => { narration.push(line); if (!cmd.json) out(line); };
  const head = header(cmd.scenario, cmd.config);
  if (!cmd.json) head.forEach(out);
  const { report, history } = await runScenario(cmd.scenario, cmd.config, { trace: cmd.trace, narrate: say, faults: cmd.faults, checkModel: cmd.checkModel, timeoutMs: cmd.timeoutMs,
    chooser: cmd.choices ? replayChooser(cmd.choices) : undefined, pictures: cmd.html !== undefined });
  const foot = footer(report, reproduce(cmd.file, cmd.config, cmd.faults, cmd.choices));
  if (cmd.json) out(JSON.stringify(report, null, 2));
  else foot.forEach(out);
  if (cmd.html) writeFileSync(cmd.html, renderHtml(report, [...head, ...narration, ...foot], history, { description: cmd.scenario.description }));
  return report.ok ? 0 : 1;
}

async function exploreCommand(args: string[]): Promise<number> {
  const cmd = parseRun(args, 'explore');
  const tty = process.stderr.isTTY;
  const started = Date.now();
  const bar = (done: number, total: number) => {
    const width = 30;
    const filled = Math.round((done / total) * width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}`);
    if (done === total) process.stderr.write('\n');
  };
  if (cmd.all) {
    process.stdout.write(`explore --all ${cmd.file}: policy ${cmd.config.policy}, access ${cmd.config.access}, purge unit ${cmd.config.purgeUnit}, at most ${cmd.maxSchedules} schedules\n`);
    let result;
    try {
      result = await exploreAll(cmd.file, cmd.scenario, cmd.config, cmd.maxSchedules, tty ? bar : undefined);
    } catch (e) {
      if (e instanceof TooManySchedules) { process.stderr.write(`vrange: ${cmd.file}: ${e.message}\n`); return 2; }
      throw e;
    }
    if (cmd.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else process.stdout.write(formatAll(cmd.file, cmd.config, result).join('\n') + '\n');
    if (cmd.html) {
      const pages = await writeWitnessPages(cmd.html, cmd.scenario, cmd.config, result);
      if (!cmd.json) process.stdout.write(`pictures of the witnesses: ${pages.join(', ')}\n`);
    }
    if (!cmd.json) process.stdout.write(`${result.reduced} real runs in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return result.problems.length > 0 ? 1 : 0;
  }
  process.stdout.write(`explore ${cmd.file}: ${cmd.runs} run(s), seeds from ${cmd.config.seed}, policy ${cmd.config.policy}, schedule ${cmd.config.schedule}${cmd.faults.length ? `, faults ${cmd.faults.map((f) => f.spec).join(' ')}` : ''}\n`);
  const result = await explore({
    file: cmd.file, scenario: cmd.scenario, base: cmd.config, runs: cmd.runs, faultSpecs: cmd.faults.map((f) => f.spec),
    checkDeterminism: cmd.checkDeterminism, everyKill: cmd.everyKill, strict: cmd.strict, shrink: cmd.shrink, choices: cmd.choices, timeoutMs: cmd.timeoutMs,
    progress: tty ? (done, total) => {
      const width = 30;
      const filled = Math.round((done / total) * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}`);
      if (done === total) process.stderr.write('\n');
    } : undefined,
  });
  if (cmd.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  } else {
    process.stdout.write('outcome                                   runs\n');
    for (const [outcome, n] of Object.entries(result.counts)) process.stdout.write(`${outcome.padEnd(42)}${n}\n`);
    process.stdout.write(`faults injected: ${result.kills} kill(s), ${result.pauses} pause(s); ${result.historiesChecked} histories checked in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    for (const r of result.failing) {
      process.stdout.write(`FAILED seed ${r.seed} (${r.outcome}): ${r.repro}\n`);
      for (const v of r.violations.slice(0, 3)) process.stdout.write(`    ${v}\n`);
    }
    const sh = result.shrunk;
    if (sh && sh.reproduced) {
      process.stdout.write(`shrunk the first failure in ${sh.runs} run(s): ${sh.before.faults.length} fault(s) injected -> ${sh.after.faults.length} [${sh.after.faults.join(' ')}], `
        + `${sh.before.choices} schedule choices -> ${sh.after.choices.length}; still broken: ${sh.broken.join(', ')}\n  ${sh.repro}\n`);
    } else if (sh) {
      process.stdout.write(`could not shrink the first failure: its fixed replay did not fail again (${sh.runs} run); reproduce it with the seed above\n`);
    }
  }
  return result.failing.length > 0 ? 1 : 0;
}

function check(args: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: { json: { type: 'boolean' } } });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.positionals.length !== 1) throw new UsageError(`check takes one HISTORY file (written by vrange run --trace), got ${parsed.positionals.length}`);
  const file = parsed.positionals[0]!;
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw new UsageError(`check: cannot read ${file}: ${(e as Error).message}`); }
  const result = checkHistory(parseHistory(text, file));
  if (parsed.values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else process.stdout.write(formatCheck(file, result).join('\n') + '\n');
  return result.ok ? 0 : 1;
}

function list(args: string[]): number {
  if (args.length > 1) throw new UsageError('list takes at most one DIR');
  const dir = args[0] ?? scenariosDir;
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
  const rows: string[] = [];
  for (const f of files) {
    const path = join(dir, f);
    try {
      const s = loadScenario(path);
      const first = s.description.trim().split('\n')[0] ?? '';
      rows.push(`${s.name.padEnd(32)} ${relative(process.cwd(), path) || path}\n    ${first}`);
    } catch (e) {
      rows.push(`${f.padEnd(32)} INVALID: ${(e as Error).message}`);
    }
  }
  process.stdout.write(rows.join('\n') + '\n');
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run': return await run(rest);
      case 'list': return list(rest);
      case 'explore': return await exploreCommand(rest);
      case 'check': return check(rest);
      case 'compare': return await compareCommand(rest);
      case 'quiz': return await quizCommand(rest);
      case 'kernel': return await kernelCommand(rest);
      case 'agent': return await agentCommand(rest);
      case 'keygen': return keygenCommand(rest);
      case 'help': case '--help': case '-h': case undefined:
        process.stdout.write(USAGE + '\n');
        return command === undefined ? 2 : 0;
      default: throw new UsageError(`unknown command "${command}"; allowed: run, explore, check, compare, quiz, list, kernel, agent, keygen, help`);
    }
  } catch (e) {
    if (e instanceof ScenarioError) { process.stderr.write(`vrange: ${e.message}\n`); return 2; }
    if (e instanceof HistoryFormatError) { process.stderr.write(`vrange: ${e.message}\n`); return 2; }
    if (e instanceof FaultError || e instanceof KeyError) { process.stderr.write(`vrange: ${e.message}\n`); return 2; }
    if (e instanceof UsageError) { process.stderr.write(`vrange: ${e.message}\n${USAGE}\n`); return 2; }
    throw e;
  }
}
