// `vrange play`: the real command (a child process of this test, its agents real processes), driven
// in headless Chromium (Debian's /usr/bin/chromium, playwright-core) and through a pipe (--tty).
// The race race-purge-vs-nonvolatile is played to each of its two outcome classes, undone across
// the reclaim's commit, and each printed replay line is run with `vrange run --choices --json`:
// its step results must be the game's. The server must refuse every request without the token,
// listen on loopback only, and leave no agent when the page, the quit button or SIGINT ends it.

import test from 'ava';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { cli, root, scenarioPath } from './helpers.js';
import { launchChromium, type Browser } from '../scripts/browser.js';

const bin = join(root, 'bin', 'vrange.js');
const race = scenarioPath('race-purge-vs-nonvolatile');

let browser: Browser;
test.before(async () => { browser = await launchChromium(); });
test.after.always(async () => { await browser?.close(); });

interface Served { child: ChildProcessWithoutNullStreams; url: string; out: () => string; exited: Promise<number | null> }

/** `vrange play FILE ARGS...` as a child process, once it has printed its URL. */
async function serve(args: string[] = [], file = race, env?: Record<string, string>): Promise<Served> {
  const child = spawn(process.execPath, [bin, 'play', file, ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? -1 : null))));
  for (let i = 0; i < 600 && !/open (http:\S+)/.test(out); i++) {
    if (child.exitCode !== null) throw new Error(`vrange play exited ${child.exitCode}: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /open (http:\S+)/.exec(out)?.[1];
  if (!url) { child.kill('SIGKILL'); throw new Error(`vrange play printed no URL: ${out}`); }
  return { child, url, out: () => out, exited };
}

/** The agents (dist/agents/agent.js) whose parent is `pid`, by pgrep. */
function agentsOf(pid: number): number[] {
  const r = spawnSync('pgrep', ['-P', String(pid), '-f', 'dist/agents/agent.js'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.trim() !== '').map(Number);
}
const alive = (pid: number) => { try { process.kill(pid, 0); return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '); } catch { return false; } };

async function gameState(url: string): Promise<{ options: string[]; over: boolean; steps: Array<{ process: string; index: number; result: unknown }>; outcome?: { replay: string }; reached: string[]; classes: { state: string } }> {
  const u = new URL(url);
  const r = await fetch(`${u.origin}/state${u.search}`);
  return await r.json() as never;
}

/** Clicks the enabled action whose label starts with `prefix` (else the first) until the run is over. */
async function playPreferring(page: Page, prefix: string, labels: string[]): Promise<void> {
  for (let n = 0; n < 100; n++) {
    if (await page.$('#outcome')) return;
    const buttons = await page.$$eval('#options button.option', (bs) => bs.map((b) => b.textContent ?? ''));
    labels.push(...buttons);
    const at = Math.max(0, buttons.findIndex((b) => b.startsWith(prefix)));
    await Promise.all([page.waitForEvent('load'), page.click(`#options button.option >> nth=${at}`)]);
  }
  throw new Error('the game did not end within 100 moves');
}

async function click(page: Page, selector: string): Promise<void> {
  await Promise.all([page.waitForEvent('load'), page.click(selector)]);
}

