// Raw ZeroMQ peers and a real `vrange kernel --listen` for the forged-peer tests
// (test/remote-forge.test.ts): a kernel with a real agent for A, peers that send any frame, and
// garbage frames from fixed seeds.

import type { ExecutionContext } from 'ava';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type * as Zmq from 'zeromq';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { ended, root } from './helpers.js';

const { Dealer } = createRequire(import.meta.url)('zeromq') as typeof Zmq;
export const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: true });
export const pack = (v: unknown): Buffer => packr.pack(v);
export const bin = join(root, 'bin', 'vrange.js');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export type Msg = Record<string, unknown>;

export function vrange(t: ExecutionContext, args: string[]) {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const c = { out: '', err: '', exit: ended(child) };
  child.stdout!.on('data', (d: Buffer) => { c.out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { c.err += d.toString(); });
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return c;
}

export async function until<T>(f: () => T | undefined, what: string, ms = 20_000): Promise<T> {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(20)) { const v = f(); if (v !== undefined) return v; }
  throw new Error(`timed out waiting for ${what}`);
}

/** A kernel on a free loopback port (free or lockstep), a real agent for A, and the token. */
export async function kernelWithA(t: ExecutionContext, scenario: string, schedule: 'free' | 'lockstep', more: string[] = []) {
  const trace = join(mkdtempSync(join(tmpdir(), 'vrange-test-')), 'trace.jsonl');
  const k = vrange(t, ['kernel', '--listen', 'tcp://127.0.0.1:0', '--scenario', scenario, '--seed', '1', '--schedule', schedule,
    '--trace', trace, '--heartbeat-timeout-ms', '5000', ...more]);
  const endpoint = await until(() => /listening on (tcp:\/\/127\.0\.0\.1:\d+)/.exec(k.out)?.[1], 'the kernel to listen');
  const token = await until(() => /kernel: token ([0-9a-f]{32})/.exec(k.out)?.[1], 'the token');
  const a = vrange(t, ['agent', '--connect', endpoint, '--token', token]);
  await until(() => (/A starts as pid 2/.test(k.out) ? true : undefined), 'A to start');
  return { k, a, endpoint, token, trace };
}

/** A raw peer: sends any frames, answers pings, keeps the rest. */
export function peer(t: ExecutionContext, endpoint: string, routingId: string) {
  const d = new Dealer({ linger: 0, routingId });
  t.teardown(() => d.close());
  d.connect(endpoint);
  const inbox: Msg[] = [];
  /** The pongs it has sent, in order (a replay probe sends one again). */
  const pongs: Msg[] = [];
  void (async () => {
    try {
      for await (const [f] of d) {
        const v = packr.unpack(f!) as Msg | Msg[];
        for (const m of Array.isArray(v) ? v : [v]) if (m.t === 'ping') { pongs.push({ t: 'pong', seq: m.seq }); void d.send(pack({ t: 'pong', seq: m.seq })); } else inbox.push(m);
      }
    } catch { /* closed */ }
  })();
  let chain = Promise.resolve();
  const sendRaw = (frames: Buffer | Buffer[]) => (chain = chain.then(() => d.send(frames)));
  const next = (pred: (m: Msg) => boolean, what: string, ms?: number) => until(() => { const i = inbox.findIndex(pred); return i >= 0 ? inbox.splice(i, 1)[0] : undefined; }, what, ms);
  return { sendRaw, send: (m: unknown) => sendRaw(pack(m)), next, pongs };
}

/** A peer that says hello with the token and takes its process; resolves after the process's first grant or go. */
export async function takeProcess(t: ExecutionContext, endpoint: string, token: string, routingId: string, host = 'forger') {
  const p = peer(t, endpoint, routingId);
  await p.send({ t: 'hello', osPid: 1, host, token });
  const init = await p.next((m) => m.t === 'init', `${routingId}'s init`);
  await p.send({ t: 'ready', re: init.id });
  await p.next((m) => m.t === 'go' || m.t === 'grant', `${routingId}'s go`);
  return { ...p, name: init.name as string, initId: init.id as number, token };
}

export const historyOf = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Msg);

/** Frames no agent sends, from fixed seeds: bytes, msgpack of anything (bigints, nesting), extensions, truncations, deep lists. */
export function garbageFrames(seed: number, n: number): Buffer[] {
  const valid = pack({ t: 'signal', id: 1, name: 's' });
  const frame = fc.oneof(
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    fc.anything({ withBigInt: true, withDate: true, withTypedArray: true, withMap: true, withSet: true, withNullPrototype: true, maxDepth: 4 })
      .map((v) => { try { return pack(v); } catch { return Buffer.from([0xc1]); } }),
    // An extension of any type code (typed arrays 0x74, errors 0x65, structured-clone 0x69/0x70, unknown ones).
    fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 16 })).map(([type, data]) => Buffer.concat([Buffer.from([0xc7, data.length, type]), data])),
    fc.nat(valid.length - 1).map((cut) => valid.subarray(0, cut)),
    fc.constantFrom(Buffer.concat([Buffer.alloc(100_000, 0x91), Buffer.from([1])]), Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 1]),
      Buffer.concat([valid, Buffer.from([1])]), Buffer.alloc(0)),
  );
  return fc.sample(frame, { numRuns: n, seed });
}

/** No process is left that names this kernel's endpoint (an agent of it). */
export function noStrayAgents(t: ExecutionContext, endpoint: string): void {
  let left = '';
  try { left = execFileSync('pgrep', ['-fa', '--', `--connect ${endpoint}`], { encoding: 'utf8' }); } catch { /* none: pgrep exits 1 */ }
  t.is(left.trim(), '', left);
}

/** The steps of a participant P of the kernel's reclaim, as an agent runs them up to its wait: a page mapped and written, a signal, then `wait s2` (syscall id 4, unanswered). */
export async function mapAndWait(p: Awaited<ReturnType<typeof takeProcess>>, signal: string): Promise<void> {
  await p.send({ t: 'mmap', id: 1, addr: 1, pages: 1, fd: -1, offset: 0, share: 'private' });
  await p.next((m) => m.t === 'ret' && m.re === 1, 'the mmap');
  await p.send({ t: 'done', index: 0, result: { ok: true, addr: 4096 }, detail: { span: [1, 2] } });
  await p.send({ t: 'write', id: 2, vpage: 1, frame: -1, cow: false, anon: true, value: 'x' });
  await p.next((m) => m.t === 'ret' && m.re === 2, 'the write');
  await p.send({ t: 'done', index: 1, result: { ok: true } });
  await p.send({ t: 'signal', id: 3, name: signal });
  await p.next((m) => m.t === 'ret' && m.re === 3, 'the signal');
  await p.send({ t: 'done', index: 2, result: { ok: true } });
  await p.send({ t: 'wait', id: 4, name: 's2' });
}
