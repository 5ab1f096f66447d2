/**
 * Sigma's `fieldref`: a field compared with another field of the same event, compiled to a field reference
 * (a node of stixflow's own: STIX compares properties only with constants) and evaluated on the event.
 */
import { describe, expect, it } from 'vitest';
import { comparisonLeaves, observationLeaves } from '../../src/pattern/ast.js';
import { RuleIndex } from '../../src/rules/rule-index.js';
import { prepareObservations } from '../../src/pattern/observation.js';
import { findUnsatisfiable } from '../../src/generate/unsat.js';
import { bundle, compileOne, errors, matches, sigmaRule } from './sigma-helpers.js';

const rule = (detection: string) => compileOne(sigmaRule(detection));

describe('Sigma fieldref', () => {
  it('holds when the two fields are equal, case-insensitively, and not when either is absent', () => {
    const r = rule('selection:\n    CommandLine|fieldref: ParentCommandLine\ncondition: selection');
    expect(r.patternText).toBe(
      "[x-oca-event:process_ref.command_line = FIELD(x-oca-event:parent_process_ref.command_line) AND x-oca-event:code = '1']",
    );
    expect(matches(r, { command_line: 'cmd.exe /c x', parent_command_line: 'CMD.EXE /C X' })).toBe(true);
    expect(matches(r, { command_line: 'cmd.exe /c x', parent_command_line: 'cmd.exe /c y' })).toBe(false);
    expect(matches(r, { command_line: 'cmd.exe /c x' })).toBe(false);
    // The logsource's condition still applies.
    expect(matches(r, { command_line: 'a', parent_command_line: 'a', code: '3' })).toBe(false);
  });

  it('|cased compares exactly', () => {
    const r = rule('selection:\n    CommandLine|fieldref|cased: ParentCommandLine\ncondition: selection');
    expect(matches(r, { command_line: 'a', parent_command_line: 'A' })).toBe(false);
    expect(matches(r, { command_line: 'A', parent_command_line: 'A' })).toBe(true);
    expect(r.sigma?.caseSensitiveComparisons).toEqual([0]);
  });

  it('startswith, endswith and contains relate the field to the other field', () => {
    const starts = rule('selection:\n    CommandLine|fieldref|startswith: ParentCommandLine\ncondition: selection');
    expect(starts.patternText).toContain('STARTSWITH FIELD(');
    expect(matches(starts, { command_line: 'Run.exe --child', parent_command_line: 'run.exe' })).toBe(true);
    expect(matches(starts, { command_line: 'x run.exe', parent_command_line: 'run.exe' })).toBe(false);
    const ends = rule('selection:\n    CommandLine|fieldref|endswith: ParentCommandLine\ncondition: selection');
    expect(matches(ends, { command_line: 'x run.exe', parent_command_line: 'RUN.exe' })).toBe(true);
    expect(matches(ends, { command_line: 'run.exe x', parent_command_line: 'run.exe' })).toBe(false);
    const contains = rule('selection:\n    CommandLine|fieldref|contains: ParentCommandLine\ncondition: selection');
    expect(matches(contains, { command_line: 'a run.exe b', parent_command_line: 'run.exe' })).toBe(true);
    expect(matches(contains, { command_line: 'a ru.exe b', parent_command_line: 'run.exe' })).toBe(false);
  });

  it('not: holds when the fields differ, and when either is absent (as Sigma reads not)', () => {
    const r = rule(
      "selection:\n    CommandLine|contains: 'x'\nfilter:\n    CommandLine|fieldref: ParentCommandLine\ncondition: selection and not filter",
    );
    expect(matches(r, { command_line: 'x', parent_command_line: 'y' })).toBe(true);
    expect(matches(r, { command_line: 'x', parent_command_line: 'X' })).toBe(false);
    expect(matches(r, { command_line: 'x' })).toBe(true);
  });

  it('a field with several paths compares on any of them; a list of fields is OR, with |all AND', () => {
    // Image is process_ref.x_image or its image file's x_path (the test taxonomy).
    const r = rule('selection:\n    Image|fieldref: CommandLine\ncondition: selection');
    expect(matches(r, { image_path: 'C:\\a.exe', command_line: 'c:\\A.EXE' })).toBe(true);
    expect(matches(r, { x_image: 'C:\\a.exe', command_line: 'c:\\a.exe' })).toBe(true);
    expect(matches(r, { x_image: 'C:\\a.exe', image_path: 'C:\\b.exe', command_line: 'C:\\b.exe' })).toBe(true);
    const any = rule(
      'selection:\n    CommandLine|fieldref:\n        - ParentCommandLine\n        - Image\ncondition: selection',
    );
    expect(matches(any, { command_line: 'a', x_image: 'a', parent_command_line: 'b' })).toBe(true);
    const all = rule(
      'selection:\n    CommandLine|fieldref|all:\n        - ParentCommandLine\n        - Image\ncondition: selection',
    );
    expect(matches(all, { command_line: 'a', x_image: 'a', parent_command_line: 'b' })).toBe(false);
    expect(matches(all, { command_line: 'a', x_image: 'A', parent_command_line: 'a' })).toBe(true);
  });

  it('a number and its text are one value; a referenced field only the raw fallback has is listed as unmapped', () => {
    const r = rule('selection:\n    ProcessId|fieldref: ParentPid\ncondition: selection');
    expect(r.sigma?.unmappedFields).toEqual(['ParentPid']);
    expect(matches(r, { pid: 42, x_raw: { ParentPid: '42' } })).toBe(true);
    expect(matches(r, { pid: 42, x_raw: { ParentPid: '43' } })).toBe(false);
  });

  it('modifiers that transform a constant, two anchors, and an unknown referenced field are diagnostics', () => {
    const cases: [string, string, RegExp][] = [
      ['CommandLine|fieldref|re: ParentCommandLine', 'sigma-unsupported-modifier', /'re' transforms a constant/],
      ['CommandLine|fieldref|windash: ParentCommandLine', 'sigma-unsupported-modifier', /'windash'/],
      [
        'CommandLine|fieldref|startswith|endswith: ParentCommandLine',
        'sigma-unsupported-modifier',
        /one of contains, startswith, endswith/,
      ],
      ['CommandLine|fieldref: NoSuchField', 'sigma-unknown-field', /NoSuchField/],
      ['CommandLine|fieldref: 42', 'sigma-bad-value', /name of another field/],
    ];
    for (const [selection, code, message] of cases) {
      const found = errors(sigmaRule(`selection:\n    ${selection}\ncondition: selection`));
      expect(
        found.map((d) => d.code),
        selection,
      ).toEqual([code]);
      expect(found[0]?.message, selection).toMatch(message);
    }
  });

  it('the rule index files a field reference as no condition of its own, never as a wrong one', () => {
    const r = rule('selection:\n    CommandLine|fieldref: ParentCommandLine\ncondition: selection');
    const comparison = observationLeaves(r.pattern.ast.root)[0]!.comparison;
    const index = new RuleIndex();
    index.add(0, comparison, r.pattern.observations[0]!.rootTypes, r.pattern.caseInsensitiveLeaves);
    const offered = (event: Parameters<typeof bundle>[0]): number[] => {
      const seen: number[] = [];
      for (const o of prepareObservations(bundle(event))) index.candidates(o, (id) => seen.push(id));
      return seen;
    };
    // Offered on the logsource's condition alone (code = '1'), whatever the two fields hold.
    expect(offered({ command_line: 'q', parent_command_line: 'Q' })).toEqual([0]);
    expect(offered({ command_line: 'q', parent_command_line: 'Q', code: '3' })).toEqual([]);
  });

  it('is never proven unsatisfiable: the analysis leaves a field reference undecided', () => {
    const r = rule('selection:\n    CommandLine|fieldref: ParentCommandLine\ncondition: selection');
    expect(comparisonLeaves(observationLeaves(r.pattern.ast.root)[0]!.comparison).map((l) => l.kind)).toEqual([
      'fieldref',
      'comparison',
    ]);
    expect(findUnsatisfiable(r.pattern)).toEqual([]);
  });
});
