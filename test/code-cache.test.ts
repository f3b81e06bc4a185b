// The code caches of the agent and the CLI (shared/code_cache.cjs, agents/loader.cjs, cli/load.ts,
// scripts/bundle.ts): the build leaves one for each, a process uses it only for the very bundle it
// was made from (with the same Node and flags), refuses a stale, malformed or corrupt one and then
// runs as without it, and a run gives the same answers with and without them. The runner says what
// it did on stderr under VRANGE_CODE_CACHE_TRACE=1; an
// agent started with no arguments prints its usage and exits 2, after the bundle has loaded (so
// each case below also shows that the bundle ran).
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Script } from 'node:vm';
import { root } from './helpers.js';

const dir = join(root, 'dist', 'agents', 'bundle');

/** Runs the agent's start script in `folder` with no arguments: its stderr and status. */
function startAgent(folder: string, env: Record<string, string> = {}): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [join(folder, 'agent.js')], { env: { ...process.env, VRANGE_CODE_CACHE_TRACE: '1', ...env }, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

const ranBundle = (r: { status: number | null; stderr: string }) => r.status === 2 && r.stderr.includes('usage: agent ENDPOINT ROUTING_ID');

/**
 * A copy of the bundle's folder beside it (dist/agents/, so that the bundle's relative path to
 * zeromq's addon still holds), with its cache changed by `edit`; removed after `fn`.
 */
function withCopy(edit: (folder: string) => void, fn: (folder: string) => void): void {
  const folder = mkdtempSync(join(root, 'dist', 'agents', 'bundle-copy-'));
  try {
    for (const f of ['agent.js', 'agent-code.js', 'agent-code.cache', 'package.json']) copyFileSync(join(dir, f), join(folder, f));
    edit(folder);
    fn(folder);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** The cache file's header (a 4-byte length, then JSON) and the rest. */
function splitCache(buf: Buffer): { head: Record<string, unknown>; data: Buffer } {
  const n = buf.readUInt32LE(0);
  return { head: JSON.parse(buf.subarray(4, 4 + n).toString('utf8')) as Record<string, unknown>, data: buf.subarray(4 + n) };
}

function joinCache(head: Record<string, unknown>, data: Buffer): Buffer {
  const h = Buffer.from(JSON.stringify(head), 'utf8');
  const size = Buffer.alloc(4);
  size.writeUInt32LE(h.length, 0);
  return Buffer.concat([size, h, data]);
}

test('the build leaves a code cache made from this bundle by this Node, and an agent uses it', (t) => {
  const { head, data } = splitCache(readFileSync(join(dir, 'agent-code.cache')));
  t.is(head.node, process.version);
  t.true(data.length > 10_000, `the cache holds compiled code (${data.length} bytes)`);
  const r = startAgent(dir);
  t.true(ranBundle(r), r.stderr);
  t.regex(r.stderr, /vrange agent code cache: used \(\d+ bytes\)/);
});

test('the build leaves a code cache for the CLI, and `vrange` uses it', (t) => {
  const { head, data } = splitCache(readFileSync(join(root, 'dist', 'cli', 'bundle', 'cli-code.cache')));
  t.is(head.node, process.version);
  t.deepEqual(head.flags, [], 'the CLI sets no V8 flags');
  t.true(data.length > 100_000, `the cache holds compiled code (${data.length} bytes)`);
  const r = spawnSync(process.execPath, [join(root, 'bin', 'vrange.js'), '--help'], { env: { ...process.env, VRANGE_CODE_CACHE_TRACE: '1' }, encoding: 'utf8' });
  t.is(r.status, 0);
  t.regex(r.stderr, /vrange cli code cache: used \(\d+ bytes\)/);
  t.regex(r.stdout, /vrange run/);
});

test('a cache made from another bundle (of the same length, which V8 alone would accept) is not used', (t) => {
  withCopy((folder) => {
    // One character of the bundle changed, its length the same: V8's own check compares lengths only.
    const code = readFileSync(join(folder, 'agent-code.js'), 'utf8');
    const at = code.indexOf('usage: agent ENDPOINT');
    writeFileSync(join(folder, 'agent-code.js'), code.slice(0, at) + 'Usage' + code.slice(at + 5));
  }, (folder) => {
    const r = startAgent(folder);
    t.is(r.status, 2);
    t.regex(r.stderr, /code cache: stale/);
    t.true(r.stderr.includes('Usage: agent ENDPOINT ROUTING_ID'), 'the changed bundle is what ran');
  });
});

test('a cache of another Node, other flags, a malformed header or corrupt data: the agent compiles its bundle and runs', (t) => {
  const cases: Array<[string, (b: Buffer) => Buffer, RegExp]> = [
    ['another Node', (b) => { const { head, data } = splitCache(b); return joinCache({ ...head, node: 'v0.0.1' }, data); }, /made by Node v0\.0\.1/],
    ['other flags', (b) => { const { head, data } = splitCache(b); return joinCache({ ...head, flags: ['--max-opt=3'] }, data); }, /made with other flags/],
    ['a header length past the end', (b) => { const c = Buffer.from(b); c.writeUInt32LE(b.length, 0); return c; }, /malformed/],
    ['a header that is not JSON', (b) => { const c = Buffer.from(b); c[5] = 0x7b; c[6] = 0x7b; return c; }, /malformed/],
    ['an empty file', () => Buffer.alloc(0), /malformed/],
    // Handed to V8, this one aborts Node (V8 does not check the code): the digest keeps it back.
    ['corrupt compiled code', (b) => { const { head, data } = splitCache(b); const d = Buffer.from(data); for (let i = 16; i < d.length; i += 7) d[i] ^= 0x5a; return joinCache(head, d); }, /corrupt/],
    ['a truncated cache', (b) => { const { head, data } = splitCache(b); return joinCache(head, data.subarray(0, data.length >> 1)); }, /corrupt/],
    // Whole, with its digest, but compiled from another script: V8's own check refuses it.
    ['the code of another script', (b) => {
      const { head } = splitCache(b);
      const other = new Script('"another script"').createCachedData();
      return joinCache({ ...head, dataSha256: createHash('sha256').update(other).digest('hex') }, other);
    }, /refused by V8/],
  ];
  for (const [name, edit, want] of cases) {
    withCopy((folder) => writeFileSync(join(folder, 'agent-code.cache'), edit(readFileSync(join(folder, 'agent-code.cache')))), (folder) => {
      const r = startAgent(folder);
      t.regex(r.stderr, want, name);
      t.true(ranBundle(r), `${name}: the bundle ran (${r.stderr})`);
    });
  }
  withCopy((folder) => rmSync(join(folder, 'agent-code.cache')), (folder) => {
    const r = startAgent(folder);
    t.regex(r.stderr, /code cache: none/);
    t.true(ranBundle(r));
  });
});

test('VRANGE_CODE_CACHE=0 and VRANGE_AGENT_NODE_ARGS turn the cache off', (t) => {
  for (const env of [{ VRANGE_CODE_CACHE: '0' }, { VRANGE_AGENT_NODE_ARGS: '' }] as Array<Record<string, string>>) {
    const r = startAgent(dir, env);
    t.regex(r.stderr, /code cache: off/, JSON.stringify(env));
    t.true(ranBundle(r));
  }
});

test('a run gives the same answers with and without the code caches, and its CLI and every agent use theirs', (t) => {
  const run = (env: Record<string, string>) => {
    const r = spawnSync(process.execPath, [join(root, 'bin', 'vrange.js'), 'run', join(root, 'scenarios', 'fork-cow-purge.yaml'), '--seed', '1', '--json'],
      { env: { ...process.env, VRANGE_CODE_CACHE_TRACE: '1', ...env }, encoding: 'utf8', timeout: 60_000 });
    t.is(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { ok: boolean; steps: Array<Record<string, unknown>> };
    const said = r.stderr.split('\n').filter((l) => l.includes('code cache:'));
    return { said, answers: { ok: doc.ok, steps: doc.steps.map((s) => ({ process: s.process, index: s.index, op: s.op, result: s.result })) } };
  };
  const on = run({});
  t.true(on.answers.ok);
  t.true(on.answers.steps.length >= 10);
  t.regex(on.said[0] ?? '', /^vrange cli code cache: used/, 'the CLI used its cache');
  const agents = on.said.filter((l) => l.startsWith('vrange agent'));
  t.true(agents.length >= 2, `every agent said what it did (${agents.length})`);
  for (const l of agents) t.regex(l, /^vrange agent code cache: used \(\d+ bytes\)$/);
  const off = run({ VRANGE_CODE_CACHE: '0' });
  t.true(off.said.length >= 3 && off.said.every((l) => l.endsWith('code cache: off')), off.said.join('; '));
  t.deepEqual(off.answers, on.answers);
});

test('with source maps on, a bundle is required as a plain file (no cache), and still runs', (t) => {
  const r = startAgent(dir, { NODE_OPTIONS: '--enable-source-maps' });
  t.regex(r.stderr, /code cache: off \(source maps or coverage\)/);
  t.true(ranBundle(r), r.stderr);
  const cli = spawnSync(process.execPath, ['--enable-source-maps', join(root, 'bin', 'vrange.js'), '--help'], { env: { ...process.env, VRANGE_CODE_CACHE_TRACE: '1' }, encoding: 'utf8' });
  t.is(cli.status, 0);
  t.regex(cli.stderr, /vrange cli code cache: off \(source maps or coverage\)/);
  t.regex(cli.stdout, /vrange run/);
});
