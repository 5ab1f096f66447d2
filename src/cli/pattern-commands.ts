/** `stixflow validate` and `stixflow match`: pattern authoring commands. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { checkPattern, compilePattern } from '../pattern/compile.js';
import type { StixVersion } from '../pattern/parse.js';
import { PatternError, StixflowError, type Diagnostic } from '../errors.js';
import { satisfiabilityDiagnostics } from '../generate/index.js';
import { loadRulesFromPaths, type LoadOptions } from '../rules/load.js';
import { count, parseJsonOrNdjson, readInput, renderDiagnostic, writeLine, parseCommandArgs, type CliIo } from './io.js';

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
  --json                    print the diagnostics as JSON
  -h, --help                show this help

Exit status: 0 all valid (warnings allowed), 1 some invalid, 2 usage error.`;

const MATCH_HELP = `Usage: stixflow match --pattern '<pattern>' [options] <file | ->

Matches a pattern against observed data with the batch semantics of the STIX specification
(all the observed data at once) and prints the result as JSON: whether it matched and the
binding (which observed-data and which objects satisfied each observation expression).
The file holds a STIX 2.1 bundle, observed-data with object_refs plus SCOs, STIX 2.0
observed-data with embedded objects, a JSON array of these, or NDJSON.

Options:
  -p, --pattern <text>      the STIX pattern (required)
  --stix-version <2.0|2.1>  STIX version of the pattern (default 2.1)
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

function collectPatterns(arg: string, out: PatternSource[], read: (path: string) => string): void {
  if (existsSync(arg) && statSync(arg).isDirectory()) {
    for (const entry of readdirSync(arg).sort()) {
      if (/\.(pattern|patterns|txt)$/.test(entry)) collectPatterns(join(arg, entry), out, read);
    }
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
  const parsed = parseCommandArgs(argv, { 'stix-version': { type: 'string' }, json: { type: 'boolean' }, 'allow-unsatisfiable': { type: 'boolean' } }, VALIDATE_HELP, io);
  if (typeof parsed === 'number') return parsed;
  const stixVersion = stixVersionOf(parsed.values['stix-version']);
  if (!stixVersion || parsed.positionals.length === 0) {
    writeLine(io.stderr, VALIDATE_HELP);
    return 2;
  }
  const sources: PatternSource[] = [];
  const ruleArgs = parsed.positionals.filter(isRulePath);
  for (const arg of parsed.positionals.filter((a) => !isRulePath(a))) collectPatterns(arg, sources, (p) => readFileSync(p, 'utf8'));
  let invalidRules = 0;
  const loadOptions = { allowUnsatisfiable: parsed.values['allow-unsatisfiable'] === true };
  if (ruleArgs.length > 0) invalidRules = validateRuleFiles(ruleArgs, parsed.values.json === true, io, loadOptions);

  let invalid = 0;
  const report: { file?: string; line: number; pattern: string; valid: boolean; diagnostics: Diagnostic[] }[] = [];
  for (const source of sources) {
    const { pattern: compiled, diagnostics } = checkPattern(source.text, { stixVersion });
    // The rule loader's verdict, so that a pattern and a rule holding it are judged alike.
    const verdict = (compiled ? satisfiabilityDiagnostics(compiled) : []).map((d) => (d.severity === 'error' && loadOptions.allowUnsatisfiable ? { ...d, severity: 'warning' as const } : d));
    diagnostics.push(...verdict);
    const pattern = verdict.some((d) => d.severity === 'error') ? undefined : compiled;
    // Diagnostics locate within the pattern; shift them to the file's line.
    const located = diagnostics.map((d) => ({ ...d, ...(source.file ? { file: source.file } : {}), line: (d.line ?? 1) + source.line - 1 }));
    if (!pattern) invalid++;
    report.push({ ...(source.file ? { file: source.file } : {}), line: source.line, pattern: source.text, valid: pattern !== undefined, diagnostics: located });
    if (!parsed.values.json) {
      const label = source.file ? `${source.file}:${source.line}` : JSON.stringify(source.text.length > 60 ? `${source.text.slice(0, 57)}...` : source.text);
      if (located.length === 0) writeLine(io.stdout, `ok      ${label}`);
      else {
        writeLine(io.stdout, `${pattern ? 'warning' : 'invalid'} ${label}`);
        for (const d of located) writeLine(io.stdout, renderDiagnostic(d, source.text, source.line).replace(/^/gm, '  '));
      }
    }
  }
  if (sources.length > 0) {
    if (parsed.values.json) writeLine(io.stdout, JSON.stringify(report, null, 2));
    else writeLine(io.stdout, `${sources.length - invalid} valid, ${invalid} invalid`);
  }
  return invalid + invalidRules > 0 ? 1 : 0;
}

function isRulePath(arg: string): boolean {
  if (!existsSync(arg)) return false;
  if (statSync(arg).isFile()) return /\.(ya?ml|json)$/i.test(arg);
  // A directory holds rules when it has rule files and no pattern files (*.pattern, *.txt).
  const names: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const child = join(dir, entry);
      if (statSync(child).isDirectory()) walk(child);
      else names.push(entry);
    }
  };
  walk(arg);
  return names.some((n) => /\.(ya?ml|json)$/i.test(n)) && !names.some((n) => /\.(pattern|patterns|txt)$/i.test(n));
}

/** Loads rule files and prints every diagnostic; returns the number of rules (or files) in error. */
function validateRuleFiles(paths: string[], json: boolean, io: CliIo, options: LoadOptions): number {
  // The loader judges satisfiability itself (every shell loads through it), with positions.
  const { rules, indicators, diagnostics } = loadRulesFromPaths(paths, options);
  const all = diagnostics;
  const failing = new Set(all.filter((d) => d.severity === 'error').map((d) => d.ruleId ?? `${d.file}:${d.line}`));
  if (json) writeLine(io.stdout, JSON.stringify({ rules: rules.length, indicators: indicators.size, diagnostics: all }, null, 2));
  else {
    for (const d of all) writeLine(io.stdout, renderDiagnostic(d));
    writeLine(io.stdout, `${count(rules.length + indicators.size, 'rule')} loaded (${count(indicators.size, 'indicator')}), ${failing.size} with errors`);
  }
  return failing.size;
}

export async function matchCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(argv, { pattern: { type: 'string', short: 'p' }, 'stix-version': { type: 'string' } }, MATCH_HELP, io);
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
    const diagnostics = bad.map((d) => ({ severity: 'error', code: 'bad-json', file, line: d.line, message: d.ok ? '' : d.message }));
    writeLine(io.stdout, JSON.stringify({ error: 'invalid-input', diagnostics }, null, 2));
    return 2;
  }
  const values = documents.flatMap((d) => (d.ok ? (Array.isArray(d.value) ? d.value : [d.value]) : []));
  try {
    const result = pattern.match(values);
    writeLine(io.stdout, JSON.stringify({ pattern: patternText, ...result, warnings: pattern.warnings }, null, 2));
    return result.matched ? 0 : 1;
  } catch (error) {
    if (!(error instanceof StixflowError)) throw error;
    writeLine(io.stdout, JSON.stringify({ error: error.code, message: error.message, diagnostics: error.diagnostics }, null, 2));
    return 2;
  }
}
