/**
 * Sigma processing pipelines per rule directory: a `sigma-pipeline.yml` (or `.yaml`) in a rules directory applies
 * to the Sigma rules of that directory and the directories below it (outer directories' pipelines first). It is
 * a documented subset of pySigma's processing pipelines (docs/sigma.md#processing-pipelines):
 *
 * - `field_name_mapping` (`mapping: { RuleField: TaxonomyField | [several] | 'x-oca-event:<path>' }`),
 * - `field_name_prefix` (`prefix`), prepended to every field name before the taxonomy reads it,
 * - `replace_string` (`regex`, `replacement`, optional `fields`), on string values as written,
 * - `add_condition` (`conditions: { field: value }`, optional `negated`), ANDed into the detection,
 * - `value_placeholders`, which gives `|expand` placeholders the pipeline's `vars`,
 *
 * each optionally limited by `rule_conditions` of type `logsource` (`rule_cond_op: and | or`). Any other
 * transformation or condition type is `sigma-pipeline-transformation`; a malformed file `sigma-pipeline-shape`.
 */
import { dirname, sep } from 'node:path';
import { isRecord } from '../../util/records.js';
import type { Diagnostic } from '../../errors.js';
import { parseObjectPath } from '../../pattern/object-path.js';
import type { RuleCandidate } from '../collect.js';
import { ruleDiagnostic, type RuleLoadCode } from '../diagnostics.js';
import type { ValuePath } from '../read.js';
import { readLogsource } from './compile.js';
import type { ExtraDetection, SigmaPlaceholders, ValueRewrite } from './detection.js';
import type { FieldBinding, SigmaLogsource, SigmaTaxonomy } from './taxonomy-types.js';

/** The file name that makes a YAML file a pipeline of its directory. */
const PIPELINE_FILE = /(^|[\\/])sigma-pipeline\.ya?ml$/i;

export function isSigmaPipelineFile(file: string): boolean {
  return PIPELINE_FILE.test(file);
}

/** The transformation types this subset runs. */
export const PIPELINE_TRANSFORMATIONS = [
  'field_name_mapping',
  'field_name_prefix',
  'replace_string',
  'add_condition',
  'value_placeholders',
] as const;
type StepType = (typeof PIPELINE_TRANSFORMATIONS)[number];

interface Step {
  type: StepType;
  /** Where the transformation is in the pipeline's document. */
  path: ValuePath;
  /** Logsource conditions, any (`or`) or all (`and`) of which the rule's logsource must meet. */
  when?: { logsources: SigmaLogsource[]; any: boolean };
  mapping?: Readonly<Record<string, readonly string[]>>;
  prefix?: string;
  regex?: RegExp;
  replacement?: string;
  fields?: readonly string[];
  conditions?: Record<string, unknown>;
  negated?: boolean;
}

export interface SigmaPipeline {
  candidate: RuleCandidate;
  /** The directory whose rules (and those below it) it applies to. */
  directory: string;
  steps: Step[];
  vars: SigmaPlaceholders;
}

/** What the pipelines of a rule's directory do to a rule of one logsource. */
export interface AppliedPipelines {
  /** The taxonomy with the field renames and prefixes in front. */
  taxonomy: SigmaTaxonomy;
  placeholders: SigmaPlaceholders;
  rewrite?: ValueRewrite;
  /** `add_condition` detections, each with the pipeline it is from (its problems are reported there). */
  extras: { pipeline: SigmaPipeline; extra: ExtraDetection }[];
  /** The pipelines' files, for the rule's metadata. */
  files: string[];
}

/** A field name mapping's target: a taxonomy field name, or an object path rooted at x-oca-event. */
function isObjectPath(target: string): boolean {
  return target.startsWith('x-oca-event:');
}

function matchesLogsource(condition: SigmaLogsource, logsource: SigmaLogsource): boolean {
  return (['product', 'category', 'service'] as const).every(
    (k) => condition[k] === undefined || condition[k] === logsource[k],
  );
}

function applies(step: Step, logsource: SigmaLogsource): boolean {
  if (step.when === undefined) return true;
  const results = step.when.logsources.map((c) => matchesLogsource(c, logsource));
  return step.when.any ? results.some(Boolean) : results.every(Boolean);
}

/** The pipelines of a load, checked, by directory. */
export class SigmaPipelines {
  private readonly pipelines: SigmaPipeline[] = [];
  /** Pipelines with errors: the rules of their directories are not run. */
  private readonly broken: RuleCandidate[] = [];
  private readonly problems = new Map<RuleCandidate, Diagnostic[]>();

  constructor(candidates: readonly RuleCandidate[]) {
    for (const candidate of candidates) {
      const diagnostics: Diagnostic[] = [];
      this.problems.set(candidate, diagnostics);
      const pipeline = readPipeline(candidate, diagnostics);
      if (pipeline !== undefined) this.pipelines.push(pipeline);
      else this.broken.push(candidate);
    }
    // Outer directories first: a deeper pipeline transforms what the outer one left.
    this.pipelines.sort((a, b) => a.directory.length - b.directory.length);
  }

