// `vrange explore ... --shard K/N` (one part of a sweep, its result file written) and
// `vrange merge FILES...` (the parts combined into what the unsharded sweep prints, with its exit
// code). harness/shard.ts holds the file format and the merge; docs/sharding.md tells how to run
// the shards as a CI matrix or a Kubernetes Indexed Job.

import { pctDepthDefault, type SchedulerSpec } from '../harness/pct.js';
import { parseCommandArgs, UsageError } from '../shared/args.js';
import { readInputText, writeOutput } from '../shared/files.js';
import { scenarioFileBytesMax, shardsMax } from '../shared/limits.js';
import type { RunConfig } from '../shared/scenario-types.js';
import type { parseRun } from '../harness/command.js';
import { explore, explorePlans, formatExplore } from '../harness/explore.js';
import { assembleAll, exploreAllRuns, formatAll } from '../harness/explore_all.js';
import { TooManySchedules } from '../harness/enumerate.js';
import { partSize } from '../harness/shard_select.js';
import { allShardFile, exploreShardFile, mergeShards, sha256, shardFileText, type ShardHead, type Sweep } from '../harness/shard.js';
import { messageLine, terminalLine, terminalLines, printableJson } from '../shared/printable.js';

type Explore = ReturnType<typeof parseRun>;

/** The line explore prints before its runs (also `vrange merge`'s first line), safe for a terminal (the FILE is the user's). */
export function sweepHeading(file: string, c: RunConfig, sweep: Sweep, planned: number,
  how: Pick<Explore, 'countSchedules' | 'scheduler'>): string {
  return terminalLine(sweepHeadingText(file, c, sweep, planned, how));
}

function sweepHeadingText(file: string, c: RunConfig, sweep: Sweep, planned: number,
  how: Pick<Explore, 'countSchedules' | 'scheduler'>): string {
  // A shard file keeps the options as given: --scheduler, --depth and --count-schedules among them (howOf).
  if (sweep.kind === 'all') return `explore --all ${file}: policy ${c.policy}, access ${c.access}, purge unit ${c.purgeUnit}, at most ${sweep.maxSchedules} traces${how.countSchedules ? ', every schedule counted' : ''}${sweep.classesBy === 'all' ? ', classes by every step' : ''}`;
  return `explore ${file}: ${sweep.kind === 'kills' ? `${planned} run(s), one per kill point, seed ${c.seed}` : `${sweep.runs} run(s), seeds from ${c.seed}`}, `
    + `policy ${c.policy}, schedule ${c.schedule}${how.scheduler.name === 'pct' ? `, scheduler pct depth ${how.scheduler.depth}` : ''}${sweep.faults.length ? `, faults ${sweep.faults.join(' ')}` : ''}`;
}

/** --scheduler, --depth and --count-schedules as a shard file's options give them. */
function howOf(options: Record<string, string | string[] | boolean>): Pick<Explore, 'countSchedules' | 'scheduler'> {
  const scheduler: SchedulerSpec = options.scheduler === 'pct'
    ? { name: 'pct', depth: typeof options.depth === 'string' ? Number(options.depth) : pctDepthDefault } : { name: 'uniform' };
  return { countSchedules: options['count-schedules'] === true, scheduler };
}

export function sweepOf(cmd: Explore): Sweep {
  const kind = cmd.all ? 'all' : cmd.everyKill ? 'kills' : 'seeds';
  return { kind, runs: kind === 'seeds' ? cmd.runs : null, faults: cmd.faults.map((f) => f.spec), strict: cmd.strict, shrink: cmd.shrink,
    checkDeterminism: cmd.checkDeterminism, choices: cmd.choices ?? null, timeoutMs: cmd.timeoutMs ?? null, maxSchedules: kind === 'all' ? cmd.maxSchedules : null,
    classesBy: kind === 'all' ? cmd.classesBy : null };
}

const stoppedNote = (k: number, n: number) => `vrange: shard ${k}/${n} was stopped: no result file written (a part with runs missing cannot be merged); run the shard again\n`;

