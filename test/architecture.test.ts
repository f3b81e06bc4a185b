// The architecture as code: every import edge of the project's TypeScript, read with the
// TypeScript compiler's parser, against the rules each folder's README states ("May import:").
//
// Edges: `import ... from`, `import '...'`, `export ... from`, `import x = require()`, dynamic
// `import()` and type positions `import('...').T`; an edge is type-only when the compiled JavaScript
// does not keep it (`import type`, `export type`, `import { type A }` with every name marked
// `type`, `import('...')` in a type). Packages (any specifier that is not relative) are always
// allowed; a folder may import itself.
//
// TypeScript 7's package offers no parser in its main export (`import ts from 'typescript'` is
// only its version); its parser is the Go compiler, which `typescript/unstable/sync` drives over a
// pipe: one child process for the whole read, closed before the tests run. bin/vrange.js is plain
// JavaScript outside the TypeScript project: a careful regex reads its imports (it has two lines
// of them).

import test from 'ava';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { API } from 'typescript/unstable/sync';
import { SyntaxKind, skipTrivia, type Node } from 'typescript/unstable/ast';
import { root } from './helpers-root.js';

// ---- the rules -----------------------------------------------------------------------------------

/** What a folder may import: these folders only, or every folder but these. */
export type Rule = { only: string[]; typeOnly?: boolean } | { allBut: string[] };

export const RULES: Record<string, Rule> = {
  shared: { only: [] },
  agents: { only: ['shared'] },
  coordinator: { only: ['shared'] }, // the kernel
  model: { only: ['shared'], typeOnly: true }, // an independent implementation: types only
  harness: { only: ['coordinator', 'model', 'shared', 'checker', 'report'] }, // the tools
  checker: { only: ['coordinator', 'model', 'shared', 'harness', 'report'] },
  report: { only: ['coordinator', 'model', 'shared', 'harness', 'checker'] },
  play: { only: ['harness', 'checker', 'report', 'coordinator', 'model', 'shared'] }, // vrange play: the game, its server and page
  cli: { only: ['harness', 'checker', 'report', 'agents', 'shared', 'play'] },
  test: { allBut: ['bench'] }, // a test never depends on a benchmark
  bench: { allBut: [] }, // benchmarks and scripts are leaves: nothing imports them, they may import anything
  scripts: { allBut: [] },
};

/**
 * Edges that break the rules today and that the kernel redesign (issue 12, item 2) removes: the
 * kernel still holds the fault plan and the page-map snapshots. Each entry must still exist (a stale
 * one fails, so the list only shrinks); the lead empties it when that work is merged.
 */
export const pendingEdges: Array<{ from: string; to: string; why: string }> = [
];

// ---- the checker ---------------------------------------------------------------------------------

export interface Edge {
  /** Project-relative paths with `/`: `coordinator/kernel.ts`. `to` is a package name for a package. */
  from: string; to: string;
  typeOnly: boolean;
  how: 'import' | 'export-from' | 'import-equals' | 'dynamic' | 'import-type';
  line: number;
  package?: boolean;
}

const folderOf = (path: string) => path.split('/')[0]!;

export function allowed(from: string, to: string, typeOnly: boolean, rules: Record<string, Rule>): boolean {
  const a = folderOf(from);
  const b = folderOf(to);
  const rule = rules[a];
  if (!rule) return false;
  if (a === b) return true;
  if ('allBut' in rule) return !rule.allBut.includes(b) && b in rules;
  return rule.only.includes(b) && (!rule.typeOnly || typeOnly);
}

const edgeText = (e: Edge) => `${e.from}:${e.line} -> ${e.to} (${e.typeOnly ? 'type-only ' : ''}${e.how})`;

/** Every edge the rules forbid, as one line each. */
export function forbiddenEdges(edges: Edge[], rules: Record<string, Rule>, pending: Array<{ from: string; to: string }> = []): string[] {
  const out: string[] = [];
  for (const e of edges) {
    if (e.package) continue;
    if (allowed(e.from, e.to, e.typeOnly, rules)) continue;
    if (pending.some((p) => p.from === e.from && p.to === e.to)) continue;
    const rule = rules[folderOf(e.from)];
    const says = !rule ? 'a folder the rules do not name'
      : 'allBut' in rule ? `${folderOf(e.from)}/ may import anything but ${rule.allBut.map((f) => `${f}/`).join(', ')}`
        : `${folderOf(e.from)}/ may import ${[...rule.only.map((f) => `${f}/`), 'packages'].join(', ')}${rule.typeOnly ? ' (types only)' : ''}`;
    out.push(`${edgeText(e)}: ${says}`);
  }
  return out;
}

