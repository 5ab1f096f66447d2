/**
 * Lists and macros (#14.2) through the rule loader: definitions from any source (a file of
 * blocks only, a directory), expansion into standard STIX, the blocks a rule uses, and every
 * diagnostic placed at the use and the definition (file, line, column, related).
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import type { Diagnostic } from '../../src/errors.js';
import { loadRules, loadRulesFromPaths } from '../../src/rules/load.js';
import { RULE_SCHEMA } from '../../src/rules/schema.js';

const LIBRARY = `lists:
  office_apps: [winword.exe, excel.exe]
  ports: { values: [4444, 1337], description: reverse shells }
  odd: ["it's", 'back\\slash']
macros:
  powershell: "process:name IN ('powershell.exe', 'pwsh.exe')"
  word_launching_powershell: "process:parent_ref.name IN $office_apps AND $powershell"
  child_of:
    params: [parent]
    expression: "process:parent_ref.name = $parent"
  named_in:
    params: [names]
    expression: "process:name IN $names"
`;

const rule = (id: string, pattern: string, extra = ''): string =>
  `  - id: ${id}\n    name: ${id}\n    severity: low\n    pattern: "${pattern}"\n${extra}`;

function load(rules: string, library = LIBRARY) {
  return loadRules([
    { file: 'lib.yaml', text: library },
    { file: 'rules.yaml', text: `rules:\n${rules}` },
  ]);
}

/** The 1-based column of `needle` on line `line` of `text`. */
function columnOf(text: string, line: number, needle: string): number {
  const at = (text.split('\n')[line - 1] ?? '').indexOf(needle);
  if (at < 0) throw new Error(`'${needle}' is not on line ${line}`);
  return at + 1;
}

const brief = (d: Diagnostic) => ({ code: d.code, file: d.file, line: d.line, column: d.column });

describe('lists', () => {
  it('expand where an IN list goes, strings escaped as STIX, numbers as numbers', () => {
    const { rules, diagnostics } = load(
      rule('a', '[process:name IN $office_apps AND process:name NOT IN $odd]') +
        rule('b', '[network-traffic:dst_port IN $ports]'),
    );
    expect(diagnostics).toEqual([]);
    expect(rules.map((r) => r.patternText)).toEqual([
      "[process:name IN ('winword.exe', 'excel.exe') AND process:name NOT IN ('it\\'s', 'back\\\\slash')]",
      '[network-traffic:dst_port IN (4444, 1337)]',
    ]);
    expect(rules[0]?.writtenPattern).toBe('[process:name IN $office_apps AND process:name NOT IN $odd]');
    expect(rules[0]?.uses).toEqual({ lists: ['odd', 'office_apps'], macros: [] });
  });

  it('match what their values match (the expanded pattern is compiled)', () => {
    const [r] = load(rule('a', '[process:name IN $office_apps]')).rules;
    const event = (name: string) => [
      {
        type: 'observed-data',
        id: 'observed-data--00000000-0000-4000-8000-000000000001',
        first_observed: '2026-01-01T00:00:00Z',
        last_observed: '2026-01-01T00:00:00Z',
        number_observed: 1,
        objects: { '0': { type: 'process', name } },
      },
    ];
    expect(r?.pattern.match(event('excel.exe')).matched).toBe(true);
    expect(r?.pattern.match(event('notepad.exe')).matched).toBe(false);
  });

  it('leave a $ inside a quoted string alone, and a pattern without references as written', () => {
    const { rules, diagnostics } = load(rule('a', "[process:name = '$office_apps']"));
    expect(diagnostics).toEqual([]);
    expect(rules[0]?.patternText).toBe("[process:name = '$office_apps']");
    expect(rules[0]?.writtenPattern).toBeUndefined();
    expect(rules[0]?.uses).toBeUndefined();
  });

  it('are refused where no IN list goes, and a macro after IN, at the reference', () => {
    const { rules, diagnostics } = load(
      rule('a', '[process:name = $office_apps]') + rule('b', '[process:name IN $powershell]'),
    );
    expect(rules).toEqual([]);
    const text = `rules:\n${rule('a', '[process:name = $office_apps]')}${rule('b', '[process:name IN $powershell]')}`;
    expect(diagnostics.map(brief)).toEqual([
      { code: 'block-misuse', file: 'rules.yaml', line: 5, column: columnOf(text, 5, '$office_apps') },
      { code: 'block-misuse', file: 'rules.yaml', line: 9, column: columnOf(text, 9, '$powershell') },
    ]);
    expect(diagnostics[0]?.message).toContain('is a list: it goes where an IN list goes');
    expect(diagnostics[0]?.related).toEqual([{ file: 'lib.yaml', line: 2, column: 3 }]);
    expect(diagnostics[1]?.message).toContain('is a macro');
  });

  it('reject mixed, empty and non-scalar values at the definition', () => {
    const { diagnostics } = loadRules([
      { file: 'lib.yaml', text: 'lists:\n  mixed: [a, 1]\n  empty: []\n  nested: [[a]]\n  9bad: [a]\n' },
    ]);
    expect(diagnostics.map((d) => [d.code, d.line, d.column])).toEqual([
      ['bad-block-definition', 2, 10],
      ['bad-block-definition', 3, 10],
      ['bad-block-definition', 4, 11],
      ['bad-block-definition', 5, 3],
    ]);
    expect(diagnostics[0]?.message).toContain('all strings or all numbers');
  });
});

