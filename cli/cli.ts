// The `vrange` command.
//
//   vrange run FILE [--policy P] [--access sigbus|zero] [--purge-unit range|page] [--frames N]
//                   [--seed N] [--schedule lockstep|free] [--json | --quiet] [--trace FILE] [--html FILE]
//   vrange list [DIR]
//   vrange help [COMMAND]        (or `vrange COMMAND --help`)
//
// Exit codes: 0 every expectation and invariant held; 1 one failed; 2 the file or the arguments
// are wrong (one line on stderr; nothing was run); 70 a bug in vrange (with the command to show it).

import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadScenario, ScenarioError, scenarioWarnings } from '../shared/scenario.js';
import { checkInputDir, InputError, readInputText, writeOutput } from '../shared/files.js';
import { historyFileBytesMax, interruptedOutputDrainMs } from '../shared/limits.js';
import { didYouMean } from '../shared/suggest.js';
import { messageLine, terminalLine, terminalLines, terminalText, printableJson } from '../shared/printable.js';
import { progressBar } from '../shared/progress.js';
import { parseCommandArgs, UsageError } from '../shared/args.js';
import { runScenario } from '../harness/run.js';
import { parseRun, reproduce, scenariosDir } from '../harness/command.js';
import { replayChooser } from '../harness/replay.js';
import { footer, header } from '../report/report.js';
import { renderHtml } from '../report/html.js';
import { summaryLines } from '../report/summary.js';
import { FaultError } from '../harness/faults.js';
import { everyKillSpec, explore, formatExplore } from '../harness/explore.js';
import { exploreAll, formatAll, writeWitnessPages } from '../harness/explore_all.js';
import { TooManySchedules, TooManyTraces } from '../harness/enumerate.js';
import { schedulerChooser } from '../harness/pct.js';
import { checkHistory, formatCheck, HistoryFormatError, parseHistory } from '../checker/check.js';
import { goalRunLines } from '../checker/goals.js';
import { REMOTE_USAGE, agentCommand, kernelCommand, keygenCommand } from './remote_cli.js';
import { KeyError } from '../shared/keys.js';
import { compareCommand } from '../harness/compare.js';
import { quizCommand } from '../harness/quiz.js';
import { installInterruptHandlers, interrupted, interruptExitCode, stopLine } from '../shared/lifecycle.js';
import { exploreShard, mergeCommand, sweepHeading, sweepOf } from './shard_cli.js';
import { PLAY_USAGE, playCommand } from './play_cli.js';
import { choiceTokens } from '../shared/kernel_name.js';
import { exitCodeLines } from './exit_codes.js';

export { UsageError };