/**
 * The run-time import cycles: strongly connected components (Tarjan) of the graph of edges the
 * compiled JavaScript keeps, each given as one cycle through it (`a -> b -> a`).
 */
export function runtimeCycles(edges: Edge[]): string[] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (e.package || e.typeOnly) continue;
    if (!next.has(e.from)) next.set(e.from, []);
    if (!next.has(e.to)) next.set(e.to, []);
    next.get(e.from)!.push(e.to);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  // Iterative, so that a long chain of modules cannot overflow the stack.
  for (const start of next.keys()) {
    if (index.has(start)) continue;
    const work: Array<{ v: string; i: number }> = [{ v: start, i: 0 }];
    index.set(start, counter); low.set(start, counter); counter++; stack.push(start); onStack.add(start);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const succ = next.get(top.v)!;
      if (top.i < succ.length) {
        const w = succ[top.i++]!;
        if (!index.has(w)) {
          index.set(w, counter); low.set(w, counter); counter++; stack.push(w); onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length > 0) { const p = work[work.length - 1]!.v; low.set(p, Math.min(low.get(p)!, low.get(top.v)!)); }
      if (low.get(top.v) === index.get(top.v)) {
        const comp: string[] = [];
        let w: string;
        do { w = stack.pop()!; onStack.delete(w); comp.push(w); } while (w !== top.v);
        if (comp.length > 1 || next.get(top.v)!.includes(top.v)) components.push(comp);
      }
    }
  }
  return components.map((comp) => {
    // One cycle through the component: a shortest path back to its first module, inside it.
    const members = new Set(comp);
    const first = [...comp].sort()[0]!;
    const from = new Map<string, string>();
    const queue = [first];
    let closing: string | undefined;
    while (queue.length > 0 && closing === undefined) {
      const v = queue.shift()!;
      for (const w of next.get(v)!) {
        if (!members.has(w)) continue;
        if (w === first) { closing = v; break; }
        if (!from.has(w)) { from.set(w, v); queue.push(w); }
      }
    }
    const path = [first];
    for (let v = closing!; v !== first; v = from.get(v)!) path.splice(1, 0, v);
    return `${[...path, first].join(' -> ')} (a cycle among ${comp.length} module(s))`;
  });
}

// ---- reading the project -------------------------------------------------------------------------

function relativeTarget(fromFile: string, spec: string): string {
  const target = posix.normalize(posix.join(posix.dirname(fromFile), spec));
  return target.replace(/\.js$/, '.ts');
}

function readEdges(): { files: string[]; edges: Edge[] } {
  const api = new API({ cwd: root });
  try {
    const snapshot = api.updateSnapshot({ openProject: join(root, 'tsconfig.json') });
    const program = snapshot.getProjects()[0]!.program;
    const files: string[] = [];
    const edges: Edge[] = [];
    for (const abs of program.getSourceFileNames()) {
      const file = relative(root, abs).split('\\').join('/');
      if (file.startsWith('..') || file.includes('node_modules/')) continue;
      files.push(file);
      const source = program.getSourceFile(abs)!;
      const text = readFileSync(abs, 'utf8');
      const lineOf = (n: Node) => text.slice(0, skipTrivia(text, n.pos)).split('\n').length;
      const add = (spec: string, typeOnly: boolean, how: Edge['how'], n: Node) => {
        const isPackage = !spec.startsWith('.');
        edges.push({ from: file, to: isPackage ? spec : relativeTarget(file, spec), typeOnly, how, line: lineOf(n), package: isPackage || undefined });
      };
      const visit = (n: Node): void => {
        const any = n as never as Record<string, any>;
        switch (n.kind) {
          case SyntaxKind.ImportDeclaration: {
            const clause = any.importClause;
            const names = clause?.namedBindings?.elements as Array<{ isTypeOnly: boolean }> | undefined;
            const allTyped = clause !== undefined && !clause.name && names !== undefined && names.length > 0 && names.every((e) => e.isTypeOnly);
            add(any.moduleSpecifier.text, clause?.isTypeOnly === true || allTyped, 'import', n);
            break;
          }
          case SyntaxKind.ExportDeclaration: {
            if (!any.moduleSpecifier) break;
            const names = any.exportClause?.elements as Array<{ isTypeOnly: boolean }> | undefined;
            const allTyped = names !== undefined && names.length > 0 && names.every((e) => e.isTypeOnly);
            add(any.moduleSpecifier.text, any.isTypeOnly === true || allTyped, 'export-from', n);
            break;
          }
          case SyntaxKind.ImportEqualsDeclaration:
            if (any.moduleReference?.kind === SyntaxKind.ExternalModuleReference) add(any.moduleReference.expression.text, any.isTypeOnly === true, 'import-equals', n);
            break;
          case SyntaxKind.ImportType:
            if (any.argument?.literal?.text !== undefined) add(any.argument.literal.text, true, 'import-type', n);
            break;
          case SyntaxKind.CallExpression:
            if (any.expression.kind === SyntaxKind.ImportKeyword) {
              const arg = any.arguments[0];
              if (arg?.kind !== SyntaxKind.StringLiteral && arg?.kind !== SyntaxKind.NoSubstitutionTemplateLiteral) {
                // An import the test cannot follow could reach any folder: name it, so it is written plainly.
                edges.push({ from: file, to: '<computed import()>', typeOnly: false, how: 'dynamic', line: lineOf(n) });
              } else add(arg.text, false, 'dynamic', n);
            }
            break;
        }
        n.forEachChild(visit);
      };
      source.forEachChild(visit);
    }
    return { files, edges };
  } finally {
    api.close();
  }
}

