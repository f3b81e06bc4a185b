// A process named `kernel` or `constructor` (allowed by the scenario format) runs and checks as
// an ordinary name does: fork-cow-purge with its processes renamed gives the same results.
import test from 'ava';
import { execFileSync } from 'node:child_process';
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
