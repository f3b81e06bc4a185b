// The play server: one page, on 127.0.0.1 only, for whoever holds the token.
//
//   GET  /?t=TOKEN            the page (and this page becomes the driver: the newest page drives)
//   GET  /state?t=TOKEN       the game as JSON (moves, options, outcome, classes)
//   POST /move?t=TOKEN        d=DRIVER&i=N: grant option N; then 303 to the page
//   POST /undo, /redo, /restart, /quit   d=DRIVER
//   POST /beat?t=TOKEN        the page's heartbeat; /bye: the page is leaving (a beacon)
//
// Every request without the right token gets 403 (compared in constant time), and so does one
// whose Host is not this server's loopback address (a web page elsewhere cannot reach it by DNS
// rebinding). A move from a page that is no longer the driver gets 409; a move while one is under
// way too (one at a time). Request lines over playUrlBytesMax get 414, bodies over
// playBodyBytesMax 413; at most playConnectionsMax connections.
//
// Every request is answered within a bound: a move's POST waits for the move at most playAnswerMs
// (an undo replays every move before it), then gets its 303 anyway; a GET of the page or of
// /state during a move waits for it as long, then gets 503 (the page: one that reloads itself
// every second) rather than a half-made state. `close()` cuts every connection after
// playCloseGraceMs and fails, naming what is left open, if the server still has not closed.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { playAnswerMs, playBodyBytesMax, playCloseGraceMs, playConnectionsMax, playLeaveGraceMs, playUrlBytesMax } from '../shared/limits.js';
import { settledWithin } from './bounds.js';

export interface PlayHandlers {
  page: (driver: string, notice?: string) => string;
  state: () => unknown;
  /** A move: grant, undo, redo, restart; returns a notice to show, if any. */
  act: (action: 'move' | 'undo' | 'redo' | 'restart', option: number | undefined) => Promise<string | undefined>;
  /** The game must end (quit, the page gone, no heartbeat). */
  end: (why: string) => void;
}

const ACTIONS = new Set(['move', 'undo', 'redo', 'restart']);

export class PlayServer {
  readonly token = randomBytes(16).toString('hex');
  private server: Server | undefined;
  private driver = '';
  /** The move under way (settles, never rejects, when it is done). */
  private moving: Promise<void> | undefined;
  private notice: string | undefined;
  private lastSeen = 0;
  private leaveTimer: NodeJS.Timeout | undefined;
  private watch: NodeJS.Timeout | undefined;
  port = 0;

  /** `heartbeatTimeoutMs`: no request for this long (the page beats) ends the game. */
  constructor(private readonly h: PlayHandlers, private readonly heartbeatTimeoutMs: number) {}

  get url(): string { return `http://127.0.0.1:${this.port}/?t=${this.token}`; }

