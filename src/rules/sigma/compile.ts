/**
 * A Sigma rule candidate → an ordinary stixflow Rule whose pattern is one STIX observation
 * expression rooted at x-oca-event: the detection (./detection.ts) ANDed with what the
 * logsource selects (the taxonomy's condition), compiled case-insensitively except where Sigma
 * says otherwise. So a Sigma rule runs on the pattern kind with the rule index, filters,
 * suppression, explain, emit and the alert path of every other rule. Metadata goes to the
 * rule's fields and its `sigma` block; problems are diagnostics at their place in the file.
 */
import { isRecord } from '../../util/records.js';
import { strings, text } from './yaml-values.js';
import type { Diagnostic } from '../../errors.js';
import { isComparisonJunction, type ComparisonExpression, type PatternAst } from '../../pattern/ast.js';
import { checkPattern } from '../../pattern/compile.js';
import { parsePattern } from '../../pattern/parse.js';
import { printObservationExpression } from '../../pattern/print.js';
import { satisfiabilityDiagnostics } from '../../generate/unsat.js';
import type { RuleCandidate } from '../collect.js';
import { ruleDiagnostic, type RuleLoadCode } from '../diagnostics.js';
import { SEVERITIES, type Rule, type Severity } from '../model.js';
import type { Position, ValuePath } from '../read.js';
import { compileDetection, type ExtraDetection, type SigmaPlaceholders, type SigmaProblem } from './detection.js';
import type { SigmaFilters } from './filter.js';
import { applyPipelines, type SigmaPipelines } from './pipeline.js';
import type { SigmaLogsource, SigmaTaxonomy } from './taxonomy-types.js';

export interface SigmaCompileOptions {
  taxonomy: SigmaTaxonomy;
  allowUnsatisfiable?: boolean;
  placeholders?: SigmaPlaceholders;
  /** The load's Sigma filters (./filter.ts): those naming the rule are ANDed into its detection. */
  filters?: SigmaFilters;
  /** The load's per-directory pipelines (./pipeline.ts): those of the rule's directory transform it. */
  pipelines?: SigmaPipelines;
}

/** Statuses whose rules are reported and not run. */
const NOT_RUN_STATUSES = new Set(['deprecated', 'unsupported']);

/** The logsource as the taxonomy reads it: the three keys, lower-cased. */
export function readLogsource(value: Record<string, unknown>): SigmaLogsource {
  const out: SigmaLogsource = {};
  for (const key of ['product', 'category', 'service'] as const) {
    const v = value[key];
    if (typeof v === 'string' && v) out[key] = v.toLowerCase();
  }
  return out;
}

export function describeLogsource(logsource: SigmaLogsource): string {
  const parts = (['product', 'category', 'service'] as const).flatMap((k) =>
    logsource[k] ? [`${k}: ${logsource[k]}`] : [],
  );
  return parts.length ? parts.join(', ') : '(empty)';
}

