// The commands for agents on other machines:
//
//   vrange kernel --listen tcp://HOST:PORT [--scenario FILE] [--key FILE.key --trust DIR|FILE]
//                 [--agents remote|mixed] [--heartbeat-ms N] [--heartbeat-timeout-ms N] [--wait-ms N]
//                 [run options: --policy, --access, --purge-unit, --frames, --seed, --schedule,
//                  --json, --trace, --html, --check-model, --choices, --schedule-file, --scheduler,
//                  --depth; --fault, --quiet and --timeout are refused]
//   vrange agent  --connect tcp://HOST:PORT [--key FILE.key --server-key FILE.pub | --token TOKEN]
//                 [--connect-timeout-ms N]
//   vrange keygen [--out DIR] [--name NAME]
//
// The kernel runs one scenario with its processes on agents that connect to it, prints the usual
// report and exits (0, 1, or 2 for bad arguments). Listening anywhere but loopback needs keys;
// without keys the kernel makes a one-time token for the run, prints it, and takes only agents
// that present it (`--token TOKEN`, or the VRANGE_TOKEN environment variable, which other users
// cannot read in `ps`). An agent exits 3 if it cannot get in, 4 if the kernel breaks the protocol (see agents/agent.ts runRemoteAgent;
// every code is in exit_codes.ts, which `vrange agent --help` lists).

import { randomBytes } from 'node:crypto';
import { InputError, writeOutput } from '../shared/files.js';
import { ScenarioError } from '../shared/scenario_error.js';
import { reproducibleFile } from '../shared/scenario_copy.js';
import { join } from 'node:path';
import { UsageError, parseRun, reproduce, runOptions, scenariosDir } from '../harness/command.js';
import { replayChooser } from '../harness/replay.js';
import { schedulerChooser } from '../harness/pct.js';
import { parseCommandArgs, type OptionTable, type Values } from '../shared/args.js';
import { didYouMean } from '../shared/suggest.js';
import { checkOutputDir } from '../shared/files.js';
import { runScenario } from '../harness/run.js';
import { footer, header } from '../report/report.js';
import { renderHtml } from '../report/html.js';
import { readKeyPair, readPublicKey, readTrusted, writeKeyPair } from '../shared/keys.js';
import { agentConnectTimeoutMs, runRemoteAgent } from '../agents/agent.js';
import type { RemoteOptions } from '../harness/run.js';
import { heartbeatIntervalMs, heartbeatTimeoutMs, remoteAgentWaitMs } from '../shared/limits.js';
import { terminalLine, terminalText, printableJson } from '../shared/printable.js';
import { choiceTokens } from '../shared/kernel_name.js';

export const REMOTE_USAGE = `  vrange kernel --listen tcp://HOST:PORT [--scenario FILE] [--key FILE.key --trust DIR|FILE]
                  [--agents remote|mixed] [--heartbeat-ms N] [--heartbeat-timeout-ms N] [--wait-ms N]
                  [run options but --fault, --quiet, --timeout]   run a scenario on agents that
                             connect from other machines (the scenario is --scenario FILE, no FILE)
  vrange agent --connect tcp://HOST:PORT [--key FILE.key --server-key FILE.pub | --token TOKEN]
               [--connect-timeout-ms N]
                             one agent (one emulated process) for a kernel elsewhere
  vrange keygen [--out DIR] [--name NAME]
                             write a CURVE key pair: DIR/NAME.key (secret) and DIR/NAME.pub;
                             NAME.key only once NAME.pub is whole (a keygen killed between
                             them leaves NAME.pub alone, which the next keygen of NAME replaces)`;

const remoteFlags = {
  listen: { type: 'string', value: 'tcp://HOST:PORT (PORT 0 picks a free port)' }, scenario: { type: 'string', value: 'a scenario file' },
  key: { type: 'string', value: "the kernel's secret key file (vrange keygen)" }, trust: { type: 'string', value: 'a directory of trusted *.pub files, or a file of keys' },
  agents: { type: 'string', value: 'remote or mixed' }, 'heartbeat-ms': { type: 'string', value: 'a whole number of milliseconds from 10 to 60000' },
  'heartbeat-timeout-ms': { type: 'string', value: 'a whole number of milliseconds from 20 to 600000' }, 'wait-ms': { type: 'string', value: 'a whole number of milliseconds from 1 to 3600000' },
} as const satisfies OptionTable;

