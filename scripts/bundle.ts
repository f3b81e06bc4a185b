// The agent and the CLI as one file each: `npm run build` runs this after tsc. esbuild bundles
// dist/agents/agent.js into dist/agents/bundle/agent-code.js, run by dist/agents/bundle/agent.js
// (agents/loader.cjs: the script the kernel starts for every agent, coordinator/agent_pool.ts, which
// runs the bundle with a V8 code cache that this step then makes by one warm-up run of the
// demonstration scenario) and dist/cli/cli.js into dist/cli/bundle/cli.js (what
// bin/vrange.js loads), each a CommonJS script with everything it imports inside: the project's
// own modules and its dependencies' JavaScript (msgpackr, zeromq's JavaScript and addon loader;
// for the CLI also xstate, zod, yaml). Why: Node 20 resolves, reads, compiles and links ES modules
// one at a time, about 40 ms of every agent's start (about 40 modules) and 200 ms of every `vrange`
// command's (docs/performance.md, "The agent as one file" and "The CLI as one file"). The bundles
// run the same compiled code: nothing changes but module boundaries and the rewrites below.
//
// Rewrites, each checked (the build fails if its text is not found exactly once, e.g. after an
// upgrade of zeromq):
// - shared/transport.js loads zeromq with `createRequire(import.meta.url)('zeromq')` (cheaper than
//   an ESM import of a CommonJS package); esbuild cannot follow that, so in a bundle it is a plain
//   `require('zeromq')`, which esbuild bundles.
// - zeromq's lib/load-addon.js finds its native addon under `__dirname/../build`; bundled,
//   `__dirname` is the bundle's folder, so the path is given relative to the bundle instead.
//   The addon itself (a .node file) stays where npm put it and is loaded by zeromq's own loader.
// - `import.meta.url`: in the agent's bundle, the URL of its start script, dist/agents/bundle/agent.js
//   (the file shared/code_cache.cjs runs the bundle as: the agent's "am I the main script" check
//   compares it with the script Node was started with). In the CLI's bundle, each
//   module's own URL in the module tree (dist/...): every path a module computes from where it is
//   (the package root, the agent's script, play's worker, which runs play/classes.js from the tree)
//   is the one it computes unbundled.
//
// Beside each bundle: inputs.json, every file it was made from (relative to its folder). The
// bundle is used only while none of them is newer than it (shared/bundles.ts); a `tsc` run without
// this step leaves it stale, and the module tree is used.
//
//   node dist/scripts/bundle.js

import { build, type Plugin } from 'esbuild';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { agentTieringFlags } from '../shared/tiering.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = join(root, 'dist');

/** Replaces `from` by `to` in `text` exactly once, or fails the build naming the file. */
function rewriteOnce(text: string, from: string, to: string, file: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + from.length) >= 0) {
    throw new Error(`bundle: expected exactly one \`${from}\` in ${file}; the bundle cannot be made (see scripts/bundle.ts)`);
  }
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** `urls`: 'bundle' gives every module the bundle's URL, 'tree' its own file's URL in dist/. */
function rewrites(outDir: string, zeromqBuild: string, urls: 'bundle' | 'tree'): Plugin {
  return {
    name: 'vrange-bundle-rewrites',
    setup(b) {
      b.onLoad({ filter: /[\\/]dist[\\/].*\.js$/ }, (args) => {
        let text = readFileSync(args.path, 'utf8');
        if (/[\\/]dist[\\/]shared[\\/]transport\.js$/.test(args.path)) {
          text = rewriteOnce(text, "createRequire(import.meta.url)('zeromq')", "require('zeromq')", args.path);
        }
        if (urls === 'tree') text = text.split('import.meta.url').join(`__vrange_url_of(${JSON.stringify(relative(outDir, args.path))})`);
        return { contents: text, loader: 'js' };
      });
      b.onLoad({ filter: /[\\/]zeromq[\\/]lib[\\/]load-addon\.js$/ }, (args) => ({
        contents: rewriteOnce(readFileSync(args.path, 'utf8'), 'path_1.default.resolve(__dirname, "..", "build")',
          `path_1.default.resolve(__dirname, ${JSON.stringify(relative(outDir, zeromqBuild))})`, args.path),
        loader: 'js',
      }));
    },
  };
}