const USAGE = `usage:
  vrange run FILE [--policy shared-file|per-mm|anon-only|madv-free] [--access sigbus|zero]
                  [--purge-unit range|page] [--frames N] [--seed N]
                  --policy madv-free  what Linux merged (MADV_FREE): private anonymous memory
                             only, no nonvolatile, a freed page reads ""; --access and
                             --purge-unit do not apply (docs/scenario-format.md)
                  [--schedule lockstep|free] [--json | --quiet] [--trace FILE] [--html FILE]
                  [--fault kill:P@N|kill:P@N+|kill:reclaim|pause:P@N:MS|random:kill=R,pause=P]...
                  random:   before each step, a kill with probability R and (drawn apart) a pause
                            with probability P, from --seed; when both fire, the kill wins
                  [--check-model] [--choices A,B,kernel,commit,... | --schedule-file W]
                  [--scheduler uniform|pct] [--depth D]
                  [--timeout MS]  the run's time bound (default: 120 s + 3 ms a step + 250 ms a process)
                  --quiet    a summary instead of a line per step: seed, counts by op and
                             result, purges, deaths, failures, verdict
                  --choices  the lockstep picks, one a step: a process's name, or the kernel's
                             kernel and commit (@kernel, @commit also when a process takes the word)
                  --scheduler   who picks each lockstep choice from the seed: uniform (default) or
                                pct (random thread priorities, D-1 change points; --depth D, default 3)
  vrange explore FILE [--runs N] [--fault SPEC]... [--seed BASE] [--policy P] [--schedule S]
                  [--every-kill] [--strict] [--no-shrink] [--check-determinism] [--json]
                  [--access A] [--purge-unit U] [--frames N] [--timeout MS]
                  [--scheduler uniform|pct] [--depth D]
                  [--choices A,B,... | --schedule-file W]  every run replays these choices
                             N runs with seeds from BASE, each history checked; the first
                             failure is shrunk to fewer faults and a shorter schedule
                  --every-kill  one run per kill:P@N and kill:P@N+ instead
                  --strict      with faults, the scenario's expectations count too
  vrange explore FILE --all [--policy P] [--max-schedules N] [--count-schedules] [--classes-by expected|all] [--html OUT.html] [--json]
                             one lockstep schedule per trace (optimal DPOR), each run on real
                             processes, grouped by outcome, with a witness and a replay command
                             per outcome; --max-schedules bounds the traces (and the count)
                  --count-schedules  also count every schedule, and the reduction's ratio
                  --classes-by all  classes by every step's result (default expected: the steps with an expect)
                  --shard K/N [--out FILE]  (with --seed BASE) run the K-th of N parts of the
                             sweep (seeds, kill points or the traces of --all: those whose
                             0-based number i has i mod N = K-1) and write its result to FILE
                             (default NAME.seeds|kills|all.shard-K-of-N.json); K, N <= 1024
  vrange merge FILES... [--json]
                             the shard result files of one sweep combined: the table, outcome
                             classes, witnesses and exit code of the unsharded sweep
  vrange check HISTORY [--json]
                             check a --trace history offline: exit 0 valid, 1 invalid, 2 not
                             a history (docs/history-format.md, What is not a history)
  vrange compare FILE [--seed N] [--schedule S] [--access A] [--purge-unit U] [--frames N] [--json]
                  [--fault SPEC]...
                             every policy, same seed: the steps whose result differs, and why
  vrange quiz [--seed S] [--answers]
                             a small scenario from the seed: what does each marked step return?
${PLAY_USAGE}
  vrange list [DIR]          list the scenarios in DIR (default: the bundled scenarios/)
${REMOTE_USAGE}
  vrange help [COMMAND]       the usage of one command (run, explore, check, ...), with its exit codes
every command exits 2 on bad arguments or input (nothing done) and 70 on a bug in vrange;
vrange help COMMAND (or vrange COMMAND --help) lists the command's other exit codes`;

/** The commands, in the order `vrange help` shows them. */
export const COMMANDS = ['run', 'explore', 'merge', 'check', 'compare', 'quiz', 'play', 'list', 'kernel', 'agent', 'keygen', 'help'] as const;

/** The lines of USAGE that describe `command` (every block that starts with `  vrange COMMAND`). */
export function usageOf(command: string): string {
  const blocks: string[][] = [];
  for (const line of USAGE.split('\n').slice(1)) {
    const m = /^ {2}vrange (\w+)/.exec(line);
    if (m) blocks.push([m[1]!, line]);
    else blocks.at(-1)?.push(line);
  }
  return ['usage:', ...blocks.filter((b) => b[0] === command).flatMap((b) => b.slice(1)), ...exitCodeLines(command)].join('\n');
}

