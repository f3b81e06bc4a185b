// Exploratory: a fake kernel (a Router on loopback) sends forged kernel messages to a real
// `vrange agent --connect`; the agent must exit (not hang) with a clear line.
// usage: node fuzz/agent-fuzz.mjs
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
const { Router } = createRequire(import.meta.url)('zeromq');
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: true });
const pk = (v) => packr.pack(v);
const root = new URL('..', import.meta.url).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const steps = [{ op: 'mmap', as: 'buf', pages: 1 }, { op: 'write', map: 'buf', page: 0, value: 'x' }];
const config = { policy: 'shared-file', access: 'sigbus', purgeUnit: 'range', frames: 8, seed: 1, schedule: 'free' };
const init = { t: 'init', id: 1, pid: 2, name: 'A', steps, sigbus: 'kill', config };
const bursts = {
  'garbage bytes': [Buffer.from([0xc1]), Buffer.from([0x91, 0x91]), Buffer.alloc(0)],
  'not a map': [pk(42), pk('init'), pk(null)],
  'unknown t': [pk({ t: 'nope' })],
  'bigint ping': [pk({ t: 'ping', seq: 2n ** 63n, timeoutMs: 2n ** 63n })],
  'huge ping timeout': [pk({ t: 'ping', seq: 1, timeoutMs: 1e300 })],
  'NaN ping timeout': [pk({ t: 'ping', seq: 1, timeoutMs: NaN })],
  'ret before init': [pk({ t: 'ret', re: 5, fd: 3 })],
  'grant before init': [pk({ t: 'grant', index: 0, now: 1 })],
  'init with junk steps': [pk({ ...init, steps: [{ op: 'nope' }] })],
  'init with steps not a list': [pk({ ...init, steps: { __proto__x: 1 } })],
  'init then go out of range': [pk(init), pk({ t: 'go', startIndex: 99, stops: [] })],
  'init then go bigint': [pk(init), pk({ t: 'go', startIndex: 0n, stops: 'x' })],
  'init then prepare junk': [pk(init), pk({ t: 'prepare', xid: 1, runs: 'x' })],
  'init then commit junk': [pk(init), pk({ t: 'commit', xid: 1, runs: [1, -1], last: true })],
  'init then release unblocked': [pk(init), pk({ t: 'release', index: 0 })],
  'die weird': [pk({ t: 'die', signal: 'SIGNOPE' })],
  'die code huge': [pk({ t: 'die', code: 1e9 })],
  'refused non-string': [pk({ t: 'refused', why: { a: 1 } })],
  'init twice': [pk(init), pk(init)],
  'deep': [Buffer.concat([Buffer.alloc(200000, 0x91), Buffer.from([1])])],
  'proto init': [Buffer.concat([Buffer.from([0x82]), pk('t'), pk('init'), pk('__proto__'), pk({ id: 1 })])],
};
// Replays: a message an honest kernel sent, sent again later, unchanged (each burst starts with a
// ping, the first message a kernel sends, so that the replay itself is what is judged).
const ping = (seq) => pk({ t: 'ping', seq, timeoutMs: 1500 });
const initLock = { ...init, config: { ...config, schedule: 'lockstep' } };
const grant0 = { t: 'grant', index: 0, now: 1 };
const prepare1 = { t: 'prepare', xid: 1, runs: [1, 1] };
const commit1 = { t: 'commit', xid: 1, runs: [], last: true };
Object.assign(bursts, {
  'replay init': [ping(1), pk(init), pk(init)],
  'replay ping': [ping(1), ping(1)],
  'replay grant': [ping(1), pk(initLock), pk(grant0), pk(grant0)],
  'grant out of order': [ping(1), pk(initLock), pk({ t: 'grant', index: 1, now: 1 })],
  'grant in free': [ping(1), pk(init), pk(grant0)],
  'replay go': [ping(1), pk(init), pk({ t: 'go', startIndex: 0, stops: [] }), pk({ t: 'go', startIndex: 0, stops: [] })],
  'go in lockstep': [ping(1), pk(initLock), pk({ t: 'go', startIndex: 0, stops: [] })],
  'continue with no at': [ping(1), pk(init), pk({ t: 'go', startIndex: 0, stops: [] }), pk({ t: 'continue' })],
  'replay commit': [ping(1), pk(init), pk(prepare1), pk(commit1), pk(commit1)],
  'replay prepare after commit': [ping(1), pk(init), pk(prepare1), pk(commit1), pk(prepare1)],
  'commit never prepared': [ping(1), pk(init), pk(commit1)],
  'hold before first round': [ping(1), pk(init), pk({ ...prepare1, hold: true })],
  'release with no blocked step': [ping(1), pk(initLock), pk(grant0), pk({ t: 'release', index: 0 })],
  'replay ret': [ping(1), pk(init), pk({ t: 'go', startIndex: 0, stops: [] }), pk({ t: 'ret', re: 1, fileId: -1 }), pk({ t: 'ret', re: 1, fileId: -1 })],
  'refused after init': [ping(1), pk(init), pk({ t: 'refused', why: 'x' })],
  'die then more': [ping(1), pk(init), pk({ t: 'die', code: 0 }), pk(grant0), pk(init)],
  'die then more, one frame': [ping(1), pk([init, { t: 'die', code: 0 }, grant0, init])],
});
const only = process.argv[2];
for (const [name, frames] of Object.entries(bursts)) {
  if (only && !name.includes(only)) continue;
  const r = new Router({ linger: 0 });
  await r.bind('tcp://127.0.0.1:0');
  const ep = r.lastEndpoint;
  const child = spawn(process.execPath, [join(root, 'bin', 'vrange.js'), 'agent', '--connect', ep, '--token', 'a'.repeat(32), '--connect-timeout-ms', '3000'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  child.stdout.on('data', (d) => { err += d; });
  const exit = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  const [id, hello] = await r.receive();
  if (process.env.PING) await r.send([id, pk({ t: 'ping', seq: 1, timeoutMs: 1500 })]);
  for (const f of frames) await r.send([id, f]);
  const t0 = Date.now();
  const x = await Promise.race([exit, sleep(8000).then(() => 'HANG')]);
  if (x === 'HANG') child.kill('SIGKILL');
  console.log(`${name}: ${JSON.stringify(x)} after ${Date.now() - t0} ms :: ${err.trim().split('\n').slice(-2).join(' | ').slice(0, 300)}`);
  r.close();
}
