// What bin/vrange.js runs: the CLI as one file (dist/cli/bundle/cli.js, made by `npm run build`:
// scripts/bundle.ts), which starts about 0.17 s of CPU sooner than its module tree, while it is
// fresh (shared/bundles.ts: not older than any file it was made from, and VRANGE_BUNDLE is not 0);
// else the module tree (dist/cli/cli.js). Both are the same compiled code.

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { freshBundle } from '../shared/bundles.js';

type Cli = typeof import('./cli.js');

export async function loadCli(): Promise<Cli> {
  const bundle = fileURLToPath(new URL('./bundle/cli.js', import.meta.url));
  if (freshBundle(bundle)) return createRequire(import.meta.url)(bundle) as Cli;
  return import('./cli.js');
}
