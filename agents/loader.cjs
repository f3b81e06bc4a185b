'use strict';
// The agent's start script (dist/agents/bundle/agent.js once built: scripts/bundle.ts copies it
// there beside the agent's bundle, agent-code.js, and writes the tiering flags in). It runs the
// bundle with the agent's V8 code cache, agent-code.cache (shared/code_cache.cjs says how a cache
// is made and when it is used), so that an agent does not parse and compile again the functions
// every agent compiles. The bundle sees this script as its own file: the agent's "am I the script
// Node started" check, and the paths it makes from its own, are the bundle's. With
// VRANGE_AGENT_NODE_ARGS set, the options given decide (shared/tiering.ts): no flags are set here
// and no cache is used.

const path = require('node:path');

/** agentTieringFlags of shared/tiering.ts, written in by scripts/bundle.ts. */
const tieringFlags = /* FLAGS */ [];
const own = process.env.VRANGE_AGENT_NODE_ARGS === undefined;

require('../../shared/code_cache.cjs').runCached({
  label: 'agent', codeFile: path.join(__dirname, 'agent-code.js'), cacheFile: path.join(__dirname, 'agent-code.cache'),
  asFile: __filename, flags: own ? tieringFlags : [], enabled: own,
});
