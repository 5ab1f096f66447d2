/**
 * Alert content at load (issue #14, item 4): title and description templates are parsed once,
 * their placeholders checked against the STIX model and reported at their place in the rule
 * file; context paths and severity overrides are checked the same way; and the compiled
 * templates read values from the objects that satisfied the pattern first.
 */
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/errors.js';
import { prepareObservations } from '../../src/pattern/observation.js';
import { loadRules } from '../../src/rules/load.js';
import {
  matchedObjectKeys,
  missingValueText,
  parseTemplate,
  readContext,
  renderTemplate,
  severityOverrideFor,
} from '../../src/rules/templates.js';

const load = (text: string) => loadRules([{ file: 'rules/content.yaml', text }]);
const rule = (extra: string[], pattern = `"[process:name = 'powershell.exe']"`): string =>
  ['id: r', 'name: R', 'severity: medium', `pattern: ${pattern}`, ...extra, ''].join('\n');
const brief = (d: Diagnostic) => ({
  severity: d.severity,
  code: d.code,
  line: d.line,
  column: d.column,
  message: d.message,
});

/** An event with a child process, its parent (also a process) and a host. */
const EVENT = {
  type: 'bundle',
  id: 'bundle--00000000-0000-4000-8000-000000000001',
  objects: [
    {
      type: 'observed-data',
      spec_version: '2.1',
      id: 'observed-data--00000000-0000-4000-8000-000000000001',
      created: '2026-01-01T10:00:00Z',
      modified: '2026-01-01T10:00:00Z',
      first_observed: '2026-01-01T10:00:00Z',
      last_observed: '2026-01-01T10:00:00Z',
      number_observed: 1,
      object_refs: ['process--1', 'process--2', 'x-oca-asset--1', 'x-oca-event--1'],
    },
    { type: 'process', id: 'process--1', name: 'WINWORD.EXE', pid: 6704 },
    {
      type: 'process',
      id: 'process--2',
      name: 'powershell.exe',
      pid: 8132,
      command_line: 'powershell.exe -enc SQBFAFgA',
      parent_ref: 'process--1',
    },
    { type: 'x-oca-asset', id: 'x-oca-asset--1', hostname: 'fin-ws-12' },
    {
      type: 'x-oca-event',
      id: 'x-oca-event--1',
      process_ref: 'process--2',
      category: ['process', 'start'],
      code: '1',
    },
  ],
};

describe('templates', () => {
  it('split into text and placeholders; {{ and }} are literal braces', () => {
    const { template, problems } = parseTemplate('{{x}} {process:name} on {x-oca-asset:hostname}}}');
    expect(problems).toEqual([]);
    expect(template.parts.map((p) => (typeof p === 'string' ? p : `<${p.text}>`))).toEqual([
      '{x} ',
      '<process:name>',
      ' on ',
      '<x-oca-asset:hostname>',
      '}',
    ]);
  });

  it('report a placeholder that is no path, and stray braces, at their offsets', () => {
    const { problems } = parseTemplate('a {process name} b } c {');
    expect(problems.map((p) => [p.code, p.offset])).toEqual([
      ['bad-template', 3],
      ['bad-template', 19],
      ['bad-template', 23],
    ]);
    expect(problems[0]?.message).toMatch(/placeholder \{process name\} is not an object path/);
  });

  it('fill from the objects that satisfied the pattern first, then the others, and name a missing value', () => {
    const [observation] = prepareObservations(EVENT);
    const [loaded] = load(rule([], `"[process:name = 'powershell.exe']"`)).rules;
    const source = { observation: observation!, matched: matchedObjectKeys(loaded!.pattern, observation!) };
    expect([...source.matched]).toEqual(['process--2']);
    const { template } = parseTemplate(
      '{process:name} ({process:pid}) child of {process:parent_ref.name} on {x-oca-asset:hostname}: {x-oca-event:process_ref.command_line} [{x-oca-event:category[*]}] {user-account:account_login}',
    );
    expect(renderTemplate(template, source, 256)).toBe(
      `powershell.exe (8132) child of WINWORD.EXE on fin-ws-12: powershell.exe -enc SQBFAFgA [process, start] ${missingValueText('user-account:account_login')}`,
    );
    expect(missingValueText('user-account:account_login')).toBe('(no user-account:account_login)');
    // With nothing matched (a pattern on another type), each placeholder takes the first
    // process that has a value: the parent's name and pid, the child's parent_ref.
    expect(renderTemplate(template, { observation: observation!, matched: new Set() }, 256)).toMatch(
      /^WINWORD\.EXE \(6704\) child of WINWORD\.EXE on/,
    );
    // Values are cut to the length given.
    expect(renderTemplate(parseTemplate('{process:command_line}').template, source, 10)).toBe('powershell…');
  });
});

