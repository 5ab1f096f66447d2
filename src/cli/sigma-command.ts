/**
 * `stixflow sigma convert <file|dir>…`: the STIX pattern each Sigma rule compiles to, through
 * the same loader `run` uses, with the comparisons that stay case-sensitive named (the rest
 * compare case-insensitively, Sigma's default) and the fields read from the raw-field fallback.
 */
import { renderDiagnostic, parseCommandArgs, writeLine, count, type CliIo } from './io.js';
import { loadRulesFromPaths } from '../rules/load.js';
import { comparisonLeaves, observationLeaves } from '../pattern/ast.js';
import { printObservationExpression } from '../pattern/print.js';
import { describeCondition } from '../rules/aggregation.js';
import type { Rule } from '../rules/model.js';

const HELP = `Usage: stixflow sigma convert [--json] <rule.yml|dir>…

Prints the STIX pattern each Sigma rule compiles to. Sigma compares case-insensitively: every
string comparison of the pattern folds case except those listed as case-sensitive (|cased,
regexes without the i flag). Fields the taxonomy has no STIX path for are read from the raw
event field and listed as unmapped. Problems are printed as \`stixflow validate\` prints them.

Options:
  --json    one JSON object per rule: id, title, pattern, caseSensitive, unmappedFields, logsource`;

export async function sigmaCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    writeLine(sub === undefined ? io.stderr : io.stdout, HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'convert') {
    writeLine(io.stderr, `unknown sigma command '${sub}'\n\n${HELP}`);
    return 2;
  }
  const parsed = parseCommandArgs(rest, { json: { type: 'boolean' } }, HELP, io);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length === 0) {
    writeLine(io.stderr, `sigma convert needs a rule file or directory\n\n${HELP}`);
    return 2;
  }
  const { rules, diagnostics } = loadRulesFromPaths(parsed.positionals);
  const sigma = rules.filter((rule) => rule.sigma !== undefined);
  for (const d of diagnostics) writeLine(io.stderr, renderDiagnostic(d));
  for (const rule of sigma) {
    const meta = rule.sigma!;
    const leaves = observationLeaves(rule.pattern.ast.root).flatMap((o) => comparisonLeaves(o.comparison));
    const caseSensitive = meta.caseSensitiveComparisons.map((i) => {
      const leaf = leaves[i];
      return leaf ? printObservationExpression({ kind: 'observation', comparison: leaf }).slice(1, -1) : String(i);
    });
    // A field reference (fieldref) has no STIX text: the pattern is then printed in stixflow's internal form.
    const internalForm = leaves.some((leaf) => leaf.kind === 'fieldref');
    if (parsed.values.json) {
      writeLine(
        io.stdout,
        JSON.stringify({
          id: rule.id,
          title: rule.name,
          pattern: rule.patternText,
          ...(internalForm ? { internalForm: true } : {}),
          caseSensitive,
          unmappedFields: meta.unmappedFields,
          logsource: meta.logsource,
          ...(meta.correlation ? { correlation: correlationOf(rule) } : {}),
          ...(meta.correlatedBy ? { correlatedBy: meta.correlatedBy, enabled: rule.enabled } : {}),
          ...(meta.filters ? { filters: meta.filters } : {}),
          ...(meta.pipelines ? { pipelines: meta.pipelines } : {}),
        }),
      );
      continue;
    }
    writeLine(io.stdout, `# ${rule.name} (${rule.id})${rule.source?.file ? ` ${rule.source.file}` : ''}`);
    if (meta.correlation) {
      const c = correlationOf(rule);
      writeLine(
        io.stdout,
        `# correlation ${c.type} of ${c.rules.join(', ')} → ${c.kind}${c.groupBy.length ? ` group_by ${c.groupBy.join(', ')}` : ''}${c.window ? ` window ${c.window}` : ''}${c.condition ? ` condition ${c.condition}` : ''}${c.distinct ? ` distinct ${c.distinct}` : ''}`,
      );
    }
    if (meta.correlatedBy)
      writeLine(
        io.stdout,
        `# correlated by ${meta.correlatedBy.join(', ')}${rule.enabled ? '' : ' (generate: false: raises no alerts of its own)'}`,
      );
    if (meta.pipelines) writeLine(io.stdout, `# pipelines: ${meta.pipelines.join(', ')}`);
    if (meta.filters) writeLine(io.stdout, `# filtered by ${meta.filters.join(', ')}`);
    if (internalForm)
      writeLine(
        io.stdout,
        '# internal form, not STIX: `a = FIELD(b)` (STARTSWITH, ENDSWITH, CONTAINS) compares two fields of one event (fieldref)',
      );
    writeLine(io.stdout, rule.patternText);
    if (caseSensitive.length) writeLine(io.stdout, `# case-sensitive: ${caseSensitive.join('; ')}`);
    if (meta.unmappedFields.length)
      writeLine(io.stdout, `# raw fields (no STIX path): ${meta.unmappedFields.join(', ')}`);
    writeLine(io.stdout, '');
  }
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (!parsed.values.json)
    writeLine(
      io.stderr,
      `${count(sigma.length, 'Sigma rule')} converted, ${count(new Set(errors.map((d) => d.ruleId ?? `${d.file}:${d.line}`)).size, 'rule')} with errors`,
    );
  return errors.length > 0 ? 1 : 0;
}

/** What a Sigma correlation compiled to: the rule kind and its aggregation fields. */
function correlationOf(rule: Rule) {
  const c = rule.sigma!.correlation!;
  const a = rule.aggregation;
  return {
    type: c.type,
    rules: c.rules,
    kind: a?.kind ?? 'pattern',
    groupBy: rule.groupByText,
    window: a && 'windowSeconds' in a ? `${a.windowSeconds}s (hop ${a.hopSeconds}s)` : undefined,
    condition: a && 'condition' in a ? describeCondition(a.condition) : undefined,
    distinct: a?.kind === 'distinct_count' ? a.paths.map((p) => p.text).join(', ') : undefined,
  };
}
