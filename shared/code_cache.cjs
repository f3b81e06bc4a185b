'use strict';
// Runs a bundle (a CommonJS file: scripts/bundle.ts) with a V8 code cache, so that a process does
// not parse and compile again the functions the same bundle compiled in an earlier process
// (docs/performance.md, "Code caches for the agent and the CLI"). Used by the agent's start script
// (agents/loader.cjs, which is dist/agents/bundle/agent.js once built) and by the CLI's loader
// (cli/load.ts). Plain CommonJS, loaded before anything else of the project: scripts/bundle.ts
// copies it to dist/shared/.
//
// - The caches are made by `npm run build`: it runs the demonstration scenario once with
//   VRANGE_CODE_CACHE_OUT set; the CLI and each agent write their compiled code at exit
//   (vm.Script#createCachedData: every function compiled so far, not only the top level), and the
//   build keeps the CLI's and the largest agent's, once a process started with each has used it.
//   A cache starts with a header: the SHA-256 of the bundle it was made from, the Node and V8
//   versions and the architecture, the V8 flags it was made with, the built-in modules loaded
//   after them, and the SHA-256 of the compiled code itself. A failed warm-up (the build says so
//   on stderr) leaves no cache: every process then compiles its bundle, as before caches existed,
//   and test/code-cache.test.ts fails, since the build did not do what it should.
// - A cache is used only for the very bundle it was made from (V8's own check compares the
//   source's length, not its text), by the same Node, with the same flags, and only if its digest
//   matches: V8 does not check compiled code it is handed, and a flipped byte can abort Node. V8
//   checks the rest (its version, its flags, the source's length) and may still refuse it; the
//   bundle is then compiled from its source, as without a cache. Nothing but start-up cost
//   depends on a cache.
// - V8 refuses a cache made under other flags. The agent sets its tiering flags once started
//   (shared/tiering.ts), so with a cache its flags are set here, before the compile. A flag set at
//   run time also makes Node's own code cache of its built-in modules useless for the modules
//   loaded later, so the built-ins the process loaded after this point last time are loaded first.
//   Without a cache nothing is set here: the process starts as it did before caches.
// - With source maps or coverage on (`--enable-source-maps`, NODE_V8_COVERAGE) the bundle is
//   required as a plain file: Node 20 applies neither to code compiled by vm.Script.
// - A bundle compiled here has no dynamic-import callback: scripts/bundle.ts fails the build if
//   a bundle holds an `import()`.
// - VRANGE_CODE_CACHE=0: no cache. VRANGE_CODE_CACHE_TRACE=1: a line on stderr says what was done.
// - The bundle sees `asFile` as its own file (`__filename`, and so its `import.meta.url`).

const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const Module = require('node:module');
const { createHash } = require('node:crypto');

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** A cache file's header and compiled code; undefined when it has no readable header. */
function splitCache(buf) {
  const n = buf.length >= 4 ? buf.readUInt32LE(0) : -1;
  if (!(n > 0 && n <= 65536 && 4 + n <= buf.length)) return undefined;
  try { return { head: JSON.parse(buf.subarray(4, 4 + n).toString('utf8')), data: buf.subarray(4 + n) }; } catch { return undefined; }
}

/** Whether the cache file `file` is whole: its header reads and names its compiled code's digest (the build's check of a candidate). */
exports.wholeCache = function wholeCache(file) {
  try { const c = splitCache(fs.readFileSync(file)); return c !== undefined && c.head.dataSha256 === sha256(c.data); } catch { return false; }
};

/** The cache's compiled code and preload list, if made from `digest` by this Node with `flags`; else why not. */
function readCache(cacheFile, digest, flags) {
  let buf;
  try { buf = fs.readFileSync(cacheFile); } catch { return { why: 'none' }; }
  try {
    const split = splitCache(buf);
    if (!split || split.head === null || typeof split.head !== 'object') return { why: 'malformed' };
    const head = split.head;
    if (head.sha256 !== digest) return { why: 'stale (made from another bundle)' };
    if (head.node !== process.version || head.v8 !== process.versions.v8 || head.arch !== process.arch) return { why: `made by Node ${head.node} (V8 ${head.v8}, ${head.arch})` };
    if (JSON.stringify(head.flags) !== JSON.stringify(flags)) return { why: 'made with other flags' };
    const data = split.data;
    if (head.dataSha256 !== sha256(data)) return { why: 'corrupt (its digest does not match)' };
    const preload = Array.isArray(head.preload) ? head.preload.filter((m) => typeof m === 'string' && /^[a-z_][a-z0-9_/]*$/.test(m)) : [];
    return { data, preload };
  } catch {
    return { why: 'malformed' };
  }
}