describe('alert content in rule files', () => {
  it('compiles title, description, context and overrides onto the rule', () => {
    const { rules, diagnostics } = load(
      rule([
        'title: "{process:name} on {x-oca-asset:hostname}"',
        'description: "pid {process:pid}"',
        'context: { command_line: "x-oca-event:process_ref.command_line", host: x-oca-asset:hostname }',
        'severity_overrides:',
        `  - { when: "process:command_line LIKE '%-enc%'", severity: critical }`,
        `  - { when: "[x-oca-asset:hostname = 'dc-1']", severity: high }`,
      ]),
    );
    expect(diagnostics).toEqual([]);
    const [r] = rules;
    expect(r?.title?.parts).toHaveLength(3);
    expect(r?.descriptionTemplate?.text).toBe('pid {process:pid}');
    expect(r?.context?.map((c) => [c.name, c.path.text])).toEqual([
      ['command_line', 'x-oca-event:process_ref.command_line'],
      ['host', 'x-oca-asset:hostname'],
    ]);
    const [observation] = prepareObservations(EVENT);
    const matched = matchedObjectKeys(r!.pattern, observation!);
    expect(readContext(r!.context!, { observation: observation!, matched })).toEqual({
      command_line: 'powershell.exe -enc SQBFAFgA',
      host: 'fin-ws-12',
    });
    expect(severityOverrideFor(r!.severityOverrides!, observation!)?.severity).toBe('critical');
  });

  it('a description without placeholders stays plain text (no template to fill per alert)', () => {
    const { rules } = load(rule(['description: "Plain words."']));
    expect(rules[0]?.descriptionTemplate).toBeUndefined();
    expect(rules[0]?.description).toBe('Plain words.');
  });

  it('reports bad placeholders, unknown properties and bad context paths at their line and column', () => {
    const { rules, diagnostics } = load(
      [
        'id: r',
        'name: R',
        'severity: medium',
        `pattern: "[process:name = 'powershell.exe']"`,
        'title: "{process:nmae} on {x-oca-asset:hostname}"',
        'description: "ran {process name}"',
        'context:',
        '  parent: process:parent_ref',
        '  user: user-account:usr_id',
        '',
      ].join('\n'),
    );
    expect(rules).toEqual([]);
    expect(diagnostics.map(brief)).toEqual([
      {
        severity: 'warning',
        code: 'unknown-property',
        line: 5,
        column: 10,
        message: expect.stringMatching(/^title: process has no property 'nmae'; did you mean 'name'\?/),
      },
      {
        severity: 'error',
        code: 'bad-template',
        line: 6,
        column: 20,
        message: expect.stringMatching(/^description: placeholder \{process name\} is not an object path/),
      },
      {
        severity: 'error',
        code: 'bad-context-path',
        line: 8,
        column: 11,
        message: expect.stringMatching(/^context\.parent: context parent 'process:parent_ref' names a reference/),
      },
      {
        severity: 'warning',
        code: 'unknown-property',
        line: 9,
        column: 9,
        message: expect.stringMatching(
          /^context\.user: user-account has no property 'usr_id'; did you mean 'user_id'\?/,
        ),
      },
    ]);
  });

  it('checks severity overrides at load: compiled as the pattern is, one observation, at the condition', () => {
    const { rules, diagnostics } = load(
      rule([
        'severity_overrides:',
        `  - when: "network-traffic:dst_port = '80'"`,
        `    severity: high`,
        `  - when: "[process:pid = 1] FOLLOWEDBY [process:pid = 2]"`,
        `    severity: high`,
      ]),
    );
    expect(rules).toEqual([]);
    expect(diagnostics.map(brief)).toEqual([
      {
        severity: 'error',
        code: 'type-mismatch',
        line: 6,
        column: 12,
        message: expect.stringMatching(/^severity_overrides\[0\]\.when: network-traffic:dst_port is an integer/),
      },
      {
        severity: 'error',
        code: 'bad-severity-override',
        line: 8,
        column: 11,
        message: expect.stringMatching(/^severity_overrides\[1\]\.when is evaluated on the one event/),
      },
    ]);
  });

  it('a valid rule beside an invalid one still loads', () => {
    const { rules, diagnostics } = load(
      `- ${rule(['title: "{process:name"']).replace(/\n(?=.)/g, '\n  ')}- ${rule(['title: "{process:name}"'])
        .replace('id: r', 'id: ok')
        .replace(/\n(?=.)/g, '\n  ')}`,
    );
    expect(rules.map((r) => r.id)).toEqual(['ok']);
    expect(diagnostics.map((d) => [d.code, d.ruleId])).toEqual([['bad-template', 'r']]);
  });
});
