// The run's history: one event per step invocation and completion, per kernel decision and per
// death and cleanup, and (when a trace is asked for) every message between kernel and agents.
// `--trace FILE` writes it as JSON lines; the report and the invariant checks read it.

import { historyEventsMax } from '../shared/limits.js';

export type HistoryEvent = { seq: number; at: number; kind: string; [field: string]: unknown };

export class History {
  readonly events: HistoryEvent[] = [];
  private readonly t0 = process.hrtime.bigint();
  constructor(readonly keepMessages: boolean, private readonly onEvent?: (e: HistoryEvent) => void) {}

  add(kind: string, fields: Record<string, unknown>): HistoryEvent {
    if (this.events.length >= historyEventsMax) throw new Error(`history: more than ${historyEventsMax} events (historyEventsMax)`);
    if ('kind' in fields || 'seq' in fields) throw new Error(`history: event ${kind} may not set kind or seq`);
    const e: HistoryEvent = { seq: this.events.length, at: Number((process.hrtime.bigint() - this.t0) / 1000n), kind, ...fields };
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