async function run(args: string[]): Promise<number> {
  const cmd = parseRun(args);
  for (const w of scenarioWarnings(cmd.scenario)) process.stderr.write(`vrange: ${terminalLine(w)}\n`);
  const out = (line: string) => process.stdout.write(terminalLine(line) + '\n');
  const narration: string[] = [];
  const loud = !cmd.json && !cmd.quiet;
  const say = (line: string) => { narration.push(line); if (loud) out(line); };
  const head = header(cmd.scenario, cmd.config);
  if (loud) head.forEach(out);
  const reproLine = () => reproduce(cmd.file, cmd.config, cmd.faults, cmd.choices && choiceTokens(cmd.choices, cmd.scenario.processes.map((p) => p.name)), cmd.scheduler, cmd.timeoutMs);
  const { report, history } = await runScenario(cmd.scenario, cmd.config, { trace: cmd.trace, narrate: say, faults: cmd.faults, checkModel: cmd.checkModel, timeoutMs: cmd.timeoutMs,
    chooser: cmd.choices ? replayChooser(cmd.choices) : schedulerChooser(cmd.scheduler, cmd.config.seed, cmd.scenario), pictures: cmd.html !== undefined, repro: reproLine });
  // Made again: a scenario file removed or changed during the run is named by a copy of what ran.
  const repro = report.ok ? '' : reproLine();
  const foot = [...goalRunLines(cmd.scenario, report.steps), ...footer(report, repro)];
  if (cmd.json) process.stdout.write(printableJson(report, 2) + '\n');
  else if (cmd.quiet) summaryLines(report, history, head, repro).forEach(out);
  else foot.forEach(out);
  if (cmd.html) writeOutput(cmd.html, renderHtml(report, [...head, ...narration, ...foot], history, { description: cmd.scenario.description }));
  return report.ok ? 0 : 1;
}

