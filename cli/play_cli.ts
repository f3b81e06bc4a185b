// `vrange play FILE [--policy P] [--port N] [--open] [--tty] [--kills]`: the arguments, checked
// before anything starts (one line and exit 2 for a bad one), then the game (play/).
//
// VRANGE_PLAY_HEARTBEAT_TIMEOUT_MS sets how long the server waits without a request from the page
// before it ends the game (playHeartbeatTimeoutMs, 150 s, by default; the tests use seconds);
// VRANGE_PLAY_CLASSES_HOLD_MS keeps the model's classes back that long (the tests of the page's
// wait for them). Both are checked before anything starts.
// The end of a game that was not clean (play/bounds.ts ShutdownError) is one line and exit 70; so
// is a process still running playExitGraceMs after the end, with what holds it.

import { parseCommandArgs, oneOfValue, wholeValue, UsageError } from '../shared/args.js';
import { loadScenario, scenarioWarnings } from '../shared/scenario.js';
import { runConfigFor } from '../shared/run_config.js';
import { POLICIES } from '../shared/scenario-types.js';
import { terminalLine } from '../shared/printable.js';
import { playTty, playWeb } from '../play/play.js';
import { ShutdownError } from '../play/bounds.js';
import { playClassesHoldMaxMs, playExitGraceMs, playHeartbeatTimeoutMaxMs, playHeartbeatTimeoutMinMs, playHeartbeatTimeoutMs } from '../shared/limits.js';

/** A whole number of milliseconds from an environment variable, if set (checked: one line, exit 2). */
export function envMs(env: NodeJS.ProcessEnv, name: string, min: number, max: number, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = /^\d{1,8}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) {
    throw new UsageError(`${name}: ${JSON.stringify(raw.slice(0, 40))} is not allowed; expected a whole number of milliseconds from ${min} to ${max}`);
  }
  return n;
}

/** Once the game is over nothing may keep the process: past the grace, say what does and exit 70. */
function exitWithin(ms: number): void {
  setTimeout(() => {
    const held = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
    process.stderr.write(`vrange play: internal error (a bug in vrange): the process is still running ${ms / 1000} s after the end of the game, held by ${held.join(', ') || 'nothing Node names'}; exiting\n`);
    process.exit(70);
  }, ms).unref();
}

export const PLAY_USAGE = `  vrange play FILE [--policy P] [--port N] [--open] [--tty] [--kills]
                             you are the lockstep scheduler, on real processes: one button per
                             enabled action, undo and redo, the kernel's decisions, page map and
                             space-time diagram as the run grows; at the end the outcome class
                             reached among those of explore --all and the line that replays it.
                             Serves one page on 127.0.0.1 (--port 0 or none: a free port) at a
                             URL with a token; Quit, closing the page or Ctrl-C end it
                  --open     open the URL with xdg-open (best effort)
                  --tty      no server: the choices as a numbered list on the terminal, one answer
                             a line on stdin (a number, u undo, r redo, q quit)
                  --kills    also offer, for each enabled process, to kill it before or during
                             its next step (kill:P@N, kill:P@N+ in the replay line)`;

const playOptions = {
  policy: { type: 'string', value: `one of ${POLICIES.join(', ')}` },
  port: { type: 'string', value: 'a whole number from 0 to 65535 (0: a free port)' },
  open: { type: 'boolean' },
  tty: { type: 'boolean' },
  kills: { type: 'boolean' },
} as const;

export async function playCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('play', args, playOptions);
  if (positionals.length !== 1) {
    throw new UsageError(`play takes one scenario FILE, got ${positionals.length}${positionals.length ? ` (${positionals.map((p) => JSON.stringify(p)).join(', ')})` : ''}`);
  }
  const policy = oneOfValue('policy', values.policy, POLICIES);
  const port = wholeValue('port', values.port, 0, 65_535) ?? 0;
  if (values.tty && (values.port !== undefined || values.open)) throw new UsageError(`--tty plays on the terminal: it serves no page, so it does not go with --${values.open ? 'open' : 'port'}`);
  const file = positionals[0]!;
  const scenario = loadScenario(file);
  for (const w of scenarioWarnings(scenario)) process.stderr.write(`vrange: ${terminalLine(w)}\n`);
  const heartbeatTimeoutMs = envMs(process.env, 'VRANGE_PLAY_HEARTBEAT_TIMEOUT_MS', playHeartbeatTimeoutMinMs, playHeartbeatTimeoutMaxMs, playHeartbeatTimeoutMs);
  const classesHoldMs = envMs(process.env, 'VRANGE_PLAY_CLASSES_HOLD_MS', 0, playClassesHoldMaxMs, 0);
  const config = runConfigFor(scenario, { policy, schedule: 'lockstep' });
  const o = { file, scenario, config, kills: values.kills ?? false, port, open: values.open ?? false, heartbeatTimeoutMs, classesHoldMs };
  try {
    if (values.tty) await playTty(o, process.stdin, process.stdout);
    else await playWeb(o, (line) => process.stdout.write(terminalLine(line) + '\n'));
  } catch (e) {
    if (!(e instanceof ShutdownError)) throw e;
    process.stderr.write(`vrange play: internal error (a bug in vrange): ${terminalLine(e.message)}\n`);
    return 70;
  } finally {
    exitWithin(playExitGraceMs);
  }
  return 0;
}