  get size(): number {
    return this.pipelines.length + this.broken.length;
  }

  /** The pipeline with errors that covers the file, if any (its rule is then not run). */
  brokenFor(file: string): RuleCandidate | undefined {
    return this.broken.find((c) => holds(dirname(c.file), file));
  }

  diagnosticsOf(candidate: RuleCandidate): Diagnostic[] {
    return this.problems.get(candidate) ?? [];
  }

  /** The pipelines whose directory holds the file (directly or below), outermost first. */
  forFile(file: string): SigmaPipeline[] {
    return this.pipelines.filter((p) => holds(p.directory, file));
  }
}

/** Whether a file is in the directory or below it. */
function holds(directory: string, file: string): boolean {
  const own = dirname(file);
  return own === directory || own.startsWith(directory.endsWith(sep) ? directory : directory + sep);
}

/** The pipelines' effect on a rule of `logsource`, over the load's taxonomy and placeholders. */
export function applyPipelines(
  pipelines: readonly SigmaPipeline[],
  logsource: SigmaLogsource,
  base: SigmaTaxonomy,
  placeholders: SigmaPlaceholders,
): AppliedPipelines {
  const renames: Step[] = [];
  const rewrites: Step[] = [];
  const extras: AppliedPipelines['extras'] = [];
  let vars: Record<string, readonly string[]> = { ...placeholders };
  for (const pipeline of pipelines)
    for (const step of pipeline.steps) {
      if (!applies(step, logsource)) continue;
      if (step.type === 'field_name_mapping' || step.type === 'field_name_prefix') renames.push(step);
      else if (step.type === 'replace_string') rewrites.push(step);
      else if (step.type === 'value_placeholders') vars = { ...vars, ...pipeline.vars };
      else if (step.type === 'add_condition') {
        const selection = step.negated === true ? 'not conditions' : 'conditions';
        extras.push({
          pipeline,
          extra: {
            detection: { conditions: step.conditions, condition: selection },
            path: step.path,
            problems: [],
          },
        });
      }
    }
  const taxonomy: SigmaTaxonomy =
    renames.length === 0
      ? base
      : {
          field: (source, name) => renamedField(renames, base, source, name),
          condition: (source) => base.condition(source),
          supports: (source) => base.supports(source),
          ...(base.declares ? { declares: (source: SigmaLogsource) => base.declares?.(source) === true } : {}),
          ...(base.keywords ? { keywords: (source: SigmaLogsource) => base.keywords?.(source) } : {}),
        };
  const rewrite: ValueRewrite | undefined =
    rewrites.length === 0
      ? undefined
      : (field, text) =>
          rewrites.reduce(
            (value, step) =>
              step.fields === undefined || step.fields.includes(field)
                ? value.replace(step.regex as RegExp, step.replacement as string)
                : value,
            text,
          );
  return {
    taxonomy,
    placeholders: vars,
    ...(rewrite ? { rewrite } : {}),
    extras,
    files: [...new Set(pipelines.map((p) => p.candidate.file))],
  };
}

/** A rule's field through the renames and prefixes in order, then the taxonomy (or an object path as given). */
function renamedField(
  steps: readonly Step[],
  base: SigmaTaxonomy,
  logsource: SigmaLogsource,
  name: string,
): FieldBinding | undefined {
  let names = [name];
  for (const step of steps) {
    if (step.type === 'field_name_prefix') names = names.map((n) => (isObjectPath(n) ? n : `${step.prefix ?? ''}${n}`));
    else {
      const mapping = step.mapping ?? {};
      names = names.flatMap((n) => (Object.hasOwn(mapping, n) ? [...(mapping[n] as string[])] : [n]));
    }
  }
  const paths: string[] = [];
  let type: FieldBinding['type'] | undefined;
  let mapped = true;
  for (const target of names) {
    const binding = isObjectPath(target)
      ? ({ paths: [target], type: 'string', mapped: true } as const)
      : base.field(logsource, target);
    if (binding === undefined) return undefined;
    if (type !== undefined && binding.type !== type) return undefined;
    type = binding.type;
    mapped &&= binding.mapped;
    for (const path of binding.paths) if (!paths.includes(path)) paths.push(path);
  }
  return type === undefined ? undefined : { paths, type, mapped };
}

function readPipeline(candidate: RuleCandidate, diagnostics: Diagnostic[]): SigmaPipeline | undefined {
  const report = (code: RuleLoadCode, path: ValuePath, message: string): undefined => {
    diagnostics.push(ruleDiagnostic(code, { file: candidate.file, ...candidate.at(path) }, message));
    return undefined;
  };
  const v = candidate.value;
  if (!Array.isArray(v.transformations))
    return report('sigma-pipeline-shape', ['transformations'], 'a Sigma pipeline has `transformations:`, a list');
  let vars: Record<string, string[]> = {};
  if (v.vars !== undefined) {
    if (!isRecord(v.vars)) return report('sigma-pipeline-shape', ['vars'], '`vars` maps placeholder names to values');
    vars = {};
    for (const [name, value] of Object.entries(v.vars)) {
      const list = Array.isArray(value) ? value : [value];
      if (!list.every((x) => typeof x === 'string' || typeof x === 'number'))
        return report('sigma-pipeline-shape', ['vars', name], `\`vars.${name}\` is a value or a list of values`);
      vars[name] = list.map(String);
    }
  }
  const steps: Step[] = [];
  let failed = false;
  v.transformations.forEach((item, i) => {
    const step = readStep(item, ['transformations', i], report);
    if (step === undefined) failed = true;
    else steps.push(step);
  });
  // A pipeline with a bad transformation is not applied at all: half a pipeline would compile rules differently.
  if (failed) return undefined;
  return { candidate, directory: dirname(candidate.file), steps, vars };
}

