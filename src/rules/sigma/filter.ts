/**
 * Sigma filters (Sigma meta filters, specification v2): a document with a `filter:` mapping — the `rules` it
 * applies to (by id, `name` or `title`), its search identifiers and a `condition` — whose condition is ANDed
 * into each named rule's detection (`condition: not selection` excludes what the selection finds). Filters load
 * from the same directories as the rules, in any file; they compile with each rule they name, through that
 * rule's logsource (docs/sigma.md#filters).
 */
import { isRecord } from '../../util/records.js';
import type { Diagnostic } from '../../errors.js';
import type { RuleCandidate } from '../collect.js';
import { ruleDiagnostic } from '../diagnostics.js';
import { readLogsource, describeLogsource } from './compile.js';
import type { SigmaLogsource } from './taxonomy-types.js';

/** A filter document: a `filter` mapping and no detection (which would make it a rule). */
export function isSigmaFilter(value: unknown): value is Record<string, unknown> {
  return isRecord(value) && isRecord(value.filter) && !('detection' in value) && !('correlation' in value);
}

/** A filter that passed its shape checks. */
export interface SigmaFilter {
  candidate: RuleCandidate;
  /** How messages name it: its title, else its id. */
  label: string;
  logsource: SigmaLogsource;
  /** The rules it names, as written. */
  rules: string[];
  /** Its search identifiers and condition, as a detection. */
  detection: Record<string, unknown>;
}

/** The names a Sigma rule candidate answers to in a filter's `rules`: its id, `name` and `title`. */
function namesOf(candidate: RuleCandidate): string[] {
  const v = candidate.value;
  return [v.id, v.name, v.title].filter((n): n is string => typeof n === 'string' && n.length > 0);
}

/** Whether the filter's logsource covers the rule's: each key the filter names has the rule's value. */
function covers(filter: SigmaLogsource, rule: SigmaLogsource): boolean {
  return (['product', 'category', 'service'] as const).every((k) => filter[k] === undefined || filter[k] === rule[k]);
}

/**
 * The filters of a load, checked, and indexed by the names of the rules they apply to. Shape problems and names
 * no Sigma rule of the load answers to are diagnostics of the filter's candidate (`diagnosticsOf`).
 */
export class SigmaFilters {
  private readonly byName = new Map<string, SigmaFilter[]>();
  private readonly problems = new Map<RuleCandidate, Diagnostic[]>();

  constructor(filters: readonly RuleCandidate[], rules: readonly RuleCandidate[]) {
    const known = new Set(rules.flatMap(namesOf));
    for (const candidate of filters) {
      const diagnostics: Diagnostic[] = [];
      this.problems.set(candidate, diagnostics);
      const filter = readFilter(candidate, diagnostics);
      if (filter === undefined) continue;
      filter.rules.forEach((name, i) => {
        if (!known.has(name)) {
          diagnostics.push(
            ruleDiagnostic(
              'sigma-filter-rule',
              { file: candidate.file, ...candidate.at(['filter', 'rules', i]), ...idOf(candidate) },
              `the filter ${filter.label} names ${JSON.stringify(name)}, which no Sigma rule of the load has as its id, name or title`,
            ),
          );
          return;
        }
        const list = this.byName.get(name) ?? [];
        if (!list.includes(filter)) list.push(filter);
        this.byName.set(name, list);
      });
    }
  }

  /** What checking a filter candidate found. */
  diagnosticsOf(candidate: RuleCandidate): Diagnostic[] {
    return this.problems.get(candidate) ?? [];
  }

  /**
   * The filters that apply to a rule, in load order. A filter naming the rule whose logsource does not cover the
   * rule's is reported (at the filter) and not applied.
   */
  forRule(candidate: RuleCandidate, logsource: SigmaLogsource, diagnostics: Diagnostic[]): SigmaFilter[] {
    const found: SigmaFilter[] = [];
    for (const name of namesOf(candidate))
      for (const filter of this.byName.get(name) ?? []) if (!found.includes(filter)) found.push(filter);
    return found.filter((filter) => {
      if (covers(filter.logsource, logsource)) return true;
      diagnostics.push(
        ruleDiagnostic(
          'sigma-filter-rule',
          { file: filter.candidate.file, ...filter.candidate.at(['logsource']), ...idOf(candidate) },
          `the filter ${filter.label} (logsource ${describeLogsource(filter.logsource)}) names the rule ${candidate.describePlace()} of logsource ${describeLogsource(logsource)}: not applied to it`,
        ),
      );
      return false;
    });
  }
}

function idOf(candidate: RuleCandidate): { ruleId?: string } {
  return candidate.id !== undefined ? { ruleId: candidate.id } : {};
}

function readFilter(candidate: RuleCandidate, diagnostics: Diagnostic[]): SigmaFilter | undefined {
  const v = candidate.value;
  const body = v.filter as Record<string, unknown>;
  // At the offending value, or at the filter when the key is missing.
  const shape = (path: (string | number)[], message: string): undefined => {
    const present = path[0] !== 'filter' || path.length < 2 || Object.hasOwn(body, path[1] as string);
    const at = candidate.at(present ? path : ['filter']);
    diagnostics.push(
      ruleDiagnostic('sigma-filter-shape', { file: candidate.file, ...at, ...idOf(candidate) }, message),
    );
    return undefined;
  };
  const label =
    typeof v.title === 'string' && v.title
      ? `'${v.title}'`
      : typeof v.id === 'string'
        ? v.id
        : candidate.describePlace();
  if (v.logsource !== undefined && !isRecord(v.logsource))
    return shape(['logsource'], '`logsource` is a mapping of product, category, service');
  const rules = body.rules;
  if (!Array.isArray(rules) || rules.length === 0)
    return shape(['filter', 'rules'], 'a Sigma filter names the rules it applies to: `rules:` a list of ids or titles');
  const bad = rules.findIndex((r) => typeof r !== 'string' || r.length === 0);
  if (bad >= 0) return shape(['filter', 'rules', bad], 'each of `rules` is a rule id, name or title (a string)');
  if (typeof body.condition !== 'string' || body.condition.trim() === '')
    return shape(['filter', 'condition'], 'a Sigma filter needs a `condition` (a string, such as `not selection`)');
  const identifiers = Object.keys(body).filter((key) => key !== 'rules' && key !== 'condition');
  if (identifiers.length === 0)
    return shape(['filter'], 'a Sigma filter needs at least one search identifier (a selection) beside `rules`');
  const detection: Record<string, unknown> = {};
  for (const key of identifiers) detection[key] = body[key];
  detection.condition = body.condition;
  return {
    candidate,
    label,
    logsource: isRecord(v.logsource) ? readLogsource(v.logsource) : {},
    rules: rules as string[],
    detection,
  };
}
