// The exit codes of every command, as `vrange COMMAND --help` lists them (cli.ts `usageOf`). One
// table, read by the help and by test/cli-exit-codes.test.ts, which runs each command into the
// codes it can reach cheaply and checks that each one is listed here.

/** A stop by SIGINT, SIGTERM or SIGHUP (shared/lifecycle.ts): what the commands that start agents exit with. */
const stopped: Array<[string, string]> = [['130/143/129', 'stopped by SIGINT/SIGTERM/SIGHUP, after writing what it had']];
const input: [string, string] = ['2', 'bad arguments or input (one line on stderr; nothing was done)'];
const bug: [string, string] = ['70', 'a bug in vrange (with the command that shows it)'];

export const EXIT_CODES: Record<string, Array<[string, string]>> = {
  run: [['0', 'every expectation and invariant held'], ['1', 'one failed (or the run did not complete: its time bound)'], input,
    ['70', 'a bug in vrange, the run no verdict (a local agent that broke the protocol too)'], ...stopped],
  explore: [['0', 'no run failed (with --all: no PROBLEM)'], ['1', 'a run failed (with --all: a PROBLEM; with --shard: in its own part)'],
    ['2', 'bad arguments or input, or --all past --max-schedules'], bug, ...stopped],
  merge: [['0', 'the merged sweep has no failure'], ['1', 'it has one'], ['2', 'files that are not the shards of one sweep, or bad arguments'], bug],
  check: [['0', 'the history is valid'], ['1', 'it is not'], ['2', 'not a history file, or bad arguments'], ['3', 'the checker crashed (its bug, no verdict)'], bug],
  compare: [['0', 'no policy\'s run broke an invariant'], ['1', 'one did'], input, bug, ...stopped],
  quiz: [['0', 'the quiz (with --answers: the run passed its invariants)'], ['1', 'with --answers: the run failed'], input, bug, ...stopped],
  play: [['0', 'the game ended'], input, ['70', 'a bug in vrange (the end of the game was not clean)'], ...stopped],
  list: [['0', 'the list (a scenario that does not load is listed as INVALID)'], ['2', 'DIR is not a readable directory, or bad arguments'], bug],
  kernel: [['0', 'every expectation and invariant held'], ['1', 'one failed'], ['2', 'bad arguments or input (a non-loopback --listen without keys)'], bug, ...stopped],
  agent: [['0', 'its process ended with exit code 0, or it was idle at the end of the run'],
    ['N', 'its process ended with exit code N (an exit step\'s code); killed by a signal when its process was (SIGKILL, SIGBUS, SIGSEGV)'],
    ['1', 'also: the kernel went silent for its heartbeat timeout after it had been heard'],
    ['2', 'bad arguments'], ['3', 'it never got in (no kernel answered within --connect-timeout-ms, or it was refused: key or token)'],
    ['4', 'the kernel broke the protocol'], bug],
  keygen: [['0', 'the key pair was written'], ['2', 'bad arguments, --out is not a directory it can write in, or NAME.key or NAME.pub exists (nothing is written)'], bug],
  help: [['0', 'the usage'], ['2', 'no such command, or bad arguments'], bug],
};

/** The `exit codes:` lines of one command's usage. */
export function exitCodeLines(command: string): string[] {
  const codes = EXIT_CODES[command];
  if (!codes) return [];
  return ['  exit codes:', ...codes.map(([code, what]) => `    ${code.padEnd(11)} ${what}`)];
}
