// `vrange play`: a game (game.ts), the outcome classes searched in the background (classes.ts),
// and either the page server (server.ts, page.ts) or the terminal (`--tty`: numbered choices on
// stdout, one answer a line on stdin). Whatever ends it (quit, the page closed, SIGINT or SIGTERM,
// the end of stdin), the run under way is ended, its agents with it, and the session closed:
// each step of that end within its bound (play/bounds.ts), a step that passes it a ShutdownError.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { Game, type GameState } from './game.js';
import { startClasses, type ClassesState } from './classes.js';
import { PlayServer } from './server.js';
import { playPage } from './page.js';
import { RunSession } from '../harness/session.js';
import { whenInterrupted } from '../shared/lifecycle.js';
import { playCloseGraceMs, playHeartbeatMs, playMovesMax, playShutdownStepMs, schedulesMaxDefault } from '../shared/limits.js';
import { shutdownSteps } from './bounds.js';
import { terminalLine } from '../shared/printable.js';
import { goalProgress } from '../checker/goals.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';

export interface GoalView { name: string; title: string; now: boolean; ever: boolean }

export interface PlayOptions {
  file: string; scenario: Scenario; config: RunConfig;
  kills: boolean;
  port: number;
  open: boolean;
  /** No request from the page for this long ends the game (playHeartbeatTimeoutMs unless VRANGE_PLAY_HEARTBEAT_TIMEOUT_MS). */
  heartbeatTimeoutMs: number;
  /** The model's classes are kept back until this long after the start (VRANGE_PLAY_CLASSES_HOLD_MS; 0 by default). */
  classesHoldMs?: number;
}

/** The page's heartbeat interval: a quarter of the timeout, at most playHeartbeatMs. */
export function heartbeatIntervalMs(timeoutMs: number): number { return Math.min(playHeartbeatMs, Math.floor(timeoutMs / 4)); }

/** The parts every front end shares: the game, the classes, the classes reached so far. */
class Play {
  readonly session = new RunSession();
  readonly game: Game;
  readonly classes: ReturnType<typeof startClasses>;
  readonly reached = new Set<string>();
  /** Goals (the scenario's `goals:`) reached by some run of this game. */
  readonly goalsEver = new Set<string>();
  private ending: ((why: string) => void) | undefined;
  readonly ended: Promise<string>;

  constructor(readonly o: PlayOptions) {
    this.game = new Game(o.file, o.scenario, o.config, this.session, { kills: o.kills });
    this.classes = startClasses(o.scenario, o.config, schedulesMaxDefault, o.classesHoldMs ?? 0);
    this.ended = new Promise((resolve) => { this.ending = resolve; });
    const stop = whenInterrupted();
    stop.promise.catch((e: Error) => this.end(e.message));
    void this.ended.then(() => stop.dispose());
  }

  end(why: string): void { this.ending?.(why); this.ending = undefined; }

  /** The state, after noting the class an ended run reached. */
  state(): GameState {
    const s = this.game.state();
    if (s.outcome && s.outcome.faults.length === 0) this.reached.add(s.outcome.key);
    return s;
  }

  /** The scenario's goals as challenges: reached by the run as it stands, or by an earlier one. */
  goals(s: GameState): GoalView[] {
    return goalProgress(this.o.scenario, s.report.steps).map((g) => {
      const ever = this.goalsEver.has(g.goal.name);
      if (g.reached) this.goalsEver.add(g.goal.name);
      return { name: g.goal.name, title: g.goal.title, now: g.reached, ever };
    });
  }

  /** A move, undo, redo or restart; a notice to show (a refusal, or the goals the move reached). */
  async act(action: 'move' | 'undo' | 'redo' | 'restart', option?: number): Promise<string | undefined> {
    const before = new Set(this.goals(this.state()).filter((g) => g.now).map((g) => g.name));
    const notice = await this.act1(action, option);
    if (notice) return notice;
    const fresh = this.goals(this.state()).filter((g) => g.now && !before.has(g.name));
    return fresh.length ? fresh.map((g) => `goal reached: ${g.name} (${g.title})`).join('; ') : undefined;
  }

  private async act1(action: 'move' | 'undo' | 'redo' | 'restart', option?: number): Promise<string | undefined> {
    switch (action) {
      case 'move':
        if (this.game.moveCount >= playMovesMax) return `this game has made ${playMovesMax} moves, the most one game keeps: undo, or start again`;
        return option !== undefined && await this.game.choose(option) ? undefined : 'no such action to grant now';
      case 'undo': return await this.game.undo() ? undefined : 'nothing to undo';
      case 'redo': return await this.game.redo() ? undefined : 'nothing to redo';
      case 'restart': await this.game.restart(); return undefined;
    }
  }

  /** Ends the run under way, stops the model's worker, closes the session (its agents killed), each within its bound. */
  async close(before: Array<{ what: string; run: () => Promise<void>; ms: number }> = []): Promise<void> {
    await shutdownSteps([...before,
      { what: 'the run under way to end', run: () => this.game.close(), ms: playShutdownStepMs },
      { what: "the model's worker to stop", run: () => this.classes.stop(), ms: playShutdownStepMs },
      { what: 'the run session to close (its agents killed)', run: () => this.session.close(), ms: playShutdownStepMs }]);
  }
}

/** What the page's /state answers: the game without its history (the page draws that). */
function stateJson(p: Play): unknown {
  const s = p.state();
  const c: ClassesState = p.classes.state();
  return { scenario: p.o.scenario.name, policy: p.o.config.policy, moves: s.moves.map((m) => m.label), choices: s.moves.map((m) => m.choice),
    redo: s.redo.map((m) => m.label), options: s.options.map((o) => o.label), over: s.over, steps: s.report.steps,
    outcome: s.outcome, classes: c, reached: [...p.reached], goals: p.goals(s) };
}