const banners = {
  bundle: "'use strict';\nconst __vrange_bundle_url = require('node:url').pathToFileURL(__filename).href;",
  tree: "'use strict';\nconst __vrange_url_of = (rel) => require('node:url').pathToFileURL(require('node:path').join(__dirname, rel)).href;",
};

/** Bundles `entry` (in dist/) into `outFile`, with its package.json and inputs.json beside it. */
async function bundle(entry: string, outFile: string, urls: 'bundle' | 'tree'): Promise<void> {
  const outDir = dirname(outFile);
  const zeromqBuild = join(dirname(createRequire(entry).resolve('zeromq/package.json')), 'build');
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: [entry], outfile: outFile, bundle: true, platform: 'node', format: 'cjs', target: 'node20',
    ...(urls === 'bundle' ? { define: { 'import.meta.url': '__vrange_bundle_url' } } : {}),
    banner: { js: banners[urls] }, plugins: [rewrites(outDir, zeromqBuild, urls)],
    metafile: true, sourcemap: 'linked', logLevel: 'warning', legalComments: 'none',
    // Play's page tests drive Chromium through playwright: never part of the CLI.
    external: ['playwright-core'],
  });
  if (result.warnings.length > 0) throw new Error(`bundle: esbuild warned about ${relative(root, entry)}; the bundle would not run as the module tree does`);
  // A bundle runs compiled by shared/code_cache.cjs (vm.Script, no dynamic-import callback): an `import()` in it would throw.
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    if (meta.imports.some((i) => i.kind === 'dynamic-import')) throw new Error(`bundle: ${out} holds a dynamic import(), which a bundle run from a code cache cannot do (shared/code_cache.cjs)`);
  }
  // The folder's own package.json: a bundle is CommonJS although the project's files are ES modules.
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n');
  const inputs = Object.keys(result.metafile.inputs).map((p) => relative(outDir, resolve(process.cwd(), p)));
  writeFileSync(join(outDir, 'inputs.json'), JSON.stringify({ inputs }, null, 1) + '\n');
}

/**
 * The agent's start script, dist/agents/bundle/agent.js: agents/loader.cjs with the tiering flags
 * written in (it runs agent-code.js, the bundle, with the code cache), and the code-cache runner
 * it and the CLI's loader use, shared/code_cache.cjs, copied to dist/shared/. Written after the
 * bundle, so that the start script is as new as the bundle's inputs (shared/bundles.ts).
 */
function writeLoaders(agentDir: string): void {
  copyFileSync(join(root, 'shared', 'code_cache.cjs'), join(dist, 'shared', 'code_cache.cjs'));
  const src = join(root, 'agents', 'loader.cjs');
  const text = rewriteOnce(readFileSync(src, 'utf8'), '/* FLAGS */ []', JSON.stringify(agentTieringFlags), src);
  writeFileSync(join(agentDir, 'agent.js'), text);
}

/** Whether `file` is a whole candidate: its header's digest is its compiled code's (shared/code_cache.cjs). */
const wholeCandidate = (file: string): boolean =>
  (createRequire(import.meta.url)(join(root, 'shared', 'code_cache.cjs')) as { wholeCache(f: string): boolean }).wholeCache(file);

/** The trace line of a process started with the cache in place (`args` after node), or why it could not be read. */
function traceOf(args: string[], env: NodeJS.ProcessEnv): string {
  const r = spawnSync(process.execPath, args, { env: { ...env, VRANGE_CODE_CACHE_TRACE: '1' }, stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000, encoding: 'utf8' });
  return /vrange \w+ code cache: [^\n]*/.exec(r.stderr ?? '')?.[0] ?? `no trace (status ${r.status ?? r.signal})`;
}