/** `vrange explore ... --shard K/N`: exit 0 or 1 by this part's runs alone (the whole verdict is `vrange merge`'s), 2 for bad input. */
export async function exploreShard(cmd: Explore, progress?: (done: number, total: number) => void): Promise<number> {
  const started = Date.now();
  const shard = cmd.shard!;
  const out = cmd.out!;
  const say = (line: string) => (cmd.json ? process.stderr : process.stdout).write(terminalLine(line) + '\n');
  const sweep = sweepOf(cmd);
  const scenario = { file: cmd.file, sha256: sha256(readInputText(cmd.file, 'the scenario FILE', scenarioFileBytesMax)) };
  const head = (planned: number): ShardHead => ({ shard, scenario, config: cmd.config, sweep, options: cmd.options, planned, seconds: (Date.now() - started) / 1000 });
  const part = (planned: number) => `shard ${shard.index}/${shard.count}: ${partSize(planned, shard)} of the ${planned} ${sweep.kind === 'all' ? 'reduced schedules' : 'runs'} (those whose 0-based number i has i mod ${shard.count} = ${shard.index - 1})`;
  if (sweep.kind === 'all') {
    say(sweepHeading(cmd.file, cmd.config, sweep, 0, cmd));
    let r;
    try {
      r = await exploreAllRuns(cmd.file, cmd.scenario, cmd.config, cmd.maxSchedules, { progress, shard, countSchedules: cmd.countSchedules, classesBy: cmd.classesBy });
    } catch (e) {
      if (e instanceof TooManySchedules) { process.stderr.write(`${messageLine(`vrange: ${cmd.file}: ${e.message}`)}\n`); return 2; }
      throw e;
    }
    if (r.stopped) { process.stderr.write(stoppedNote(shard.index, shard.count)); return 1; }
    writeOutput(out, shardFileText(allShardFile(head(r.plan.reduced), r.plan, r.runs)));
    const mine = assembleAll(r.plan, r.runs, { partial: true });
    say(part(r.plan.reduced));
    if (cmd.json) process.stdout.write(printableJson(mine, 2) + '\n');
    else process.stdout.write(terminalLines(formatAll(cmd.file, cmd.config, mine)) + '\n');
    say(`${mine.ran} real runs in ${((Date.now() - started) / 1000).toFixed(1)} s; shard result: ${out} (vrange merge every shard's file for the whole sweep)`);
    return mine.problems.length > 0 ? 1 : 0;
  }
  const planned = explorePlans({ scenario: cmd.scenario, base: cmd.config, runs: cmd.runs, faultSpecs: sweep.faults, everyKill: cmd.everyKill }).length;
  say(sweepHeading(cmd.file, cmd.config, sweep, planned, cmd));
  say(part(planned));
  const result = await explore({
    file: cmd.file, scenario: cmd.scenario, base: cmd.config, runs: cmd.runs, faultSpecs: sweep.faults, shard,
    checkDeterminism: cmd.checkDeterminism, everyKill: cmd.everyKill, strict: cmd.strict, shrink: cmd.shrink, choices: cmd.choices, timeoutMs: cmd.timeoutMs, progress,
    scheduler: cmd.scheduler,
  });
  if (result.interrupted) { process.stderr.write(stoppedNote(shard.index, shard.count)); return 1; }
  writeOutput(out, shardFileText(exploreShardFile(head(planned), result)));
  if (cmd.json) process.stdout.write(printableJson(result, 2) + '\n');
  else process.stdout.write(terminalLines(formatExplore(result, (Date.now() - started) / 1000)) + '\n');
  say(`shard result: ${out} (vrange merge every shard's file for the whole sweep)`);
  return result.failing.length > 0 ? 1 : 0;
}

/** `vrange merge FILES... [--json]`: what the unsharded sweep prints, and its exit code. */
export function mergeCommand(args: string[]): number {
  const { values, positionals } = parseCommandArgs('merge', args, { json: { type: 'boolean' } });
  if (positionals.length === 0) throw new UsageError('merge takes the shard result FILEs that explore --shard K/N wrote, got none');
  if (positionals.length > shardsMax) throw new UsageError(`merge takes at most ${shardsMax} shard result FILEs, got ${positionals.length}`);
  const m = mergeShards(positionals);
  const say = (line: string) => (values.json ? process.stderr : process.stdout).write(terminalLine(line) + '\n');
  const planned = m.all?.reduced ?? m.explore!.planned;
  say(sweepHeading(m.file, m.config, m.sweep, planned, howOf(m.options)));
  if (m.all) {
    if (values.json) process.stdout.write(printableJson(m.all, 2) + '\n');
    else process.stdout.write(terminalLines(formatAll(m.file, m.config, m.all)) + '\n');
    say(`${m.all.reduced} real runs in ${m.seconds.toFixed(1)} s (the ${m.shards} shards' times added up)`);
    return m.all.problems.length > 0 ? 1 : 0;
  }
  const result = m.explore!;
  if (values.json) process.stdout.write(printableJson(result, 2) + '\n');
  else process.stdout.write(terminalLines(formatExplore(result, m.seconds)) + '\n');
  say(`merged ${m.shards} shards; the time is theirs added up`);
  return result.failing.length > 0 ? 1 : 0;
}
