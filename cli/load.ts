// What bin/vrange.js runs: the CLI as one file (dist/cli/bundle/cli.js, made by `npm run build`:
// scripts/bundle.ts), which starts about 0.17 s of CPU sooner than its module tree, while it is
// fresh (shared/bundles.ts: not older than any file it was made from, and VRANGE_BUNDLE is not 0);
// else the module tree (dist/cli/cli.js). Both are the same compiled code. The bundle runs with the
// CLI's V8 code cache when the build made one (shared/code_cache.cjs).

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { freshBundle } from '../shared/bundles.js';

type Cli = typeof import('./cli.js');

interface CodeCache {
  runCached(o: { codeFile: string; cacheFile: string; asFile: string; flags: string[]; enabled: boolean; label: string }): unknown;
}

export async function loadCli(): Promise<Cli> {
  const bundle = fileURLToPath(new URL('./bundle/cli.js', import.meta.url));
  if (!freshBundle(bundle)) return import('./cli.js');
  // With the CLI's V8 code cache, made by the build (shared/code_cache.cjs).
  const { runCached } = createRequire(import.meta.url)('../shared/code_cache.cjs') as CodeCache;
  return runCached({ label: 'cli', codeFile: bundle, cacheFile: fileURLToPath(new URL('./bundle/cli-code.cache', import.meta.url)), asFile: bundle, flags: [], enabled: true }) as Cli;
}