/**
 * Compiles and runs `codeFile` as the CommonJS module `asFile`, with `cacheFile` when it is valid;
 * returns its exports. `flags`: V8 flags to set before the compile (the cache must have been made
 * with them). `enabled` false: no cache, no flags. `label` names the process in the trace and in
 * the warm-up's candidates (`LABEL-PID.cache` in VRANGE_CODE_CACHE_OUT).
 */
exports.runCached = function runCached({ codeFile, cacheFile, asFile, flags, enabled, label }) {
  const trace = process.env.VRANGE_CODE_CACHE_TRACE === '1';
  // Source maps and coverage are not applied to code compiled by vm.Script (Node 20): then the
  // bundle is required as a plain CommonJS file, with no cache (its own file seen as `asFile` still).
  if (process.sourceMapsEnabled || process.env.NODE_V8_COVERAGE !== undefined) {
    if (trace) process.stderr.write(`vrange ${label} code cache: off (source maps or coverage)\n`);
    if (asFile !== codeFile) process.argv[1] = codeFile;
    return require(codeFile);
  }
  const bytes = fs.readFileSync(codeFile);
  const out = process.env.VRANGE_CODE_CACHE_OUT;
  const use = enabled && process.env.VRANGE_CODE_CACHE !== '0';
  const digest = use || out !== undefined ? sha256(bytes) : '';
  const cache = use ? readCache(cacheFile, digest, flags) : { why: 'off' };
  // The flags go first only for a cache made with them: without one the process sets them where
  // it always does (shared/tiering.ts), after its built-ins have loaded with Node's own cache.
  // (A cache the warm-up makes at exit carries the flags set by then, so it was made with them.)
  let marked = process.moduleLoadList.length;
  if (cache.data && flags.length > 0) {
    for (const m of cache.preload) { try { require(`node:${m}`); } catch { /* not in this Node: loaded when needed */ } }
    marked = process.moduleLoadList.length;
    const { setFlagsFromString } = require('node:v8');
    for (const f of flags) setFlagsFromString(f);
  }
  const script = new vm.Script(Module.wrap(bytes.toString('utf8')), { filename: codeFile, cachedData: cache.data });
  if (trace) {
    process.stderr.write(`vrange ${label} code cache: ${cache.data ? (script.cachedDataRejected ? 'refused by V8' : `used (${cache.data.length} bytes)`) : cache.why}\n`);
  }
  if (out !== undefined && enabled) {
    // The build's warm-up run: this process's compiled code at exit, beside the others' (written
    // whole or not at all: a temporary name, then a rename; the build checks each one it keeps).
    process.on('exit', () => {
      const part = path.join(out, `${label}-${process.pid}.part`);
      try {
        const preload = process.moduleLoadList.slice(marked).filter((m) => m.startsWith('NativeModule ') && !m.includes('internal/')).map((m) => m.slice(13));
        const data = script.createCachedData();
        const head = Buffer.from(JSON.stringify({ sha256: digest, node: process.version, v8: process.versions.v8, arch: process.arch, flags, preload, dataSha256: sha256(data) }), 'utf8');
        const size = Buffer.alloc(4);
        size.writeUInt32LE(head.length, 0);
        fs.writeFileSync(part, Buffer.concat([size, head, data]));
        fs.renameSync(part, path.join(out, `${label}-${process.pid}.cache`));
      } catch { try { fs.rmSync(part, { force: true }); } catch { /* no candidate from this process */ } }
    });
  }
  const m = new Module(asFile, null);
  m.filename = asFile;
  m.paths = Module._nodeModulePaths(path.dirname(asFile));
  script.runInThisContext().call(m.exports, m.exports, Module.createRequire(asFile), m, asFile, path.dirname(asFile));
  m.loaded = true;
  return m.exports;
};
