// The scenario loader: YAML/JSON text -> a checked Scenario (./scenario-types.ts), or one
// ScenarioError naming the file, the step path (`processes.A.steps[3].pages`) and what is allowed.
// The format is a public contract (shared/spec/scenario-format.md): everything it shows must load.
// Two stages: a zod schema for shape, types and limits; then cross-references that need the
// whole file (bindings, files, forks, signals). Nothing downstream re-checks what is checked here,
// except what the spec makes a run-time error (unknown mode, zero length, closed fd: EINVAL/EBADF).

import { extname } from 'node:path';
import { z } from 'zod';
import { InputError, readInputText } from './files.js';
import { noteScenarioText } from './scenario_copy.js';
import {
  filePagesMax, filesMax, framesMax, goalConditionsMax, goalsMax, mmapPagesMax, nameLengthMax, processesMax, scenarioFileBytesMax, stepsPerProcessMax,
  valueBytesMax,
} from './limits.js';
import { didYouMean } from './suggest.js';
import { formatPath, ScenarioError, type PathPart } from './scenario_error.js';
import { resolveGoals } from './scenario_goals.js';
import { checkDocumentBounds, checkJsonDuplicates, checkTotalSteps, parseJson, parseYaml } from './scenario_text.js';
import { allSteps } from './scenario_warnings.js';
export { scenarioWarnings } from './scenario_warnings.js';
import {
  PAGE_SIZE, type KernelStep, type Mode, type PolicyName, type ProcessSpec, type ProcessStep, type Scenario,
} from './scenario-types.js';

export { formatPath, ScenarioError, type PathPart };

/** The limits a scenario is checked against, by name (their values: shared/limits.ts). */
export const LIMITS = {
  stepsPerProcessMax, processesMax, filesMax, framesMax, filePagesMax, mmapPagesMax, nameLengthMax, valueBytesMax,
  goalsMax, goalConditionsMax,
} as const;

export const PROCESS_OPS = [
  'open', 'close', 'mmap', 'munmap', 'write', 'read', 'vrange', 'fvrange', 'query',
  'fork', 'exit', 'crash', 'signal', 'wait', 'waitpid',
] as const;
export const KERNEL_OPS = ['signal', 'wait', 'waitpid', 'reclaim', 'kill', 'check'] as const;

// ---------------------------------------------------------------------------------------------
// Schema. Every leaf carries an errorMap whose message is "what is allowed"; formatIssue() then
// builds "expected <allowed>, got <value>" itself, because zod's own messages name neither.

type LimitName = keyof typeof LIMITS;
const allowedIs = (text: string) => ({ errorMap: () => ({ message: text }) });
const limitNote = (limit: LimitName) => `at most ${LIMITS[limit]}`;

function whole(min: number, limit?: LimitName) {
  const max = limit ? LIMITS[limit] : Number.MAX_SAFE_INTEGER;
  const text = `a whole number >= ${min}` + (limit ? ` (${limitNote(limit)})` : '');
  return z.number(allowedIs(text)).int().min(min).max(max);
}

