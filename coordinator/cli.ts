// The `vrange` command.
//
//   vrange run FILE [--policy P] [--access sigbus|zero] [--purge-unit range|page] [--frames N]
//                   [--seed N] [--schedule lockstep|free] [--json] [--trace FILE] [--html FILE]
//   vrange list [DIR]
//
// Exit codes: 0 every expectation and invariant held; 1 one failed; 2 the file or the arguments
// are wrong (nothing was run).

import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadScenario, ScenarioError, LIMITS } from '../shared/scenario.js';
import { POLICIES, type RunConfig, type Scenario } from '../shared/scenario-types.js';
import { runScenario } from './run.js';
import { footer, header } from './report.js';
import { renderHtml } from './html.js';
import { FaultError, parseFault, type Fault } from './faults.js';
import { explore, exploreRunsMax } from './explore.js';
import { compareCommand } from './compare.js';
import { quizCommand } from './quiz.js';

export class UsageError extends Error {}

const USAGE = `usage:
  vrange run FILE [--policy shared-file|per-mm|anon-only] [--access sigbus|zero]
                  [--purge-unit range|page] [--frames N] [--seed N]
                  [--schedule lockstep|free] [--json] [--trace FILE] [--html FILE]
                  [--fault kill:P@N|kill:P@N+|kill:reclaim|pause:P@N:MS|random:kill=R,pause=R]...
                  [--check-model]
  vrange explore FILE [--runs N] [--fault SPEC]... [--seed BASE] [--policy P] [--schedule S]
                  [--check-determinism] [--json]
                             N runs with seeds from BASE, each history checked
  vrange compare FILE [--seed N] [--schedule S] [--access A] [--purge-unit U] [--frames N] [--json]
                             every policy, same seed: the steps whose result differs, and why
  vrange quiz [--seed S] [--answers]
                             a small scenario from the seed: what does each marked step return?
  vrange list [DIR]          list the scenarios in DIR (default: the bundled scenarios/)
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
  fault: { type: 'string', multiple: true }, 'check-model': { type: 'boolean' }, runs: { type: 'string' }, 'check-determinism': { type: 'boolean' },
} as const;

export interface RunCommand { file: string; scenario: Scenario; config: RunConfig; json: boolean; trace?: string; html?: string; faults: Fault[]; checkModel: boolean }

/** Parses `run` (or `explore`) arguments and loads the scenario; throws UsageError or ScenarioError. */
export function parseRun(args: string[], command = 'run'): RunCommand & { runs: number; checkDeterminism: boolean } {
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
  return { file, scenario, config, json: values.json ?? false, trace: values.trace, html: values.html, faults,
    checkModel: values['check-model'] ?? false, runs, checkDeterminism: values['check-determinism'] ?? false };
}

export function reproduce(file: string, c: RunConfig, faults: Fault[] = []): string {
  return `vrange run ${file} --seed ${c.seed} --policy ${c.policy} --access ${c.access} --purge-unit ${c.purgeUnit} --frames ${c.frames} --schedule ${c.schedule}`
    + faults.map((f) => ` --fault ${f.spec}`).join('');
}

async function run(args: string[]): Promise<number> {
  const cmd = parseRun(args);
  const out = (line: string) => process.stdout.write(line + '\n');
  const narration: string[] = [];
  const say = (line: string) => { narration.push(line); if (!cmd.json) out(line); };
  const head = header(cmd.scenario, cmd.config);
  if (!cmd.json) head.forEach(out);
  const { report, history } = await runScenario(cmd.scenario, cmd.config, { trace: cmd.trace, narrate: say, faults: cmd.faults, checkModel: cmd.checkModel });
  const foot = footer(report, reproduce(cmd.file, cmd.config, cmd.faults));
  if (cmd.json) out(JSON.stringify(report, null, 2));
  else foot.forEach(out);
  if (cmd.html) writeFileSync(cmd.html, renderHtml(report, [...head, ...narration, ...foot], history));
  return report.ok ? 0 : 1;
}

async function exploreCommand(args: string[]): Promise<number> {
  const cmd = parseRun(args, 'explore');
  const tty = process.stderr.isTTY;
  const started = Date.now();
  process.stdout.write(`explore ${cmd.file}: ${cmd.runs} run(s), seeds from ${cmd.config.seed}, policy ${cmd.config.policy}, schedule ${cmd.config.schedule}${cmd.faults.length ? `, faults ${cmd.faults.map((f) => f.spec).join(' ')}` : ''}\n`);
  const result = await explore({
    file: cmd.file, scenario: cmd.scenario, base: cmd.config, runs: cmd.runs, faultSpecs: cmd.faults.map((f) => f.spec),
    checkDeterminism: cmd.checkDeterminism,
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
    process.stdout.write(`faults injected: ${result.kills} kill(s), ${result.pauses} pause(s); ${cmd.runs} histories checked in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    for (const r of result.failing) process.stdout.write(`FAILED seed ${r.seed} (${r.outcome}): ${r.repro}\n`);
  }
  return result.failing.length > 0 ? 1 : 0;
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
      case 'compare': return await compareCommand(rest);
      case 'quiz': return await quizCommand(rest);
      case 'help': case '--help': case '-h': case undefined:
        process.stdout.write(USAGE + '\n');
        return command === undefined ? 2 : 0;
      default: throw new UsageError(`unknown command "${command}"; allowed: run, explore, compare, quiz, list, help`);
    }
  } catch (e) {
    if (e instanceof ScenarioError) { process.stderr.write(`vrange: ${e.message}\n`); return 2; }
    if (e instanceof FaultError) { process.stderr.write(`vrange: ${e.message}\n`); return 2; }
    if (e instanceof UsageError) { process.stderr.write(`vrange: ${e.message}\n${USAGE}\n`); return 2; }
    throw e;
  }
}
