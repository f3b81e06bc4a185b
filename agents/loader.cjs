'use strict';
// The agent's start script (dist/agents/bundle/agent.js; scripts/bundle.ts copies it there beside
// the agent's bundle, agent-code.js): it runs the bundle with a V8 code cache, so that an agent
// does not parse and compile again the functions every agent compiles (docs/performance.md,
// "The agent's code cache").
//
// - The cache (agent-code.cache) is made by `npm run build`: it runs the demonstration scenario
//   with VRANGE_CODE_CACHE_OUT set, each agent writes its compiled code at exit
//   (vm.Script#createCachedData: every function compiled so far, not only the top level), and the
//   build keeps the largest. It starts with a header: the SHA-256 of the bundle it was made from,
//   the Node version, the tiering flags, the built-in modules the agent loaded after the flags, and
//   the SHA-256 of the compiled code itself (V8 does not check code it is handed: a corrupt cache
//   can abort Node, so a cache whose digest does not match is not handed over).
// - A cache is used only for the very bundle it was made from (V8's own check of a cache compares
//   the source's length, not its text), by the same Node, with the same flags. V8 checks the rest
//   (its version, its flags, a checksum) and may still refuse it: the bundle is then compiled from
//   its source, as without a cache. Nothing but the start-up cost depends on the cache.
// - V8 refuses a cache made under other flags, and the agent sets its tiering flags once started
//   (shared/tiering.ts): so the flags are set here, before the bundle is compiled. A flag set at
//   run time also makes Node's own code cache of its built-in modules useless for the modules
//   loaded later, so the built-ins the agent would load after this point are loaded first.
// - VRANGE_CODE_CACHE=0: no cache. VRANGE_AGENT_NODE_ARGS set: no cache and no flags here (the
//   options given decide, as shared/tiering.ts says).
// - The bundle sees this script as its own file (`__filename`, and so `import.meta.url`): the
//   agent's "am I the script Node started" check, and paths made from it, are the bundle's.

const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');
const { createHash } = require('node:crypto');

/** agentTieringFlags of shared/tiering.ts, written in by scripts/bundle.ts. */
const tieringFlags = /* FLAGS */ [];
const codeFile = path.join(__dirname, 'agent-code.js');
const cacheFile = path.join(__dirname, 'agent-code.cache');
const trace = process.env.VRANGE_CODE_CACHE_TRACE === '1';
const cacheOut = process.env.VRANGE_CODE_CACHE_OUT;
const own = process.env.VRANGE_AGENT_NODE_ARGS === undefined;
const useCache = own && process.env.VRANGE_CODE_CACHE !== '0';

const bytes = fs.readFileSync(codeFile);
const digest = createHash('sha256').update(bytes).digest('hex');

/** The cache's header and data, if it was made from these bytes by this Node with these flags; else why not. */
function readCache() {
  let buf;
  try { buf = fs.readFileSync(cacheFile); } catch { return { why: 'none' }; }
  try {
    const n = buf.length >= 4 ? buf.readUInt32LE(0) : -1;
    if (!(n > 0 && n <= 65536 && 4 + n <= buf.length)) return { why: 'malformed' };
    const head = JSON.parse(buf.subarray(4, 4 + n).toString('utf8'));
    if (head.sha256 !== digest) return { why: 'stale (made from another bundle)' };
    if (head.node !== process.version) return { why: `made by Node ${head.node}` };
    if (JSON.stringify(head.flags) !== JSON.stringify(tieringFlags)) return { why: 'made with other flags' };
    // V8 does not check compiled code it is handed (a flipped byte can abort Node): the build's digest of it does.
    const data = buf.subarray(4 + n);
    if (head.dataSha256 !== createHash('sha256').update(data).digest('hex')) return { why: 'corrupt (its digest does not match)' };
    const preload = Array.isArray(head.preload) ? head.preload.filter((m) => typeof m === 'string' && /^[a-z_][a-z0-9_/]*$/.test(m)) : [];
    return { data, preload };
  } catch {
    return { why: 'malformed' };
  }
}

const cache = useCache ? readCache() : { why: 'off' };
let marked = 0;
if (own) {
  for (const m of cache.preload ?? []) { try { require(`node:${m}`); } catch { /* gone in this Node: loaded when needed */ } }
  marked = process.moduleLoadList.length;
  const { setFlagsFromString } = require('node:v8');
  for (const f of tieringFlags) setFlagsFromString(f);
}
const script = new vm.Script(Module.wrap(bytes.toString('utf8')), { filename: codeFile, cachedData: cache.data });
if (trace) process.stderr.write(`vrange agent code cache: ${cache.data ? (script.cachedDataRejected ? 'refused by V8' : `used (${cache.data.length} bytes)`) : cache.why}\n`);

if (cacheOut !== undefined && own) {
  // The build's warm-up run: this agent's compiled code at exit, beside the other agents' (the build keeps the largest).
  process.on('exit', () => {
    try {
      const preload = process.moduleLoadList.slice(marked).filter((m) => m.startsWith('NativeModule ') && !m.includes('internal/')).map((m) => m.slice(13));
      const data = script.createCachedData();
      const dataSha256 = createHash('sha256').update(data).digest('hex');
      const head = Buffer.from(JSON.stringify({ sha256: digest, node: process.version, flags: tieringFlags, preload, dataSha256 }), 'utf8');
      const size = Buffer.alloc(4);
      size.writeUInt32LE(head.length, 0);
      fs.writeFileSync(path.join(cacheOut, `${process.pid}.cache`), Buffer.concat([size, head, data]));
    } catch { /* no candidate from this agent */ }
  });
}

const loaderFile = __filename;
const m = new Module(loaderFile, null);
m.filename = loaderFile;
m.paths = Module._nodeModulePaths(__dirname);
script.runInThisContext().call(m.exports, m.exports, Module.createRequire(loaderFile), m, loaderFile, __dirname);
