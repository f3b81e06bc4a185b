// A scenario is read as YAML 1.2, core schema (docs/scenario-format.md), whatever the document
// says: a directive or tag that would switch the parser to other rules (`%YAML 1.1`: `yes` and
// `on` true, `010` eight, `<<` merging maps; YAML 1.1 types such as !!binary, !!set, !!timestamp)
// is refused, through the real CLI: exit 2, one line naming the file and the line, nothing run.
import test from 'ava';
import { parseScenario, ScenarioError } from '../shared/scenario.js';
import { cli, tempFile } from './helpers.js';

const body = `name: yaml-rules
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 010 }
      - { op: write, map: m, page: 9, value: on }
      - { op: read, map: m, page: 9, expect: { value: "on" } }
`;

async function refused(t: import('ava').ExecutionContext, name: string, text: string, ...what: RegExp[]): Promise<void> {
  const file = tempFile(name, text);
  const r = await cli(['run', file, '--seed', '1']);
  t.is(r.code, 2, `${name}: ${r.stdout}${r.stderr}`);
  t.is(r.stdout, '', `${name}: nothing runs`);
  t.is(r.stderr.trim().split('\n').length, 1, `${name}: one line: ${r.stderr}`);
  t.notRegex(r.stderr, /\n\s+at |internal error/, 'no stack trace');
  t.true(r.stderr.startsWith(`vrange: ${file}: `), r.stderr);
  for (const w of what) t.regex(r.stderr, w, name);
}

test('the same text without a directive runs as YAML 1.2 core: 010 is 10 pages, on is the string "on"', async (t) => {
  const r = await cli(['run', tempFile('yaml-12.yaml', body), '--seed', '1', '--json']);
  t.is(r.code, 0, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout) as { steps: Array<{ index: number; result: Record<string, unknown> }> };
  t.deepEqual(report.steps.find((s) => s.index === 2)!.result, { ok: true, value: 'on' });
});

test('%YAML 1.1 (and any %YAML but 1.2) is refused with its line, not read under YAML 1.1 rules (010 would be 8 pages)', async (t) => {
  await refused(t, 'yaml-11.yaml', `%YAML 1.1\n---\n${body}`, /: invalid YAML at line 1, column 1: the directive "%YAML 1\.1" is not allowed; a scenario is read as YAML 1\.2 \(core schema\) only/, /010 would be 8/);
  await refused(t, 'yaml-11-later.yaml', `# a comment first\n\n%YAML 1.1\n---\n${body}`, /invalid YAML at line 3, column 1: the directive "%YAML 1\.1"/);
  await refused(t, 'yaml-13.yaml', `%YAML 1.3\n---\n${body}`, /line 1, column 1: the directive "%YAML 1\.3" is not allowed; .* the one %YAML directive allowed is %YAML 1\.2: remove it/);
  await refused(t, 'yaml-twice.yaml', `%YAML 1.2\n%YAML 1.2\n---\n${body}`, /line 2, column 1: the directive "%YAML 1\.2" is the second %YAML of the document/);
  await refused(t, 'yaml-foo.yaml', `%FOO bar\n---\n${body}`, /line 1, column 1: the directive "%FOO bar" is not allowed; the directives allowed are %YAML 1\.2 and %TAG/);
});

test('%YAML 1.2 and a %TAG that names the core tags are fine; a %TAG cannot bring in a YAML 1.1 type', async (t) => {
  t.is((parseScenario(`%YAML 1.2\n---\n${body}`, 'a.yaml').processes[0]!.steps[0] as { pages: number }).pages, 10);
  const tagged = parseScenario('%TAG !c! tag:yaml.org,2002:\n---\nname: x\nprocesses:\n  A:\n    steps:\n      - { op: mmap, as: m, pages: !c!int "3" }\n', 'a.yaml');
  t.is((tagged.processes[0]!.steps[0] as { pages: number }).pages, 3);
  await refused(t, 'tag-binary.yaml', '%TAG !c! tag:yaml.org,2002:\n---\nname: x\nprocesses:\n  A:\n    steps:\n      - { op: write, map: m, page: 0, value: !c!binary aGVsbG8= }\n',
    /line 7, column \d+: the tag !!binary is a YAML 1\.1 type, not one of YAML 1\.2 core/);
  await refused(t, 'tag-twice.yaml', '%TAG !c! tag:yaml.org,2002:\n%TAG !c! tag:example.com,2000:\n---\nname: x\nprocesses: {}\n', /line 2, column 1: .* the second %TAG !c! \(the same handle\)/);
});

test('YAML 1.1 types (!!binary, !!set, !!timestamp, !!omap, !!pairs, !!merge) are refused as such, with their line', async (t) => {
  for (const [tag, value] of [['binary', 'aGVsbG8='], ['set', '{ a, b }'], ['timestamp', '2001-12-14'], ['omap', '[ a: 1 ]'], ['pairs', '[ a: 1 ]'], ['merge', '<<']]) {
    await refused(t, `tag-${tag}.yaml`, `name: x\nprocesses:\n  A:\n    steps:\n      - { op: write, map: m, page: 0, value: !!${tag} ${value} }\n`,
      new RegExp(`invalid YAML at line 5, column \\d+: the tag !!${tag} is a YAML 1\\.1 type, not one of YAML 1\\.2 core, which a scenario is read as; the tags allowed are !!str, !!int, !!float, !!bool, !!null, !!map, !!seq`));
  }
  // The verbatim form of the same tag too.
  await refused(t, 'tag-verbatim.yaml', 'name: x\nprocesses:\n  A:\n    steps:\n      - { op: write, map: m, page: 0, value: !<tag:yaml.org,2002:timestamp> 2001-12-14 }\n', /line 5, .*!!timestamp is a YAML 1\.1 type/);
});

test('a merge key << is refused with its line, not read as a key named "<<" whose fields are lost', async (t) => {
  await refused(t, 'merge.yaml', 'name: x\nprocesses:\n  A:\n    steps:\n      - &s { op: mmap, as: m, pages: 1 }\n      - { <<: *s, as: m2 }\n',
    /: processes\.A\.steps\[1\]: invalid YAML at line 6, column 11: `<<` \(a merge key\) is YAML 1\.1's, and a scenario is read as YAML 1\.2 \(core schema\), which does not merge maps; write the fields out/);
  // A whole value reused by an alias is still fine.
  t.notThrows(() => parseScenario('name: x\nprocesses:\n  A:\n    steps:\n      - &s { op: mmap, as: m, pages: 1 }\n  B:\n    steps:\n      - *s\n', 'k.yaml'));
});

test('an alias bomb is refused with what the bound is, before the values multiply', async (t) => {
  const bomb = 'name: x\na: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nprocesses: {}\n';
  await refused(t, 'bomb.yaml', bomb, /invalid YAML: its aliases expand too far .* the parser's bound of 100, its guard against alias bombs\); reuse such a value less, or write it out/);
  const e = t.throws(() => parseScenario(bomb, 'b.yaml'), { instanceOf: ScenarioError })!;
  t.regex(e.message, /^b\.yaml: invalid YAML: its aliases expand too far/);
});