type Report = (code: RuleLoadCode, path: ValuePath, message: string) => undefined;

function readStep(item: unknown, path: ValuePath, report: Report): Step | undefined {
  if (!isRecord(item)) return report('sigma-pipeline-shape', path, 'a transformation is a mapping with a `type`');
  const type = item.type;
  if (typeof type !== 'string' || !(PIPELINE_TRANSFORMATIONS as readonly string[]).includes(type))
    return report(
      'sigma-pipeline-transformation',
      [...path, 'type'],
      `transformation type ${JSON.stringify(type)} is not one stixflow runs (${PIPELINE_TRANSFORMATIONS.join(', ')})`,
    );
  for (const key of ['field_name_conditions', 'detection_item_conditions'])
    if (key in item)
      return report(
        'sigma-pipeline-transformation',
        [...path, key],
        `\`${key}\` is not supported: only rule_conditions of type logsource`,
      );
  const step: Step = { type: type as StepType, path };
  if (item.rule_conditions !== undefined) {
    const list = item.rule_conditions;
    if (!Array.isArray(list)) return report('sigma-pipeline-shape', [...path, 'rule_conditions'], 'a list');
    const logsources: SigmaLogsource[] = [];
    for (let i = 0; i < list.length; i++) {
      const c = list[i] as unknown;
      if (!isRecord(c) || c.type !== 'logsource')
        return report(
          'sigma-pipeline-transformation',
          [...path, 'rule_conditions', i],
          'only rule conditions of `type: logsource` (product, category, service) are supported',
        );
      logsources.push(readLogsource(c));
    }
    const op = item.rule_cond_op ?? 'and';
    if (op !== 'and' && op !== 'or') return report('sigma-pipeline-shape', [...path, 'rule_cond_op'], 'and or or');
    step.when = { logsources, any: op === 'or' };
  }
  switch (step.type) {
    case 'field_name_mapping': {
      if (!isRecord(item.mapping))
        return report('sigma-pipeline-shape', [...path, 'mapping'], '`mapping` maps rule fields to field names');
      const mapping: Record<string, string[]> = {};
      for (const [from, to] of Object.entries(item.mapping)) {
        const targets = Array.isArray(to) ? to : [to];
        if (targets.length === 0 || !targets.every((t) => typeof t === 'string' && t.length > 0))
          return report('sigma-pipeline-shape', [...path, 'mapping', from], 'a field name or a list of them');
        for (const target of targets as string[])
          if (isObjectPath(target) && typeof parseObjectPath(target) === 'string')
            return report(
              'sigma-pipeline-shape',
              [...path, 'mapping', from],
              `${JSON.stringify(target)} is no object path: ${parseObjectPath(target) as string}`,
            );
        mapping[from] = targets as string[];
      }
      step.mapping = mapping;
      return step;
    }
    case 'field_name_prefix':
      if (typeof item.prefix !== 'string' || item.prefix === '')
        return report('sigma-pipeline-shape', [...path, 'prefix'], '`prefix` is a string');
      step.prefix = item.prefix;
      return step;
    case 'replace_string': {
      if (typeof item.regex !== 'string' || typeof item.replacement !== 'string')
        return report('sigma-pipeline-shape', path, '`replace_string` takes `regex` and `replacement` (strings)');
      try {
        step.regex = new RegExp(item.regex, 'g');
      } catch (error) {
        return report('sigma-pipeline-shape', [...path, 'regex'], `invalid regex: ${(error as Error).message}`);
      }
      // pySigma writes groups as \1; JavaScript's replace reads $1.
      step.replacement = item.replacement.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1');
      if (item.fields !== undefined) {
        const fields = Array.isArray(item.fields) ? item.fields : [item.fields];
        if (!fields.every((f) => typeof f === 'string'))
          return report('sigma-pipeline-shape', [...path, 'fields'], '`fields` is a list of field names');
        step.fields = fields as string[];
      }
      return step;
    }
    case 'add_condition':
      if (!isRecord(item.conditions) || Object.keys(item.conditions).length === 0)
        return report('sigma-pipeline-shape', [...path, 'conditions'], '`conditions` maps fields to values');
      step.conditions = item.conditions;
      if (item.negated !== undefined && typeof item.negated !== 'boolean')
        return report('sigma-pipeline-shape', [...path, 'negated'], '`negated` is true or false');
      if (item.negated === true) step.negated = true;
      return step;
    case 'value_placeholders':
      return step;
  }
}
