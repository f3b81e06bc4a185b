// The scenario loader: YAML/JSON text -> a checked Scenario (./scenario-types.ts), or one
// ScenarioError naming the file, the step path (`processes.A.steps[3].pages`) and what is allowed.
// The format is a public contract (shared/spec/scenario-format.md): everything it shows must load.
// Two stages: a zod schema for shape, types and limits; then cross-references that need the
// whole file (bindings, files, forks, signals). Nothing downstream re-checks what is checked here,
// except what the spec makes a run-time error (unknown mode, zero length, closed fd: EINVAL/EBADF).

import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { runStepsMax } from './limits.js';
import {
  type KernelStep, type Mode, type PolicyName, type ProcessSpec, type ProcessStep, type Scenario,
} from './scenario-types.js';

export const LIMITS = {
  stepsPerProcessMax: 250_000, processesMax: 1024, filesMax: 4096, framesMax: 4_000_000,
  filePagesMax: 4_000_000, mmapPagesMax: 4_000_000, nameLengthMax: 64, valueBytesMax: 4096,
} as const;

export const PROCESS_OPS = [
  'open', 'close', 'mmap', 'munmap', 'write', 'read', 'vrange', 'fvrange', 'query',
  'fork', 'exit', 'crash', 'signal', 'wait', 'waitpid',
] as const;
export const KERNEL_OPS = ['signal', 'wait', 'waitpid', 'reclaim', 'kill', 'check'] as const;

