// Exploratory fuzzer: a real `vrange kernel --listen`, a real agent A, and raw ZeroMQ forgers.
// usage: node fuzz/remote-fuzz.mjs [probe-name-substring]
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { Packr } from 'msgpackr';
const { Dealer } = createRequire(import.meta.url)('zeromq');
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: true });
const pk = (v) => packr.pack(v);
const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin', 'vrange.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function vrange(args) {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const c = { child, out: '', err: '' };
  child.stdout.on('data', (d) => { c.out += d; });
  child.stderr.on('data', (d) => { c.err += d; });
  c.exit = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return c;
}
async function waitOut(c, re, ms = 15000) {
  const t0 = Date.now();
  for (;;) { const m = re.exec(c.out); if (m) return m; if (Date.now() - t0 > ms) throw new Error(`timeout waiting ${re}\n${c.out}\n${c.err}`); await sleep(20); }
}
function raw(endpoint, id) {
  const d = new Dealer({ linger: 0, routingId: id });
  d.connect(endpoint);
  const inbox = [];
  const pongs = [];
  let closed = false;
  (async () => { try { for await (const [f] of d) { let v = packr.unpack(f); for (const m of Array.isArray(v) ? v : [v]) { if (m.t === 'ping') { pongs.push({ t: 'pong', seq: m.seq }); d.send(pk({ t: 'pong', seq: m.seq })).catch(() => {}); } else inbox.push(m); } } } catch {} })();
  const q = []; let busy = false;
  const sendRaw = async (frames) => { q.push(frames); if (busy) return; busy = true; while (q.length) { const f = q.shift(); try { await d.send(f); } catch (e) { console.log('send err', e.message); } } busy = false; };
  const next = async (pred, ms = 8000) => { const t0 = Date.now(); for (;;) { const i = inbox.findIndex(pred); if (i >= 0) return inbox.splice(i, 1)[0]; if (Date.now() - t0 > ms) return undefined; await sleep(10); } };
  // Every message sent, as sent (a replay probe sends one of them again, later).
  const sent = [];
  const send = (m) => { if (!Array.isArray(m)) sent.push(m); return sendRaw(pk(m)); };
  const last = (t) => [...sent].reverse().find((m) => m.t === t);
  return { d, inbox, pongs, sendRaw, send, sent, last, next, close: () => { closed = true; d.close(); } };
}

const probes = [];
const probe = (name, fn, scen, schedule = 'free') => probes.push({ name, fn, scen, schedule });

