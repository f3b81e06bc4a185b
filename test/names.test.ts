// A process named `kernel` or `constructor` (allowed by the scenario format) runs and checks as
// an ordinary name does: fork-cow-purge with its processes renamed gives the same results.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = join(process.cwd(), 'bin/vrange.js');
const run = (args: string[]) => execFileSync('node', [cli, ...args], { encoding: 'utf8' });

test('processes named kernel and constructor: the same verdict, results and check as A and B', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-names-'));
  const text = readFileSync('scenarios/fork-cow-purge.yaml', 'utf8').replace(/\bA\b/g, 'kernel').replace(/\bB\b/g, 'constructor');
  const file = join(dir, 'names.yaml');
  writeFileSync(file, text);
  const renamed = JSON.parse(run(['run', file, '--seed', '1', '--json', '--trace', join(dir, 'h.jsonl')]));
  const plain = JSON.parse(run(['run', 'scenarios/fork-cow-purge.yaml', '--seed', '1', '--json']));
  t.true(renamed.ok);
  const name = (p: string, kernel: boolean) => (kernel ? '@list' : p === 'kernel' ? 'A' : p === 'constructor' ? 'B' : p);
  const steps = (r: { steps: Array<{ process: string; index: number; result: unknown; kernel?: true }> }) =>
    r.steps.map((s) => `${name(s.process, s.kernel === true)}#${s.index} ${JSON.stringify(s.result)}`);
  const plainSteps = (r: { steps: Array<{ process: string; index: number; result: unknown; kernel?: true }> }) =>
    r.steps.map((s) => `${s.kernel ? '@list' : s.process}#${s.index} ${JSON.stringify(s.result)}`);
  t.deepEqual(steps(renamed), plainSteps(plain));
  t.deepEqual(renamed.invariants, plain.invariants);
  t.regex(run(['check', join(dir, 'h.jsonl')]), /: valid \(/);
});

const renamedFile = () => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-names-'));
  const file = join(dir, 'names.yaml');
  writeFileSync(file, readFileSync('scenarios/fork-cow-purge.yaml', 'utf8').replace(/\bA\b/g, 'kernel').replace(/\bB\b/g, 'constructor'));
  return file;
};

test('--scheduler pct: a process named kernel is a thread of its own, the kernel list another; the same results as A and B', (t) => {
  const file = renamedFile();
  for (const seed of ['3', '8']) {
    const renamed = JSON.parse(run(['run', file, '--seed', seed, '--scheduler', 'pct', '--json']));
    const plain = JSON.parse(run(['run', 'scenarios/fork-cow-purge.yaml', '--seed', seed, '--scheduler', 'pct', '--json']));
    t.true(renamed.ok, `seed ${seed}`);
    t.true(plain.ok, `seed ${seed}`);
    const order = (r: { steps: Array<{ process: string; index: number; kernel?: true }> }) =>
      r.steps.map((s) => `${s.kernel ? '@list' : s.process === 'kernel' ? 'A' : s.process === 'constructor' ? 'B' : s.process}#${s.index}`);
    t.deepEqual(order(renamed), order(plain), `seed ${seed}: the same schedule`);
  }
});

test('explore --all and play refuse a process named kernel (exit 2, its place named) rather than search it wrongly', (t) => {
  const file = renamedFile();
  for (const args of [['explore', file, '--all'], ['play', file, '--tty']]) {
    const r = spawnSync('node', [cli, ...args], { encoding: 'utf8', input: '' });
    t.is(r.status, 2, args.join(' '));
    t.regex(r.stderr, /processes\.kernel: .*process named "kernel"/);
    t.is(r.stdout, '');
  }
});