/**
 * The code caches (shared/code_cache.cjs): one run of the demonstration scenario, whose CLI and
 * agents each leave their compiled code at exit; the CLI's becomes dist/cli/bundle/cli-code.cache
 * and the largest whole agent's (the agent that compiled the most) dist/agents/bundle/agent-code.cache,
 * each kept only once a process started with it in place says it used it. A failure here costs
 * only start-up time: the build says why on stderr and goes on without that cache (and
 * test/code-cache.test.ts then fails). VRANGE_CODE_CACHE=0 makes none. The warm-up runs without
 * NODE_OPTIONS and VRANGE_AGENT_NODE_ARGS (a V8 flag in either would make a cache no later
 * process can use) and with the bundles.
 */
function makeCodeCaches(targets: Record<'agent' | 'cli', { file: string; check: string[] }>): void {
  for (const { file } of Object.values(targets)) rmSync(file, { force: true });
  if (process.env.VRANGE_CODE_CACHE === '0') return;
  const tmp = mkdtempSync(join(tmpdir(), 'vrange-code-cache-'));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, VRANGE_CODE_CACHE_OUT: tmp };
    for (const v of ['NODE_OPTIONS', 'VRANGE_AGENT_NODE_ARGS', 'VRANGE_BUNDLE', 'VRANGE_CODE_CACHE_TRACE']) delete env[v];
    const run = spawnSync(process.execPath, [join(root, 'bin', 'vrange.js'), 'run', join(root, 'scenarios', 'fork-cow-purge.yaml'), '--seed', '1', '--quiet'],
      { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000, encoding: 'utf8' });
    const made = readdirSync(tmp).filter((f) => f.endsWith('.cache'));
    delete env.VRANGE_CODE_CACHE_OUT;
    for (const [label, { file, check }] of Object.entries(targets)) {
      const mine = made.filter((f) => f.startsWith(`${label}-`)).map((f) => join(tmp, f)).filter(wholeCandidate);
      if (run.status !== 0 || mine.length === 0) {
        const why = run.error ? `failed: ${run.error.message}` : run.status !== 0 ? `ended with ${run.status ?? run.signal}` : 'passed but left none';
        const tail = (run.stderr ?? '').trim().split('\n').slice(-5).join('\n  ');
        process.stderr.write(`bundle: no ${label} code cache (the warm-up run ${why})${tail ? `:\n  ${tail}` : ''}; it compiles its code at start\n`);
        continue;
      }
      const best = mine.reduce((a, b) => (statSync(b).size > statSync(a).size ? b : a));
      const part = `${file}.${process.pid}.part`;
      copyFileSync(best, part);
      renameSync(part, file);
      const said = traceOf(check, env);
      if (!/: used \(/.test(said)) {
        rmSync(file, { force: true });
        process.stderr.write(`bundle: the ${label} code cache was not used by a process started with it (${said}); none kept, it compiles its code at start\n`);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const agentDir = join(dist, 'agents', 'bundle');
  const cliDir = join(dist, 'cli', 'bundle');
  await bundle(join(dist, 'agents', 'agent.js'), join(agentDir, 'agent-code.js'), 'bundle');
  writeLoaders(agentDir);
  await bundle(join(dist, 'cli', 'cli.js'), join(cliDir, 'cli.js'), 'tree');
  makeCodeCaches({
    // The agent's start script with no arguments: it loads the bundle and prints its usage.
    agent: { file: join(agentDir, 'agent-code.cache'), check: [join(agentDir, 'agent.js')] },
    cli: { file: join(cliDir, 'cli-code.cache'), check: [join(root, 'bin', 'vrange.js'), '--help'] },
  });
}

main().catch((e) => { process.stderr.write(`${(e as Error).message}\n`); process.exit(1); });