/** The printed replay line, run with --json: its steps' results. */
async function replayed(line: string): Promise<Array<{ process: string; index: number; result: unknown }>> {
  const args = line.replace(/^vrange run /, 'run ').split(' ');
  const r = await cli([...args, '--json']);
  if (r.code !== 0 && r.code !== 1) throw new Error(`the replay line exited ${r.code}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { steps: Array<{ process: string; index: number; result: unknown }> }).steps;
}
const results = (steps: Array<{ process: string; index: number; result: unknown }>) => steps.map((s) => `${s.process}#${s.index} ${JSON.stringify(s.result)}`);

test('play in Chromium: both outcomes of race-purge-vs-nonvolatile, undo across the commit, the replay lines reproduce the runs', async (t) => {
  const s = await serve();
  t.teardown(() => { s.child.kill('SIGKILL'); });
  const page = await browser.context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('request', (r) => requests.push(r.url()));
  await page.setViewportSize({ width: 1400, height: 1000 });
  // The model's search runs in the background: the end of the game names the class once it is done.
  for (let i = 0; i < 400 && (await gameState(s.url)).classes.state === 'computing'; i++) await new Promise((r) => setTimeout(r, 50));
  t.is((await gameState(s.url)).classes.state, 'ready');
  await page.goto(s.url);
  t.deepEqual(await page.$$eval('#options button.option', (bs) => bs.map((b) => b.textContent)), ['A #0 mmap buf 2 page(s)']);

  // The reclaim first: the kernel's actions whenever it has one.
  const labels: string[] = [];
  await playPreferring(page, 'kernel', labels);
  t.true(labels.includes('kernel: reclaim prepare (#1 reclaim all)'), labels.join(' | '));
  t.true(labels.includes('kernel: commit exchange 1 (#1 reclaim all)'), labels.join(' | '));
  t.true(labels.includes('A #5 vrange buf pages 0-1 nonvolatile'), labels.join(' | '));
  const purged = await gameState(s.url);
  t.true(purged.over);
  t.true(purged.steps.some((x) => x.process === 'A' && x.index === 5 && (x.result as { purged?: boolean }).purged === true), 'the nonvolatile reports purged: true');
  const classPurged = await page.getAttribute('#class-reached', 'data-class');
  t.truthy(classPurged);
  t.regex(await page.textContent('#outcome') ?? '', /not yet reached: class \d/);
  t.true((await page.$$('#steps li.note.k-decision')).length > 0, 'the kernel\'s decisions are in the step list');
  t.true((await page.$$('#spacetime .arrow')).length > 10, 'the space-time diagram has the messages');
  t.true((await page.$$('#pagemap .cell')).length > 0, 'the page map has cells');
  const line1 = (await page.textContent('#replay'))!;
  t.deepEqual(results(await replayed(line1)), results(purged.steps), 'the replay line gives the same results');

  // Undo across the commit: back to the open exchange, the purge decisions gone.
  let undone = 0;
  while (!(await page.$$eval('#options button.option', (bs) => bs.some((b) => b.textContent!.startsWith('kernel: commit')))) && undone < 20) {
    await click(page, '#undo');
    undone++;
  }
  t.true(undone > 0 && undone < 20, `${undone} undo(s)`);
  t.is((await page.$$('#steps li.note.k-decision, #steps li.note.k-reclaim-commit')).length, 0, 'no commit in the run any more');
  t.false(await page.isDisabled('#redo'), 'redo is offered');
  const before = await gameState(s.url);
  t.false(before.over);
  t.false(before.steps.some((x) => x.process === 'kernel' && x.index === 1), 'the reclaim step has not completed');
  // Undo the prepare too, then let A's nonvolatile win.
  while (await page.$$eval('#options button.option', (bs) => !bs.some((b) => b.textContent!.startsWith('kernel: reclaim prepare')))) await click(page, '#undo');
  await playPreferring(page, 'A', []);
  const kept = await gameState(s.url);
  t.true(kept.steps.some((x) => x.process === 'A' && x.index === 5 && (x.result as { purged?: boolean }).purged === false), 'the nonvolatile reports purged: false');
  t.true(kept.steps.some((x) => x.process === 'A' && x.index === 6 && (x.result as { value?: string }).value === 'a0'));
  const classKept = await page.getAttribute('#class-reached', 'data-class');
  t.not(classKept, classPurged, 'the other class');
  t.regex(await page.textContent('#outcome') ?? '', /you have reached every class/);
  t.is(kept.reached.length, 2);
  const line2 = (await page.textContent('#replay'))!;
  t.not(line2, line1);
  t.deepEqual(results(await replayed(line2)), results(kept.steps));

  // Nothing fetched from anywhere but the game's server; no error.
  const origin = new URL(s.url).origin;
  t.deepEqual(requests.filter((r) => !r.startsWith(origin + '/')), []);
  t.deepEqual(errors, []);

  // Quit: the command ends, no agent left.
  const agents = agentsOf(s.child.pid!);
  t.true(agents.length > 0, 'the game has agents while it runs');
  await page.click('#quit');
  t.is(await s.exited, 0, s.out());
  t.deepEqual(agents.filter(alive), [], 'no agent left');
  await page.close();
});

test('play in Chromium: a challenge (a goal of the scenario) is marked at the move that reaches it', async (t) => {
  const s = await serve([], scenarioPath('challenge-2-purge-or-keep'));
  t.teardown(() => { s.child.kill('SIGKILL'); });
  const page = await browser.context.newPage();
  await page.goto(s.url);
  t.deepEqual(await page.$$eval('#play li.goal', (ls) => ls.map((l) => [l.getAttribute('data-goal'), l.className])),
    [['data-kept', 'goal'], ['data-lost-and-told', 'goal']]);
  // A first, every time: data-kept is reached by the move that grants A's read of page 0, and not before.
  let moves = 0;
  for (; moves < 30; moves++) {
    const labels = await page.$$eval('#options button.option', (bs) => bs.map((b) => b.textContent ?? ''));
    const at = Math.max(0, labels.findIndex((b) => b.startsWith('A ')));
    const label = labels[at]!;
    t.is(await page.$('#notice'), null, 'no notice before the goal');
    t.is(await page.getAttribute('#play li.goal[data-goal="data-kept"]', 'class'), 'goal');
    await click(page, `#options button.option >> nth=${at}`);
    if (label.startsWith('A #6 read')) break;
  }
  t.regex(await page.textContent('#notice') ?? '', /^goal reached: data-kept/);
  t.is(await page.getAttribute('#play li.goal[data-goal="data-kept"]', 'class'), 'goal now');
  t.regex(await page.textContent('#play h3:has-text("Challenges")') ?? '', /1 of 2 reached/);
  // Undo it: no longer reached by this run, but reached in an earlier one.
  await click(page, '#undo');
  t.is(await page.getAttribute('#play li.goal[data-goal="data-kept"]', 'class'), 'goal ever');
  await page.click('#quit');
  t.is(await s.exited, 0, s.out());
  await page.close();
});

/** A GET with a chosen Host header; the status. */
function get(port: number, path: string, host = `127.0.0.1:${port}`): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => { res.resume(); resolve(res.statusCode!); });
    r.on('error', reject);
    r.end();
  });
}