// ---- after the forger has its process (F), in the free schedule, after go.
const done0 = { t: 'done', index: 0, result: { ok: true } };
probe('result bigint', async (f) => { await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); await f.send({ t: 'done', index: 0, result: { ok: true, value: 2n ** 64n - 1n } }); });
probe('result cycle', async (f) => {
  await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret');
  // structured-clone id (0x69) + pointer (0x70): {ok:true, self: <pointer to the result>}
  const head = pk({ t: 'done', index: 0 });
  // build manually: map of 3: t, index, result
  const ok = pk('ok'), tr = pk(true), self = pk('self');
  const result = Buffer.concat([Buffer.from([0xd6, 0x69, 0, 0, 0, 1]), Buffer.from([0x82]), ok, tr, self, Buffer.from([0xd6, 0x70, 0, 0, 0, 1])]);
  const msg = Buffer.concat([Buffer.from([0x83]), pk('t'), pk('done'), pk('index'), pk(0), pk('result'), result]);
  console.log('cycle decodes to', (() => { try { const v = packr.unpack(msg); return v.result.self === v.result; } catch (e) { return e.message; } })());
  await f.sendRaw(msg);
});
probe('result set/date/regexp/typed', async (f) => { await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); await f.send({ t: 'done', index: 0, result: { ok: true, value: new Set([1]), d: new Date(0), r: /(a+)+$/, u: new Float64Array(2), e: new Error('x'), m: new Map([[1, 2]]) } }); });
probe('result toString/constructor keys', async (f) => { await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); await f.send({ t: 'done', index: 0, result: { ok: true, toString: 1, constructor: 'x', valueOf: 2, hasOwnProperty: 3, __proto__x: 1 } }); });
probe('result huge', async (f) => { await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); await f.send({ t: 'done', index: 0, result: { ok: true, value: 'x'.repeat(50_000_000) } }); });
probe('result deep', async (f) => { await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); let v = 1; for (let i = 0; i < 5000; i++) v = [v]; await f.send({ t: 'done', index: 0, result: { ok: true, value: v } }); });
probe('result wrong value types', async (f) => { await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); await f.send({ t: 'done', index: 0, result: { ok: true, value: 5, bytes: 'x', signal: 7, errno: {}, stuck: 'y', pages: 3, fd: 'q' } }); });
probe('result ok false with junk', async (f) => { await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); await f.send({ t: 'done', index: 0, result: { ok: false, errno: 12, signal: ['x'] } }); });
probe('detail junk', async (f) => { await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); await f.send({ t: 'done', index: 0, result: { ok: true }, detail: { span: [5, 2 ** 36] } }); });
probe('hello twice', async (f) => { await f.send({ t: 'hello', osPid: 999 }); await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); await f.send(done0); });
probe('ret-like reply from agent', async (f) => { await f.send({ t: 'ret', re: 1 }); });
probe('prepared never asked', async (f) => { await f.send({ t: 'prepared', xid: 5, runs: [1, 1, 1, 1] }); await f.send({ t: 'committed', xid: 5, violations: ['x'] }); await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); await f.send(done0); });
probe('ready twice', async (f) => { await f.send({ t: 'ready', re: 1 }); });
probe('pong unasked', async (f) => { await f.send({ t: 'pong', seq: 2 ** 53 - 1 }); await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); await f.send(done0); });
probe('two syscalls at once', async (f) => { await f.send({ t: 'wait', id: 1, name: 'never' }); await f.send({ t: 'signal', id: 2, name: 's' }); });
probe('messages after done (exit)', async (f) => { await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); await f.send(done0); await f.next((m) => m.t === 'die'); for (let i = 0; i < 5; i++) await f.send({ t: 'signal', id: 10 + i, name: 's' }); await sleep(200); });
probe('extra frames', async (f) => { await f.sendRaw([pk({ t: 'signal', id: 1, name: 's' }), pk(done0), Buffer.from([0xc1])]); });
probe('empty frame', async (f) => { await f.sendRaw([Buffer.alloc(0)]); });
probe('truncated frame', async (f) => { await f.sendRaw(pk({ t: 'signal', id: 1, name: 's' }).subarray(0, 5)); });
probe('trailing bytes', async (f) => { await f.sendRaw(Buffer.concat([pk({ t: 'signal', id: 1, name: 's' }), Buffer.from([0x01])])); });
probe('deep nesting frame', async (f) => { await f.sendRaw(Buffer.concat([Buffer.alloc(300000, 0x91), Buffer.from([0x01])])); });
probe('huge array header', async (f) => { await f.sendRaw(Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x80])); });
probe('batch of many bad', async (f) => { await f.send(Array.from({ length: 100000 }, () => ({ t: 'nope' }))); });
probe('bad float page', async (f) => { await f.send({ t: 'munmap', id: 1, start: 1.5, pages: NaN }); });
probe('bigint page', async (f) => { await f.send({ t: 'munmap', id: 1, start: 1n, pages: 1 }); });
probe('negative page', async (f) => { await f.send({ t: 'fquery', id: 1, vpages: [-1] }); });
probe('proto fields', async (f) => { const m = packr.unpack(Buffer.concat([Buffer.from([0x84]), pk('t'), pk('signal'), pk('id'), pk(1), pk('name'), pk('s'), pk('__proto__'), pk({ name: 'x' })])); console.log('proto decoded', m); await f.sendRaw(Buffer.concat([Buffer.from([0x84]), pk('t'), pk('signal'), pk('id'), pk(1), pk('name'), pk('s'), pk('__proto__'), pk({ name: 'x' })])); });
probe('constructor field', async (f) => { await f.send({ t: 'signal', id: 1, name: 's', constructor: 1 }); });
probe('name constructor', async (f) => { await f.send({ t: 'wait', id: 1, name: '__proto__' }); await f.send({ t: 'signal', id: 2, name: 'constructor' }); });
probe('signal name proto', async (f) => { await f.send({ t: 'signal', id: 2, name: '__proto__' }); await f.next((m) => m.t === 'ret'); await f.send({ t: 'signal', id: 3, name: 'toString' }); await f.next((m) => m.t === 'ret'); await f.send(done0); });
probe('waitpid proto', async (f) => { await f.send({ t: 'waitpid', id: 2, process: '__proto__' }); });
probe('waitpid constructor', async (f) => { await f.send({ t: 'waitpid', id: 2, process: 'constructor' }); });
probe('open proto file', async (f) => { await f.send({ t: 'open', id: 2, file: '__proto__' }); await f.next((m) => m.t === 'ret'); await f.send({ t: 'open', id: 3, file: 'constructor' }); await f.next((m) => m.t === 'ret'); await f.send({ t: 'open', id: 4, file: 'hasOwnProperty' }); });
probe('fork proto child', async (f) => { await f.send({ t: 'fork', id: 2, child: '__proto__', mm: { vmas: [], ranges: [], bindings: {} } }); });
probe('fork constructor child', async (f) => { await f.send({ t: 'fork', id: 2, child: 'constructor', mm: { vmas: [], ranges: [], bindings: {} } }); });
probe('fork bindings proto', async (f) => { await f.send({ t: 'fork', id: 2, child: 'F', mm: { vmas: [], ranges: [], bindings: { constructor: { kind: 'fd', fd: 3 } } } }); });
probe('ext unknown', async (f) => { await f.sendRaw(Buffer.from([0xd4, 0x10, 0x00])); });
probe('ext typed array bigint64 frames', async (f) => { await f.send({ t: 'fork', id: 2, child: 'A', mm: { vmas: [{ start: 1, pages: 1, kind: 'anon', fileId: -1, offset: 0, frames: new BigInt64Array(1), flags: new Uint8Array(1) }], ranges: [], bindings: {} } }); });
probe('wrong msgpack types', async (f) => { await f.sendRaw(pk(42)); await f.sendRaw(pk('hello')); await f.sendRaw(pk(null)); await f.sendRaw(pk([1, [2]])); });