const { files, edges } = readEdges();
const projectEdges = edges.filter((e) => !e.package);

// ---- the tests -----------------------------------------------------------------------------------

test('the parser sees the project: every source folder, and the imports of a known file', (t) => {
  const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as { include: string[] };
  t.deepEqual([...tsconfig.include].sort(), Object.keys(RULES).sort(), 'tsconfig.json compiles exactly the folders the rules name');
  for (const folder of Object.keys(RULES)) t.true(files.some((f) => folderOf(f) === folder), `${folder}/ has source files`);
  t.true(files.length > 80, `${files.length} files`);
  // This very file imports the helpers' root, a package and a type: all three are seen, rightly typed.
  const mine = edges.filter((e) => e.from === 'test/architecture.test.ts');
  t.truthy(mine.find((e) => e.to === 'test/helpers-root.ts' && !e.typeOnly && e.how === 'import'));
  t.truthy(mine.find((e) => e.to === 'ava' && e.package));
  t.true(edges.some((e) => e.from === 'coordinator/kernel.ts' && e.to === 'shared/scenario-types.ts' && e.typeOnly));
  t.true(edges.some((e) => e.from === 'harness/run.ts' && e.to === 'coordinator/kernel.ts' && !e.typeOnly));
});

test('every import resolves to a source file of the project', (t) => {
  const missing = projectEdges.filter((e) => !files.includes(e.to)).map(edgeText);
  t.deepEqual(missing, [], 'an import that names no .ts file of the project (or an import() the test cannot follow)');
});

test('no import crosses the folder rules', (t) => {
  const bad = forbiddenEdges(projectEdges, RULES, pendingEdges);
  t.deepEqual(bad, [], `forbidden imports:\n${bad.join('\n')}`);
});

test('every pending edge still exists (the list only shrinks)', (t) => {
  const stale = pendingEdges.filter((p) => !projectEdges.some((e) => e.from === p.from && e.to === p.to && !allowed(e.from, e.to, e.typeOnly, RULES)))
    .map((p) => `${p.from} -> ${p.to}`);
  t.deepEqual(stale, [], 'remove these from pendingEdges in test/architecture.test.ts: they are gone');
});

test('no import cycle at run time', (t) => {
  const cycles = runtimeCycles(projectEdges);
  t.deepEqual(cycles, [], `run-time import cycles (use \`import type\` where only a type crosses, or move the shared part down):\n${cycles.join('\n')}`);
});