test('the server refuses every request without the token, listens on loopback only, and SIGINT leaves no process', async (t) => {
  const s = await serve(['--port', '0']);
  t.teardown(() => { s.child.kill('SIGKILL'); });
  const u = new URL(s.url);
  const port = Number(u.port);
  const token = u.searchParams.get('t')!;
  t.regex(token, /^[0-9a-f]{32}$/);
  t.is(await get(port, '/'), 403);
  t.is(await get(port, '/state'), 403);
  t.is(await get(port, `/?t=${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`), 403, 'a wrong token');
  t.is(await get(port, `/state?t=x${token}`), 403);
  t.is(await get(port, `/?t=${token}`, `evil.example:${port}`), 403, 'a foreign Host (DNS rebinding) is refused');
  t.is(await get(port, `/?t=${token}`), 200);
  t.is(await get(port, `/state?t=${token}`), 200);
  t.is(await get(port, `/?t=${token}&pad=${'x'.repeat(3000)}`), 414);
  // One driver: the newest page load drives; a move from an older page, or past the body limit, is refused.
  const page = async () => /name="d" value="([0-9a-f]+)"/.exec(await (await fetch(`${u.origin}/?t=${token}`)).text())![1]!;
  const older = await page();
  const newer = await page();
  t.not(older, newer);
  const post = (body: string) => fetch(`${u.origin}/move?t=${token}`, { method: 'POST', body, redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' } }).then((r) => r.status);
  t.is(await post(`d=${older}&i=0`), 409, 'the older page no longer drives');
  t.is(await post(`d=${newer}&i=0&pad=${'x'.repeat(5000)}`), 413);
  t.is(await post(`d=${newer}&i=0`), 303);
  t.deepEqual((await gameState(s.url)).options, ['A #1 write buf page 0 "a0"'], 'the move was made, once');
  // Listening sockets on the port: only 127.0.0.1 (in /proc/net/tcp, 0100007F), none in tcp6.
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const listening = (f: string) => readFileSync(f, 'utf8').split('\n').slice(1).map((l) => l.trim().split(/\s+/)).filter((c) => c[1]?.endsWith(`:${hex}`) && c[3] === '0A').map((c) => c[1]);
  t.deepEqual(listening('/proc/net/tcp'), [`0100007F:${hex}`]);
  t.deepEqual(listening('/proc/net/tcp6'), []);
  for (const addr of Object.values(networkInterfaces()).flat().filter((a) => a && !a.internal && a.family === 'IPv4')) {
    const refused = await new Promise<boolean>((resolve) => {
      const c = connect({ host: addr!.address, port }, () => { c.destroy(); resolve(false); });
      c.on('error', () => resolve(true));
    });
    t.true(refused, `nothing listens on ${addr!.address}:${port}`);
  }
  // Ctrl-C: exit 130, every agent gone.
  const agents = agentsOf(s.child.pid!);
  t.true(agents.length > 0);
  s.child.kill('SIGINT');
  t.is(await s.exited, 130, s.out());
  t.deepEqual(agents.filter(alive), []);
  t.regex(s.out(), /ended \(interrupted by SIGINT\)/);
});

test('closing the page ends the game: no process left', async (t) => {
  const s = await serve();
  t.teardown(() => { s.child.kill('SIGKILL'); });
  const page = await browser.context.newPage();
  await page.goto(s.url);
  await click(page, '#options button.option >> nth=0');
  const agents = agentsOf(s.child.pid!);
  t.true(agents.length > 0);
  await page.close({ runBeforeUnload: true });
  t.is(await s.exited, 0, s.out());
  t.regex(s.out(), /ended \(the page was closed\)/);
  t.deepEqual(agents.filter(alive), []);
});

test('--open runs xdg-open with the URL', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-play-open-'));
  const seen = join(dir, 'opened');
  writeFileSync(join(dir, 'xdg-open'), `#!/bin/sh\necho "$1" > '${seen}'\n`, { mode: 0o755 });
  const s = await serve(['--open'], race, { PATH: `${dir}:${process.env.PATH}` });
  t.teardown(() => { s.child.kill('SIGKILL'); });
  for (let i = 0; i < 200 && !existsSync(seen); i++) await new Promise((r) => setTimeout(r, 50));
  t.is(readFileSync(seen, 'utf8').trim(), s.url);
  s.child.kill('SIGTERM');
  t.is(await s.exited, 143, s.out());
});

/** Drives `play --tty` through a pipe: `answer` gets each question's lines and returns the reply. */
async function tty(answer: (question: string[], all: string) => string, args: string[] = []): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [bin, 'play', race, '--tty', ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '', pending: string[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      out += l + '\n';
      pending.push(l);
      if (/^choose |^u undo, q quit$/.test(l)) { const q = pending; pending = []; child.stdin.write(answer(q, out) + '\n'); }
    }
  });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, out };
}

