// `vrange play FILE [--policy P] [--port N] [--open] [--tty] [--kills]`: the arguments, checked
// before anything starts (one line and exit 2 for a bad one), then the game (play/).

import { parseCommandArgs, oneOfValue, wholeValue, UsageError } from '../shared/args.js';
import { loadScenario, scenarioWarnings } from '../shared/scenario.js';
import { runConfigFor } from '../shared/run_config.js';
import { POLICIES } from '../shared/scenario-types.js';
import { terminalLine } from '../shared/printable.js';
import { playTty, playWeb } from '../play/play.js';

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
  const config = runConfigFor(scenario, { policy, schedule: 'lockstep' });
  const o = { file, scenario, config, kills: values.kills ?? false, port, open: values.open ?? false };
  if (values.tty) await playTty(o, process.stdin, process.stdout);
  else await playWeb(o, (line) => process.stdout.write(line + '\n'));
  return 0;
}