/** The run options `vrange kernel` takes (parseRun checks their values); --fault, --quiet and --timeout it would ignore, so it refuses them. */
const kernelRunOptions = Object.keys(runOptions).filter((k) => (runOptions[k as keyof typeof runOptions].commands as readonly string[]).includes('run') && !['fault', 'quiet', 'timeout'].includes(k));

/**
 * Splits the kernel's own flags from the run options, by the rules of every other command
 * (shared/args.ts parseCommandArgs, which then reads the kernel's own): an argument that starts
 * with `--` is never a value, an empty value is refused, an option given twice is refused, and an
 * option name is looked up as the table's own key (`--constructor` is unknown, not a kernel flag).
 * What is left must be run options the kernel takes, and no FILE (the scenario is --scenario).
 */
function splitFlags(args: string[]): { own: Values<typeof remoteFlags>; rest: string[] } {
  const mine: string[] = [];
  const rest: string[] = [];
  const takes = () => `kernel takes ${[...Object.keys(remoteFlags), ...kernelRunOptions].map((k) => `--${k}`).join(', ')}`;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--' || !a.startsWith('-') || a === '-') {
      const files = a === '--' ? args.slice(i + 1) : [a];
      if (files.length) throw new UsageError(`kernel takes no FILE, got ${files.map((f) => JSON.stringify(f)).join(', ')}; give the scenario as --scenario FILE`);
      break;
    }
    const m = /^--([^=]+)(=[\s\S]*)?$/.exec(a);
    const name = m?.[1];
    if (name !== undefined && Object.hasOwn(remoteFlags, name)) {
      mine.push(a);
      const next = args[i + 1];
      if (m![2] === undefined && next !== undefined && !next.startsWith('--')) mine.push(args[++i]!);
      continue;
    }
    if (name === 'fault') throw new UsageError('--fault is not available with `vrange kernel`: a kernel cannot pause or signal an agent on another machine');
    if (name === undefined || !Object.hasOwn(runOptions, name)) {
      throw new UsageError(`unknown option ${name === undefined ? JSON.stringify(a) : `--${name}`}; ${takes()}${didYouMean(name ?? a, [...Object.keys(remoteFlags), ...kernelRunOptions]).replace(/"([^"]+)"/, '--$1')}`);
    }
    if (!kernelRunOptions.includes(name)) throw new UsageError(`--${name} does not go with kernel; ${takes()}`);
    rest.push(a);
    const next = args[i + 1];
    // A run option's value goes along with it (parseRun checks it).
    if (runOptions[name as keyof typeof runOptions].type === 'string' && m![2] === undefined && next !== undefined && !next.startsWith('--')) rest.push(args[++i]!);
  }
  const { values } = parseCommandArgs('kernel', mine, remoteFlags);
  return { own: values, rest };
}