export class ScenarioError extends Error {
  override name = 'ScenarioError';
  constructor(public file: string, public path: string, public detail: string) {
    super(path ? `${file}: ${path}: ${detail}` : `${file}: ${detail}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Schema. Every leaf carries an errorMap whose message is "what is allowed"; formatIssue() then
// builds "expected <allowed>, got <value>" itself, because zod's own messages name neither.

type LimitName = keyof typeof LIMITS;
const allowedIs = (text: string) => ({ errorMap: () => ({ message: text }) });
const limitNote = (limit: LimitName) => `at most ${LIMITS[limit]}, LIMITS.${limit}`;

function whole(min: number, limit?: LimitName) {
  const max = limit ? LIMITS[limit] : Number.MAX_SAFE_INTEGER;
  const text = `a whole number >= ${min}` + (limit ? ` (${limitNote(limit)})` : '');
  return z.number(allowedIs(text)).int().min(min).max(max);
}

function text(what: string, limit: LimitName = 'valueBytesMax', min = 0) {
  const size = min > 0 ? `${min} to ${LIMITS[limit]} characters` : `at most ${LIMITS[limit]} characters`;
  return z.string(allowedIs(`${what} (${size}, LIMITS.${limit})`)).min(min).max(LIMITS[limit]);
}

const nameOf = (what: string) => text(what, 'nameLengthMax', 1);

function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, allowedIs(`one of ${values.join(', ')}`));
}

/** A .strict() object whose unknown-field message lists the fields it does allow. */
function strictObject<T extends z.ZodRawShape>(what: string, shape: T) {
  const fields = Object.keys(shape).filter((k) => k !== 'op').join(', ');
  return z.object(shape, {
    errorMap: (issue) => ({
      message: issue.code === 'unrecognized_keys' ? `allowed fields for ${what}: ${fields}` : `a map (${what})`,
    }),
  }).strict();
}

const partialResult = z.record(z.unknown(), allowedIs('a map of result fields'));
const byPolicy = strictObject('byPolicy (policy names or default)', {
  'shared-file': partialResult.optional(),
  'per-mm': partialResult.optional(),
  'anon-only': partialResult.optional(),
  default: partialResult.optional(),
});
const expectation = z.object({ byPolicy: byPolicy.optional() }, allowedIs('a map of result fields'))
  .catchall(z.unknown());

function step<const Op extends string, T extends z.ZodRawShape>(op: Op, shape: T) {
  return strictObject(`op ${op}`, {
    op: z.literal(op), ...shape, expect: expectation.optional(), label: text('a label').optional(),
  });
}

const binding = nameOf('a binding name');
const page = whole(0, 'mmapPagesMax');
const lengthPages = whole(0, 'mmapPagesMax'); // 0 is accepted: the spec makes it a run-time EINVAL
const byteOffset = z.number(allowedIs('a whole number of bytes >= 0')).int().min(0).max(Number.MAX_SAFE_INTEGER);
// The spec makes an unknown mode a run-time EINVAL, so any string loads; the runner must check it.
const mode = z.string(allowedIs('a string: volatile or nonvolatile')).transform((s) => s as Mode);
const rangeFields = {
  page: page.optional(), pages: lengthPages.optional(),
  byteOffset: byteOffset.optional(), byteLength: byteOffset.optional(), mode,
};

const signalStep = step('signal', { name: nameOf('a signal name') });
const waitStep = step('wait', { name: nameOf('a signal name') });
const waitpidStep = step('waitpid', { process: nameOf('a process name') });

const processStepUnion = z.discriminatedUnion('op', [
  step('open', { file: nameOf('a file name'), fd: binding.optional() }),
  step('close', { fd: binding }),
  step('mmap', {
    as: binding, pages: lengthPages, fd: binding.optional(),
    offset: whole(0, 'filePagesMax').optional(), share: oneOf(['shared', 'private']).optional(),
  }),
  step('munmap', { map: binding, page: page.optional(), pages: lengthPages.optional() }),
  step('write', { map: binding, page, value: utf8Value() }),
  step('read', { map: binding, page }),
  step('vrange', { map: binding, ...rangeFields }),
  step('fvrange', { fd: binding, ...rangeFields }),
  step('query', { map: binding.optional(), fd: binding.optional(), page, pages: lengthPages }),
  step('fork', { child: nameOf('a process name') }),
  step('exit', { code: z.number(allowedIs('a whole number from 0 to 255')).int().min(0).max(255).optional() }),
  step('crash', {}),
  signalStep, waitStep, waitpidStep,
], allowedIs('a map with an op field'));

const volatileRange = z.tuple([whole(0, 'filePagesMax'), whole(1, 'filePagesMax')],
  allowedIs('a [page, pages] pair of whole numbers'));
const fileCheck = strictObject('a file check', {
  open: whole(0).optional(), mapped: whole(0).optional(),
  volatile: z.array(volatileRange, allowedIs('a list of [page, pages] pairs')).optional(),
});

const kernelStepUnion = z.discriminatedUnion('op', [
  signalStep, waitStep, waitpidStep,
  step('reclaim', { pages: whole(1, 'framesMax').optional(), all: z.literal(true, allowedIs('true')).optional() }),
  step('kill', { process: nameOf('a process name') }),
  step('check', {
    framesUsed: whole(0, 'framesMax').optional(), framesFree: whole(0, 'framesMax').optional(),
    processes: z.record(oneOf(['unborn', 'running', 'exited', 'killed']), allowedIs('a map of process name to state')).optional(),
    files: z.record(fileCheck, allowedIs('a map of file name to file check')).optional(),
  }),
], allowedIs('a map with an op field'));

function utf8Value() {
  const max = LIMITS.valueBytesMax;
  return z.string(allowedIs('a string')).refine((s) => Buffer.byteLength(s, 'utf8') <= max, (s) => ({
    message: `value is ${Buffer.byteLength(s, 'utf8')} bytes; at most ${max} bytes (LIMITS.valueBytesMax)`,
  }));
}

/** Rules between fields of one step, which a discriminated union of plain objects cannot say. */
function checkStepFields(s: { op: string } & Record<string, unknown>, ctx: z.RefinementCtx): void {
  const fail = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const has = (k: string) => s[k] !== undefined;
  if (s.op === 'vrange' || s.op === 'fvrange') checkRangeForm(has, fail);
  if (s.op === 'query') checkExactlyOne(has, fail, 'map', 'fd');
  if (s.op === 'reclaim') checkExactlyOne(has, fail, 'pages', 'all');
}

type Fail = (path: string[], message: string) => void;

function checkRangeForm(has: (k: string) => boolean, fail: Fail): void {
  const pageForm = has('page') || has('pages');
  const byteForm = has('byteOffset') || has('byteLength');
  if (pageForm && byteForm) {
    fail([has('byteOffset') ? 'byteOffset' : 'byteLength'],
      'give either page and pages, or byteOffset and byteLength, not a mix');
  } else if (!pageForm && !byteForm) {
    fail([], 'missing range: give page and pages, or byteOffset and byteLength');
  } else {
    const [a, b] = pageForm ? ['page', 'pages'] : ['byteOffset', 'byteLength'];
    if (!has(a)) fail([a], `missing required field "${a}" (${b} needs ${a})`);
    if (!has(b)) fail([b], `missing required field "${b}" (${a} needs ${b})`);
  }
}

function checkExactlyOne(has: (k: string) => boolean, fail: Fail, a: string, b: string): void {
  const shown = (k: string) => (k === 'all' ? 'all: true' : k);
  if (has(a) && has(b)) fail([b], `give either ${shown(a)} or ${shown(b)}, not both`);
  if (!has(a) && !has(b)) fail([], `missing field: give ${shown(a)} or ${shown(b)}`);
}

const processStepSchema: z.ZodType<ProcessStep, z.ZodTypeDef, unknown> = processStepUnion.superRefine(checkStepFields);
const kernelStepSchema: z.ZodType<KernelStep, z.ZodTypeDef, unknown> = kernelStepUnion.superRefine(checkStepFields);

const steps = <T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>) =>
  z.array(schema, allowedIs(`a list of steps (${limitNote('stepsPerProcessMax')})`)).max(LIMITS.stepsPerProcessMax);

const processSchema = strictObject('a process', {
  forked: z.boolean(allowedIs('true or false')).default(false),
  sigbus: oneOf(['handle', 'kill']).default('kill'),
  steps: steps(processStepSchema),
});

const PROCESS_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
const processMap = z.record(processSchema, allowedIs('a map of process name to process'))
  .superRefine((procs, ctx) => {
    const names = Object.keys(procs);
    if (names.length > LIMITS.processesMax) {
      ctx.addIssue({ code: 'custom', message: `${names.length} processes; ${limitNote('processesMax')}` });
    }
    const bad = names.find((n) => !PROCESS_NAME.test(n) || n.length > LIMITS.nameLengthMax);
    if (bad !== undefined) {
      ctx.addIssue({ code: 'custom', path: [bad], message: `process name "${bad}" is not allowed; names are `
        + `a letter then letters, digits, _ or - (${PROCESS_NAME.source}), ${limitNote('nameLengthMax')}` });
    }
  });

const fileSchema = strictObject('a file', {
  name: nameOf('a file name'), pages: whole(1, 'filePagesMax'), kind: oneOf(['tmpfs', 'ashmem']).default('tmpfs'),
});

const scenarioSchema = strictObject('a scenario', {
  name: nameOf('a scenario name of a-z, 0-9 and - ([a-z0-9-]+)').regex(/^[a-z0-9-]+$/),
  description: text('a string').default(''),
  policy: oneOf(['shared-file', 'per-mm', 'anon-only'] as const satisfies readonly PolicyName[]).optional(),
  access: oneOf(['sigbus', 'zero']).optional(),
  purgeUnit: oneOf(['range', 'page']).optional(),
  memory: strictObject('memory', { frames: whole(1, 'framesMax').default(1024) }).default({}),
  files: z.array(fileSchema, allowedIs(`a list of files (${limitNote('filesMax')})`)).max(LIMITS.filesMax).default([]),
  processes: processMap,
  kernel: steps(kernelStepSchema).default([]),
});

// ---------------------------------------------------------------------------------------------
// Turning the first zod issue into a ScenarioError.

type PathPart = string | number;

export function formatPath(path: readonly PathPart[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function valueAt(data: unknown, path: readonly PathPart[]): unknown {
  let v = data;
  for (const p of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, p)) return undefined;
    v = (v as Record<PathPart, unknown>)[p];
  }
  return v;
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  if (Array.isArray(v)) return `a list of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a map';
  return v === undefined ? 'nothing' : String(v);
}

/** zod reports a bad field before the unknown field of the same map; the typo usually explains both. */
function pickIssue(issues: readonly z.ZodIssue[]): z.ZodIssue {
  const first = issues[0]!;
  const isPrefix = (p: readonly PathPart[]) => p.every((part, i) => first.path[i] === part);
  return issues.find((i) => i.code === 'unrecognized_keys' && isPrefix(i.path)) ?? first;
}

function describeOp(value: unknown, options: readonly unknown[]): string {
  const allowed = `allowed: ${options.join(', ')}`;
  if (value === undefined) return `missing required field "op"; ${allowed}`;
  const kernelOnly = !options.includes('open');
  const elsewhere = (kernelOnly ? PROCESS_OPS : KERNEL_OPS) as readonly unknown[];
  if (elsewhere.includes(value)) {
    return `op ${show(value)} is only allowed in ${kernelOnly ? 'process' : 'kernel'} steps; ${allowed}`;
  }
  return `unknown op ${show(value)}; ${allowed}`;
}

function formatIssue(issue: z.ZodIssue, data: unknown, file: string): ScenarioError {
  const value = valueAt(data, issue.path);
  const at = (path: readonly PathPart[], detail: string) => new ScenarioError(file, formatPath(path), detail);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const fields = issue.keys.map((k) => `"${k}"`).join(', ');
      return at([...issue.path, issue.keys[0]!], `unknown field${issue.keys.length > 1 ? 's' : ''} ${fields}; ${issue.message}`);
    }
    case 'invalid_union_discriminator':
      return at(issue.path, describeOp(value, issue.options));
    case 'custom':
      return at(issue.path, issue.message);
    default: {
      const field = issue.path.at(-1);
      if (value === undefined && typeof field === 'string') {
        return at(issue.path, `missing required field "${field}": expected ${issue.message}`);
      }
      return at(issue.path, `expected ${issue.message}, got ${show(value)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Text -> plain data.

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const message = (e as Error).message;
    const pos = /at position (\d+)/.exec(message);
    const where = pos && !/line \d+/.test(message) ? ` at ${lineColumn(text, Number(pos[1]))}` : '';
    throw new ScenarioError(file, '', `invalid JSON${where}: ${message}`);
  }
}

function parseYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { strict: true, uniqueKeys: true, prettyErrors: false });
  const err = doc.errors[0];
  if (err) throw new ScenarioError(file, '', `invalid YAML at ${lineColumn(text, err.pos[0])}: ${err.message}`);
  try {
    return doc.toJS(); // may throw on alias abuse (maxAliasCount)
  } catch (e) {
    throw new ScenarioError(file, '', `invalid YAML: ${(e as Error).message}`);
  }
}

/**
 * Steps in all (shared/limits.ts runStepsMax), counted on the plain data before the schema looks
 * at each step: a run of more could not be held or bounded, and the count costs nothing.
 */
function checkTotalSteps(data: unknown, file: string): void {
  const len = (v: unknown) => (Array.isArray(v) ? v.length : 0);
  if (data === null || typeof data !== 'object') return;
  const d = data as { processes?: unknown; kernel?: unknown };
  let total = len(d.kernel);
  if (d.processes !== null && typeof d.processes === 'object') {
    for (const p of Object.values(d.processes as Record<string, unknown>)) {
      if (p !== null && typeof p === 'object') total += len((p as { steps?: unknown }).steps);
    }
  }
  if (total > runStepsMax) {
    throw new ScenarioError(file, 'processes', `${total} steps in all (processes and kernel together); at most ${runStepsMax} in one scenario`);
  }
}

// ---------------------------------------------------------------------------------------------
// Checks that need the whole scenario. Each throws the first problem it finds.

interface Site { step: ProcessStep | KernelStep; path: PathPart[]; owner: ProcessSpec | undefined }

function* allSteps(s: Scenario): Generator<Site> {
  for (const p of s.processes) {
    for (const [i, step] of p.steps.entries()) yield { step, path: ['processes', p.name, 'steps', i], owner: p };
  }
  for (const [i, step] of s.kernel.entries()) yield { step, path: ['kernel', i], owner: undefined };
}

const listed = (names: Iterable<string>) => [...names].join(', ') || 'none';

function checkFileNames(s: Scenario): void {
  const seen = new Map<string, number>();
  for (const [i, f] of s.files.entries()) {
    const earlier = seen.get(f.name);
    if (earlier !== undefined) {
      throw new ScenarioError(s.file, formatPath(['files', i, 'name']),
        `duplicate file name "${f.name}" (already files[${earlier}]); file names must be unique`);
    }
    seen.set(f.name, i);
  }
}

/** waitpid/kill.process and check's maps must name things the scenario declares. */
function checkNames(s: Scenario): void {
  const files = new Set(s.files.map((f) => f.name));
  const procs = new Set(s.processes.map((p) => p.name));
  const need = (set: Set<string>, what: string, name: string, path: PathPart[]) => {
    if (!set.has(name)) throw new ScenarioError(s.file, formatPath(path), `unknown ${what} "${name}"; ${what === 'file' ? 'files' : 'processes'}: ${listed(set)}`);
  };
  for (const { step, path } of allSteps(s)) {
    // An `open` of a file the scenario does not declare is a run-time ENOENT (the spec lists it).
    if (step.op === 'waitpid' || step.op === 'kill') need(procs, 'process', step.process, [...path, 'process']);
    if (step.op !== 'check') continue;
    for (const n of Object.keys(step.processes ?? {})) need(procs, 'process', n, [...path, 'processes', n]);
    for (const n of Object.keys(step.files ?? {})) need(files, 'file', n, [...path, 'files', n]);
  }
}

function checkWaits(s: Scenario): void {
  const signalled = new Set<string>();
  for (const { step } of allSteps(s)) if (step.op === 'signal') signalled.add(step.name);
  for (const { step, path } of allSteps(s)) {
    if (step.op === 'wait' && !signalled.has(step.name)) {
      throw new ScenarioError(s.file, formatPath([...path, 'name']),
        `nothing can ever signal "${step.name}": no signal step names it; names signalled: ${listed(signalled)}`);
    }
  }
}

interface ForkSite { parent: string; index: number }

/** Returns child -> the one step that forks it. */
function checkForks(s: Scenario): Map<string, ForkSite> {
  const byName = new Map(s.processes.map((p) => [p.name, p]));
  const forkable = s.processes.filter((p) => p.forked).map((p) => p.name);
  const sites = new Map<string, ForkSite>();
  for (const p of s.processes) {
    for (const [index, step] of p.steps.entries()) {
      if (step.op !== 'fork') continue;
      const fail = (detail: string) => {
        throw new ScenarioError(s.file, formatPath(['processes', p.name, 'steps', index, 'child']), detail);
      };
      const child = byName.get(step.child);
      if (!child) fail(`unknown process "${step.child}"; processes with forked: true: ${listed(forkable)}`);
      if (step.child === p.name) fail(`process "${p.name}" cannot fork itself; processes with forked: true: ${listed(forkable)}`);
      if (!child!.forked) fail(`process "${step.child}" is not forked: true, so it starts at boot; processes with forked: true: ${listed(forkable)}`);
      const other = sites.get(step.child);
      if (other) fail(`process "${step.child}" is already forked by ${formatPath(['processes', other.parent, 'steps', other.index])}; a process is forked by one step at most`);
      sites.set(step.child, { parent: p.name, index });
    }
  }
  return sites;
}

// Bindings live in two namespaces, so `mmap { as: cache, fd: cache }` after `open cache` is fine.
interface Bindings { fds: Set<string>; maps: Set<string> }

/** Walks processes parent before child so a child starts with the bindings its parent had at the fork. */
function checkBindings(s: Scenario, forks: Map<string, ForkSite>): void {
  const starts = new Map<string, Bindings>();
  const queue = s.processes.filter((p) => !forks.has(p.name));
  for (const p of queue) starts.set(p.name, { fds: new Set(), maps: new Set() });
  const byName = new Map(s.processes.map((p) => [p.name, p]));
  for (let i = 0; i < queue.length; i++) {
    const p = queue[i]!;
    walkBindings(s.file, p, starts.get(p.name)!, (child, at) => {
      starts.set(child, at);
      queue.push(byName.get(child)!);
    });
  }
  if (queue.length < s.processes.length) reportForkCycle(s, forks, new Set(queue.map((p) => p.name)));
}

function walkBindings(file: string, p: ProcessSpec, start: Bindings, onFork: (child: string, at: Bindings) => void): void {
  const b: Bindings = { fds: new Set(start.fds), maps: new Set(start.maps) };
  for (const [i, step] of p.steps.entries()) {
    const use = (kind: 'fd' | 'map', field: string, name: string) =>
      useBinding(b, kind, name, () => formatPath(['processes', p.name, 'steps', i, field]), file, p);
    switch (step.op) {
      case 'open': b.fds.add(step.fd ?? step.file); break;
      case 'close': case 'fvrange': use('fd', 'fd', step.fd); break;
      case 'mmap': if (step.fd !== undefined) use('fd', 'fd', step.fd); b.maps.add(step.as); break;
      case 'munmap': case 'write': case 'read': case 'vrange': use('map', 'map', step.map); break;
      case 'query': if (step.map !== undefined) use('map', 'map', step.map); else use('fd', 'fd', step.fd!); break;
      case 'fork': onFork(step.child, { fds: new Set(b.fds), maps: new Set(b.maps) }); break;
      default: break;
    }
  }
}

function useBinding(b: Bindings, kind: 'fd' | 'map', name: string, path: () => string, file: string, p: ProcessSpec): void {
  const [mine, other] = kind === 'fd' ? [b.fds, b.maps] : [b.maps, b.fds];
  if (mine.has(name)) return;
  const made = kind === 'fd' ? 'an open step (fd, default the file name)' : 'an mmap step (as)';
  const inherited = p.forked ? ', including those inherited at the fork' : '';
  const known = `${kind}s bound so far${inherited}: ${listed(mine)}`;
  const detail = other.has(name)
    ? `"${name}" is ${kind === 'fd' ? 'a map binding, not an fd' : 'an fd binding, not a map'}; ${known}`
    : `${kind} "${name}" is used before ${made} binds it; ${known}`;
  throw new ScenarioError(file, path(), detail);
}

/** Processes never reached from a boot process are forked only from inside a cycle. */
function reportForkCycle(s: Scenario, forks: Map<string, ForkSite>, reached: Set<string>): never {
  let name = s.processes.find((p) => !reached.has(p.name))!.name;
  const seen = new Set<string>();
  while (!seen.has(name)) { seen.add(name); name = forks.get(name)!.parent; }
  const site = forks.get(name)!;
  throw new ScenarioError(s.file, formatPath(['processes', site.parent, 'steps', site.index, 'child']),
    `fork cycle: "${site.parent}" forks "${name}", which is itself (directly or not) forked by "${site.parent}", so neither ever starts`);
}

// ---------------------------------------------------------------------------------------------

export function parseScenario(text: string, file: string): Scenario {
  const data = extname(file).toLowerCase() === '.json' ? parseJson(text, file) : parseYaml(text, file);
  if (data === null || data === undefined) throw new ScenarioError(file, '', 'the file is empty; a scenario is a map with at least name and processes');
  checkTotalSteps(data, file);
  const parsed = scenarioSchema.safeParse(data);
  if (!parsed.success) throw formatIssue(pickIssue(parsed.error.issues), data, file);
  const { processes, ...top } = parsed.data;
  const scenario: Scenario = {
    file, ...top, processes: Object.entries(processes).map(([name, p]) => ({ name, ...p })),
  };
  checkFileNames(scenario);
  checkNames(scenario);
  checkBindings(scenario, checkForks(scenario));
  checkWaits(scenario);
  return scenario;
}

export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const detail = code === 'ENOENT' ? 'no such file (ENOENT)' : `cannot read the file: ${(e as Error).message}`;
    throw new ScenarioError(path, '', detail);
  }
  return parseScenario(text, path);
}
