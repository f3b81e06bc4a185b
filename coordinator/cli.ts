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

export class UsageError extends Error {}

const USAGE = `usage:
  vrange run FILE [--policy shared-file|per-mm|anon-only] [--access sigbus|zero]
                  [--purge-unit range|page] [--frames N] [--seed N]
                  [--schedule lockstep|free] [--json] [--trace FILE] [--html FILE]
                  [--fault kill:P@N|kill:P@N+|kill:reclaim|pause:P@N:MS|random:kill=R,pause=R]...
                  [--check-model]
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

export interface RunCommand { file: string; scenario: Scenario; config: RunConfig; json: boolean; trace?: string; html?: string; faults: Fault[]; checkModel: boolean }

/** Parses `run` arguments and loads the scenario; throws UsageError or ScenarioError. */
export function parseRun(args: string[]): RunCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true, strict: true,
      options: {
        policy: { type: 'string' }, access: { type: 'string' }, 'purge-unit': { type: 'string' }, frames: { type: 'string' },
        seed: { type: 'string' }, schedule: { type: 'string' }, json: { type: 'boolean' }, trace: { type: 'string' }, html: { type: 'string' },
        fault: { type: 'string', multiple: true }, 'check-model': { type: 'boolean' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
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
  return { file, scenario, config, json: values.json ?? false, trace: values.trace, html: values.html, faults, checkModel: values['check-model'] ?? false };
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
      case 'help': case '--help': case '-h': case undefined:
        process.stdout.write(USAGE + '\n');
        return command === undefined ? 2 : 0;
      default: throw new UsageError(`unknown command "${command}"; allowed: run, list, help`);
    }
  } catch (e) {
    if (e instanceof ScenarioError) { process.stderr.write(`vrange: ${e.message}\n`); return 2; }
    if (e instanceof FaultError) { process.stderr.write(`vrange: ${e.message}\n`); return 2; }
    if (e instanceof UsageError) { process.stderr.write(`vrange: ${e.message}\n${USAGE}\n`); return 2; }
    throw e;
  }
}