/** Compiles a Sigma candidate, appending what it finds to `diagnostics`; undefined when it does not run. */
export function compileSigmaRule(
  candidate: RuleCandidate,
  diagnostics: Diagnostic[],
  options: SigmaCompileOptions,
): Rule | undefined {
  const v = candidate.value;
  const id = typeof v.id === 'string' && v.id ? v.id : undefined;
  const report = (code: RuleLoadCode, at: Position, message: string): void => {
    diagnostics.push(ruleDiagnostic(code, { file: candidate.file, ...at, ...(id ? { ruleId: id } : {}) }, message));
  };
  const shape = (path: ValuePath, message: string): undefined => {
    report('sigma-rule-shape', candidate.at(path), message);
    return undefined;
  };

  if (!id) return shape(['id'], 'a Sigma rule needs an `id` (alert ids, suppression and state are keyed by it)');
  if (typeof v.title !== 'string' || !v.title) return shape(['title'], 'a Sigma rule needs a `title` (a string)');
  if (!isRecord(v.logsource)) return shape(['logsource'], '`logsource` is a mapping of product, category, service');
  if (!isRecord(v.detection))
    return shape(['detection'], '`detection` is a mapping of search identifiers and a condition');
  const level = v.level === undefined ? undefined : typeof v.level === 'string' ? v.level.toLowerCase() : '';
  if (level !== undefined && !(SEVERITIES as readonly string[]).includes(level))
    return shape(['level'], `\`level\` is one of ${SEVERITIES.join(', ')}, not ${JSON.stringify(v.level)}`);
  const status = typeof v.status === 'string' ? v.status.toLowerCase() : undefined;
  if (status !== undefined && NOT_RUN_STATUSES.has(status)) {
    report('sigma-status-not-run', candidate.at(['status']), `the rule's status is ${status}: reported, not run`);
    return undefined;
  }

  const logsource = readLogsource(v.logsource);
  const taxonomy = options.taxonomy;
  if (!taxonomy.supports(logsource)) {
    if (taxonomy.declares?.(logsource) !== true) {
      report(
        'sigma-unsupported-logsource',
        candidate.at(['logsource']),
        `no built-in mapping produces events of the logsource ${describeLogsource(logsource)}`,
      );
      return undefined;
    }
    report(
      'sigma-logsource-needs-mapping',
      candidate.at(['logsource']),
      `no built-in mapping produces events of the logsource ${describeLogsource(logsource)}: the rule runs on events whose mapping declares it (sigma_logsource) and reads their raw_fields (docs/sigma-taxonomy.md)`,
    );
  }

  const broken = options.pipelines?.brokenFor(candidate.file);
  if (broken !== undefined) {
    report(
      'sigma-pipeline-shape',
      candidate.position,
      `the pipeline ${broken.file} of the rule's directory has errors: the rule is not run`,
    );
    return undefined;
  }
  const applied =
    options.pipelines !== undefined && options.pipelines.size > 0
      ? applyPipelines(options.pipelines.forFile(candidate.file), logsource, taxonomy, options.placeholders ?? {})
      : undefined;
  const filters = options.filters?.forRule(candidate, logsource, diagnostics) ?? [];
  // Pipelines' added conditions, then filters: each reports its problems at its own file.
  const extras = [
    ...(applied?.extras ?? []).map(({ pipeline, extra }) => ({ owner: pipeline.candidate, what: 'pipeline', extra })),
    ...filters.map((filter) => ({
      owner: filter.candidate,
      what: `filter ${filter.label}`,
      extra: { detection: filter.detection, path: ['filter'], problems: [] } as ExtraDetection,
    })),
  ];
  const compiled = compileDetection(
    v.detection,
    logsource,
    applied?.taxonomy ?? taxonomy,
    applied?.placeholders ?? options.placeholders,
    extras.map((e) => e.extra),
    applied?.rewrite,
  );
  for (const problem of compiled.problems) diagnostics.push(problemDiagnostic(candidate, problem, id));
  for (const { owner, what, extra } of extras)
    for (const problem of extra.problems)
      diagnostics.push(
        problemDiagnostic(
          owner,
          {
            ...problem,
            message: `${problem.message} (the ${what}, for the rule ${id}: the rule is not run)`,
          },
          id,
        ),
      );
  if (!compiled.detection) return undefined;
  const detection = compiled.detection;

  const selects = taxonomy.condition(logsource);
  const detectionText = /\bOR\b/.test(detection.text) ? `(${detection.text})` : detection.text;
  // The detection first: its comparisons keep their indices (the folded ones), the logsource's
  // follow and compare exactly as the mapping writes them.
  const built = detection.fieldReferences ? fieldReferencePattern(detection.expression, selects) : undefined;
  const patternText = built
    ? printObservationExpression(built.root)
    : selects
      ? `[${detectionText} AND (${selects})]`
      : `[${detection.text}]`;
  const checked = checkPattern(patternText, {
    caseInsensitive: (_leaf, index) => detection.folded.has(index),
    ...(built ? { ast: built } : {}),
  });
  const where = candidate.at(['detection']);
  for (const d of checked.diagnostics)
    diagnostics.push({
      ...d,
      file: candidate.file,
      ...where,
      ruleId: id,
      message: `compiled pattern: ${d.message} (in ${shorten(patternText)})`,
    });
  if (!checked.pattern || checked.diagnostics.some((d) => d.severity === 'error')) return undefined;
  const unsatisfiable = satisfiabilityDiagnostics(checked.pattern).map((d) =>
    d.severity === 'error' && options.allowUnsatisfiable
      ? { ...d, severity: 'warning' as const, message: `${d.message} (kept: unsatisfiable rules allowed)` }
      : d,
  );
  for (const d of unsatisfiable)
    diagnostics.push({ ...d, file: candidate.file, ...where, ruleId: id, message: `compiled pattern: ${d.message}` });
  if (unsatisfiable.some((d) => d.severity === 'error')) return undefined;

  const tags = strings(v.tags);
  const position = candidate.positionLater();
  return {
    id,
    name: v.title,
    description: typeof v.description === 'string' ? v.description.trim() : '',
    severity: (level ?? 'medium') as Severity,
    ...(logsource.category ? { category: logsource.category } : {}),
    tags,
    enabled: true,
    patternText,
    pattern: checked.pattern,
    groupBy: [],
    groupByText: [],
    filters: [],
    tests: [],
    source: {
      file: candidate.file,
      get line() {
        return position().line;
      },
    },
    sigma: {
      ...(level !== undefined ? { level } : {}),
      ...(status !== undefined ? { status } : {}),
      ...(text(v.author) !== undefined ? { author: text(v.author) as string } : {}),
      ...(text(v.date) !== undefined ? { date: text(v.date) as string } : {}),
      ...(text(v.modified) !== undefined ? { modified: text(v.modified) as string } : {}),
      references: strings(v.references),
      falsePositives: strings(v.falsepositives),
      attack: tags.filter((tag) => tag.toLowerCase().startsWith('attack.')),
      logsource,
      unmappedFields: detection.unmappedFields,
      caseSensitiveComparisons: detection.caseSensitive,
      ...(filters.length > 0 ? { filters: filters.map((f) => f.label) } : {}),
      ...(applied !== undefined && applied.files.length > 0 ? { pipelines: applied.files } : {}),
    },
  };
}