function ms(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${flag}: "${value}" is not allowed; expected a whole number of milliseconds from ${min} to ${max}`);
  }
  return Number(value);
}

/** `tcp://HOST:PORT` with a numeric port; returns the host. */
function tcpHost(flag: string, endpoint: string): string {
  const m = /^tcp:\/\/(\[[0-9a-fA-F:]+\]|[^:/\s]+):(\d+)$/.exec(endpoint);
  if (!m || Number(m[2]) > 65535) throw new UsageError(`--${flag}: "${endpoint}" is not allowed; expected tcp://HOST:PORT (PORT 0 picks a free port)`);
  return m[1]!;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export async function kernelCommand(args: string[]): Promise<number> {
  const { own, rest } = splitFlags(args);
  if (!own.listen) throw new UsageError('kernel needs --listen tcp://HOST:PORT');
  const host = tcpHost('listen', own.listen);
  if ((own.key === undefined) !== (own.trust === undefined)) throw new UsageError('--key and --trust go together: the kernel\'s own key pair and the agent keys it trusts');
  if (!own.key && !isLoopback(host)) {
    throw new UsageError(`refusing to listen on ${own.listen} without keys: anyone who can reach it could run code as an agent and read every answer.`, [
      'Make keys and pass them:',
      '  vrange keygen --out keys --name kernel          # on this machine',
      '  vrange keygen --out keys --name agent1          # on each agent machine; copy agent1.pub into keys/trusted/',
      `  vrange kernel --listen ${own.listen} --key keys/kernel.key --trust keys/trusted ...`,
      `  vrange agent --connect tcp://THIS-HOST:PORT --key keys/agent1.key --server-key kernel.pub`,
      'Without keys, listen on loopback only (tcp://127.0.0.1:PORT).']);
  }
  const agents = own.agents ?? 'remote';
  if (agents !== 'remote' && agents !== 'mixed') throw new UsageError(`--agents: "${agents}" is not allowed; allowed: remote, mixed`);
  const heartbeatMs = ms('heartbeat-ms', own['heartbeat-ms'], heartbeatIntervalMs, 10, 60_000);
  const timeoutMs = ms('heartbeat-timeout-ms', own['heartbeat-timeout-ms'], heartbeatTimeoutMs, 20, 600_000);
  if (timeoutMs <= heartbeatMs) throw new UsageError(`--heartbeat-timeout-ms (${timeoutMs}) must be longer than --heartbeat-ms (${heartbeatMs})`);
  const waitMs = ms('wait-ms', own['wait-ms'], remoteAgentWaitMs, 1, 3_600_000);
  // After `--`: a --scenario=--json is a file name, not an option.
  const scenarioFile = own.scenario ?? join(scenariosDir, 'fork-cow-purge.yaml');
  let cmd;
  try { cmd = parseRun([...rest, '--', scenarioFile]); } catch (e) {
    // The file's problem names the option that gave it, as every other input file's does.
    if ((e instanceof InputError || e instanceof ScenarioError) && own.scenario !== undefined && e.message.startsWith(`${own.scenario}:`)) e.message = `--scenario ${e.message}`;
    throw e;
  }
  let curve: RemoteOptions['curve'];
  if (own.key && own.trust) curve = { ...readKeyPair(own.key), trusted: readTrusted(own.trust) };
  // Without keys, any local process could connect: only agents with this run's token get in.
  const token = curve ? undefined : randomBytes(16).toString('hex');

  const out = (line: string) => process.stdout.write(terminalLine(line) + '\n');
  // With --json, stdout is the report alone: what the operator needs to know goes to stderr.
  const note = (line: string) => (cmd.json ? process.stderr.write(terminalLine(line) + '\n') : out(line));
  const narration: string[] = [];
  const say = (line: string) => { narration.push(line); if (!cmd.json) out(line); };
  const head = header(cmd.scenario, cmd.config);
  if (!cmd.json) head.forEach(out);
  const processes = cmd.scenario.processes.length;
  const remote: RemoteOptions = {
    listen: own.listen, curve, agents, heartbeatMs, heartbeatTimeoutMs: timeoutMs, waitMs, token,
    onListening: (endpoint) => {
      note(`kernel: listening on ${endpoint} ${curve ? `with CURVE (${curve.trusted.size} trusted agent key(s))` : 'without keys (loopback only)'}; heartbeat every ${heartbeatMs} ms, an agent silent for ${timeoutMs} ms is dead`);
      if (token) note(`kernel: token ${token}: an agent without keys must present it (--token ${token}, or VRANGE_TOKEN=${token}); a hello without it is refused`);
      const agentCmd = `vrange agent --connect ${endpoint}${token ? ` --token ${token}` : ''}`;
      note(agents === 'remote'
        ? `kernel: every process runs on a remote agent (--agents remote), none is spawned here: start \`${agentCmd}\` ${processes} time(s), one per process`
        : `kernel: a process runs on a connected remote agent if one is idle, else on a local child (--agents mixed)`);
    },
  };
  // The run options' schedule: replayed choices, or the scheduler's draw from the seed (as `vrange run`).
  const chooser = cmd.choices ? replayChooser(cmd.choices) : schedulerChooser(cmd.scheduler, cmd.config.seed, cmd.scenario);
  const repro = `vrange kernel --listen ${own.listen} --scenario ${reproducibleFile(cmd.file)} ` + reproduce(cmd.file, cmd.config, [], cmd.choices && choiceTokens(cmd.choices, cmd.scenario.processes.map((p) => p.name)), cmd.scheduler).replace(/^vrange run \S+ /, '');
  const { report, history } = await runScenario(cmd.scenario, cmd.config, { trace: cmd.trace, narrate: say, checkModel: cmd.checkModel, remote, chooser, repro });
  const foot = footer(report, repro);
  // The JSON document as it is (JSON.stringify escapes the controls; `out` would escape its newlines).
  if (cmd.json) process.stdout.write(printableJson(report, 2) + '\n');
  else foot.forEach(out);
  if (cmd.html) writeOutput(cmd.html, renderHtml(report, [...head, ...narration, ...foot], history));
  return report.ok ? 0 : 1;
}

export async function agentCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('agent', args, {
    connect: { type: 'string', value: 'tcp://HOST:PORT, where vrange kernel --listen runs' },
    key: { type: 'string', value: "this agent's secret key file (vrange keygen)" },
    'server-key': { type: 'string', value: "the kernel's public key file" },
    token: { type: 'string', value: 'the token vrange kernel printed' },
    'connect-timeout-ms': { type: 'string', value: 'a whole number of milliseconds' },
  });
  if (positionals.length) throw new UsageError(`agent takes no FILE, got ${positionals.map((p) => JSON.stringify(p)).join(', ')}; give --connect tcp://HOST:PORT`);
  if (!values.connect) throw new UsageError('agent needs --connect tcp://HOST:PORT');
  const host = tcpHost('connect', values.connect);
  if ((values.key === undefined) !== (values['server-key'] === undefined)) {
    throw new UsageError('--key and --server-key go together: this agent\'s key pair and the kernel\'s public key');
  }
  if (!values.key && !isLoopback(host)) {
    throw new UsageError(`refusing to connect to ${values.connect} without keys: make a pair with \`vrange keygen --out keys --name agent1\`, have the kernel trust keys/agent1.pub, and pass --key keys/agent1.key --server-key KERNEL.pub`);
  }
  const curve = values.key ? { ...readKeyPair(values.key), serverKey: readPublicKey(values['server-key']!) } : undefined;
  const token = values.token ?? (curve ? undefined : process.env.VRANGE_TOKEN || undefined);
  if (token !== undefined && !/^[0-9a-f]{32}$/.test(token)) {
    throw new UsageError(`--token: not allowed; expected the 32 hex digits \`vrange kernel\` printed (from VRANGE_TOKEN if --token is not given)`);
  }
  if (token !== undefined && curve) throw new UsageError('--token is for a kernel without keys; with --key and --server-key leave it out');
  const connectTimeoutMs = ms('connect-timeout-ms', values['connect-timeout-ms'], agentConnectTimeoutMs, 100, 3_600_000);
  runRemoteAgent({ connect: values.connect, curve, token, connectTimeoutMs });
  // The agent ends the process itself (process.exit): when its process ends, or when refused.
  return new Promise<number>(() => {});
}

export function keygenCommand(args: string[]): number {
  const { values, positionals } = parseCommandArgs('keygen', args, {
    out: { type: 'string', value: 'a directory to write the key pair in' }, name: { type: 'string', value: "letters, digits, '.', '_' and '-'" },
  });
  if (positionals.length) throw new UsageError(`keygen takes no FILE, got ${positionals.map((p) => JSON.stringify(p)).join(', ')}; give --out DIR and --name NAME`);
  // Before anything is written: the directory must be one vrange can create and write files in.
  checkOutputDir(values.out ?? '.', '--out');
  const { secretFile, publicFile, publicKey } = writeKeyPair(values.out ?? '.', values.name ?? 'vrange');
  process.stdout.write(terminalText(`wrote ${secretFile} (the secret key: keep it on this machine, mode 0600)\n`
    + `wrote ${publicFile} (the public key ${publicKey}):\n`
    + '  an agent\'s .pub goes into the kernel\'s --trust directory; the kernel\'s .pub is each agent\'s --server-key\n'));
  return 0;
}
