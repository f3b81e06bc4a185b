// The agent's entry: what a message from the kernel must be before the agent reads it (KernelMsg
// in shared/messages.ts). A remote agent may be reached by anything that speaks ZeroMQ at its
// `--connect` address; a message that fails here is the kernel's protocol break, and the agent
// exits with one line saying what (agents/agent.ts `protocolError`: exit 4 for `vrange agent`,
// 70 for a local agent, whose kernel is this project's own code), never a TypeError in a step.
//
// Plain checks, no zod: agents do not load it (their start-up is on the fork path). The checks
// are of each field's type and range; what needs the agent's state (a reply to no syscall, a
// grant of no step, malformed runs) is checked where the agent handles the message, as before.

/** The signals a kernel tells a remote agent to raise on itself (docs/protocol.md, Agents on other machines). */
const DIE_SIGNALS = new Set(['SIGKILL', 'SIGBUS', 'SIGSEGV']);

const isObject = (x: unknown): x is Record<string, unknown> => {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto = Object.getPrototypeOf(x) as unknown;
  return proto === Object.prototype || proto === null;
};
const nat = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const natList = (x: unknown): boolean => Array.isArray(x) && x.every(nat);

type Fields = Record<string, (x: unknown) => boolean>;
/** Per message type: its required fields, and its optional ones. */
const SHAPES: Record<string, { need: Fields; may?: Fields }> = {
  init: {
    need: {
      id: nat, pid: nat, name: (x) => typeof x === 'string' && x.length > 0 && x.length <= 64,
      steps: (x) => Array.isArray(x) && x.every((s) => isObject(s) && typeof s.op === 'string'),
      sigbus: (x) => x === 'handle' || x === 'kill', config: isObject,
    },
    may: { mm: isObject, snapshots: (x) => typeof x === 'boolean' },
  },
  grant: { need: { index: nat, now: (x) => typeof x === 'number' && Number.isFinite(x) && x >= 0 } },
  go: { need: { startIndex: nat, stops: natList } },
  continue: { need: {} },
  release: { need: { index: nat } },
  prepare: { need: { xid: nat, runs: natList }, may: { hold: (x) => x === true } },
  commit: { need: { xid: nat, runs: natList, last: (x) => typeof x === 'boolean' }, may: { old: natList, unmark: natList, seen: natList } },
  die: { need: {}, may: { code: (x) => nat(x) && (x as number) <= 255, signal: (x) => typeof x === 'string' && DIE_SIGNALS.has(x), reset: nat } },
  ping: { need: { seq: nat, timeoutMs: (x) => nat(x) && (x as number) >= 1 && (x as number) <= 2 ** 31 - 1 } },
  refused: { need: { why: (x) => typeof x === 'string' } },
};

/**
 * Why `x` (whatever a frame from the kernel decoded to) is not a kernel message, or undefined.
 * A `ret`'s reply fields are its syscall's business (the agent reads them as its call's reply).
 */
export function kernelMsgProblem(x: unknown): string | undefined {
  if (!isObject(x)) return `a message is a map with a field t, not ${x === null ? 'null' : Array.isArray(x) ? 'a list' : typeof x}`;
  const t = x.t;
  if (typeof t !== 'string') return 'a message has no message type (t)';
  if (t === 'ret') return nat(x.re) ? undefined : 'ret.re: expected a syscall id (a whole number from 0)';
  const shape = Object.hasOwn(SHAPES, t) ? SHAPES[t]! : undefined;
  if (!shape) return `unknown message type ${JSON.stringify(t.slice(0, 64))}`;
  for (const [k, ok] of Object.entries(shape.need)) {
    if (!Object.hasOwn(x, k)) return `${t}.${k}: missing`;
    if (!ok(x[k])) return `${t}.${k}: not what the protocol allows there`;
  }
  for (const k of Object.keys(x)) {
    if (k === 't' || Object.hasOwn(shape.need, k)) continue;
    const ok = shape.may && Object.hasOwn(shape.may, k) ? shape.may[k]! : undefined;
    if (!ok) return `${t}: unknown field ${JSON.stringify(k.slice(0, 64))}`;
    // An optional field may come as nil (an undefined the kernel left in the message).
    if (x[k] !== undefined && x[k] !== null && !ok(x[k])) return `${t}.${k}: not what the protocol allows there`;
  }
  return undefined;
}