test('bin/vrange.js imports only the compiled CLI', (t) => {
  const text = readFileSync(join(root, 'bin', 'vrange.js'), 'utf8');
  t.false(/\brequire\s*\(/.test(text), 'bin/vrange.js is an ES module: no require()');
  // Every `import(...)`, `import ... from '...'` and `import '...'`, however spaced.
  const specs = [...text.matchAll(/\bimport\s*\(\s*(['"`])([^'"`]+)\1\s*\)|\bimport\s+(?:[\w*{}\s,]+\s+from\s+)?(['"])([^'"]+)\3|\bexport\s+[\w*{}\s,]+\s+from\s+(['"])([^'"]+)\5/g)]
    .map((m) => m[2] ?? m[4] ?? m[6]!);
  t.true(specs.length > 0, 'the entry point imports the CLI');
  const bad = specs.filter((s) => !(s.startsWith('../dist/cli/') || s.startsWith('node:')));
  t.deepEqual(bad, [], 'bin/vrange.js may import ../dist/cli/ and node: built-ins only');
  // A computed import() is one the rule cannot check.
  t.false(/\bimport\s*\(\s*[^'"`\s]/.test(text), 'bin/vrange.js names its imports as plain strings');
});

test("each source folder's README says what it may import, as the rules do", (t) => {
  const problems: string[] = [];
  for (const [folder, rule] of Object.entries(RULES)) {
    const path = join(root, folder, 'README.md');
    if (!existsSync(path)) { problems.push(`${folder}/README.md is missing`); continue; }
    const line = readFileSync(path, 'utf8').split('\n').find((l) => l.startsWith('May import:'));
    if (!line) { problems.push(`${folder}/README.md has no line starting "May import:"`); continue; }
    const named = new Set([...line.matchAll(/\b([a-z]+)\//g)].map((m) => m[1]!).filter((f) => f !== folder));
    const want = new Set('allBut' in rule ? rule.allBut : rule.only);
    const same = named.size === want.size && [...want].every((f) => named.has(f));
    if (!same) problems.push(`${folder}/README.md: "${line}" names ${[...named].join(', ') || 'no folder'}; the rule is ${[...want].join(', ') || 'no folder'}`);
    if ('allBut' in rule !== /\banything\b/.test(line)) problems.push(`${folder}/README.md: "${line}" ${'allBut' in rule ? 'must say anything' : 'must not say anything'}`);
    if ('only' in rule && rule.typeOnly && !/\btypes? only\b|\btype-only\b/.test(line)) problems.push(`${folder}/README.md: "${line}" must say types only`);
  }
  t.deepEqual(problems, []);
});

test('a forbidden edge and a run-time cycle are reported (the checker can fail)', (t) => {
  const e = (from: string, to: string, typeOnly = false): Edge => ({ from, to, typeOnly, how: 'import', line: 1 });
  const planted = [
    e('shared/a.ts', 'shared/b.ts'), e('shared/b.ts', 'shared/a.ts'), // a cycle inside a folder
    e('coordinator/k.ts', 'harness/run.ts'), // the kernel reaching into the tools
    e('model/m.ts', 'shared/s.ts'), // a value import where only types may cross
    e('model/m.ts', 'shared/t.ts', true), // fine
    e('test/x.test.ts', 'bench/harness.ts'), // a test depending on a benchmark
    e('cli/cli.ts', 'coordinator/kernel.ts'), // the command skipping the tools
    e('harness/run.ts', 'coordinator/kernel.ts'), e('harness/run.ts', 'checker/c.ts'), e('checker/c.ts', 'harness/run.ts', true), // fine: the cycle is type-only one way
    e('bench/b.ts', 'harness/run.ts'), e('scripts/s.ts', 'bench/b.ts'), // fine
    e('elsewhere/x.ts', 'shared/a.ts'), // a folder the rules do not name
  ];
  const bad = forbiddenEdges(planted, RULES);
  t.deepEqual(bad.map((l) => l.split(' ')[0]), ['coordinator/k.ts:1', 'model/m.ts:1', 'test/x.test.ts:1', 'cli/cli.ts:1', 'elsewhere/x.ts:1']);
  t.regex(bad[1]!, /types only/);
  t.deepEqual(forbiddenEdges(planted, RULES, [{ from: 'cli/cli.ts', to: 'coordinator/kernel.ts' }]).length, 4, 'a pending edge is let through, only that one');
  t.deepEqual(runtimeCycles(planted), ['shared/a.ts -> shared/b.ts -> shared/a.ts (a cycle among 2 module(s))']);
  const long = [e('a/1.ts', 'a/2.ts'), e('a/2.ts', 'a/3.ts'), e('a/3.ts', 'a/1.ts'), e('a/3.ts', 'a/4.ts'), e('a/4.ts', 'a/4.ts')];
  t.deepEqual(runtimeCycles(long).sort(), ['a/1.ts -> a/2.ts -> a/3.ts -> a/1.ts (a cycle among 3 module(s))', 'a/4.ts -> a/4.ts (a cycle among 1 module(s))']);
  t.deepEqual(runtimeCycles(long.map((x) => (x.to === 'a/1.ts' ? { ...x, typeOnly: true } : x))), ['a/4.ts -> a/4.ts (a cycle among 1 module(s))'], 'a type-only edge closes no run-time cycle');
});

test('the project has real edges of each kind the rules judge', (t) => {
  // So that a reader that found nothing could not pass the rules above.
  t.true(projectEdges.length > 300, `${projectEdges.length} project edges`);
  t.true(projectEdges.some((e) => e.typeOnly) && projectEdges.some((e) => !e.typeOnly));
  t.true(readdirSync(join(root, 'test')).length > 0);
});
