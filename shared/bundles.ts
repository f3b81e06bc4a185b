// The one-file builds of the agent and of the CLI (scripts/bundle.ts, run by `npm run build`
// after tsc): whether one may be used instead of the module tree it was made from. A bundle is
// used while it is at least as new as every file it was made from (the list esbuild gave, in the
// `inputs.json` beside it, paths relative to its folder): a `tsc` run without the bundling step
// leaves the bundle stale, and the module tree is used instead. `VRANGE_BUNDLE=0` always uses the
// module tree (the same code, as ES modules: a slower start).

import { createRequire } from 'node:module';

const { readFileSync, statSync } = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');
const { dirname, join, resolve } = createRequire(import.meta.url)('node:path') as typeof import('node:path');

/** True when `bundle` exists, was made after each of its inputs, and bundles are not turned off. */
export function freshBundle(bundle: string): boolean {
  if (process.env.VRANGE_BUNDLE === '0') return false;
  try {
    const dir = dirname(bundle);
    const made = statSync(bundle).mtimeMs;
    const { inputs } = JSON.parse(readFileSync(join(dir, 'inputs.json'), 'utf8')) as { inputs: unknown };
    if (!Array.isArray(inputs) || inputs.length === 0) return false;
    for (const input of inputs) if (typeof input !== 'string' || statSync(resolve(dir, input)).mtimeMs > made) return false;
    return true;
  } catch {
    return false; // no bundle (a plain tsc build), no list, or an input gone
  }
}
