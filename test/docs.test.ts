// What a newcomer reads first must be true: the install raises no engine warning on this Node,
// `npm start` prints what the README's sample shows, and the guide describes the product as it is.

import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { parseRun } from '../harness/command.js';
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

/** README.md, every folder's README.md and docs/ (the guide too): the pages that name source files. */
function documentPages(): Array<{ name: string; text: string }> {
  const pages = [{ name: 'README.md', text: read('README.md') }];
  for (const d of readdirSync(root, { withFileTypes: true })) {
    if (d.isDirectory() && !['node_modules', 'dist', '.git'].includes(d.name) && existsSync(join(root, d.name, 'README.md'))) {
      pages.push({ name: `${d.name}/README.md`, text: read(`${d.name}/README.md`) });
    }
  }
  const walk = (dir: string): void => {
    for (const d of readdirSync(join(root, dir), { withFileTypes: true })) {
      if (d.isDirectory()) walk(`${dir}/${d.name}`);
      else if (d.name.endsWith('.md') && `${dir}/${d.name}` !== 'docs/README.md') pages.push({ name: `${dir}/${d.name}`, text: read(`${dir}/${d.name}`) });
    }
  };
  walk('docs');
  return pages;
}

test('every source file the documents name exists, and so does each function they name in it', (t) => {
  const missing: string[] = [];
  const folders = 'coordinator|agents|shared|model|harness|checker|report|cli|test|bench|scripts|bin|schema|scenarios';
  for (const { name, text } of documentPages()) {
    // A path as the documents write it (`dist/...` is the compiled output; NAME is a placeholder).
    for (const m of text.matchAll(new RegExp(`(?<![\\w./-])(?:${folders})/[\\w.-]+\\.(?:ts|js|json|yaml|sh)\\b`, 'g'))) {
      if (!/NAME/.test(m[0]) && !existsSync(join(root, m[0]))) missing.push(`${name}: ${m[0]} does not exist`);
    }
    // `path.ts` `name`, `other`: each name must still be defined (or used) in that file.
    for (const m of text.matchAll(/`((?:[\w-]+\/)+[\w.-]+\.ts)` ((?:`[A-Za-z_$][\w$.]*(?:\(\))?`(?:, )?)+)/g)) {
      const file = m[1]!;
      if (!existsSync(join(root, file))) { missing.push(`${name}: ${file} does not exist`); continue; }
      const source = read(file);
      for (const sym of [...m[2]!.matchAll(/`([^`]+)`/g)].map((x) => x[1]!.replace(/\(\)$/, ''))) {
        for (const part of sym.split('.')) if (!new RegExp(`\\b${part.replace(/\$/g, '\\$')}\\b`).test(source)) missing.push(`${name}: ${file} has no ${sym}`);
      }
    }
  }
  t.deepEqual(missing, [], 'update the document (or the file): it names a file or a function that moved');
});

test('the sharding manifests parse as YAML and run the shards as the docs say (K = JOB_COMPLETION_INDEX + 1, N = completions)', (t) => {
  const docs = (p: string) => YAML.parseAllDocuments(read(p)).map((d) => { t.deepEqual(d.errors, [], p); return d.toJS() as Record<string, any>; });
  const job = docs('docs/k8s/explore-job.yaml').find((d) => d.kind === 'Job')!;
  t.is(job.spec.completionMode, 'Indexed');
  const n = job.spec.completions as number;
  t.true(n >= 2 && job.spec.parallelism <= n);
  const container = job.spec.template.spec.containers[0];
  const script = [...container.command, ...container.args].join(' ');
  t.regex(script, /K=\$\(\(JOB_COMPLETION_INDEX \+ 1\)\)/, 'the 0-based index becomes the 1-based K');
  const line = /vrange (explore [^\n]*)/.exec(script)?.[1];
  t.truthy(line, 'the pod runs vrange explore');
  // The command is one vrange accepts, for every index the Job gives.
  const out = mkdtempSync(join(tmpdir(), 'vrange-docs-'));
  for (let index = 0; index < n; index++) {
    const args = line!.replaceAll('$K', String(index + 1)).replaceAll('"', '').replaceAll('/results', out).split(' ');
    const cmd = parseRun([join(root, args[1]!), ...args.slice(2)], 'explore');
    t.deepEqual(cmd.shard, { index: index + 1, count: n });
  }
  const merge = docs('docs/k8s/merge-job.yaml').find((d) => d.kind === 'Job')!;
  t.regex(merge.spec.template.spec.containers[0].args.join(' '), new RegExp(`vrange merge /results/\\S+-of-${n}\\.json`));
  t.is(merge.spec.template.spec.volumes[0].persistentVolumeClaim.claimName, job.spec.template.spec.volumes[0].persistentVolumeClaim.claimName);

  const [flow] = docs('docs/ci/explore-shards.yml');
  const shards = flow!.jobs.explore.strategy.matrix.shard as number[];
  t.deepEqual(shards, Array.from({ length: shards.length }, (_, i) => i + 1), 'the matrix is 1..N');
  const run = (flow!.jobs.explore.steps as Array<{ run?: string }>).map((s) => s.run ?? '').join('\n');
  t.true(run.includes(`--shard \${{ matrix.shard }}/${shards.length}`), run);
  t.regex(run, /vrange\.js explore \S+ .*--seed \d+/);
  t.is(flow!.jobs.merge.needs, 'explore');
  t.regex((flow!.jobs.merge.steps as Array<{ run?: string }>).map((s) => s.run ?? '').join('\n'), /vrange\.js merge shards\/\*\.json/);
});
