// What a command killed while it writes its output files leaves, and what the next one does with
// it: the temporaries a SIGKILL leaves beside an output (`--html`, `--trace`, ... and `vrange
// keygen`'s pair), removed by the next write of the same file when their writer is gone; and the
// scenario a reproduce line names when the one that ran cannot be read again (/dev/stdin, a file
// removed or changed since).

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { root, scenarioPath } from './helpers.js';
import { processStartTime } from '../shared/procfs.js';
import { exited, ownTmp as tmpFor, procsIn, until, vrangeIn } from './tmp_runs.js';

const bin = join(root, 'bin', 'vrange.js');
const vrange = (args: string[], env: NodeJS.ProcessEnv = {}) => spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env } });

/** A directory for this test, removed at its end. */
function ownDir(t: { teardown: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-outputs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A pid that was a process a moment ago and is none now. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

test('the temporaries a killed writer left beside an output are removed by the next write of it; a live writer\'s and another file\'s are left', (t) => {
  const dir = ownDir(t);
  const dead = deadPid();
  const own = processStartTime(process.pid)!;
  const left = {
    // What a vrange SIGKILLed in the middle of writing out.html (or t.jsonl) leaves.
    deadHtml: `.out.html.${dead}.${own}.k2j3h4g5.tmp`,
    deadTrace: `.t.jsonl.${dead}.${own}.a1b2c3d4.tmp`,
    // Its pid used again by a process that started at another time (this test's own pid).
    reusedPid: `.out.html.${process.pid}.1.zz9yy8xx.tmp`,
    // An older vrange's name, without the start time.
    older: `.out.html.${dead}.q1w2e3r4.tmp`,
    // A live writer's (this test process, as it is): another vrange writing out.html now.
    live: `.out.html.${process.pid}.${own}.l1v2e3w4.tmp`,
    // Another file's, and a file that only looks like a temporary.
    otherFile: `.other.html.${dead}.${own}.o1t2h3e4.tmp`,
    notOurs: '.out.html.notes.tmp',
  };
  for (const name of Object.values(left)) writeFileSync(join(dir, name), 'half a file');
  const r = vrange(['run', scenarioPath('anon-zero-fill'), '--seed', '1', '--quiet', '--html', join(dir, 'out.html'), '--trace', join(dir, 't.jsonl')]);
  t.is(r.status, 0, r.stdout + r.stderr);
  t.true(readFileSync(join(dir, 'out.html'), 'utf8').startsWith('<!doctype html>'));
  t.deepEqual(readdirSync(dir).sort(), [left.live, left.notOurs, left.otherFile, 'out.html', 't.jsonl'].sort());
});

test('a killed writer\'s temporary is all it leaves: the target keeps its old text until a write completes', (t) => {
  const dir = ownDir(t);
  const target = join(dir, 'out.html');
  writeFileSync(target, 'the old page');
  // A writer SIGKILLed between its temporary and its rename: the temporary holds the new text, the target the old.
  const hold = join(dir, 'hold.cjs');
  writeFileSync(hold, `const fs = require('node:fs'); const rename = fs.renameSync;
fs.renameSync = (a, b) => { if (String(b).endsWith('out.html')) process.kill(process.pid, 'SIGKILL'); return rename(a, b); };\n`);
  const r = vrange(['run', scenarioPath('anon-zero-fill'), '--seed', '1', '--quiet', '--html', target], { NODE_OPTIONS: `--require ${hold}` });
  t.is(r.signal, 'SIGKILL', r.stdout + r.stderr);
  t.is(readFileSync(target, 'utf8'), 'the old page');
  const temps = readdirSync(dir).filter((n) => n.startsWith('.out.html.'));
  t.is(temps.length, 1, temps.join(', '));
  t.regex(temps[0]!, new RegExp(`^\\.out\\.html\\.${r.pid}\\.\\d+\\.[a-z0-9]+\\.tmp$`));
  // The next write of out.html removes it (its writer is dead).
  const again = vrange(['run', scenarioPath('anon-zero-fill'), '--seed', '1', '--quiet', '--html', target]);
  t.is(again.status, 0, again.stderr);
  t.deepEqual(readdirSync(dir).sort(), ['hold.cjs', 'out.html']);
  t.true(existsSync(target) && readFileSync(target, 'utf8').startsWith('<!doctype html>'));
});

/** A preload that SIGKILLs the process as it gives the `nth` file of the key pair its name (a link or a rename into DIR). */
function killAtPlacement(dir: string, nth: number): string {
  const hold = join(dir, `kill-at-${nth}.cjs`);
  writeFileSync(hold, `const fs = require('node:fs'); let n = 0;
for (const f of ['linkSync', 'renameSync']) { const real = fs[f]; fs[f] = (a, b) => { if (/\\.(key|pub)$/.test(String(b)) && ++n === ${nth}) process.kill(process.pid, 'SIGKILL'); return real(a, b); }; }\n`);
  return hold;
}

test('vrange keygen killed between its two files: no secret key without its public one; the next keygen of the name writes the pair', (t) => {
  const dir = ownDir(t);
  const keys = join(dir, 'keys');
  const r = vrange(['keygen', '--out', keys, '--name', 'a'], { NODE_OPTIONS: `--require ${killAtPlacement(dir, 2)}` });
  t.is(r.signal, 'SIGKILL', r.stdout + r.stderr);
  // The pair appears together or not at all: NAME.key only once NAME.pub is whole.
  t.false(existsSync(join(keys, 'a.key')), 'no secret key without its public key');
  const again = vrange(['keygen', '--out', keys, '--name', 'a']);
  t.is(again.status, 0, again.stdout + again.stderr);
  t.deepEqual(readdirSync(keys).sort(), ['a.key', 'a.pub'], 'the half pair and the temporaries removed');
  const pub = readFileSync(join(keys, 'a.pub'), 'utf8').trim();
  t.true(again.stdout.includes(`(the public key ${pub})`), 'a.pub is the new pair\'s');
  t.regex(readFileSync(join(keys, 'a.key'), 'utf8'), /^\S{40}\n$/);
  // And the pair reads back as one (the agent's --key): a third keygen refuses to overwrite it.
  const third = vrange(['keygen', '--out', keys, '--name', 'a']);
  t.is(third.status, 2);
  t.regex(third.stderr, /a\.key exists; remove it or choose another --name/);
});

test('vrange keygen killed before its first file: nothing of the pair; a NAME.pub of another origin is never taken for a half pair', (t) => {
  const dir = ownDir(t);
  const keys = join(dir, 'keys');
  const r = vrange(['keygen', '--out', keys, '--name', 'a'], { NODE_OPTIONS: `--require ${killAtPlacement(dir, 1)}` });
  t.is(r.signal, 'SIGKILL', r.stdout + r.stderr);
  t.deepEqual(readdirSync(keys).filter((n) => !n.startsWith('.')), [], 'neither file');
  t.is(vrange(['keygen', '--out', keys, '--name', 'a']).status, 0);
  t.deepEqual(readdirSync(keys).sort(), ['a.key', 'a.pub']);
  // Another machine's public key copied in under the name: refused, left as it is.
  const theirs = readFileSync(join(keys, 'a.pub'), 'utf8');
  writeFileSync(join(keys, 'b.pub'), theirs);
  const b = vrange(['keygen', '--out', keys, '--name', 'b']);
  t.is(b.status, 2, b.stdout + b.stderr);
  t.regex(b.stderr, /b\.pub exists; remove it or choose another --name/);
  t.is(readFileSync(join(keys, 'b.pub'), 'utf8'), theirs);
  t.false(existsSync(join(keys, 'b.key')));
});

/** The path a `reproduce:` (or `FAILED seed ...:`) line names, and the rest of its command. */
function reproOf(text: string, head = /reproduce: vrange run (\S+) (.*)\n/): { file: string; args: string[] } {
  const m = head.exec(text);
  if (!m) throw new Error(`no reproduce line in:\n${text}`);
  return { file: m[1]!, args: m[2]!.split(' ') };
}

test('a scenario read from /dev/stdin: the reproduce line names a copy of the text that ran, which reproduces the run', (t) => {
  const tmp = ownDir(t);
  const text = readFileSync(scenarioPath('deadlock-demo'), 'utf8');
  const stdin = join(tmp, 'in.yaml');
  writeFileSync(stdin, text);
  const fromStdin = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, TMPDIR: tmp }, stdio: [openSync(stdin, 'r'), 'pipe', 'pipe'] });
  const r = fromStdin(['run', '/dev/stdin', '--seed', '3', '--quiet']);
  t.is(r.status, 1, r.stderr);
  const { file, args } = reproOf(r.stdout);
  t.regex(file, new RegExp(`^${tmp}/vrange-scenario-[0-9a-f]{16}\\.yaml$`));
  t.is(readFileSync(file, 'utf8'), text);
  rmSync(stdin);
  // The line, as printed, gives the same run.
  const again = vrange(['run', file, ...args, '--quiet'], { TMPDIR: tmp });
  t.is(again.status, 1);
  const body = (s: string) => s.split('\n').filter((l) => !/^(scenario|reproduce:) /.test(l)).join('\n');
  t.is(body(again.stdout), body(r.stdout));
  t.is(reproOf(again.stdout).file, file, 'a file that stays is named as given');
  // explore's failed runs too; the same text, the same copy.
  writeFileSync(stdin, text);
  const x = fromStdin(['explore', '/dev/stdin', '--runs', '1', '--seed', '3', '--no-shrink']);
  t.is(x.status, 1, x.stderr);
  t.is(reproOf(x.stdout, /FAILED seed 3 \([^)]*\): vrange run (\S+) (.*)\n/).file, file);
  t.deepEqual(readdirSync(tmp).filter((n) => n.startsWith('vrange-scenario-')), [basename(file)]);
});

test('a scenario file removed or changed while it runs: the reproduce line names a copy of the text that ran', async (t) => {
  for (const change of ['remove', 'edit'] as const) {
    const tmp = tmpFor(t, 'vrange-outputs-');
    const file = join(tmp, 'fcp.yaml');
    const text = readFileSync(scenarioPath('fork-cow-purge'), 'utf8');
    writeFileSync(file, text);
    // The run fails by its bound (a pause outlasts it), which gives the time to remove or change its file.
    const c = vrangeIn(t, tmp, ['run', file, '--seed', '1', '--fault', 'pause:A@1:60000', '--timeout', '1500', '--quiet']);
    await until('A stopped by its pause', () => procsIn(tmp).some((p) => p.cmd.includes('agent.js') && p.state === 'T'), 15_000);
    if (change === 'remove') rmSync(file); else writeFileSync(file, text.replace(/frames: \d+/, 'frames: 32'));
    const r = await exited(c, 15_000);
    t.is(r.code, 1, c.stderr());
    const named = reproOf(c.stdout()).file;
    t.regex(named, new RegExp(`^${tmp}/vrange-scenario-[0-9a-f]{16}\\.yaml$`), change);
    t.is(readFileSync(named, 'utf8'), text, change);
  }
});
