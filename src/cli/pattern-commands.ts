/** `stixflow validate` and `stixflow match`: pattern authoring commands. */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkPattern, compilePattern } from '../pattern/compile.js';
import type { StixVersion } from '../pattern/parse.js';
import { formatDiagnostic, formatDiagnostics, PatternError, StixflowError, type Diagnostic } from '../errors.js';
import { createNormaliser, loadMapping, toBundle, type Normaliser } from '../normalise/index.js';
import { satisfiabilityDiagnostics } from '../generate/index.js';
import { loadRulesFromPaths, type LoadOptions } from '../rules/load.js';
import type { Rule } from '../rules/model.js';
import {
  count,
  parseJsonOrNdjson,
  readInput,
  renderDiagnostic,
  writeLine,
  parseCommandArgs,
  type CliIo,
} from './io.js';

const VALIDATE_HELP = `Usage: stixflow validate [options] <pattern | file | dir>...

Checks STIX patterns and rule files and prints every error and warning with its position.
- a rule file (*.yaml, *.yml, *.json, including STIX bundles of indicators) or a directory of
  them: every rule is loaded (schema, pattern, group_by, filters) and checked;
- a file of patterns (*.pattern, *.txt): one pattern per line (blank lines and lines starting
  with # are skipped);
- any other argument is taken as a pattern.
Patterns that can never match (an empty solution space, e.g. 1025 <= x <= 1023) are errors.

Options:
  --stix-version <2.0|2.1>  STIX version of the patterns (default 2.1)
  --allow-unsatisfiable     report patterns and rules that can never match as warnings
  --expand                  print every loaded rule's pattern and filters as standard STIX, after
                            its lists and macros ($name) are expanded, with the lists, macros and
                            shared exceptions it uses
  --json                    print the diagnostics as JSON
  -h, --help                show this help

Exit status: 0 all valid (warnings allowed), 1 some invalid, 2 usage error.`;

const MATCH_HELP = `Usage: stixflow match --pattern '<pattern>' [options] <file | ->

Matches a pattern against observed data with the batch semantics of the STIX specification
(all the observed data at once) and prints the result as JSON: whether it matched and the
binding (which observed-data and which objects satisfied each observation expression).
The file holds a STIX 2.1 bundle, observed-data with object_refs plus SCOs, STIX 2.0
observed-data with embedded objects, a JSON array of these, or NDJSON.

Raw events (ECS, flat key-value, or any format a --mapping recognises) are normalised into
STIX observed data first, as 'stixflow run' does, and the output lists them under
"normalised" (input, line, mapping, the observed-data ids they became). An event that is not
STIX and that no mapping recognises is an error (exit 2), never a silent "no match".

Options:
  -p, --pattern <text>      the STIX pattern (required)
  --stix-version <2.0|2.1>  STIX version of the pattern (default 2.1)
  -m, --mapping <file>      extra normalisation mapping for raw events (repeatable)
  -h, --help                show this help

Exit status: 0 matched, 1 not matched, 2 error (bad pattern, bad data, usage).`;

function stixVersionOf(value: string | undefined): StixVersion | undefined {
  if (value === undefined || value === '2.1') return '2.1';
  if (value === '2.0') return '2.0';
  return undefined;
}

interface PatternSource {
  file?: string;
  line: number;
  text: string;
}

function collectPatterns(
  arg: string,
  out: PatternSource[],
  read: (path: string) => string,
  unreadable: Diagnostic[],
  listed = false,
): void {
  if (existsSync(arg) && statSync(arg).isDirectory()) {
    for (const entry of readdirSync(arg).sort()) {
      if (/\.(pattern|patterns|txt)$/.test(entry)) collectPatterns(join(arg, entry), out, read, unreadable, true);
    }
    return;
  }
  if (listed && !existsSync(arg)) {
    // Listed in a directory yet not there: a dangling symbolic link. Its name is no pattern.
    unreadable.push({
      severity: 'error',
      code: 'pattern-file-unreadable',
      message: `cannot read ${arg} (a symbolic link to a missing file?); skipped`,
      file: arg,
    });
    return;
  }
  if (existsSync(arg) && statSync(arg).isFile()) {
    read(arg)
      .split(/\r?\n/)
      .forEach((text, i) => {
        if (text.trim() && !text.trimStart().startsWith('#')) out.push({ file: arg, line: i + 1, text });
      });
    return;
  }
  out.push({ line: 1, text: arg });
}

