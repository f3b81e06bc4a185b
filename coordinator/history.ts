// The run's history: one event per step invocation and completion, per kernel decision and per
// death and cleanup, and (when a trace is asked for) every message between kernel and agents.
// `--trace FILE` writes it as JSON lines; the report and the invariant checks read it.

import { historyEventsMax } from '../shared/limits.js';

export type HistoryEvent = { seq: number; at: number; kind: string; [field: string]: unknown };

export class History {
  readonly events: HistoryEvent[] = [];
  /** performance.now() at the start, in milliseconds (a monotonic clock with sub-microsecond resolution). */
  private readonly t0 = performance.now();
  constructor(readonly keepMessages: boolean, private readonly onEvent?: (e: HistoryEvent) => void) {}

  /** Microseconds since the run started (the `at` of an event). */
  now(): number { return Math.floor((performance.now() - this.t0) * 1000); }

  add(kind: string, fields: Record<string, unknown>): HistoryEvent {
    if ('kind' in fields || 'seq' in fields) throw new Error(`history: event ${kind} may not set kind or seq`);
    return this.push({ seq: this.events.length, at: this.now(), kind, ...fields });
  }

  /** A step's invocation (the commonest events have their own builders: no spread of fields). */
  invoke(process: string, index: number, step: unknown): HistoryEvent {
    return this.push({ seq: this.events.length, at: this.now(), kind: 'invoke', process, index, step });
  }

  /** A step's completion; `detail` and `label` are left out when undefined (as JSON leaves them out). */
  complete(process: string, index: number, op: string, type: string, result: unknown, detail: unknown, label: string | undefined): HistoryEvent {
    const e: HistoryEvent = { seq: this.events.length, at: this.now(), kind: 'complete', process, index, op, type, result };
    if (detail !== undefined) e.detail = detail;
    if (label !== undefined) e.label = label;
    return this.push(e);
  }

  private push(e: HistoryEvent): HistoryEvent {
    if (this.events.length >= historyEventsMax) throw new Error(`history: more than ${historyEventsMax} events (historyEventsMax)`);
    this.events.push(e);
    this.onEvent?.(e);
    return e;
  }

  message(dir: 'send' | 'recv', agent: string, msg: unknown): void {
    if (this.keepMessages) this.add('message', { dir, agent, msg });
  }

  toJsonLines(): string {
    return this.events.map((e) => JSON.stringify(e)).join('\n') + '\n';
  }
}