describe('macros', () => {
  it('expand in parentheses, through other macros, with the blocks used listed', () => {
    const { rules, diagnostics } = load(rule('a', '[$word_launching_powershell AND process:pid > 4]'));
    expect(diagnostics).toEqual([]);
    expect(rules[0]?.patternText).toBe(
      "[(process:parent_ref.name IN ('winword.exe', 'excel.exe') AND (process:name IN ('powershell.exe', 'pwsh.exe'))) AND process:pid > 4]",
    );
    expect(rules[0]?.uses).toEqual({ lists: ['office_apps'], macros: ['powershell', 'word_launching_powershell'] });
  });

  it('take arguments: constants, sets and lists', () => {
    const { rules, diagnostics } = load(
      rule('a', "[$child_of('winword.exe')]") +
        rule('b', '[$named_in($office_apps)]') +
        rule('c', "[$named_in( ('a', 'b') )]"),
    );
    expect(diagnostics).toEqual([]);
    expect(rules.map((r) => r.patternText)).toEqual([
      "[(process:parent_ref.name = 'winword.exe')]",
      "[(process:name IN ('winword.exe', 'excel.exe'))]",
      "[(process:name IN ('a', 'b'))]",
    ]);
    expect(rules[1]?.uses).toEqual({ lists: ['office_apps'], macros: ['named_in'] });
  });

  it('are checked for the number of arguments', () => {
    const { diagnostics } = load(rule('a', '[$child_of]') + rule('b', "[$powershell('x')]"));
    expect(diagnostics.map((d) => d.code)).toEqual(['block-misuse', 'block-misuse']);
    expect(diagnostics[0]?.message).toBe("pattern: macro 'child_of' takes 1 argument (parent), got 0");
    expect(diagnostics[1]?.message).toBe("pattern: macro 'powershell' takes no arguments, got 1");
  });

  it('report an unknown name with a did-you-mean at the reference, in a rule and in a macro', () => {
    const library = `${LIBRARY}  typo: "process:name IN $ofice_apps"\n`;
    const { diagnostics } = load(rule('a', '[process:name IN $office_ap AND process:pid = 1]'), library);
    expect(diagnostics.map((d) => ({ ...brief(d), message: d.message }))).toEqual([
      {
        code: 'unknown-block',
        file: 'lib.yaml',
        line: 14,
        column: columnOf(library, 14, '$ofice_apps'),
        message:
          "$ofice_apps is no list or macro or parameter of macro 'typo' of the loaded rule files; did you mean $office_apps?",
      },
      {
        code: 'unknown-block',
        file: 'rules.yaml',
        line: 5,
        column: columnOf(rule('a', '[process:name IN $office_ap AND process:pid = 1]'), 4, '$office_ap'),
        message: 'pattern: $office_ap is no list or macro of the loaded rule files; did you mean $office_apps?',
      },
    ]);
  });

  it('report a cycle once, at the reference that closes it, naming the chain; a rule using it is block-invalid', () => {
    const library = 'macros:\n  a: "process:pid = 1 OR $b"\n  b: "process:pid = 2 OR $c"\n  c: "$a"\n';
    const { rules, diagnostics } = load(rule('r', '[$b]'), library);
    expect(rules).toEqual([]);
    expect(diagnostics.map((d) => ({ ...brief(d), message: d.message }))).toEqual([
      {
        code: 'block-cycle',
        file: 'lib.yaml',
        line: 4,
        column: 7,
        message: "macro 'a' uses itself: a → b → c → a",
      },
      {
        code: 'block-invalid',
        file: 'rules.yaml',
        line: 5,
        column: columnOf(rule('r', '[$b]'), 4, '$b'),
        message: "pattern: macro 'b' has errors (reported at lib.yaml:3:3); what uses it is skipped",
      },
    ]);
    expect(diagnostics[0]?.related).toEqual([
      { file: 'lib.yaml', line: 2, column: 3 },
      { file: 'lib.yaml', line: 3, column: 3 },
      { file: 'lib.yaml', line: 4, column: 3 },
    ]);
    // A macro that uses itself directly.
    const self = loadRules([{ file: 'lib.yaml', text: 'macros:\n  me: "process:pid = 1 OR $me"\n' }]).diagnostics;
    expect(self.map((d) => [d.code, d.line, d.column, d.message])).toEqual([
      ['block-cycle', 2, 27, "macro 'me' uses itself: me → me"],
    ]);
  });

  it('without parameters must parse, reported at the definition', () => {
    const { diagnostics } = loadRules([{ file: 'lib.yaml', text: 'macros:\n  half: "process:name = "\n' }]);
    expect(diagnostics.map((d) => d.code)).toEqual(['bad-block-definition']);
    expect(diagnostics[0]).toMatchObject({ file: 'lib.yaml', line: 2 });
    expect(diagnostics[0]?.message).toMatch(/^macro 'half': /);
  });

  it('refuse the brackets of an observation, parameters listed twice, unknown keys', () => {
    const { diagnostics } = loadRules([
      {
        file: 'lib.yaml',
        text: [
          'macros:',
          '  bracketed: "[process:pid = 1]"',
          '  twice: { params: [a, a], expression: "process:pid = $a" }',
          '  extra: { expression: "process:pid = 1", colour: blue }',
          '',
        ].join('\n'),
      },
    ]);
    expect(diagnostics.map((d) => [d.code, d.line])).toEqual([
      ['bad-block-definition', 2],
      ['bad-block-definition', 3],
      ['bad-block-definition', 4],
    ]);
    expect(diagnostics[0]?.message).toContain('without the [ ]');
    expect(diagnostics[1]?.message).toContain("parameter 'a' is listed twice");
    expect(diagnostics[2]?.message).toContain("unknown key 'colour'");
  });
});