export async function validateCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      'stix-version': { type: 'string' },
      json: { type: 'boolean' },
      'allow-unsatisfiable': { type: 'boolean' },
      expand: { type: 'boolean' },
    },
    VALIDATE_HELP,
    io,
  );
  if (typeof parsed === 'number') return parsed;
  const stixVersion = stixVersionOf(parsed.values['stix-version']);
  if (!stixVersion || parsed.positionals.length === 0) {
    writeLine(io.stderr, VALIDATE_HELP);
    return 2;
  }
  const sources: PatternSource[] = [];
  const unreadable: Diagnostic[] = [];
  const ruleArgs = parsed.positionals.filter(isRulePath);
  for (const arg of parsed.positionals.filter((a) => !isRulePath(a)))
    collectPatterns(arg, sources, (p) => readFileSync(p, 'utf8'), unreadable);
  for (const d of unreadable) writeLine(io.stderr, renderDiagnostic(d));
  let invalidRules = 0;
  const loadOptions = { allowUnsatisfiable: parsed.values['allow-unsatisfiable'] === true };
  if (ruleArgs.length > 0)
    invalidRules = validateRuleFiles(
      ruleArgs,
      parsed.values.json === true,
      io,
      loadOptions,
      parsed.values.expand === true,
    );

  let invalid = 0;
  const report: { file?: string; line: number; pattern: string; valid: boolean; diagnostics: Diagnostic[] }[] = [];
  for (const source of sources) {
    const { pattern: compiled, diagnostics } = checkPattern(source.text, { stixVersion });
    // The rule loader's verdict, so that a pattern and a rule holding it are judged alike.
    const verdict = (compiled ? satisfiabilityDiagnostics(compiled) : []).map((d) =>
      d.severity === 'error' && loadOptions.allowUnsatisfiable ? { ...d, severity: 'warning' as const } : d,
    );
    diagnostics.push(...verdict);
    const pattern = verdict.some((d) => d.severity === 'error') ? undefined : compiled;
    // Diagnostics locate within the pattern; shift them to the file's line.
    const located = diagnostics.map((d) => ({
      ...d,
      ...(source.file ? { file: source.file } : {}),
      line: (d.line ?? 1) + source.line - 1,
    }));
    if (!pattern) invalid++;
    report.push({
      ...(source.file ? { file: source.file } : {}),
      line: source.line,
      pattern: source.text,
      valid: pattern !== undefined,
      diagnostics: located,
    });
    if (!parsed.values.json) {
      const label = source.file
        ? `${source.file}:${source.line}`
        : JSON.stringify(source.text.length > 60 ? `${source.text.slice(0, 57)}...` : source.text);
      if (located.length === 0) writeLine(io.stdout, `ok      ${label}`);
      else {
        writeLine(io.stdout, `${pattern ? 'warning' : 'invalid'} ${label}`);
        for (const d of located)
          writeLine(io.stdout, renderDiagnostic(d, source.text, source.line).replace(/^/gm, '  '));
      }
    }
  }
  if (sources.length > 0) {
    if (parsed.values.json) writeLine(io.stdout, JSON.stringify(report, null, 2));
    else writeLine(io.stdout, `${sources.length - invalid} valid, ${invalid} invalid`);
  }
  return invalid + invalidRules + unreadable.length > 0 ? 1 : 0;
}

function isRulePath(arg: string): boolean {
  if (!existsSync(arg)) return false;
  if (statSync(arg).isFile()) return /\.(ya?ml|json)$/i.test(arg);
  // A directory holds rules when it has rule files and no pattern files (*.pattern, *.txt).
  const names: string[] = [];
  const seen = new Set<string>();
  const walk = (dir: string): void => {
    // Read each directory once, so that a symbolic link to an ancestor ends.
    const real = realpathSync(dir);
    if (seen.has(real)) return;
    seen.add(real);
    for (const entry of readdirSync(dir)) {
      const child = join(dir, entry);
      // A dangling link is listed by name; the rule loader reports it.
      if (existsSync(child) && statSync(child).isDirectory()) walk(child);
      else names.push(entry);
    }
  };
  walk(arg);
  return names.some((n) => /\.(ya?ml|json)$/i.test(n)) && !names.some((n) => /\.(pattern|patterns|txt)$/i.test(n));
}

