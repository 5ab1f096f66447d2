/**
 * Rule loading, Falco-style, in stages that each have a module: read (files, YAML and JSON →
 * documents with positions, read.ts) → collect (documents → rule and indicator candidates, ids
 * checked across all of them, collect.ts) → compile (candidates → rules and indicator entries,
 * compile.ts) → index (here: rules in load order, indicators into the indicator set's value
 * index). Every problem is a typed diagnostic from the catalogue in diagnostics.ts, with file,
 * line and column; an invalid rule is reported and skipped, the valid ones still load.
 */
import type { Diagnostic } from '../errors.js';
import { collectDocuments, findDuplicateIds, type Collected, type RuleCandidate } from './collect.js';
import { ruleDiagnostic } from './diagnostics.js';
import { BlockLibrary } from './blocks.js';
import { applyExceptions, type AppliedException } from './exceptions.js';
import { compileCandidate, type CompileOptions } from './compile.js';
import { IndicatorSet } from './indicators.js';
import type { Rule } from './model.js';
import { readCompiledRules } from './precompiled.js';
import { readDocuments, readRuleSources, type RuleSource } from './read.js';
import { compileSigmaCorrelations, type SigmaBaseRule } from './sigma/correlation.js';
import { builtinSigmaTaxonomy } from './sigma/taxonomy.js';
import { SigmaFilters } from './sigma/filter.js';
import { SigmaPipelines } from './sigma/pipeline.js';

export { readRuleSources, type RuleSource } from './read.js';

export type LoadOptions = CompileOptions & {
  /** What time it is for shared exceptions' `expires` (epoch ms; default now). */
  now?: number;
};

export interface LoadResult {
  rules: Rule[];
  /** Single-observation STIX indicators, indexed by value (compiled on a hit). */
  indicators: IndicatorSet;
  /** Files that put indicators in `indicators`, with how many each (for listings such as GET /rules). */
  indicatorSources: { file: string; indicators: number }[];
  /** Shared exceptions in force, each with the rules it applies to (#14.5). */
  exceptions: AppliedException[];
  /**
   * Errors (the rule was skipped) and warnings (it loaded), by source in load order: each
   * source's reading and collecting problems, then its candidates', in file order.
   */
  diagnostics: Diagnostic[];
}

/**
 * Loads rules from in-memory sources. Ids are unique across all sources, rules and indicators
 * alike: the first definition takes an id, later ones are `duplicate-rule-id` errors.
 */
export function loadRules(sources: RuleSource[], options: LoadOptions = {}): LoadResult {
  const collected: Collected[] = sources.map((source) => collectDocuments(readDocuments(source)));
  const all = collected.flatMap((c) => c.candidates);
  const duplicates = findDuplicateIds(all);
  // Lists and macros of every source, before any rule compiles (#14.2).
  const blocks = new BlockLibrary(collected.flatMap((c) => c.definitions));

  const diagnostics: Diagnostic[] = [];
  const rules: Rule[] = [];
  const indicators = new IndicatorSet();
  const indicatorSources: LoadResult['indicatorSources'] = [];
  // Sigma correlations wait for every Sigma rule of every source, which they name by id or name.
  const correlations: RuleCandidate[] = [];
  const sigmaRules: SigmaBaseRule[] = [];
  // Sigma filters and pipelines apply to rules of any source, so they are read before any rule compiles.
  const sigmaFilters = new SigmaFilters(
    all.filter((c) => c.kind === 'sigma-filter'),
    all.filter((c) => c.kind === 'sigma'),
  );
  const sigmaPipelines = new SigmaPipelines(all.filter((c) => c.kind === 'sigma-pipeline'));
  const compileOptions: LoadOptions = { ...options, sigmaFilters, sigmaPipelines };
  let index = 0;
  collected.forEach((source, i) => {
    diagnostics.push(...source.diagnostics);
    for (const definition of source.definitions) diagnostics.push(...blocks.diagnosticsOf(definition));
    const indicatorsBefore = indicators.size;
    for (const candidate of source.candidates) {
      const duplicate = duplicates.get(index++);
      if (duplicate) {
        diagnostics.push(duplicate);
        continue;
      }
      if (candidate.kind === 'sigma-correlation') {
        correlations.push(candidate);
        continue;
      }
      if (candidate.kind === 'sigma-filter' || candidate.kind === 'sigma-pipeline') {
        diagnostics.push(
          ...(candidate.kind === 'sigma-filter' ? sigmaFilters : sigmaPipelines).diagnosticsOf(candidate),
        );
        continue;
      }
      const compiled = compileGuarded(candidate, diagnostics, compileOptions, blocks);
      if (compiled?.kind === 'rule') rules.push(compiled.rule);
      if (compiled?.kind === 'rule' && candidate.kind === 'sigma')
        sigmaRules.push({
          rule: compiled.rule,
          ...(typeof candidate.value.name === 'string' ? { name: candidate.value.name } : {}),
        });
      else if (compiled?.kind === 'indicator') indicators.addObservation(compiled.record, compiled.observation);
    }
    if (indicators.size > indicatorsBefore)
      indicatorSources.push({ file: (sources[i] as RuleSource).file, indicators: indicators.size - indicatorsBefore });
  });
  if (correlations.length > 0)
    rules.push(
      ...compileSigmaCorrelations(
        correlations,
        sigmaRules,
        all.filter((c) => c.kind === 'sigma'),
        diagnostics,
        { taxonomy: options.sigmaTaxonomy ?? builtinSigmaTaxonomy },
      ),
    );
  // Shared exceptions, once every rule is known (#14.5).
  const exceptions = applyExceptions(
    collected.flatMap((c) => c.exceptions),
    rules,
    blocks,
    options.now ?? Date.now(),
    diagnostics,
  );
  return { rules, indicators, indicatorSources, exceptions, diagnostics };
}

/**
 * Compiles one candidate; an exception the compiler did not expect (a bug, or a taxonomy that
 * throws) is that rule's `rule-compile-failed` error, so the other rules still load.
 */
function compileGuarded(
  candidate: RuleCandidate,
  diagnostics: Diagnostic[],
  options: LoadOptions,
  blocks: BlockLibrary,
) {
  try {
    return compileCandidate(candidate, diagnostics, options, blocks);
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    diagnostics.push(
      ruleDiagnostic(
        'rule-compile-failed',
        { file: candidate.file, ...candidate.position, ...(candidate.id ? { ruleId: candidate.id } : {}) },
        `the rule could not be compiled (${reason.slice(0, 300)}); it is skipped`,
      ),
    );
    return undefined;
  }
}

/**
 * Reads the rule files and directories at `paths` and loads them; problems reading a path come
 * first. One directory with a current precompiled form (./precompiled.ts) loads from that.
 */
export function loadRulesFromPaths(paths: string[], options: LoadOptions = {}): LoadResult {
  const { sources, diagnostics } = readRuleSources(paths);
  const precompiled =
    paths.length === 1
      ? readCompiledRules(paths[0] as string, sources, options, (files) => loadRules(files, options).indicators)
      : ({ kind: 'none' } as const);
  if (precompiled.kind === 'current')
    return { ...precompiled.result, diagnostics: [...diagnostics, ...precompiled.result.diagnostics] };
  const loaded = loadRules(sources, options);
  const stale = precompiled.kind === 'stale' ? [precompiled.diagnostic] : [];
  return { ...loaded, diagnostics: [...diagnostics, ...stale, ...loaded.diagnostics] };
}
