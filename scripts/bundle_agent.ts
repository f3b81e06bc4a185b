// The agent as one file: `npm run build` runs this after tsc. esbuild bundles dist/agents/agent.js
// with everything it imports (the project's own modules, msgpackr, zeromq's JavaScript and its
// addon loader) into dist/agents/bundle/agent.js, a CommonJS script the kernel starts instead of
// the module tree (coordinator/agent_pool.ts, agentScript). Why: an agent is a short-lived Node
// process, and Node 20 spends about 40 ms of every agent's start-up resolving, reading and
// compiling about 40 ES modules one by one (docs/performance.md, "The agent as one file").
// The bundle runs the same compiled code: nothing is transformed but module boundaries and the
// two lines below.
//
// Two rewrites, each checked (the build fails if its text is not found, e.g. after an upgrade):
// - shared/transport.js loads zeromq with `createRequire(import.meta.url)('zeromq')` (cheaper than
//   an ESM import of a CommonJS package); esbuild cannot follow that, so in the bundle it is a plain
//   `require('zeromq')`, which esbuild bundles.
// - zeromq's lib/load-addon.js finds its native addon under `__dirname/../build`; bundled,
//   `__dirname` is the bundle's folder, so the path is given relative to the bundle instead.
//   The addon itself (a .node file) stays where npm put it and is loaded by zeromq's own loader.
// `import.meta.url` (the agent's own main check, createRequire) becomes the bundle's file URL.
//
// dist/agents/bundle/inputs.json lists every file the bundle was made from; the kernel uses the
// bundle only while none of them is newer than it (a `tsc` run without this step leaves the
// bundle stale, and the kernel then starts dist/agents/agent.js).
//
//   node dist/scripts/bundle_agent.js

import { build, type Plugin } from 'esbuild';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = join(root, 'dist', 'agents', 'agent.js');
const outDir = join(root, 'dist', 'agents', 'bundle');
const outFile = join(outDir, 'agent.js');

/** Replaces `from` by `to` in `text` exactly once, or fails the build naming the file. */
function rewriteOnce(text: string, from: string, to: string, file: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + from.length) >= 0) {
    throw new Error(`bundle_agent: expected exactly one \`${from}\` in ${file}; the bundle cannot be made (see scripts/bundle_agent.ts)`);
  }
  return text.slice(0, at) + to + text.slice(at + from.length);
}

function rewrites(zeromqBuild: string): Plugin {
  return {
    name: 'vrange-agent-rewrites',
    setup(b) {
      b.onLoad({ filter: /[\\/]dist[\\/]shared[\\/]transport\.js$/ }, (args) => ({
        contents: rewriteOnce(readFileSync(args.path, 'utf8'), "createRequire(import.meta.url)('zeromq')", "require('zeromq')", args.path),
        loader: 'js',
      }));
      b.onLoad({ filter: /[\\/]zeromq[\\/]lib[\\/]load-addon\.js$/ }, (args) => ({
        contents: rewriteOnce(readFileSync(args.path, 'utf8'), 'path_1.default.resolve(__dirname, "..", "build")',
          `path_1.default.resolve(__dirname, ${JSON.stringify(relative(outDir, zeromqBuild))})`, args.path),
        loader: 'js',
      }));
    },
  };
}

async function main(): Promise<void> {
  const zeromqBuild = join(dirname(createRequire(entry).resolve('zeromq/package.json')), 'build');
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: [entry], outfile: outFile, bundle: true, platform: 'node', format: 'cjs', target: 'node20',
    define: { 'import.meta.url': '__vrange_bundle_url' },
    banner: { js: "'use strict';\nconst __vrange_bundle_url = require('node:url').pathToFileURL(__filename).href;" },
    plugins: [rewrites(zeromqBuild)], metafile: true, sourcemap: 'linked', logLevel: 'warning', legalComments: 'none',
  });
  // The folder's own package.json: the bundle is CommonJS although the project's files are ES modules.
  writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n');
  const inputs = Object.keys(result.metafile.inputs).map((p) => relative(outDir, resolve(process.cwd(), p)));
  writeFileSync(join(outDir, 'inputs.json'), JSON.stringify({ inputs }, null, 1) + '\n');
  const bytes = readFileSync(outFile).length;
  if (process.env.VRANGE_BUNDLE_VERBOSE) process.stderr.write(`bundle_agent: ${relative(root, outFile)}, ${inputs.length} inputs, ${bytes} bytes\n`);
}

main().catch((e) => { process.stderr.write(`${(e as Error).message}\n`); process.exit(1); });