describe('positions after expansion', () => {
  it('a problem in text written in the rule keeps its column; one inside a macro points at the use and the definition', () => {
    const pattern = "[$child_of(42) AND process:name IN $office_apps AND process:pid = 'x']";
    const text = `rules:\n${rule('a', pattern)}`;
    const { diagnostics } = load(rule('a', pattern));
    const mismatches = diagnostics.filter((d) => d.code === 'type-mismatch');
    expect(mismatches.map(brief)).toEqual([
      { code: 'type-mismatch', file: 'rules.yaml', line: 5, column: columnOf(text, 5, '$child_of(42)') },
      { code: 'type-mismatch', file: 'rules.yaml', line: 5, column: columnOf(text, 5, "process:pid = 'x'") },
    ]);
    expect(mismatches[0]?.length).toBe('$child_of(42)'.length);
    expect(mismatches[0]?.message).toContain("(in macro 'child_of', defined at lib.yaml:8:3)");
    // The place inside the macro's expression: line 10, at process:parent_ref.name.
    expect(mismatches[0]?.related).toEqual([
      { file: 'lib.yaml', line: 10, column: columnOf(LIBRARY, 10, 'process:parent_ref.name') },
    ]);
    expect(mismatches[1]?.related).toBeUndefined();
  });

  it('in a filter too, and filters may use lists and macros', () => {
    const extra = `    filters:\n      - pattern: "[process:name IN $office_apps]"\n        reason: known\n      - "[$nope]"\n`;
    const { diagnostics } = load(rule('a', '[process:pid = 1]', extra));
    const text = `rules:\n${rule('a', '[process:pid = 1]', extra)}`;
    expect(diagnostics.map((d) => ({ ...brief(d), message: d.message }))).toEqual([
      {
        code: 'unknown-block',
        file: 'rules.yaml',
        line: 9,
        column: columnOf(text, 9, '$nope'),
        message: expect.stringMatching(/^filter 1: \$nope is no list or macro/) as unknown as string,
      },
    ]);
    const ok = load(rule('a', '[process:pid = 1]', `    filters:\n      - "[$powershell]"\n`)).rules[0];
    expect(ok?.filters.map((f) => f.text)).toEqual(["[(process:name IN ('powershell.exe', 'pwsh.exe'))]"]);
    expect(ok?.uses).toEqual({ lists: [], macros: ['powershell'] });
  });
});