/** Serves the game until it ends; returns why it ended. */
export async function playWeb(o: PlayOptions, say: (line: string) => void): Promise<string> {
  const p = new Play(o);
  const server = new PlayServer({
    page: (driver, notice) => {
      const game = p.state();
      return playPage({ game, classes: p.classes.state(), reached: p.reached, token: server.token, driver, notice, description: o.scenario.description, goals: p.goals(game),
        heartbeatMs: heartbeatIntervalMs(o.heartbeatTimeoutMs) });
    },
    state: () => stateJson(p),
    act: (action, option) => p.act(action, option),
    end: (why) => p.end(why),
  }, o.heartbeatTimeoutMs);
  try {
    await p.game.start();
    await server.listen(o.port);
    say(`vrange play: ${o.scenario.name} (policy ${o.config.policy}): open ${server.url}`);
    say('(only this URL drives the game; close the page, press Quit, or Ctrl-C here to end it)');
    if (o.open) openBrowser(server.url, say);
    const why = await p.ended;
    say(`vrange play: ended (${why})`);
    return why;
  } finally {
    await p.close([{ what: 'the page server to close', run: () => server.close(), ms: 2 * playCloseGraceMs + playShutdownStepMs }]);
  }
}

function openBrowser(url: string, say: (line: string) => void): void {
  try {
    const child = spawn('xdg-open', [url], { stdio: 'ignore', detached: true });
    child.on('error', (e) => say(`vrange play: could not open a browser (${e.message}); open the URL above`));
    child.unref();
  } catch (e) {
    say(`vrange play: could not open a browser (${(e as Error).message}); open the URL above`);
  }
}

/** The outcome in words: its class, the classes not yet reached, the replay line. */
export function outcomeLines(s: GameState, c: ClassesState, reached: ReadonlySet<string>): string[] {
  const o = s.outcome;
  if (!o) return [];
  const out = ['the run is over:', ...o.results.map((r) => `  ${r}`)];
  if (o.faults.length) out.push(`with a kill (${o.faults.join(', ')}): explore --all injects no faults, so this outcome is outside its classes`);
  else if (c.state === 'ready') {
    const i = c.classes.findIndex((x) => x.key === o.key);
    out.push(i >= 0 ? `outcome class ${i + 1} of the ${c.classes.length} explore --all finds: ${c.classes[i]!.summary}` : 'an outcome explore --all did not find (a problem: please report it)');
    const unfound = c.classes.map((x, n) => [x, n] as const).filter(([x]) => !reached.has(x.key));
    if (unfound.length === 0) out.push('you have reached every class');
    for (const [x, n] of unfound) out.push(`not yet reached: class ${n + 1}: ${x.summary}`);
  } else out.push(`the outcome classes are not known: ${c.state === 'failed' ? c.why : 'still searching'}`);
  out.push(`replay: ${o.replay}`);
  return out;
}

/** `--tty`: numbered choices; `u` undo, `r` redo, `q` quit; one answer a line (a pipe works). */
export async function playTty(o: PlayOptions, input: Readable, output: Writable): Promise<string> {
  const p = new Play(o);
  const say = (line: string) => output.write(terminalLine(line) + '\n');
  let shown = 0;
  const show = async () => {
    const s = p.state();
    for (const l of s.lines.slice(shown)) say(l);
    shown = s.lines.length;
    if (s.over) {
      await Promise.race([p.classes.ready, p.ended]);
      outcomeLines(p.state(), p.classes.state(), p.reached).forEach(say);
      const goals = p.goals(p.state());
      if (goals.length) say(`challenges reached by this run: ${goals.filter((g) => g.now).map((g) => g.name).join(', ') || 'none'}; by the game so far: ${goals.filter((g) => g.now || g.ever).length} of ${goals.length}`);
      say('u undo, q quit');
    } else {
      say(`move ${s.moves.length + 1}: the enabled actions`);
      s.options.forEach((x, i) => say(`  ${i + 1}. ${x.label}`));
      say(`choose 1-${s.options.length}${s.moves.length ? ', u undo' : ''}${s.redo.length ? `, r redo (${s.redo[0]!.label})` : ''}, q quit`);
    }
  };
  const lines = createInterface({ input, terminal: false });
  // The iterator buffers from now on: answers piped in before the first question are kept.
  const queue = lines[Symbol.asyncIterator]();
  try {
    say(`vrange play: ${o.scenario.name} (policy ${o.config.policy}): you are the scheduler`);
    await p.game.start();
    const goals = p.goals(p.state());
    if (goals.length) say(`challenges: ${goals.map((g) => `${g.name} (${g.title})`).join('; ')}`);
    await show();
    const answers = (async () => {
      for (let next = await queue.next(); !next.done; next = await queue.next()) {
        const raw = next.value;
        const a = raw.trim();
        if (a === '') continue;
        if (a === 'q') return 'quit';
        let notice: string | undefined;
        if (a === 'u' || a === 'r') {
          const before = p.game.moveCount;
          notice = await p.act(a === 'u' ? 'undo' : 'redo');
          if (a === 'u' && !notice) { say(`undone: move ${before}`); shown = p.state().lines.length; }
        } else if (/^\d{1,6}$/.test(a)) notice = await p.act('move', Number(a) - 1);
        else notice = `"${a.slice(0, 40)}": answer with a number, u, r or q`;
        if (notice) say(notice);
        await show();
      }
      return 'the end of the input';
    })();
    const why = await Promise.race([answers, p.ended]);
    say(`vrange play: ended (${why})`);
    return why;
  } finally {
    lines.close();
    await p.close();
  }
}