test('play --tty through a pipe: numbered choices, undo across the commit, the outcome and its replay line', async (t) => {
  let phase = 'reclaim first';
  const r = await tty((q, all) => {
    const options = q.filter((l) => /^ {2}\d+\. /.test(l)).map((l) => l.replace(/^ {2}\d+\. /, ''));
    if (phase === 'reclaim first') {
      if (options.length === 0) { phase = 'undo'; return 'u'; }
      const k = options.findIndex((o) => o.startsWith('kernel'));
      return String(k >= 0 ? k + 1 : 1);
    }
    if (phase === 'undo') {
      if (options.some((o) => o.startsWith('kernel: commit'))) { phase = 'done'; return 'q'; }
      return all.split('undone:').length > 20 ? 'q' : 'u';
    }
    return 'q';
  });
  t.is(r.code, 0, r.out);
  t.regex(r.out, /^ {2}1\. A #0 mmap buf 2 page\(s\)$/m);
  t.regex(r.out, /\d\. kernel: commit exchange 1 \(#1 reclaim all\)/);
  t.regex(r.out, /outcome class \d of the 2 explore --all finds/);
  t.regex(r.out, /not yet reached: class \d: A#5 vrange purged: false/);
  t.regex(r.out, /undone: move \d+/);
  t.is(phase, 'done', 'undo reached the open exchange again');
  const line = /^replay: (vrange run .*)$/m.exec(r.out)![1]!;
  const steps = await replayed(line);
  t.true(steps.some((x) => x.process === 'A' && x.index === 5 && (x.result as { purged?: boolean }).purged === true));
  t.regex(r.out, /A {8}#5 vrange .* purged=true/);
  t.regex(r.out, /ended \(quit\)/);
});

test('play --tty --kills: a kill is a move; the replay line carries it as a fault and reproduces the run', async (t) => {
  let killed = false;
  const r = await tty((q) => {
    const options = q.filter((l) => /^ {2}\d+\. /.test(l)).map((l) => l.replace(/^ {2}\d+\. /, ''));
    if (options.length === 0) return 'q';
    const k = killed ? -1 : options.findIndex((o) => o.startsWith('kill A during #5 vrange'));
    if (k >= 0) { killed = true; return String(k + 1); }
    const first = options.findIndex((o) => !o.startsWith('kill'));
    return String(first + 1);
  }, ['--kills']);
  t.is(r.code, 0, r.out);
  t.true(killed, r.out);
  t.regex(r.out, /^ {2}\d+\. kill A before #0 mmap buf 2 page\(s\)$/m);
  t.regex(r.out, /with a kill \(kill:A@5\+\): explore --all injects no faults/);
  const line = /^replay: (vrange run .*)$/m.exec(r.out)![1]!;
  t.regex(line, / --fault kill:A@5\+ --choices /);
  const steps = await replayed(line);
  t.deepEqual(steps.find((x) => x.process === 'A' && x.index === 5)?.result, { ok: false, signal: 'SIGKILL' });
  t.regex(r.out, /A {8}#5 vrange .*SIGKILL/);
});

test('play refuses bad arguments with one line and exit 2', async (t) => {
  for (const [args, re] of [
    [['play'], /play takes one scenario FILE, got 0/],
    [['play', race, '--port', '70000'], /--port: "70000" is not allowed; expected a whole number from 0 to 65535/],
    [['play', race, '--tty', '--open'], /--tty plays on the terminal/],
    [['play', race, '--policy', 'nope'], /--policy: "nope" is not allowed/],
    [['play', race, '--seed', '1'], /unknown option --seed; play takes --policy, --port, --open, --tty, --kills/],
    [['play', join(root, 'no-such.yaml'), '--tty'], /no-such\.yaml/],
  ] as Array<[string[], RegExp]>) {
    const r = await cli(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, re);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  const h = await cli(['help', 'play']);
  t.is(h.code, 0);
  t.regex(h.stdout, /vrange play FILE \[--policy P\] \[--port N\] \[--open\] \[--tty\] \[--kills\]/);
});
