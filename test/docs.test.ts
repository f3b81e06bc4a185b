// What a newcomer reads first must be true: the install raises no engine warning on this Node,
// `npm start` prints what the README's sample shows, and the guide describes the product as it is.

import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { root } from './helpers.js';

const read = (p: string) => readFileSync(join(root, p), 'utf8');

test('every installed package accepts this Node (npm ci gives no EBADENGINE)', (t) => {
  const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { engines?: { node?: string } | string[]; optional?: boolean }> };
  const refused: string[] = [];
  for (const [path, p] of Object.entries(lock.packages)) {
    const range = !Array.isArray(p.engines) ? p.engines?.node : undefined;
    if (path && range && !semver.satisfies(process.version, range)) refused.push(`${path} wants node ${range}`);
  }
  t.deepEqual(refused, [], `this is Node ${process.version}`);
  const pkg = JSON.parse(read('package.json')) as { engines: { node: string } };
  t.true(semver.satisfies('20.0.0', pkg.engines.node) || semver.satisfies('20.19.0', pkg.engines.node), 'the README promises Node 20');
});

test("npm start runs with the seed the README's sample output shows", (t) => {
  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  const seed = /--seed (\d+)/.exec(pkg.scripts.start!)?.[1];
  t.truthy(seed, 'npm start names a seed, so its output is the same every time');
  const readme = read('README.md');
  const sample = /The output \(abridged\)[\s\S]*?```\n([^\n]*)\n/.exec(readme)?.[1];
  t.is(sample, `seed ${seed}`);
});

test('the guide describes what exists, not what is being added', (t) => {
  const dir = join(root, 'docs', 'guide');
  for (const f of readdirSync(dir)) {
    const text = readFileSync(join(dir, f), 'utf8');
    t.false(/being added|is adding|will be added/i.test(text), `docs/guide/${f}`);
  }
});