async function exploreCommand(args: string[]): Promise<number> {
  const cmd = parseRun(args, 'explore');
  const tty = process.stderr.isTTY;
  const started = Date.now();
  const bar = (done: number, total: number) => { process.stderr.write(progressBar(done, total)); };
  if (cmd.shard) return exploreShard(cmd, tty ? bar : undefined);
  if (cmd.all) {
    (cmd.json ? process.stderr : process.stdout).write(sweepHeading(cmd.file, cmd.config, sweepOf(cmd), 0, cmd) + '\n');
    let result;
    try {
      result = await exploreAll(cmd.file, cmd.scenario, cmd.config, cmd.maxSchedules, { progress: tty ? bar : undefined, countSchedules: cmd.countSchedules, classesBy: cmd.classesBy });
    } catch (e) {
      if (e instanceof TooManySchedules || e instanceof TooManyTraces) { process.stderr.write(`${messageLine(`vrange: ${cmd.file}: ${e.message}`)}\n`); return 2; }
      throw e;
    }
    if (cmd.json) process.stdout.write(printableJson(result, 2) + '\n');
    else process.stdout.write(terminalLines(formatAll(cmd.file, cmd.config, result)) + '\n');
    if (cmd.html) {
      const pages = await writeWitnessPages(cmd.html, cmd.scenario, cmd.config, result);
      // Stopped: the pages written before the signal are whole; the others are not written.
      const stopped = interrupted();
      const rest = stopped ? (pages.length ? `; the other classes' pages were not written (stopped by ${stopped})` : `none written (stopped by ${stopped})`) : '';
      if (!cmd.json) process.stdout.write(terminalLine(`pictures of the witnesses: ${pages.join(', ')}${rest}`) + '\n');
    }
    if (!cmd.json) process.stdout.write(`${result.ran < result.reduced ? `${result.ran} of ` : ''}${result.reduced} real runs in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return result.problems.length > 0 ? 1 : 0;
  }
  // With --json, stdout is the one JSON document: the announcement goes to stderr.
  (cmd.json ? process.stderr : process.stdout).write(sweepHeading(cmd.file, cmd.config, sweepOf(cmd), everyKillSpec(cmd.scenario).length, cmd) + '\n');
  const result = await explore({
    file: cmd.file, scenario: cmd.scenario, base: cmd.config, runs: cmd.runs, faultSpecs: cmd.faults.map((f) => f.spec),
    checkDeterminism: cmd.checkDeterminism, everyKill: cmd.everyKill, strict: cmd.strict, shrink: cmd.shrink, choices: cmd.choices, timeoutMs: cmd.timeoutMs, scheduler: cmd.scheduler,
    progress: tty ? bar : undefined,
  });
  if (cmd.json) {
    process.stdout.write(printableJson(result, 2) + '\n');
  } else {
    process.stdout.write(terminalLines(formatExplore(result, (Date.now() - started) / 1000)) + '\n');
  }
  if (result.interrupted && !cmd.json) process.stdout.write(`INTERRUPTED by ${result.interrupted} after ${result.runs.length} of ${result.planned} run(s): the table counts the runs that ended; the run under way was stopped and is not counted\n`);
  return result.failing.length > 0 ? 1 : 0;
}

function check(args: string[]): number {
  const { values, positionals } = parseCommandArgs('check', args, { json: { type: 'boolean' } });
  if (positionals.length !== 1) throw new UsageError(`check takes one HISTORY file (written by vrange run --trace), got ${positionals.length}`);
  const file = positionals[0]!;
  const text = readInputText(file, 'check', historyFileBytesMax);
  const events = parseHistory(text, file); // HistoryFormatError: not a history, exit 2
  let result;
  try { result = checkHistory(events); } catch (e) {
    // A crash of the checker is its bug, never a verdict on the history: exit 3, not 1.
    process.stderr.write(`${terminalText(`vrange check: internal error (a bug in the checker, not a verdict on ${file}): ${(e as Error).stack ?? e}`)}\n${terminalLine(`reproduce: vrange check ${file}`)}\n`);
    return 3;
  }
  if (values.json) process.stdout.write(printableJson(result, 2) + '\n');
  else process.stdout.write(terminalLines(formatCheck(file, result)) + '\n');
  return result.ok ? 0 : 1;
}

function list(args: string[]): number {
  const { positionals } = parseCommandArgs('list', args, {});
  if (positionals.length > 1) throw new UsageError(`list takes at most one DIR, got ${positionals.length}`);
  const dir = positionals[0] ?? scenariosDir;
  checkInputDir(dir, 'list');
  const files = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
  // Each row is made of lines, each made safe alone: a file name with a newline stays in its row.
  const lines: string[] = [];
  for (const f of files) {
    const path = join(dir, f);
    try {
      const s = loadScenario(path);
      const first = s.description.trim().split('\n')[0] ?? '';
      lines.push(`${s.name.padEnd(32)} ${relative(process.cwd(), path) || path}`, `    ${first}`);
    } catch (e) {
      lines.push(`${f.padEnd(32)} INVALID: ${(e as Error).message}`);
    }
  }
  process.stdout.write(terminalLines(lines) + (lines.length ? '\n' : ''));
  return 0;
}

function help(args: string[]): number {
  const { positionals } = parseCommandArgs('help', args, {});
  if (positionals.length > 1) throw new UsageError(`help takes at most one COMMAND, got ${positionals.length}`);
  const topic = positionals[0];
  if (topic === undefined) { process.stdout.write(USAGE + '\n'); return 0; }
  if (!(COMMANDS as readonly string[]).includes(topic)) throw new UsageError(`no command "${topic}"; commands: ${COMMANDS.join(', ')}${didYouMean(topic, COMMANDS)}`);
  process.stdout.write(usageOf(topic) + '\n');
  return 0;
}

const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** The commands that start agents: SIGINT/SIGTERM stop their runs cleanly (shared/lifecycle.ts). */
const interruptible = new Set(['run', 'explore', 'compare', 'quiz', 'play', 'kernel']);

export async function main(argv: string[]): Promise<number> {
  if (interruptible.has(argv[0] ?? '')) installInterruptHandlers();
  const code = await dispatch(argv);
  // A command stopped by SIGINT/SIGTERM/SIGHUP has written what it could: exit 130/143/129, and at once (a
  // fault's pause timer of the stopped run must not keep the process alive; shared/lifecycle.ts).
  const signalled = interruptExitCode();
  if (signalled === undefined) return code;
  // A bug in vrange met while stopping is still a bug (its internal error is on stderr): 70, not
  // the signal's code, which would hide it.
  const stopped = code === 70 ? 70 : signalled;
  process.stderr.write(messageLine(stopLine(argv[0]!, argv.map(quote), stopped)!) + '\n');
  // process.exit drops what a pipe has not taken yet (a --json report beyond the pipe's 64 KB
  // buffer, to a reader slower than the command): exit once stdout and stderr have drained. (Once
  // an agent has started with the command's stdout and stderr, libuv has made those files blocking
  // and nothing is pending; a command stopped before that is not.)
  setImmediate(() => void drained([process.stdout, process.stderr], interruptedOutputDrainMs).then(() => process.exit(stopped)));
  return stopped;
}

/**
 * Resolves once every stream has handed all it holds to the OS (or is destroyed), or after `ms`.
 * Polled: 'drain' comes only after a write that filled the stream's buffer, not after every one.
 */
function drained(streams: NodeJS.WriteStream[], ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  const done = () => streams.every((s) => s.destroyed || s.writableLength === 0) || Date.now() >= deadline;
  return new Promise((resolve) => {
    if (done()) { resolve(); return; }
    const timer = setInterval(() => { if (done()) { clearInterval(timer); resolve(); } }, 5);
  });
}

async function dispatch(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    // `vrange CMD --help` is `vrange help CMD` (before any other check of CMD's arguments).
    const cut = rest.indexOf('--');
    if ((COMMANDS as readonly string[]).includes(command!) && (cut < 0 ? rest : rest.slice(0, cut)).some((a) => a === '--help' || a === '-h')) {
      process.stdout.write(usageOf(command!) + '\n');
      return 0;
    }
    switch (command) {
      case 'run': return await run(rest);
      case 'list': return list(rest);
      case 'explore': return await exploreCommand(rest);
      case 'merge': return mergeCommand(rest);
      case 'check': return check(rest);
      case 'compare': return await compareCommand(rest);
      case 'quiz': return await quizCommand(rest);
      case 'play': return await playCommand(rest);
      case 'kernel': return await kernelCommand(rest);
      case 'agent': return await agentCommand(rest);
      case 'keygen': return keygenCommand(rest);
      case 'help': return help(rest);
      case '--help': case '-h':
        process.stdout.write(USAGE + '\n');
        return 0;
      case undefined:
        // No command is an argument error like any other: one line on stderr, exit 2, stdout empty
        // (it printed the whole usage on stdout, with exit 2); `vrange help` and `vrange --help` print the usage, exit 0.
        throw new UsageError(`no command given; commands: ${COMMANDS.join(', ')}`);
      default: throw new UsageError(`unknown command "${command}"; commands: ${COMMANDS.join(', ')}${didYouMean(command, COMMANDS)}`);
    }
  } catch (e) {
    if (e instanceof ScenarioError || e instanceof HistoryFormatError || e instanceof FaultError || e instanceof KeyError || e instanceof InputError) {
      // One line: a newline in what the message quotes (a path, a value, a JSON parser's excerpt) is escaped, never a line of its own.
      process.stderr.write(`vrange: ${messageLine(e.message)}\n`);
      return 2;
    }
    if (e instanceof UsageError) {
      const topic = (COMMANDS as readonly string[]).includes(command!) && command !== 'help' ? command : undefined;
      // The message is one line (a newline in a value it quotes is escaped); its advice lines (e.more) are made safe too: they echo what was given (--listen's endpoint).
      process.stderr.write(`vrange${topic ? ` ${topic}` : ''}: ${messageLine(e.message)} (see \`vrange help${topic ? ` ${topic}` : ''}\`)\n`);
      if (e.more.length) process.stderr.write(e.more.map(messageLine).join('\n') + '\n');
      return 2;
    }
    // Anything else is a bug in vrange, never the user's error: say so, with the command to show it.
    // The stack and the command line may hold what the user or a peer gave (a file name, a value): made safe line by line.
    process.stderr.write(`${terminalText(`vrange: internal error (a bug in vrange, not a problem with the input): ${(e as Error)?.stack ?? String(e)}`)}\n`
      + `${terminalLine(`please report it with the command that shows it: vrange ${argv.map(quote).join(' ')}`)}\n`);
    return 70;
  }
}