describe('sharing', () => {
  it('a file may hold only blocks; definitions reach every file, whatever the order', () => {
    const loaded = loadRules([
      { file: 'a-rules.yaml', text: `rules:\n${rule('a', '[process:name IN $apps]')}` },
      { file: 'z-blocks.yaml', text: 'lists:\n  apps: [a, b]\n' },
    ]);
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.rules[0]?.patternText).toBe("[process:name IN ('a', 'b')]");
  });

  it('a directory load sees every file (the fixture keeps its blocks in a subdirectory)', () => {
    const { rules, diagnostics } = loadRulesFromPaths(['test/e2e/fixtures/blocks/rules'], {
      now: Date.parse('2026-12-02'),
    });
    expect(diagnostics).toEqual([]);
    expect(rules.map((r) => [r.id, r.uses])).toEqual([
      [
        'office-launches-powershell',
        { lists: ['office_apps', 'powershell_names'], macros: ['office_parent', 'word_launching_powershell'] },
      ],
      ['encoded-powershell', { lists: ['powershell_names'], macros: [] }],
      ['spawned-by-word-exact-case', { lists: [], macros: ['spawned_by'] }],
    ]);
  });

  it('a name is defined once across lists and macros and files; the later one names the first', () => {
    const { diagnostics, rules } = loadRules([
      { file: 'a.yaml', text: 'lists:\n  apps: [a]\n' },
      { file: 'b.yaml', text: `macros:\n  apps: "process:pid = 1"\nrules:\n${rule('r', '[process:name IN $apps]')}` },
    ]);
    expect(diagnostics.map((d) => ({ ...brief(d), related: d.related }))).toEqual([
      {
        code: 'duplicate-block-name',
        file: 'b.yaml',
        line: 2,
        column: 3,
        related: [{ file: 'a.yaml', line: 2, column: 3 }],
      },
    ]);
    expect(rules[0]?.patternText).toBe("[process:name IN ('a')]");
  });

  it('a JSON rule file may carry blocks beside its rules', () => {
    const json = JSON.stringify({
      lists: { apps: ['a'] },
      rules: [{ id: 'j', name: 'j', severity: 'low', pattern: '[process:name IN $apps]' }],
    });
    const { rules, diagnostics } = loadRules([{ file: 'r.json', text: json }]);
    expect(diagnostics).toEqual([]);
    expect(rules[0]?.patternText).toBe("[process:name IN ('a')]");
  });
});