function text(what: string, limit: LimitName = 'valueBytesMax', min = 0) {
  const size = min > 0 ? `${min} to ${LIMITS[limit]} characters` : `at most ${LIMITS[limit]} characters`;
  return z.string(allowedIs(`${what} (${size})`)).min(min).max(LIMITS[limit]);
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

// `expect` is a partial result: only fields that some result of the op can have (the spec's
// table; ok, errno, signal and stuck apply to every op), each of the type that result has, since
// any other could never match. byPolicy maps a policy name (or default) to the same partial result.
const resultField = {
  ok: z.boolean(allowedIs('true or false')),
  // Names as Linux writes them (E..., SIG...): an expected `einval` or `SIGBUS ` could never match.
  errno: z.string(allowedIs('an errno name such as EINVAL (E, then capital letters and digits)')).regex(/^E[A-Z0-9]+$/),
  signal: z.string(allowedIs('a signal name such as SIGBUS (SIG, then capital letters and digits)')).regex(/^SIG[A-Z0-9]+$/),
  stuck: z.boolean(allowedIs('true or false')),
  // An address and a byte count are whole numbers >= 0: an expected 1.5, -1, .nan or .inf could never match.
  fd: whole(0), addr: whole(0), value: z.string(allowedIs('a string')),
  bytes: whole(0), purged: z.boolean(allowedIs('true or false')),
  pages: z.array(strictObject('a page of a query result', {
    page: whole(0), resident: z.boolean(allowedIs('true or false')),
    volatile: z.boolean(allowedIs('true or false')), purged: z.boolean(allowedIs('true or false')),
  }), allowedIs('a list of { page, resident, volatile, purged }')),
  pid: whole(1), exitCode: whole(0), freed: whole(0),
  mismatches: z.array(strictObject('a mismatch of a check result', {
    field: z.string(allowedIs('a field name')), expected: z.unknown(), actual: z.unknown(),
  }), allowedIs('a list of { field, expected, actual }')),
} as const;
type ResultField = keyof typeof resultField;
const COMMON_RESULT_FIELDS = ['ok', 'errno', 'signal', 'stuck'] as const satisfies readonly ResultField[];
/** The result fields each op can report beyond the common ones (shared/spec/scenario-format.md). */
export const RESULT_FIELDS = {
  open: ['fd'], close: [], mmap: ['addr'], munmap: [], write: [], read: ['value'],
  vrange: ['bytes', 'purged'], fvrange: ['bytes', 'purged'], query: ['pages'], fork: ['pid'],
  exit: [], crash: [], signal: [], wait: [], waitpid: ['exitCode'],
  reclaim: ['freed'], kill: [], check: ['mismatches'],
} as const satisfies Record<string, readonly ResultField[]>;

function partialShape(fields: readonly ResultField[]) {
  return Object.fromEntries(fields.map((f) => [f, resultField[f].optional()])) as { [K in ResultField]?: z.ZodOptional<(typeof resultField)[K]> };
}

/** A partial result of `op` (an `expect` without byPolicy; a goal condition's `result`). */
export function partialResultSchema(op: keyof typeof RESULT_FIELDS) {
  return strictObject(`a result of op ${op}`, partialShape([...COMMON_RESULT_FIELDS, ...RESULT_FIELDS[op]]));
}

function expectationFor(op: keyof typeof RESULT_FIELDS) {
  const fields = [...COMMON_RESULT_FIELDS, ...RESULT_FIELDS[op]];
  const partial = partialResultSchema(op);
  const byPolicy = strictObject('byPolicy (policy names or default)', {
    'shared-file': partial.optional(), 'per-mm': partial.optional(), 'anon-only': partial.optional(), 'madv-free': partial.optional(), default: partial.optional(),
  });
  return strictObject(`expect of op ${op}`, { ...partialShape(fields), byPolicy: byPolicy.optional() });
}

/** What each op does, for editors (the JSON Schema's descriptions); the contract's table, shortened. */
const OP_HELP: Record<keyof typeof RESULT_FIELDS, string> = {
  open: 'open a declared file; binds fd (default: the file name); result { ok, fd }',
  close: 'close an fd binding; result { ok }',
  mmap: 'map pages (of fd at offset, or anonymous) bound as `as`; result { ok, addr }',
  munmap: 'unmap pages of a mapping (default: all of it); result { ok }',
  write: 'write a string value to a page of a mapping (with offset: bytes at that byte offset, the rest of the page kept); result { ok }',
  read: 'read a page of a mapping; result { ok, value } ("" for a page never written)',
  vrange: 'mark pages of a mapping volatile or nonvolatile (mvrange); result { ok, bytes, purged }',
  fvrange: 'mark pages of a file volatile or nonvolatile, by fd; result { ok, bytes, purged }',
  query: 'query pages of a mapping or fd; result { ok, pages: [{ page, resident, volatile, purged }] }',
  fork: 'fork the named forked: true process; result { ok, pid }',
  exit: 'end the process with code (default 0)',
  crash: 'the process sends itself SIGKILL; result { ok: false, signal: SIGKILL }',
  signal: 'signal a name: wakes every wait on it, now or later; result { ok }',
  wait: 'wait until a name has been signalled; result { ok }',
  waitpid: 'wait until a process has ended and been cleaned up; result { ok, exitCode } or { ok, signal }',
  reclaim: 'kernel: try to free N frames (pages) or purge everything purgeable (all: true); result { ok, freed }',
  kill: 'kernel: SIGKILL a process; result { ok }',
  check: 'kernel: compare framesUsed, framesFree, process states and file counts; result { ok } or { ok: false, mismatches }',
};

function step<const Op extends keyof typeof RESULT_FIELDS, T extends z.ZodRawShape>(op: Op, shape: T) {
  return strictObject(`op ${op}`, {
    op: z.literal(op), ...shape, expect: expectationFor(op).optional().describe('a partial result: every field given must equal the result\'s'),
    label: text('a label').optional(),
  }).describe(OP_HELP[op]);
}

const binding = nameOf('a binding name');
const page = whole(0, 'mmapPagesMax');
const lengthPages = whole(0, 'mmapPagesMax'); // 0 is accepted: the spec makes it a run-time EINVAL
const byteOffset = z.number(allowedIs('a whole number of bytes >= 0')).int().min(0).max(Number.MAX_SAFE_INTEGER);
// The spec makes an unknown mode a run-time EINVAL, so any string loads; the runner must check it.
const mode = z.string(allowedIs('a string: volatile or nonvolatile'))
  .describe('volatile or nonvolatile (any other string loads, and the step gives EINVAL, as the spec requires)').transform((s) => s as Mode);
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
  step('write', {
    map: binding, page, value: utf8Value().optional().describe('the whole page\'s new contents; with offset, the same as bytes'),
    offset: z.number(allowedIs(`a byte offset in the page: a whole number from 0 to ${PAGE_SIZE - 1}`)).int().min(0).max(PAGE_SIZE - 1).optional()
      .describe(`a sub-page write: a byte offset inside the page (0 to ${PAGE_SIZE - 1}); bytes (or value) are written there, the rest of the page kept`),
    bytes: utf8Value('bytes').optional().describe('with offset: the string whose UTF-8 bytes are written at offset (offset + its length at most 4096)'),
  }),
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

function utf8Value(field = 'value') {
  const max = LIMITS.valueBytesMax;
  return z.string(allowedIs('a string')).refine((s) => Buffer.byteLength(s, 'utf8') <= max, (s) => ({
    message: `${field} is ${Buffer.byteLength(s, 'utf8')} bytes; at most ${max} bytes`,
  }));
}

/** Rules between fields of one step, which a discriminated union of plain objects cannot say. */
function checkStepFields(s: { op: string } & Record<string, unknown>, ctx: z.RefinementCtx): void {
  const fail = (path: string[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const has = (k: string) => s[k] !== undefined;
  if (s.op === 'vrange' || s.op === 'fvrange') checkRangeForm(has, fail);
  if (s.op === 'query') checkExactlyOne(has, fail, 'map', 'fd');
  if (s.op === 'reclaim') checkExactlyOne(has, fail, 'pages', 'all');
  if (s.op === 'write') checkWriteForm(s, has, fail);
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

/** A write gives value (the whole page), or offset with bytes or value (a sub-page write) inside the page. */
function checkWriteForm(s: Record<string, unknown>, has: (k: string) => boolean, fail: Fail): void {
  if (has('value') && has('bytes')) { fail(['bytes'], 'give either value or bytes, not both (with offset they mean the same)'); return; }
  if (!has('value') && !has('bytes')) { fail(['value'], 'missing required field "value" (or offset and bytes, for a sub-page write)'); return; }
  const data = has('bytes') ? 'bytes' : 'value';
  if (!has('offset')) {
    if (data === 'bytes') fail(['offset'], 'missing required field "offset" (bytes needs offset; a whole-page write gives value)');
    return;
  }
  const offset = s.offset as number;
  const n = Buffer.byteLength(s[data] as string, 'utf8');
  if (offset + n > PAGE_SIZE) {
    fail([data], `${n} bytes at offset ${offset} end at byte ${offset + n}, past the end of the page; offset + byte length must be at most ${PAGE_SIZE}`);
  }
}

/** `bytes` is the sub-page form's name for `value`: the loaded step carries `value` only. */
function normalizeStep<T extends { op: string }>(s: T): T {
  if (s.op !== 'write' || !('bytes' in s)) return s;
  const { bytes, ...rest } = s as T & { bytes?: string };
  return bytes === undefined ? s : { ...rest, value: bytes } as unknown as T;
}

function checkExactlyOne(has: (k: string) => boolean, fail: Fail, a: string, b: string): void {
  const shown = (k: string) => (k === 'all' ? 'all: true' : k);
  if (has(a) && has(b)) fail([b], `give either ${shown(a)} or ${shown(b)}, not both`);
  if (!has(a) && !has(b)) fail([], `missing field: give ${shown(a)} or ${shown(b)}`);
}

const processStepSchema: z.ZodType<ProcessStep, z.ZodTypeDef, unknown> = processStepUnion.superRefine(checkStepFields)
  .transform((s) => normalizeStep(s) as ProcessStep);
const kernelStepSchema: z.ZodType<KernelStep, z.ZodTypeDef, unknown> = kernelStepUnion.superRefine(checkStepFields);

const steps = <T>(schema: z.ZodType<T, z.ZodTypeDef, unknown>) =>
  z.array(schema, allowedIs(`a list of steps (${limitNote('stepsPerProcessMax')})`)).max(LIMITS.stepsPerProcessMax);

const processSchema = strictObject('a process', {
  forked: z.boolean(allowedIs('true or false')).default(false).describe('true: not started at boot; created by the fork step that names it'),
  sigbus: oneOf(['handle', 'kill']).default('kill').describe('kill: a SIGBUS ends the process; handle: the step reports it and the process goes on'),
  steps: steps(processStepSchema).describe('the steps the process performs, in order'),
});

export const PROCESS_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
const PROCESS_NAME_RULE = `a letter then letters, digits, _ or - (${PROCESS_NAME.source}), ${limitNote('nameLengthMax')} characters`;
// The key schema is what the JSON Schema says (propertyNames); formatIssue words its issues.
const processName = z.string(allowedIs(PROCESS_NAME_RULE)).regex(PROCESS_NAME).max(LIMITS.nameLengthMax);
const processMap = z.record(processName, processSchema, allowedIs('a map of process name to process'))
  .superRefine((procs, ctx) => {
    const names = Object.keys(procs);
    if (names.length > LIMITS.processesMax) {
      ctx.addIssue({ code: 'custom', message: `${names.length} processes; ${limitNote('processesMax')}` });
    }
  });

// `__proto__` is the one name a JavaScript map keyed by name cannot hold (check's files map is one).
const fileName = nameOf('a file name, not __proto__').regex(/^(?!__proto__$)/);
const fileSchema = strictObject('a file', {
  name: fileName, pages: whole(1, 'filePagesMax'), kind: oneOf(['tmpfs', 'ashmem']).default('tmpfs'),
});

// ---------------------------------------------------------------------------------------------
// Goals (docs/scenario-format.md, Goals): the shape here; the references (process, step or label,
// the result's fields for that step's op) in ./scenario_goals.ts, once the whole file is read.

const goalCondition = strictObject('a goal condition', {
  process: nameOf('a process name, or kernel').describe('the process whose step it is; kernel: a kernel step'),
  step: whole(0, 'stepsPerProcessMax').optional().describe('the step by its 0-based index in the process\'s steps (give step or label)'),
  label: text('a step label').optional().describe('the step by its label (give step or label)'),
  result: z.record(z.unknown(), allowedIs('a map: a partial result of the step (the fields its expect may have)'))
    .describe('a partial result: every field given must equal the step\'s result'),
}).superRefine((c, ctx) => checkExactlyOne((k) => (c as Record<string, unknown>)[k] !== undefined,
  (path, message) => ctx.addIssue({ code: 'custom', path, message }), 'step', 'label'));
const goalSchema = strictObject('a goal', {
  name: nameOf('a goal name of a-z, 0-9 and - ([a-z0-9-]+)').regex(/^[a-z0-9-]+$/).describe('the goal\'s name: a-z, 0-9 and -, unique'),
  title: text('a string').default('').describe('what the goal is, in words, for the student'),
  when: z.array(goalCondition, allowedIs(`a list of 1 to ${goalConditionsMax} conditions`)).min(1).max(goalConditionsMax)
    .describe('every condition must hold in one run'),
});
const goalsSchema = z.array(goalSchema, allowedIs(`a list of goals (${limitNote('goalsMax')})`)).max(goalsMax)
  .describe('named outcomes: each a partial result of one or more steps (vrange play shows them as challenges)');

/** The whole file. Exported for scripts/scenario-schema.ts, which makes the JSON Schema from it. */
export const scenarioSchema = strictObject('a scenario', {
  // JSON files name their schema this way (YAML ones in a `# yaml-language-server:` comment).
  $schema: z.string(allowedIs('the path or URL of the JSON Schema of the format')).optional(),
  name: nameOf('a scenario name of a-z, 0-9 and - ([a-z0-9-]+)').regex(/^[a-z0-9-]+$/).describe('the scenario\'s name: a-z, 0-9 and -'),
  description: text('a string').default('').describe('shown by `vrange list` and at the top of a run'),
  policy: oneOf(['shared-file', 'per-mm', 'anon-only', 'madv-free'] as const satisfies readonly PolicyName[]).optional()
    .describe('the default policy (where file volatility lives; madv-free: what Linux merged); --policy overrides it'),
  access: oneOf(['sigbus', 'zero']).optional().describe('touching a purged, still volatile page: sigbus (default) raises SIGBUS, zero reads ""'),
  purgeUnit: oneOf(['range', 'page']).optional().describe('range (default): whole ranges, oldest mark first; page: least recently used page first'),
  memory: strictObject('memory', { frames: whole(1, 'framesMax').default(1024).describe('physical page frames (default 1024); --frames overrides it') }).default({}),
  files: z.array(fileSchema, allowedIs(`a list of files (${limitNote('filesMax')})`)).max(LIMITS.filesMax).default([])
    .describe('files that exist before any process starts'),
  processes: processMap.describe('process name -> process; names are [A-Za-z][A-Za-z0-9_-]*'),
  kernel: steps(kernelStepSchema).default([]).describe('kernel-side steps: signal, wait, waitpid, reclaim, kill, check'),
  goals: goalsSchema.optional(),
});

// ---------------------------------------------------------------------------------------------
// Turning the first zod issue into a ScenarioError.

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
  // YAML's .nan, .inf and a number too large for a double (1e400, in YAML or JSON) are numbers, but not ones anyone wrote as "NaN".
  if (typeof v === 'number' && Number.isNaN(v)) return 'not a number (.nan)';
  if (typeof v === 'number' && !Number.isFinite(v)) return `an infinite number (${v > 0 ? '' : '-'}.inf, or one too large to hold such as ${v > 0 ? '' : '-'}1e400)`;
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

export function formatIssue(issue: z.ZodIssue, data: unknown, file: string): ScenarioError {
  const value = valueAt(data, issue.path);
  const at = (path: readonly PathPart[], detail: string) => new ScenarioError(file, formatPath(path), detail);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const fields = issue.keys.map((k) => `"${k}"`).join(', ');
      const allowed = issue.message.slice(issue.message.lastIndexOf(': ') + 2).split(', ');
      return at([...issue.path, issue.keys[0]!], `unknown field${issue.keys.length > 1 ? 's' : ''} ${fields}; ${issue.message}${didYouMean(issue.keys[0], allowed)}`);
    }
    case 'invalid_string': case 'too_big':
      if (issue.message === PROCESS_NAME_RULE) return at(issue.path, `process name "${String(issue.path.at(-1))}" is not allowed; names are ${PROCESS_NAME_RULE}`);
      return at(issue.path, `expected ${issue.message}, got ${show(value)}`);
    case 'invalid_union_discriminator': {
      // `Op: read` (a key in the wrong case) would otherwise read as a step with no op at all.
      const stepMap = valueAt(data, issue.path.slice(0, -1));
      const near = value === undefined && stepMap !== null && typeof stepMap === 'object' && !Array.isArray(stepMap)
        ? Object.keys(stepMap).find((k) => k.toLowerCase() === 'op') : undefined;
      if (near !== undefined) return at([...issue.path.slice(0, -1), near], `unknown field "${near}"; did you mean "op"?`);
      return at(issue.path, describeOp(value, issue.options) + didYouMean(value, issue.options.map(String)));
    }
    case 'invalid_enum_value':
      return at(issue.path, `expected ${issue.message}, got ${show(value)}${didYouMean(value, issue.options.map(String))}`);
    case 'custom':
      return at(issue.path, issue.message);
    default: {
      const field = issue.path.at(-1);
      if (value === undefined && typeof field === 'string') {
        return at(issue.path, `missing required field "${field}": expected ${issue.message}`);
      }
      // `name: 123` reads as a number in YAML: "got 123" alone looks like a name that should pass.
      const notString = issue.code === 'invalid_type' && issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean')
        ? ` (a ${typeof value}, not a string; in YAML write it in quotes: "${String(value)}")` : '';
      return at(issue.path, `expected ${issue.message}, got ${show(value)}${notString}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Checks that need the whole scenario. Each throws the first problem it finds.

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
    if (!set.has(name)) throw new ScenarioError(s.file, formatPath(path), `unknown ${what} "${name}"; ${what === 'file' ? 'files' : 'processes'}: ${listed(set)}${didYouMean(name, set)}`);
  };
  for (const { step, path, owner } of allSteps(s)) {
    // An `open` of a file the scenario does not declare is a run-time ENOENT (the spec lists it).
    if (step.op === 'waitpid' || step.op === 'kill') need(procs, 'process', step.process, [...path, 'process']);
    // As `wait` on a name nothing signals (checkWaits): a waitpid of itself can only ever be stuck.
    if (step.op === 'waitpid' && step.process === owner?.name) {
      throw new ScenarioError(s.file, formatPath([...path, 'process']), `process "${owner.name}" waits for its own end, which cannot come while it waits; waitpid names another process: ${listed([...procs].filter((p) => p !== owner.name))}`);
    }
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
        `nothing can ever signal "${step.name}": no signal step names it; names signalled: ${listed(signalled)}${didYouMean(step.name, signalled)}`);
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
      if (!child) fail(`unknown process "${step.child}"; processes with forked: true: ${listed(forkable)}${didYouMean(step.child, forkable)}`);
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
    : `${kind} "${name}" is used before ${made} binds it; ${known}${didYouMean(name, mine)}`;
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

export function parseScenario(text: string, file: string): Scenario {
  // A byte-order mark is allowed, and dropped, in YAML and JSON alike.
  return parseText(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, file);
}

/** `text` with its byte-order mark (if any) already dropped (by parseScenario or readInputText): a second one is refused. */
function parseText(text: string, file: string): Scenario {
  // The YAML parser would drop another itself, and JSON.parse fail on it with no word of why.
  if (text.charCodeAt(0) === 0xfeff) throw new ScenarioError(file, '', 'starts with two byte-order marks (U+FEFF); one is allowed at the start, and dropped');
  const data = extname(file).toLowerCase() === '.json' ? parseJson(text, file) : parseYaml(text, file);
  if (data === null || data === undefined) throw new ScenarioError(file, '', 'the file is empty; a scenario is a map with at least name and processes');
  checkDocumentBounds(data, file);
  if (extname(file).toLowerCase() === '.json') checkJsonDuplicates(text, file);
  checkTotalSteps(data, file);
  const parsed = scenarioSchema.safeParse(data);
  if (!parsed.success) throw formatIssue(pickIssue(parsed.error.issues), data, file);
  const { processes, $schema: _schema, goals, ...top } = parsed.data;
  const scenario: Scenario = {
    file, ...top, processes: Object.entries(processes).map(([name, p]) => ({ name, ...p })),
  };
  checkFileNames(scenario);
  checkNames(scenario);
  checkBindings(scenario, checkForks(scenario));
  checkWaits(scenario);
  if (goals !== undefined) scenario.goals = resolveGoals(scenario, goals, data, { partialResultSchema: (op) => partialResultSchema(op as keyof typeof RESULT_FIELDS), formatIssue });
  return scenario;
}

/** Reads and checks a scenario file: only a regular file, at most scenarioFileBytesMax bytes, UTF-8. */
export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readInputText(path, '', scenarioFileBytesMax);
  } catch (e) {
    if (!(e instanceof InputError)) throw e;
    throw new ScenarioError(path, '', e.message.startsWith(`${path}: `) ? e.message.slice(path.length + 2) : e.message);
  }
  noteScenarioText(path, text); // a reproduce line names it, or a copy of it (shared/scenario_copy.ts)
  return parseText(text, path); // readInputText dropped the byte-order mark
}