/**
 * The pattern of a detection with field references, which STIX text cannot say: the detection's tree ANDed with
 * the logsource's condition (parsed: it is STIX), one observation spanning the whole printed text.
 */
function fieldReferencePattern(detection: ComparisonExpression, selects: string | undefined): PatternAst {
  let comparison = detection;
  if (selects) {
    const parsed = parsePattern(`[${selects}]`);
    const root = parsed.ast?.root;
    if (root?.kind !== 'observation') throw new Error(`the Sigma taxonomy's condition is no STIX: ${selects}`);
    comparison = { kind: 'and', left: detection, right: withoutSpans(root.comparison) };
  }
  const text = printObservationExpression({ kind: 'observation', comparison });
  return {
    root: { kind: 'observation', comparison, span: { offset: 0, length: text.length, line: 1, column: 1 } },
  };
}

/** The logsource's condition was parsed on its own: its places are not in the rule's pattern text. */
function withoutSpans(expr: ComparisonExpression): ComparisonExpression {
  if (isComparisonJunction(expr)) return { ...expr, left: withoutSpans(expr.left), right: withoutSpans(expr.right) };
  const { span: _span, ...leaf } = expr;
  const { span: _pathSpan, ...path } = expr.path;
  return { ...leaf, path } as ComparisonExpression;
}

/** Long patterns (thousands of hashes) are cut in messages. */
function shorten(pattern: string): string {
  return pattern.length <= 400 ? pattern : `${pattern.slice(0, 400)}… (${pattern.length} characters)`;
}

/** A detection problem as a diagnostic at its place: the key of a field item, the value, or into the condition. */
function problemDiagnostic(candidate: RuleCandidate, problem: SigmaProblem, id: string): Diagnostic {
  const at =
    (problem.key !== undefined ? candidate.atKey(problem.path, problem.key) : undefined) ??
    (problem.offset !== undefined ? candidate.locate(problem.path, problem.offset) : undefined) ??
    candidate.at(problem.path);
  return ruleDiagnostic(problem.code, { file: candidate.file, ...at, ruleId: id }, problem.message);
}