/** A loaded rule as `--expand` shows it: its patterns in standard STIX, and the blocks it uses. */
function expandedRule(rule: Rule): Record<string, unknown> {
  return {
    id: rule.id,
    ...(rule.source?.file !== undefined ? { file: rule.source.file, line: rule.source.line } : {}),
    pattern: rule.patternText,
    ...(rule.writtenPattern !== undefined ? { written: rule.writtenPattern } : {}),
    filters: rule.filters.map((f) => ({
      pattern: f.text,
      ...(f.exception !== undefined ? { exception: f.exception } : {}),
      ...(f.reason !== undefined ? { reason: f.reason } : {}),
    })),
    lists: rule.uses?.lists ?? [],
    macros: rule.uses?.macros ?? [],
  };
}

function printExpanded(rule: Rule, io: CliIo): void {
  const place = rule.source?.file !== undefined ? ` (${rule.source.file}:${rule.source.line ?? 1})` : '';
  writeLine(io.stdout, `rule ${rule.id}${place}`);
  if (rule.writtenPattern !== undefined) writeLine(io.stdout, `  written:  ${rule.writtenPattern}`);
  writeLine(io.stdout, `  pattern:  ${rule.patternText}`);
  rule.filters.forEach((f, i) =>
    writeLine(
      io.stdout,
      f.exception !== undefined
        ? `  exception ${f.exception}: ${f.text}${f.reason !== undefined ? ` (${f.reason})` : ''}`
        : `  filter ${i}: ${f.text}`,
    ),
  );
  if (rule.uses)
    writeLine(
      io.stdout,
      `  uses:     ${[
        rule.uses.lists.length > 0 ? `lists ${rule.uses.lists.join(', ')}` : '',
        rule.uses.macros.length > 0 ? `macros ${rule.uses.macros.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join('; ')}`,
    );
}

/** Loads rule files and prints every diagnostic; returns the number of rules (or files) in error. */
function validateRuleFiles(paths: string[], json: boolean, io: CliIo, options: LoadOptions, expand: boolean): number {
  // The loader judges satisfiability itself (every shell loads through it), with positions.
  const { rules, indicators, diagnostics } = loadRulesFromPaths(paths, options);
  const all = diagnostics;
  const failing = new Set(all.filter((d) => d.severity === 'error').map((d) => d.ruleId ?? `${d.file}:${d.line}`));
  if (json)
    writeLine(
      io.stdout,
      JSON.stringify(
        {
          rules: rules.length,
          indicators: indicators.size,
          diagnostics: all,
          ...(expand ? { expanded: rules.map(expandedRule) } : {}),
        },
        null,
        2,
      ),
    );
  else {
    for (const d of all) writeLine(io.stdout, renderDiagnostic(d));
    if (expand) for (const rule of rules) printExpanded(rule, io);
    writeLine(
      io.stdout,
      `${count(rules.length + indicators.size, 'rule')} loaded (${count(indicators.size, 'indicator')}), ${failing.size} with errors`,
    );
  }
  return failing.size;
}

/**
 * What `match` takes as STIX, as it is: a bundle, an observed-data, or any object with a STIX id
 * of its own type (an SCO listed beside its observed-data). Anything else is a raw event.
 */
function isStixInput(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { type, id } = value as { type?: unknown; id?: unknown };
  if (typeof type !== 'string') return false;
  return type === 'bundle' || type === 'observed-data' || (typeof id === 'string' && id.startsWith(`${type}--`));
}

interface NormalisedInput {
  /** Position of the raw event among the input values (a JSON array counts each element). */
  input: number;
  line: number;
  mapping: string;
  observedDataIds: (string | undefined)[];
}

/**
 * Puts raw events through the normaliser, each in its place (so observedDataIndex still follows
 * the input order); STIX values stay as they are, so the batch semantics apply to them unchanged.
 */
function normaliseRawInputs(
  values: { value: unknown; line: number }[],
  normaliser: Normaliser,
  file: string,
): { data: unknown[]; normalised: NormalisedInput[]; problems: Diagnostic[] } {
  const data: unknown[] = [];
  const normalised: NormalisedInput[] = [];
  const problems: Diagnostic[] = [];
  values.forEach(({ value, line }, input) => {
    if (isStixInput(value)) {
      data.push(value);
      return;
    }
    const result = normaliser.normalise(value, input);
    if (!result.ok) {
      const d = result.diagnostic;
      const message =
        d.code === 'unrecognised-format'
          ? `input ${input} is not STIX, and ${d.message}`
          : `input ${input} is not STIX and could not be normalised: ${d.message}`;
      problems.push({ ...d, file, line, message });
      return;
    }
    data.push(...result.events.map(toBundle));
    normalised.push({
      input,
      line,
      mapping: result.mapping,
      observedDataIds: result.events.map((e) => e.observedData.id),
    });
  });
  return { data, normalised, problems };
}

export async function matchCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      pattern: { type: 'string', short: 'p' },
      'stix-version': { type: 'string' },
      mapping: { type: 'string', short: 'm', multiple: true },
    },
    MATCH_HELP,
    io,
  );
  if (typeof parsed === 'number') return parsed;
  const stixVersion = stixVersionOf(parsed.values['stix-version']);
  const patternText = parsed.values.pattern;
  if (!stixVersion || patternText === undefined || parsed.positionals.length !== 1) {
    writeLine(io.stderr, MATCH_HELP);
    return 2;
  }
  let pattern;
  try {
    pattern = compilePattern(patternText, { stixVersion });
  } catch (error) {
    if (!(error instanceof PatternError)) throw error;
    writeLine(io.stdout, JSON.stringify({ error: 'invalid-pattern', diagnostics: error.diagnostics }, null, 2));
    for (const d of error.diagnostics) writeLine(io.stderr, renderDiagnostic(d, patternText));
    return 2;
  }
  const file = parsed.positionals[0] as string;
  let text: string;
  try {
    text = await readInput(file, io);
  } catch (error) {
    writeLine(io.stderr, `cannot read ${file}: ${(error as Error).message}`);
    return 2;
  }
  const documents = parseJsonOrNdjson(text);
  const bad = documents.filter((d) => !d.ok);
  if (bad.length > 0) {
    const diagnostics = bad.map((d) => ({
      severity: 'error',
      code: 'bad-json',
      file,
      line: d.line,
      message: d.ok ? '' : d.message,
    }));
    writeLine(io.stdout, JSON.stringify({ error: 'invalid-input', diagnostics }, null, 2));
    return 2;
  }
  const values = documents.flatMap((d) =>
    d.ok ? (Array.isArray(d.value) ? d.value : [d.value]).map((value: unknown) => ({ value, line: d.line })) : [],
  );
  let normaliser: Normaliser;
  try {
    normaliser = createNormaliser({
      mappings: (parsed.values.mapping ?? []).map((m) => loadMapping(readFileSync(m, 'utf8'), m)),
    });
  } catch (error) {
    writeLine(
      io.stderr,
      error instanceof StixflowError
        ? formatDiagnostics(error.diagnostics)
        : `cannot read a mapping: ${(error as Error).message}`,
    );
    return 2;
  }
  const { data, normalised, problems } = normaliseRawInputs(values, normaliser, file);
  if (problems.length > 0) {
    writeLine(io.stdout, JSON.stringify({ error: 'invalid-input', diagnostics: problems }, null, 2));
    for (const d of problems) writeLine(io.stderr, formatDiagnostic(d));
    return 2;
  }
  if (normalised.length > 0) {
    const mappings = [...new Set(normalised.map((n) => n.mapping))].join(', ');
    writeLine(
      io.stderr,
      `${count(normalised.length, 'raw event')} normalised into STIX observed data (mapping: ${mappings}); see "normalised" in the output`,
    );
  }
  try {
    const result = pattern.match(data);
    writeLine(
      io.stdout,
      JSON.stringify({ pattern: patternText, ...result, normalised, warnings: pattern.warnings }, null, 2),
    );
    return result.matched ? 0 : 1;
  } catch (error) {
    if (!(error instanceof StixflowError)) throw error;
    writeLine(
      io.stdout,
      JSON.stringify({ error: error.code, message: error.message, diagnostics: error.diagnostics }, null, 2),
    );
    return 2;
  }
}
