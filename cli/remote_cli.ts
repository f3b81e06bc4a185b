// The commands for agents on other machines:
//
//   vrange kernel --listen tcp://HOST:PORT [--scenario FILE] [--key FILE.key --trust DIR|FILE]
//                 [--agents remote|mixed] [--heartbeat-ms N] [--heartbeat-timeout-ms N] [--wait-ms N]
//                 [run options: --policy, --access, --purge-unit, --frames, --seed, --schedule,
//                  --json, --trace, --html, --check-model]
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
import { writeOutput } from '../shared/files.js';
import { reproducibleFile } from '../shared/scenario_copy.js';
import { join } from 'node:path';
import { UsageError, parseRun, reproduce, scenariosDir } from '../harness/command.js';
import { replayChooser } from '../harness/replay.js';
import { schedulerChooser } from '../harness/pct.js';
import { parseCommandArgs } from '../shared/args.js';
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
                  [run options]   run a scenario on agents that connect from other machines
  vrange agent --connect tcp://HOST:PORT [--key FILE.key --server-key FILE.pub | --token TOKEN]
               [--connect-timeout-ms N]
                             one agent (one emulated process) for a kernel elsewhere
  vrange keygen [--out DIR] [--name NAME]
                             write a CURVE key pair: DIR/NAME.key (secret) and DIR/NAME.pub;
                             NAME.key only once NAME.pub is whole (a keygen killed between
                             them leaves NAME.pub alone, which the next keygen of NAME replaces)`;

const remoteFlags = {
  listen: { type: 'string' }, scenario: { type: 'string' }, key: { type: 'string' }, trust: { type: 'string' },
  agents: { type: 'string' }, 'heartbeat-ms': { type: 'string' }, 'heartbeat-timeout-ms': { type: 'string' }, 'wait-ms': { type: 'string' },
} as const;

/** Splits the kernel's own flags from the run options (which parseRun checks). */
function splitFlags(args: string[]): { own: Record<string, string>; rest: string[] } {
  const own: Record<string, string> = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (m && m[1]! in remoteFlags) {
      const value = m[2] ?? args[++i];
      if (value === undefined) throw new UsageError(`--${m[1]} needs a value`);
      if (m[1]! in own) throw new UsageError(`--${m[1]} given twice`);
      own[m[1]!] = value;
    } else {
      rest.push(a);
    }
  }
  return { own, rest };
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
  if (rest.some((a) => a === '--fault' || a.startsWith('--fault='))) {
    throw new UsageError('--fault is not available with `vrange kernel`: a kernel cannot pause or signal an agent on another machine');
  }
  if (!own.listen) throw new UsageError('kernel needs --listen tcp://HOST:PORT');
  const host = tcpHost('listen', own.listen);
  if ((own.key === undefined) !== (own.trust === undefined)) throw new UsageError('--key and --trust go together: the kernel\'s own key pair and the agent keys it trusts');
  if (!own.key && !isLoopback(host)) {
    throw new UsageError(`refusing to listen on ${own.listen} without keys: anyone who can reach it could run code as an agent and read every answer.\n`
      + 'Make keys and pass them:\n'
      + '  vrange keygen --out keys --name kernel          # on this machine\n'
      + '  vrange keygen --out keys --name agent1          # on each agent machine; copy agent1.pub into keys/trusted/\n'
      + `  vrange kernel --listen ${own.listen} --key keys/kernel.key --trust keys/trusted ...\n`
      + `  vrange agent --connect tcp://THIS-HOST:PORT --key keys/agent1.key --server-key kernel.pub\n`
      + 'Without keys, listen on loopback only (tcp://127.0.0.1:PORT).');
  }
  const agents = own.agents ?? 'remote';
  if (agents !== 'remote' && agents !== 'mixed') throw new UsageError(`--agents: "${agents}" is not allowed; allowed: remote, mixed`);
  const heartbeatMs = ms('heartbeat-ms', own['heartbeat-ms'], heartbeatIntervalMs, 10, 60_000);
  const timeoutMs = ms('heartbeat-timeout-ms', own['heartbeat-timeout-ms'], heartbeatTimeoutMs, 20, 600_000);
  if (timeoutMs <= heartbeatMs) throw new UsageError(`--heartbeat-timeout-ms (${timeoutMs}) must be longer than --heartbeat-ms (${heartbeatMs})`);
  const waitMs = ms('wait-ms', own['wait-ms'], remoteAgentWaitMs, 1, 3_600_000);
  const cmd = parseRun([...rest, own.scenario ?? join(scenariosDir, 'fork-cow-purge.yaml')]);
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