  async listen(port: number): Promise<void> {
    const server = createServer({ maxHeaderSize: 8_192, requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
      this.handle(req, res).catch((e: Error) => { this.send(res, 500, 'text/plain', `internal error: ${e.message}\n`); this.h.end(`internal error: ${e.stack ?? e.message}`); });
    });
    server.maxConnections = playConnectionsMax;
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
    });
    this.port = (server.address() as AddressInfo).port;
    // A page that stopped beating (a crashed browser, a tab long asleep) ends the game.
    this.watch = setInterval(() => {
      if (this.lastSeen > 0 && Date.now() - this.lastSeen > this.heartbeatTimeoutMs) this.h.end(`no heartbeat from the page for ${this.heartbeatTimeoutMs / 1000} s`);
    }, 1_000);
    this.watch.unref();
  }

  /**
   * Stops listening and ends the idle connections at once; a response still being written (the
   * Quit page) gets playCloseGraceMs, then every connection is cut. Fails if the server has still
   * not closed a grace after that.
   */
  async close(): Promise<void> {
    clearInterval(this.watch);
    clearTimeout(this.leaveTimer);
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    if (await settledWithin(closed, playCloseGraceMs)) return;
    s.closeAllConnections();
    if (await settledWithin(closed, playCloseGraceMs)) return;
    const open = await new Promise<number>((resolve) => s.getConnections((e, n) => resolve(e ? -1 : n)));
    throw new Error(`the page server did not close within ${(2 * playCloseGraceMs) / 1000} s (${open} connection(s) still open after every one was cut)`);
  }

  /** Waits for the move under way, at most playAnswerMs; false if it is still under way. */
  private async afterMove(): Promise<boolean> {
    return !this.moving || await settledWithin(this.moving, playAnswerMs);
  }

  private send(res: ServerResponse, code: number, type: string, body: string, extra: Record<string, string> = {}): void {
    if (res.headersSent) return;
    res.writeHead(code, { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'",
      'referrer-policy': 'no-referrer', ...extra });
    res.end(body);
  }

  private tokenOk(given: string | null): boolean {
    if (given === null) return false;
    const a = Buffer.from(given), b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private async body(req: IncomingMessage): Promise<URLSearchParams | undefined> {
    let size = 0;
    const parts: Buffer[] = [];
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > playBodyBytesMax) return undefined;
      parts.push(chunk as Buffer);
    }
    return new URLSearchParams(Buffer.concat(parts).toString('utf8'));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if ((req.url ?? '').length > playUrlBytesMax) return this.send(res, 414, 'text/plain', `request line over ${playUrlBytesMax} bytes\n`);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const host = req.headers.host ?? '';
    if (!this.tokenOk(url.searchParams.get('t')) || (host !== `127.0.0.1:${this.port}` && host !== `localhost:${this.port}`)) {
      return this.send(res, 403, 'text/plain', 'forbidden: this game needs the URL vrange play printed, with its token\n');
    }
    this.seen();
    const path = url.pathname.slice(1);
    if (req.method === 'GET' && (path === '' || path === 'state') && !await this.afterMove()) {
      const why = `a move is under way (over ${playAnswerMs / 1000} s so far)`;
      return path === ''
        ? this.send(res, 503, 'text/html', `<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="1"><title>vrange play: a move is under way</title><p>${why}: this page reloads itself until it is done.</p>`, { 'retry-after': '1' })
        : this.send(res, 503, 'application/json', JSON.stringify({ error: why }), { 'retry-after': '1' });
    }
    if (req.method === 'GET' && path === '') {
      this.driver = randomBytes(8).toString('hex');
      const notice = this.notice;
      this.notice = undefined;
      return this.send(res, 200, 'text/html', this.h.page(this.driver, notice));
    }
    if (req.method === 'GET' && path === 'state') return this.send(res, 200, 'application/json', JSON.stringify(this.h.state()));
    if (req.method !== 'POST') return this.send(res, 405, 'text/plain', 'method not allowed\n', { allow: 'GET, POST' });
    const form = await this.body(req);
    if (!form) return this.send(res, 413, 'text/plain', `request body over ${playBodyBytesMax} bytes\n`);
    if (path === 'beat') { res.writeHead(204).end(); return; }
    const mine = form.get('d') === this.driver;
    if (path === 'bye') {
      res.writeHead(204).end();
      if (mine) this.leaving();
      return;
    }
    if (path === 'quit') {
      this.send(res, 200, 'text/html', '<!doctype html><meta charset="utf-8"><title>vrange play: ended</title><h1>The game has ended</h1><p>Its processes are gone; you may close this page.</p>');
      this.h.end('quit from the page');
      return;
    }
    if (!ACTIONS.has(path)) return this.send(res, 404, 'text/plain', 'no such action\n');
    if (!mine) return this.send(res, 409, 'text/plain', 'another page has taken over this game: reload this one to drive it\n');
    if (this.moving) return this.send(res, 409, 'text/plain', 'a move is under way: one at a time\n');
    const raw = form.get('i');
    const option = raw !== null && /^\d{1,6}$/.test(raw) ? Number(raw) : undefined;
    let failed: Error | undefined;
    const move = this.h.act(path as 'move' | 'undo' | 'redo' | 'restart', option).then((notice) => { this.notice = notice; }, (e: Error) => {
      failed = e;
      this.h.end(`internal error: ${e.stack ?? e.message}`);
    }).finally(() => { this.moving = undefined; });
    this.moving = move;
    // A move longer than the bound goes on; the page it is sent to waits for it (afterMove).
    await settledWithin(move, playAnswerMs);
    if (failed) return this.send(res, 500, 'text/plain', `internal error: ${failed.message}\n`);
    return this.send(res, 303, 'text/plain', 'see the page\n', { location: `/?t=${this.token}` });
  }

  private seen(): void {
    this.lastSeen = Date.now();
    clearTimeout(this.leaveTimer);
    this.leaveTimer = undefined;
  }

  /** The driving page is closing: the game ends unless a page comes back (a reload) within the grace. */
  private leaving(): void {
    clearTimeout(this.leaveTimer);
    this.leaveTimer = setTimeout(() => this.h.end('the page was closed'), playLeaveGraceMs);
  }
}
