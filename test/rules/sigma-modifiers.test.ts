/** Each Sigma value modifier, wildcards and escapes, null and types: compiled, then matched on events. */
import { describe, expect, it } from 'vitest';
import { loadRules } from '../../src/rules/load.js';
import { compileOne, errors, matches, sigmaRule, testTaxonomy } from './sigma-helpers.js';

const rule = (selection: string, condition = 'selection') =>
  compileOne(sigmaRule(`selection:\n${selection.replace(/^/gm, '    ')}\ncondition: ${condition}`));

describe('Sigma values and modifiers', () => {
  it('a plain value is equality, case-insensitive by default', () => {
    const r = rule("CommandLine: 'whoami /all'");
    expect(r.patternText).toBe("[x-oca-event:process_ref.command_line = 'whoami /all' AND (x-oca-event:code = '1')]");
    expect(matches(r, { command_line: 'WHOAMI /ALL' })).toBe(true);
    expect(matches(r, { command_line: 'whoami /all x' })).toBe(false);
    // The logsource's condition is part of the rule.
    expect(matches(r, { command_line: 'whoami /all', code: '4688' })).toBe(false);
  });

  it('contains, startswith, endswith', () => {
    expect(matches(rule("CommandLine|contains: 'oami'"), { command_line: 'WhoAmI' })).toBe(true);
    expect(matches(rule("CommandLine|startswith: 'who'"), { command_line: 'xwhoami' })).toBe(false);
    expect(matches(rule("CommandLine|startswith: 'who'"), { command_line: 'Whoami' })).toBe(true);
    expect(matches(rule("CommandLine|endswith: '.EXE'"), { command_line: 'a.exe' })).toBe(true);
    expect(matches(rule("CommandLine|endswith: '.EXE'"), { command_line: 'a.exe ' })).toBe(false);
  });

  it('|cased compares exactly that comparison', () => {
    const r = rule("CommandLine|cased|contains: 'Mimikatz'\nParentCommandLine|contains: 'cmd'");
    expect(matches(r, { command_line: 'run Mimikatz', parent_command_line: 'CMD.EXE' })).toBe(true);
    expect(matches(r, { command_line: 'run mimikatz', parent_command_line: 'CMD.EXE' })).toBe(false);
    expect(r.sigma?.caseSensitiveComparisons).toEqual([0]);
  });

  it('a list of values is OR; |all makes it AND', () => {
    const any = rule("CommandLine|contains:\n    - 'alpha'\n    - 'beta'");
    expect(matches(any, { command_line: 'x beta' })).toBe(true);
    const all = rule("CommandLine|contains|all:\n    - 'alpha'\n    - 'beta'");
    expect(matches(all, { command_line: 'x beta' })).toBe(false);
    expect(matches(all, { command_line: 'beta alpha' })).toBe(true);
    // Plain values OR-ed become one IN.
    expect(rule("CommandLine:\n    - 'a'\n    - 'b'").patternText).toContain("IN ('a', 'b')");
  });

  it('wildcards * and ?, with backslash escapes', () => {
    // A backslash before a wildcard is written twice (`\*` alone is a literal star).
    const star = rule("CommandLine: 'C:\\Windows\\\\*\\cmd.exe'");
    expect(matches(star, { command_line: 'c:\\windows\\system32\\CMD.exe' })).toBe(true);
    expect(matches(rule("CommandLine: 'a?c'"), { command_line: 'abc' })).toBe(true);
    expect(matches(rule("CommandLine: 'a?c'"), { command_line: 'abbc' })).toBe(false);
    // \* is a literal star, \\ before a wildcard a literal backslash.
    const literal = rule("CommandLine: 'a\\*b'");
    expect(matches(literal, { command_line: 'a*b' })).toBe(true);
    expect(matches(literal, { command_line: 'axb' })).toBe(false);
    const backslash = rule("CommandLine: 'dir\\\\*'");
    expect(matches(backslash, { command_line: 'dir\\anything' })).toBe(true);
    expect(matches(backslash, { command_line: 'dirx' })).toBe(false);
  });

  it('a literal % or _ cannot be said with LIKE: an anchored regex says it', () => {
    const r = rule("CommandLine|contains: '%APPDATA%\\x_y'");
    expect(r.patternText).toContain('MATCHES');
    expect(matches(r, { command_line: 'copy %appdata%\\X_Y\\a' })).toBe(true);
    expect(matches(r, { command_line: 'copy %appdata%\\XzY\\a' })).toBe(false);
  });

  it('re, case-sensitive unless i, with m and s flags', () => {
    const re = rule("CommandLine|re: '^who.mi\\s+/all$'");
    expect(matches(re, { command_line: 'whoami /all' })).toBe(true);
    expect(matches(re, { command_line: 'WHOAMI /all' })).toBe(false);
    expect(matches(rule("CommandLine|re|i: '^who.mi'"), { command_line: 'WHOAMI' })).toBe(true);
    expect(matches(rule("CommandLine|re|m: '^second$'"), { command_line: 'first\nsecond\nthird' })).toBe(true);
    expect(matches(rule("CommandLine|re: '^second$'"), { command_line: 'first\nsecond\nthird' })).toBe(false);
    expect(matches(rule("CommandLine|re|s: 'a.b'"), { command_line: 'a\nb' })).toBe(true);
  });

  it('base64, base64offset, utf16le/wide, utf16be, utf16', () => {
    const b64 = Buffer.from('whoami').toString('base64');
    expect(matches(rule("CommandLine|base64: 'whoami'"), { command_line: b64 })).toBe(true);
    // At every offset inside a longer encoded text.
    const offset = rule("CommandLine|base64offset|contains: 'http://'");
    for (const prefix of ['', 'x', 'xy', 'xyz'])
      expect(matches(offset, { command_line: Buffer.from(`${prefix}http://host`).toString('base64') })).toBe(true);
    expect(matches(offset, { command_line: Buffer.from('ftp://host').toString('base64') })).toBe(false);
    const wide = rule("CommandLine|wide|base64offset|contains: 'Net.WebClient'");
    for (const prefix of ['IEX (New-Object ', 'IEX(New-Object ', 'IEX (New-Object  '])
      expect(
        matches(wide, { command_line: `-enc ${Buffer.from(`${prefix}Net.WebClient)`, 'utf16le').toString('base64')}` }),
      ).toBe(true);
    const be = rule("CommandLine|utf16be|base64: 'ab'");
    expect(matches(be, { command_line: Buffer.from([0, 0x61, 0, 0x62]).toString('base64') })).toBe(true);
    const bom = rule("CommandLine|utf16|base64: 'ab'");
    expect(matches(bom, { command_line: Buffer.from([0xff, 0xfe, 0x61, 0, 0x62, 0]).toString('base64') })).toBe(true);
    // The encoded text keeps its case: base64 of 'whoami' is not that of 'WHOAMI'.
    expect(matches(rule("CommandLine|base64: 'WHOAMI'"), { command_line: b64 })).toBe(false);
  });

  it('windash: every dash a Windows option may be written with', () => {
    const r = rule("CommandLine|windash|contains: ' -exec bypass'");
    for (const dash of ['-', '/', '\u2013', '\u2014', '\u2015'])
      expect(matches(r, { command_line: `powershell ${dash}exec bypass` })).toBe(true);
    expect(matches(r, { command_line: 'powershell +exec bypass' })).toBe(false);
  });

  it('cidr, lt/lte/gt/gte, exists, null, integers and booleans', () => {
    const cidr = rule("SourceIp|cidr: '10.0.0.0/8'");
    expect(matches(cidr, { src_ip: '10.2.3.4' })).toBe(true);
    expect(matches(cidr, { src_ip: '11.2.3.4' })).toBe(false);
    expect(matches(rule('ProcessId|gt: 100'), { pid: 101 })).toBe(true);
    expect(matches(rule('ProcessId|gt: 100'), { pid: 100 })).toBe(false);
    expect(matches(rule('ProcessId|gte: 100'), { pid: 100 })).toBe(true);
    expect(matches(rule('ProcessId|lt: 100'), { pid: 99 })).toBe(true);
    expect(matches(rule('ProcessId|lte: 99'), { pid: 100 })).toBe(false);
    expect(matches(rule('ProcessId: 4120'), { pid: 4120 })).toBe(true);
    expect(matches(rule("ProcessId: '4120'"), { pid: 4120 })).toBe(true);
    expect(matches(rule('Elevated: true'), { x_elevated: true })).toBe(true);
    expect(matches(rule('Elevated: true'), { x_elevated: false })).toBe(false);
    // "The field is empty" on a typed field never holds: the rule loads, and the negated filter keeps every event.
    expect(
      errors(sigmaRule("selection:\n    CommandLine|contains: 'x'\n    Elevated: ['', '-']\ncondition: selection")).map(
        (d) => d.code,
      ),
    ).toEqual(['sigma-empty-detection']);
    const filtered = compileOne(
      sigmaRule(
        "selection:\n    CommandLine|contains: 'x'\nfilter:\n    ProcessId: ''\ncondition: selection and not filter",
      ),
    );
    expect(matches(filtered, { command_line: 'x', pid: 4 })).toBe(true);
    expect(matches(rule('CommandLine|exists: true'), { command_line: 'x' })).toBe(true);
    expect(matches(rule('CommandLine|exists: false'), { command_line: 'x' })).toBe(false);
    expect(matches(rule('CommandLine|exists: false'), {})).toBe(true);
    expect(matches(rule('CommandLine: null'), {})).toBe(true);
    expect(matches(rule('CommandLine: null'), { command_line: '' })).toBe(false);
  });

  it('a field with several paths holds on any of them, and its negation on none', () => {
    const r = rule("Image|endswith: '\\cmd.exe'");
    expect(matches(r, { x_image: 'C:\\cmd.exe' })).toBe(true);
    expect(matches(r, { image_path: 'C:\\cmd.exe' })).toBe(true);
    const not = compileOne(
      sigmaRule(
        "selection:\n    CommandLine: x\nfilter:\n    Image|endswith: '\\cmd.exe'\ncondition: selection and not filter",
      ),
    );
    expect(matches(not, { command_line: 'x', x_image: 'C:\\cmd.exe' })).toBe(false);
    expect(matches(not, { command_line: 'x', image_path: 'C:\\cmd.exe' })).toBe(false);
    expect(matches(not, { command_line: 'x', image_path: 'C:\\sh.exe' })).toBe(true);
    // An absent field is not the filtered value: `not` holds.
    expect(matches(not, { command_line: 'x' })).toBe(true);
  });

  it('fields the taxonomy does not map read the raw-field fallback, and are listed', () => {
    const r = rule("Hashes|contains: 'MD5=ABC'");
    expect(r.patternText).toContain("x-oca-event:x_raw.Hashes LIKE '%MD5=ABC%'");
    expect(r.sigma?.unmappedFields).toEqual(['Hashes']);
    expect(matches(r, { x_raw: { Hashes: 'SHA1=1,MD5=abc' } })).toBe(true);
  });

  it('expand replaces placeholders by the values given to the loader, wildcards and all', () => {
    const text = sigmaRule(
      "selection:\n    CommandLine|contains|expand: 'user=%admins%@%domain%'\ncondition: selection",
    );
    const { rules, diagnostics } = loadRules([{ file: 'rules/p.yml', text }], {
      sigmaTaxonomy: testTaxonomy,
      sigmaPlaceholders: { admins: ['root', 'adm*'], domain: ['corp'] },
    });
    expect(diagnostics).toEqual([]);
    const r = rules[0]!;
    expect(matches(r, { command_line: 'login user=ROOT@corp now' })).toBe(true);
    expect(matches(r, { command_line: 'login user=admin7@corp' })).toBe(true);
    expect(matches(r, { command_line: 'login user=guest@corp' })).toBe(false);
  });

  it('what STIX cannot say is a diagnostic naming it, at the key', () => {
    // At the key (column 9), or for a value's problem at the value.
    const cases: [string, string, RegExp, number?][] = [
      ['CommandLine|fieldref|base64: ParentCommandLine', 'sigma-unsupported-modifier', /'base64'.*fieldref/],
      ['CommandLine|fieldref: NoSuchField', 'sigma-unknown-field', /referenced field 'NoSuchField'/, 31],
      ["CommandLine|expand: '%domain%'", 'sigma-unsupported-modifier', /%domain% has no values/, 29],
      ["CommandLine|utf16le: 'x'", 'sigma-unsupported-modifier', /base64/, 30],
      ["CommandLine|sparkly: 'x'", 'sigma-unknown-modifier', /sparkly/],
      ["CommandLine|re: '(?<=a)b'", 'sigma-unsupported-regex', /lookbehind/, 25],
      ["CommandLine|re: '(unclosed'", 'sigma-bad-regex', /invalid regex/, 25],
      ["CommandLine|base64: 'who*'", 'sigma-bad-value', /wildcards/, 29],
      ["ProcessId|gt: 'many'", 'sigma-bad-value', /numbers/, 23],
      ["ProcessId: 'abc'", 'sigma-bad-value', /integers/, 20],
      ['CommandLine|exists: maybe', 'sigma-bad-value', /true or false/, 29],
      ["NoSuchField: 'x'", 'sigma-unknown-field', /NoSuchField/],
      ["'|contains': 'x'", 'sigma-keyword-selection', /keyword/],
    ];
    for (const [selection, code, message, column = 9] of cases) {
      const found = errors(sigmaRule(`selection:\n    ${selection}\ncondition: selection`));
      expect(
        found.map((d) => d.code),
        selection,
      ).toEqual([code]);
      expect(found[0]?.message).toMatch(message);
      // The selection's item is on line 9, after the 8 lines before it.
      expect([found[0]?.line, found[0]?.column], selection).toEqual([9, column]);
    }
  });

  it('a value problem in a list points at the value', () => {
    const found = errors(sigmaRule("selection:\n    ProcessId|gt:\n        - 1\n        - 'x'\ncondition: selection"));
    expect(found.map((d) => [d.code, d.line, d.column])).toEqual([['sigma-bad-value', 11, 15]]);
  });
});
