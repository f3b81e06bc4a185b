// Every command's --help lists its exit codes (cli/exit_codes.ts), and the codes the real
// bin/vrange.js exits with, for each command driven into the ones a test can reach cheaply, are
// among those listed.
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS } from '../cli/cli.js';
import { cli, scenarioPath, tempFile } from './helpers.js';

/** The codes `vrange COMMAND --help` lists under `exit codes:` (N: any exit code of the process, for vrange agent). */
async function listed(command: string): Promise<Set<string>> {
  const r = await cli([command, '--help']);
  const at = r.stdout.indexOf('\n  exit codes:\n');
  if (at < 0) return new Set();
  const codes = new Set<string>();
  for (const line of r.stdout.slice(at).split('\n').slice(2)) {
    const m = /^ {4}(\S+) /.exec(line);
    if (!m) break;
    for (const c of m[1]!.split('/')) codes.add(c);
  }
  return codes;
}

test('every command\'s --help lists its exit codes, and each code the command really exits with is listed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-test-'));
  const failing = tempFile('exit-codes-failing.yaml', [
    'name: exit-codes-failing', 'memory: { frames: 4 }', 'processes:', '  A:', '    steps:',
    '      - { op: mmap, as: m, pages: 1 }', '      - { op: read, map: m, page: 0, expect: { value: "never" } }',
  ].join('\n') + '\n');
  const notHistory = join(dir, 'not-a-history.jsonl');
  writeFileSync(notHistory, 'hello\n');
  const demo = scenarioPath('anon-zero-fill');
  const runs: Array<[string, string[]]> = [
    ['run', [demo]], ['run', [failing]], ['run', [demo, '--frames', 'x']],
    ['explore', [demo, '--runs', '0']], ['merge', [notHistory]], ['check', [notHistory]], ['compare', [demo, '--bogus']],
    ['quiz', ['--seed', '1']], ['quiz', ['--seed', '-1']], ['play', []], ['list', [join(dir, 'none')]], ['list', []],
    ['kernel', ['--listen', 'tcp://10.0.0.1:1']], ['agent', ['--bogus']],
    // Nothing listens there: it never gets in.
    ['agent', ['--connect', 'tcp://127.0.0.1:1', '--token', 'a'.repeat(32), '--connect-timeout-ms', '100']],
    ['keygen', ['--out', dir, '--name', 'k']], ['keygen', ['--out', '/proc/nope']], ['help', ['run']], ['help', ['bogus']],
  ];
  const seen = new Map<string, Set<string>>();
  for (const [command, args] of runs) {
    const r = await cli([command, ...args]);
    let s = seen.get(command);
    if (!s) seen.set(command, (s = new Set()));
    s.add(String(r.code));
  }
  for (const command of COMMANDS) {
    const codes = await listed(command);
    t.true(codes.size > 0, `vrange ${command} --help lists exit codes`);
    for (const c of ['2', '70']) t.true(codes.has(c), `vrange ${command} --help lists ${c}`);
    for (const c of seen.get(command) ?? []) t.true(codes.has(c), `vrange ${command} exited ${c}, which its --help does not list (${[...codes].join(', ')})`);
  }
  // What each run reached, so that the codes above were really driven.
  t.deepEqual([...seen.get('run')!].sort(), ['0', '1', '2']);
  t.deepEqual([...seen.get('agent')!].sort(), ['2', '3']);
  t.deepEqual([...seen.get('keygen')!].sort(), ['0', '2']);
});
