// What the kernel can check of a step's result from its own state: the answer it gave the step's
// syscall. A `read` of a page the kernel holds the frame of is answered by the kernel (the value,
// a signal or an errno), as are `fvrange` (bytes, purged), `open` (the fd), `close`, `fork` (the
// pid), `waitpid` (the exit code or signal), `signal` and `wait`: the step's result is that answer
// as the agent turns it into a result (agents/steps.ts, agents/fault.ts), and a `done` that says
// anything else is a lie, a bad message (docs/semantics.md, "what the kernel checks of a result").
// Everything else of a result is the agent's word about its own mm (docs/semantics.md says which).

import type { ProcessStep, StepResult } from '../shared/scenario-types.js';
import type { Proc } from './process_table.js';

/** The syscall whose answer is the result of a step of each op (the last one of the step: a read may retry). */
const CALL_OF: Partial<Record<ProcessStep['op'], string>> = {
  read: 'read', fvrange: 'fvrange', open: 'open', close: 'close', fork: 'fork', waitpid: 'waitpid', signal: 'signal', wait: 'wait',
};

/** The result the agent makes of the kernel's answer `ret` to the step's call (agents/steps.ts). */
function expectedResult(step: ProcessStep, ret: Record<string, unknown>): StepResult {
  if (ret.signal !== undefined) return { ok: false, signal: ret.signal as string };
  if (ret.errno !== undefined) return { ok: false, errno: ret.errno as string };
  switch (step.op) {
    case 'read': return { ok: true, value: ret.value as string };
    case 'fvrange': return step.mode === 'nonvolatile' ? { ok: true, bytes: ret.bytes as number, purged: ret.purged as boolean } : { ok: true, bytes: ret.bytes as number };
    case 'open': return { ok: true, fd: ret.fd as number };
    case 'fork': return { ok: true, pid: ret.pid as number };
    case 'waitpid': return ret.exitSignal !== undefined ? { ok: true, signal: ret.exitSignal as string } : { ok: true, exitCode: ret.exitCode as number };
    default: return { ok: true };
  }
}

/** Records the kernel's answer to a syscall of the step in flight (a `retry` leaves the step with no answer yet). */
export function noteAnswer(proc: Proc, call: string, ret: Record<string, unknown>): void {
  proc.answered = ret.retry || proc.inFlight < 0 ? undefined : { step: proc.inFlight, call, ret };
}

/** Why `result`, reported for step `index`, is not what the kernel answered that step's syscall, or undefined (agrees, or nothing to check). */
export function resultLie(proc: Proc, index: number, step: ProcessStep, result: StepResult): string | undefined {
  const a = proc.answered;
  if (!a || a.step !== index || a.call !== CALL_OF[step.op] || a.ret.stuck) return undefined;
  const want = expectedResult(step, a.ret);
  const keys = new Set([...Object.keys(want), ...Object.keys(result)]);
  for (const key of keys) {
    const got = (result as Record<string, unknown>)[key];
    const exp = (want as Record<string, unknown>)[key];
    // Every field the kernel answers is a primitive (the result's shape was checked first): === is equality.
    if (got !== exp) return `it reported step ${index} (${step.op}) with ${key} ${JSON.stringify(got) ?? 'missing'}, but the kernel answered its ${a.call} with ${JSON.stringify(exp) ?? 'no ' + key}`;
  }
  return undefined;
}
