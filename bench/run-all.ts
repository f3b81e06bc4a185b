// `npm run bench`: every benchmark in turn, each in its own Node process (so one's garbage does
// not weigh on the next). Options are passed on to each: --quick, --repeats N, and --json DIR
// writes DIR/NAME.json for each benchmark. Never part of `npm test`.

import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const benches = ['transport', 'kernel', 'marking', 'reclaim', 'direct', 'scale', 'death', 'rangeset', 'memory', 'html', 'steps', 'runs', 'search', 'startup'];
const argv = process.argv.slice(2);
const only = argv.filter((a) => benches.includes(a));
const pass: string[] = [];
let jsonDir: string | undefined;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!;
  if (benches.includes(a)) continue;
  if (a === '--json') { jsonDir = argv[++i]; if (!jsonDir) { console.error('--json DIR: a directory for NAME.json files'); process.exit(2); } continue; }
  if (a === '--repeats') { pass.push(a, argv[++i] ?? ''); continue; }
  if (a === '--quick') { pass.push(a); continue; }
  console.error(`unknown argument ${a}; usage: run-all [NAME...] [--quick] [--repeats N] [--json DIR]; names: ${benches.join(', ')}`);
  process.exit(2);
}
if (jsonDir) mkdirSync(jsonDir, { recursive: true });
let failed = 0;
for (const name of only.length ? only : benches) {
  const args = [join(here, `${name}.bench.js`), ...pass];
  if (jsonDir && name !== 'rangeset') args.push('--json', join(jsonDir, `${name}.json`));
  const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (r.status !== 0) { failed++; console.error(`bench ${name}: exit ${r.status ?? r.signal}`); }
}
process.exit(failed ? 1 : 0);