describe('the schema documents lists and macros', () => {
  it('its examples fit its $defs and load', () => {
    const ajv = new Ajv2020({ strict: false });
    ajv.addSchema(RULE_SCHEMA);
    const defs = RULE_SCHEMA.$defs;
    for (const key of ['lists', 'macros'] as const) {
      const validate = ajv.getSchema(`${RULE_SCHEMA.$id}#/$defs/${key}`);
      for (const example of defs[key].examples) expect(validate?.(example), key).toBe(true);
      expect(validate?.({ 'bad name': [1] })).toBe(false);
    }
    const [lists] = defs.lists.examples;
    const [macros] = defs.macros.examples;
    const text = JSON.stringify({
      lists,
      macros,
      rules: [
        { id: 'x', name: 'x', severity: 'low', pattern: "[$word_launching_powershell AND $child_of('winword.exe')]" },
      ],
    });
    const loaded = loadRules([{ file: 'example.json', text }]);
    expect(loaded.diagnostics).toEqual([]);
  });
});

describe("the README's examples", () => {
  it('load as written: the lists, macros and rules, and the shared exception that uses a macro', () => {
    const readme = readFileSync('README.md', 'utf8');
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    const library = blocks.find((b) => b.startsWith('lists:'));
    const exceptions = blocks.find((b) => b.startsWith('exceptions:'));
    expect(library).toBeDefined();
    expect(exceptions).toBeDefined();
    const loaded = loadRules(
      [
        { file: 'library.yaml', text: library as string },
        { file: 'exceptions.yaml', text: (exceptions as string).replace('categories: [execution]', 'rules: ["*"]') },
      ],
      { now: Date.parse('2026-12-02') },
    );
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.rules.map((r) => [r.id, r.filters.map((f) => f.exception)])).toEqual([
      ['office-launches-powershell', ['finance-invoice-macro']],
      ['spawned-by-word', ['finance-invoice-macro']],
    ]);
  });
});

describe('a macro that uses one in error', () => {
  it('is block-invalid at its reference, whichever is defined first; the error itself is reported once', () => {
    for (const order of ['before', 'after']) {
      const broken = '  broken: "process:name ="\n  typo: "process:name IN $nope"\n';
      const users = '  uses_broken: "$broken"\n  uses_typo: "process:pid = 1 AND $typo"\n  cyclic_user: "$a"\n';
      const cycle = '  a: "process:pid = 1 OR $b"\n  b: "$a"\n';
      const text = `macros:\n${order === 'before' ? users + broken : broken + users}${cycle}`;
      const { diagnostics } = loadRules([{ file: 'lib.yaml', text }]);
      const line = (name: string) => text.split('\n').findIndex((l) => l.startsWith(`  ${name}:`)) + 1;
      expect(
        diagnostics.map((d) => [d.code, d.line]).sort((x, y) => (x[1] as number) - (y[1] as number)),
        order,
      ).toEqual(
        [
          ['bad-block-definition', line('broken')],
          ['unknown-block', line('typo')],
          ['block-invalid', line('uses_broken')],
          ['block-invalid', line('uses_typo')],
          ['block-invalid', line('cyclic_user')],
          ['block-cycle', line('b')],
        ].sort((x, y) => (x[1] as number) - (y[1] as number)),
      );
      const invalid = diagnostics.find((d) => d.code === 'block-invalid' && d.line === line('uses_typo'));
      expect(invalid?.message).toBe(
        `macro 'typo' has errors (reported at lib.yaml:${line('typo')}:3); what uses it is skipped`,
      );
      expect(invalid?.column).toBe(text.split('\n')[line('uses_typo') - 1]!.indexOf('$typo') + 1);
    }
  });
});