probe('wait then bad', async (f) => { await f.send({ t: 'wait', id: 1, name: 'never' }); await sleep(300); await f.send({ t: 'nope' }); });
probe('open1 proto', async (f) => { await f.send({ t: 'open', id: 2, file: '__proto__' }); console.log('ret', await f.next((m) => m.t === 'ret')); });
probe('open1 constructor', async (f) => { await f.send({ t: 'open', id: 2, file: 'constructor' }); console.log('ret', await f.next((m) => m.t === 'ret')); });
// A, the honest process of both scenarios: it outlives the forger F and keeps its own page.
const survivorA = `  A:
    steps:
      - { op: waitpid, process: F }
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "still here" }
      - { op: read, map: buf, page: 0, expect: { value: "still here" } }
`;
const xscen = `name: fuzzx
memory: { frames: 8 }
processes:
${survivorA}  F:
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "x" }
      - { op: signal, name: s1 }
      - { op: wait, name: s2 }
kernel:
  - { op: wait, name: s1 }
  - { op: reclaim, all: true }
  - { op: signal, name: s2 }
`;
async function toExchange(f) {
  await f.send({ t: 'mmap', id: 1, addr: 1, pages: 1, fd: -1, offset: 0, share: 'private' }); console.log(' mmap', await f.next((m) => m.t === 'ret'));
  await f.send({ t: 'done', index: 0, result: { ok: true, addr: 4096 }, detail: { span: [1, 2] } });
  await f.send({ t: 'write', id: 2, vpage: 1, frame: -1, cow: false, anon: true, value: 'x' }); console.log(' write', await f.next((m) => m.t === 'ret'));
  await f.send({ t: 'done', index: 1, result: { ok: true } });
  await f.send({ t: 'signal', id: 3, name: 's1' }); await f.next((m) => m.t === 'ret');
  await f.send({ t: 'done', index: 2, result: { ok: true } });
  await f.send({ t: 'wait', id: 4, name: 's2' });
  const prep = await f.next((m) => m.t === 'prepare'); console.log(' prepare', prep);
  return prep;
}
probe('committed early and twice', async (f) => {
  const prep = await toExchange(f);
  await f.send({ t: 'committed', xid: prep.xid, violations: ['forged early'] });
  await f.send({ t: 'prepared', xid: prep.xid, runs: [1, 1, 1, 0] });
  await f.send({ t: 'prepared', xid: prep.xid, runs: [1, 1, 1, 0] });
  const c = await f.next((m) => m.t === 'commit'); console.log(' commit', c);
  for (let i = 0; i < 3; i++) await f.send({ t: 'committed', xid: prep.xid, violations: Array.from({ length: 3 }, (_, j) => `forged ${i}.${j}`) });
  console.log(' ret', await f.next((m) => m.t === 'ret'));
  await f.send({ t: 'done', index: 3, result: { ok: true } });
}, xscen);
probe('honest exchange', async (f) => {
  const prep = await toExchange(f);
  await f.send({ t: 'prepared', xid: prep.xid, runs: [1, 1, 1, 0] });
  const c = await f.next((m) => m.t === 'commit'); console.log(' commit', c);
  await f.send({ t: 'committed', xid: prep.xid, violations: [] });
  console.log(' ret', await f.next((m) => m.t === 'ret'));
  await f.send({ t: 'done', index: 3, result: { ok: true } });
}, xscen);
probe('blocked bogus xid free', async (f) => { await f.send({ t: 'blocked', index: 0, xid: 999 }); await sleep(500); await f.send({ t: 'signal', id: 1, name: 's' }); console.log(' ret', await f.next((m) => m.t === 'ret', 2000)); await f.send(done0); });
probe('blocked bogus xid lockstep', async (f) => { await f.send({ t: 'blocked', index: 0, xid: 999 }); await sleep(500); await f.send({ t: 'signal', id: 1, name: 's' }); console.log(' ret', await f.next((m) => m.t === 'ret', 2000)); await f.send(done0); }, undefined, 'lockstep');
probe('impostor with A routing id', async (f, { k, ep, token }) => {
  const id = /remote agent (remote-[0-9a-f]{12}) connected from vm/.exec(k.out)[1];
  const imp = raw(ep, id);
  await imp.send({ t: 'hello', osPid: 5, token });
  await imp.send({ t: 'signal', id: 77, name: 'x' });
  await imp.send({ t: 'done', index: 3, result: { ok: true, value: 'forged' } });
  console.log(' impostor got', await imp.next(() => true, 1500));
  imp.close();
  await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); await f.send(done0);
});
probe('hello twice idle', async (f, { ep, token }) => {
  const g = raw(ep, 'remote-idle-twice');
  await g.send({ t: 'hello', osPid: 5, token }); await sleep(200); await g.send({ t: 'hello', osPid: 6, token });
  console.log(' idle got', await g.next((m) => m.t === 'die', 1500)); g.close();
  await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); await f.send(done0);
});
probe('hello + garbage same frame pre-hello', async (f, { ep, token }) => {
  const g = raw(ep, 'remote-prehello');
  await g.sendRaw([pk({ t: 'hello', osPid: 5, token }), Buffer.from([0xc1])]);
  console.log(' got', await g.next((m) => m.t === 'die', 1500)); g.close();
  const h = raw(ep, 'remote-prehello2');
  await h.sendRaw([Buffer.from([0xc1]), pk({ t: 'hello', osPid: 5, token })]);
  console.log(' got2', await h.next(() => true, 1500)); h.close();
  await f.send({ t: 'signal', id: 1, name: 's' }); await f.next((m) => m.t === 'ret'); await f.send(done0);
});
// ---- replays: a message F really sent (`f.sent`, `f.pongs`), sent again later, unchanged.
const rscen = `name: fuzzr
memory: { frames: 8 }
processes:
${survivorA}  F:
    steps:
      - { op: signal, name: s }
      - { op: signal, name: s }
      - { op: signal, name: s }
`;
const sig = (id) => ({ t: 'signal', id, name: 's' });
const stepOf = async (f, id, index) => { await f.send(sig(id)); await f.next((m) => m.t === 'ret'); await f.send({ t: 'done', index, result: { ok: true } }); };
probe('replay hello', async (f) => { await stepOf(f, 1, 0); await f.send(f.sent[0]); await stepOf(f, 2, 1); }, rscen);
probe('replay ready', async (f) => { await stepOf(f, 1, 0); await f.send(f.last('ready')); await stepOf(f, 2, 1); }, rscen);
probe('replay pong', async (f) => { await stepOf(f, 1, 0); for (let i = 0; i < 100 && f.pongs.length === 0; i++) await sleep(20); await sleep(100); await f.send(f.pongs[0]); await stepOf(f, 2, 1); }, rscen);
probe('replay syscall in its step', async (f) => { await f.send(sig(1)); await f.next((m) => m.t === 'ret'); await f.send(f.last('signal')); console.log(' 2nd ret', await f.next((m) => m.t === 'ret', 1000)); await f.send({ t: 'done', index: 0, result: { ok: true } }); }, rscen);
probe('replay syscall in the next step', async (f) => { await stepOf(f, 1, 0); await f.send(sig(1)); console.log(' ret', await f.next((m) => m.t === 'ret', 1000)); await f.send({ t: 'done', index: 1, result: { ok: true } }); }, rscen);
probe('replay syscall lockstep', async (f) => { await f.send(sig(1)); await f.next((m) => m.t === 'ret'); await f.send({ t: 'done', index: 0, result: { ok: true } }); await f.next((m) => m.t === 'grant'); await f.send(sig(1)); console.log(' ret', await f.next((m) => m.t === 'ret', 1000)); await f.send({ t: 'done', index: 1, result: { ok: true } }); }, rscen, 'lockstep');
probe('replay done', async (f) => { await stepOf(f, 1, 0); await f.send(f.last('done')); await stepOf(f, 2, 1); }, rscen);
probe('replay done lockstep', async (f) => { await stepOf(f, 1, 0); await f.next((m) => m.t === 'grant'); await f.send(f.last('done')); }, rscen, 'lockstep');
probe('replay start', async (f) => { await f.send({ t: 'start', index: 0 }); await f.send(sig(1)); await f.next((m) => m.t === 'ret'); await f.send(f.last('start')); await f.send({ t: 'done', index: 0, result: { ok: true } }); }, rscen);
probe('replay start after its step', async (f) => { await f.send({ t: 'start', index: 0 }); await stepOf(f, 1, 0); await f.send(f.last('start')); }, rscen);
probe('replay done after the last step', async (f) => { await stepOf(f, 1, 0); await stepOf(f, 2, 1); await stepOf(f, 3, 2); await f.next((m) => m.t === 'die'); await f.send(f.last('done')); await f.send(sig(3)); console.log(' after', await f.next(() => true, 1000)); }, rscen);
probe('replay by another peer', async (f, { ep }) => {
  await stepOf(f, 1, 0);
  const g = raw(ep, 'remote-replayer');
  await g.send(f.sent[0]); // F's hello: G is taken in (it carries the token), idle
  await sleep(200);
  await g.send(f.last('signal')); await g.send(f.last('done')); await g.send(f.last('ready'));
  console.log(' replayer got', await g.next((m) => m.t === 'die', 1500)); g.close();
  await stepOf(f, 2, 1); await stepOf(f, 3, 2);
}, rscen);
probe('replay exchange replies', async (f) => {
  const prep = await toExchange(f);
  await f.send({ t: 'prepared', xid: prep.xid, runs: [1, 1, 1, 0] });
  const c = await f.next((m) => m.t === 'commit'); console.log(' commit', c);
  await f.send({ t: 'committed', xid: prep.xid, violations: [] });
  console.log(' ret', await f.next((m) => m.t === 'ret'));
  await f.send(f.last('prepared')); await f.send(f.last('committed'));
  await f.send({ t: 'done', index: 3, result: { ok: true } });
}, xscen);
const emptyMm = { vmas: [], ranges: { v: 1, limit: 1_000_000, nextId: 1, pieces: [] }, bindings: {} };
const fscen = `name: fuzzf
memory: { frames: 8 }
processes:
${survivorA}  F:
    steps:
      - { op: fork, child: C }
      - { op: signal, name: s }
  C:
    forked: true
    steps:
      - { op: signal, name: c }
`;
probe('replay fork', async (f, { spawnAgent }) => {
  spawnAgent();
  await f.send({ t: 'fork', id: 1, child: 'C', mm: emptyMm }); console.log(' fork', await f.next((m) => m.t === 'ret', 8000));
  await f.send(f.last('fork')); console.log(' 2nd fork', await f.next((m) => m.t === 'ret', 1500));
  await f.send({ t: 'done', index: 0, result: { ok: true, pid: 3 } });
  await stepOf(f, 2, 1);
}, fscen);
probe('replay fork next step', async (f, { spawnAgent }) => {
  spawnAgent();
  await f.send({ t: 'fork', id: 1, child: 'C', mm: emptyMm }); const r = await f.next((m) => m.t === 'ret', 8000); console.log(' fork', r);
  await f.send({ t: 'done', index: 0, result: { ok: true, pid: r?.pid } });
  await f.send({ t: 'fork', id: 2, child: 'C', mm: emptyMm }); console.log(' 2nd fork', await f.next((m) => m.t === 'ret', 1500));
  await f.send({ t: 'done', index: 1, result: { ok: false, errno: 'EINVAL' } });
}, fscen);
// ---- steps: well-formed syscalls that are not the ones F's step makes (coordinator/step_calls.ts):
// the wrong op (a `wait` in a `signal` step parked the run: A judged a deadlock), a second call, other
// arguments, a `done` without the step's call or with an exit code; each in both schedules.
const stepProbes = {
  'wrong op': async (f) => { await f.send({ t: 'wait', id: 1, name: 'never' }); },
  'second call': async (f) => { await f.send(sig(1)); await f.next((m) => m.t === 'ret'); await f.send(sig(2)); },
  'other name': async (f) => { await f.send({ t: 'signal', id: 1, name: 'other' }); },
  'other kind and args': async (f) => { await f.send({ t: 'open', id: 1, file: 'cache' }); },
  'done without call': async (f) => { await f.send(done0); },
  'exit code on a signal': async (f) => { await f.send(sig(1)); await f.next((m) => m.t === 'ret'); await f.send({ ...done0, detail: { exiting: 7 } }); },
  'fatal on a signal': async (f) => { await f.send(sig(1)); await f.next((m) => m.t === 'ret'); await f.send({ ...done0, detail: { fatal: 'SIGBUS' } }); },
};
for (const [name, fn] of Object.entries(stepProbes)) for (const schedule of ['free', 'lockstep']) probe(`step ${name} ${schedule}`, fn, undefined, schedule);
// A write of its mapping's page 0 sent to page 1, or with another value (free: the forged write would land in the shared file).
const wscen = `name: fuzzw
memory: { frames: 8 }
files:
  - { name: cache, pages: 2 }
processes:
${survivorA}  F:
    steps:
      - { op: open, file: cache }
      - { op: mmap, as: m, pages: 2, fd: cache }
      - { op: write, map: m, page: 0, value: "mine" }
`;
const writeAs = (vpage, value) => async (f) => {
  await f.send({ t: 'open', id: 1, file: 'cache' }); const fd = (await f.next((m) => m.t === 'ret')).fd;
  await f.send({ t: 'done', index: 0, result: { ok: true, fd } });
  await f.send({ t: 'mmap', id: 2, addr: 1, pages: 2, fd, offset: 0, share: 'shared' }); await f.next((m) => m.t === 'ret');
  await f.send({ t: 'done', index: 1, result: { ok: true, addr: 4096 }, detail: { span: [1, 3] } });
  await f.send({ t: 'write', id: 3, vpage, frame: -1, cow: false, anon: false, value }); console.log(' write', await f.next((m) => m.t === 'ret', 1000));
};
probe('step other page', writeAs(2, 'mine'), wscen);
probe('step other value', writeAs(1, 'forged'), wscen);
const only = process.argv[2];
const scenario = (n) => `name: fuzz
memory: { frames: 8 }
processes:
${survivorA}  F:
    steps:
      - { op: signal, name: s }
`;
const dir = mkdtempSync(join(tmpdir(), 'vrange-fuzz-'));
const file0 = join(dir, 'fuzz.yaml');
writeFileSync(file0, scenario());
let n = 0;
for (const p of probes) {
  if (only && !p.name.includes(only)) continue;
  const trace = join(dir, `trace-${n++}.jsonl`);
  let file = file0;
  if (p.scen) { file = join(dir, `s${n}.yaml`); writeFileSync(file, p.scen); }
  const k = vrange(['kernel', '--listen', 'tcp://127.0.0.1:0', '--scenario', file, '--seed', '1', '--schedule', p.schedule, '--trace', trace, '--heartbeat-timeout-ms', '5000', '--wait-ms', '20000']);
  const ep = (await waitOut(k, /listening on (tcp:\/\/127\.0\.0\.1:\d+)/))[1];
  const token = (await waitOut(k, /kernel: token ([0-9a-f]{32})/))[1];
  const a = vrange(['agent', '--connect', ep, '--token', token]);
  await waitOut(k, /A starts as pid 2/);
  const f = raw(ep, 'remote-fuzz-' + n);
  await f.send({ t: 'hello', osPid: 1, host: 'fuzz', token });
  const init = await f.next((m) => m.t === 'init');
  await f.send({ t: 'ready', re: init.id });
  await f.next((m) => m.t === (p.schedule === 'free' ? 'go' : 'grant'));
  let perr;
  const extra = [];
  const spawnAgent = () => { const x = vrange(['agent', '--connect', ep, '--token', token]); extra.push(x); return x; };
  try { await p.fn(f, { k, ep, token, spawnAgent }); } catch (e) { perr = e; }
  const die = await f.next((m) => m.t === 'die', 4000);
  const timer = new Promise((r) => setTimeout(() => r('HANG'), 20000));
  const kx = await Promise.race([k.exit, timer]);
  if (kx === 'HANG') { k.child.kill('SIGKILL'); a.child.kill('SIGKILL'); }
  const ax = await Promise.race([a.exit, sleep(3000).then(() => 'HANG')]);
  for (const x of extra) { const xx = await Promise.race([x.exit, sleep(3000).then(() => 'HANG')]); if (xx === 'HANG') x.child.kill('SIGKILL'); console.log(' extra agent', JSON.stringify(xx), x.err.trim().slice(-200)); }
  f.close();
  const verdict = /verdict: (\w+)/.exec(k.out)?.[1];
  const errs = k.err.split('\n').filter((l) => l && !/^kernel:/.test(l)).map((l) => l.slice(0, 240));
  console.log(`\n=== ${p.name}: kernel ${JSON.stringify(kx)} agentA ${JSON.stringify(ax)} verdict ${verdict} forger-die ${JSON.stringify(die)} ${perr ? 'probe error ' + perr.message : ''}`);
  for (const l of errs.slice(0, 8)) console.log('   ', l);
  if (process.env.TRACE && existsSync(trace)) console.log(readFileSync(trace, 'utf8').split('\n').filter((l) => !/"kind":"message"/.test(l)).slice(-25).join('\n'));
  if (kx === 'HANG') console.log(k.out.slice(-1500));
  if (kx.code !== 0 && kx !== 'HANG') console.log(k.out.split('\n').filter((l) => /violation|FAIL|error|Error/i.test(l)).slice(0, 6).join('\n'));
}
