// The V8 tiering an agent runs its steps with (docs/performance.md, sections 2 and "Agent
// start-up"). Short-lived agents spend more CPU compiling with TurboFan than the optimised code
// saves, so their code tiers no higher than Sparkplug, straight away (`--max-opt=1
// --always-sparkplug`). These flags are set once the agent has started, not on its command line:
// any V8 flag on the command line changes V8's flag hash, so Node's embedded code cache of its own
// modules is refused and every built-in module an agent loads after Node's start (its stdin's
// net and stream classes, above all) is compiled from source, about 10 ms of every agent's
// start. An agent started with VRANGE_AGENT_NODE_ARGS gets those options and nothing here.

import { createRequire } from 'node:module';

export const agentTieringFlags: readonly string[] = ['--max-opt=1', '--always-sparkplug'];

/** Sets agentTieringFlags in this process, unless its Node options were given (VRANGE_AGENT_NODE_ARGS). */
export function tierForSteps(): void {
  if (process.env.VRANGE_AGENT_NODE_ARGS !== undefined) return;
  const { setFlagsFromString } = createRequire(import.meta.url)('node:v8') as typeof import('node:v8');
  for (const flag of agentTieringFlags) setFlagsFromString(flag);
}
