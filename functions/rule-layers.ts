/**
 * The rules a function runs, in two layers (#17): the rules shipped with the bundle (the base
 * layer, read once per container) and the rules of the runtime store (src/state/rule-store.ts)
 * on top. Both go through the one rule loader (src/rules/load.ts), so a store rule is judged
 * exactly as `stixflow validate` judges a file: same diagnostics, same positions.
 *
 * A store rule with the id of a bundle rule replaces it: store sources load first, so the store
 * definition takes the id, and the bundle's then-duplicate definition is dropped with its
 * `duplicate-rule-id` diagnostic.
 */
import type { Diagnostic } from '../src/errors.js';
import { collectDocuments } from '../src/rules/collect.js';
import { loadRules, type LoadResult } from '../src/rules/load.js';
import { readDocuments, readRuleSources, type RuleSource } from '../src/rules/read.js';
import type { Rule } from '../src/rules/model.js';
import type { RuleStore, StoredRule } from '../src/state/rule-store.js';

/** Store rules are named `store/<id>.yaml` in diagnostics and rule sources. */
export const STORE_FILE_PREFIX = 'store/';

export function storeFileOf(ruleId: string): string {
  return `${STORE_FILE_PREFIX}${encodeURIComponent(ruleId)}.yaml`;
}

export function isStoreFile(file: string | undefined): boolean {
  return file?.startsWith(STORE_FILE_PREFIX) === true;
}

export interface LayeredRules extends LoadResult {
  /** Where each loaded rule comes from. */
  origins: ReadonlyMap<string, 'bundle' | 'store'>;
}

export interface SourceCheck {
  /** The ids the source defines (a store rule must define exactly one). */
  ids: string[];
  /** Everything the loader said about the source, positions inside it. */
  diagnostics: Diagnostic[];
  valid: boolean;
  /** The source's rules as compiled in that context (none when it does not compile), for running their tests. */
  rules: Rule[];
  /** Every rule loaded beside it, for the tests of a risk rule (which run the rules carrying a risk). */
  context: Rule[];
}

export class RuleLayers {
  readonly bundle: RuleSource[];
  readonly bundleReadDiagnostics: Diagnostic[];

  constructor(rulesDir: string) {
    const { sources, diagnostics } = readRuleSources([rulesDir]);
    this.bundle = sources;
    this.bundleReadDiagnostics = diagnostics;
  }

  /** The bundle with the store on top. */
  load(store: readonly StoredRule[], now?: number): LayeredRules {
    const result = this.loadWith(
      store.map((r) => ({ file: storeFileOf(r.id), text: r.source })),
      now,
    );
    return { ...result, diagnostics: [...this.bundleReadDiagnostics, ...result.diagnostics] };
  }

  /**
   * Checks a source as the store would load it: beside the other store rules (`others`, without
   * the one it replaces) and the bundle, so duplicate ids, lists and macros are judged in context.
   */
  check(source: string, file: string, others: readonly StoredRule[], now?: number): SourceCheck {
    const ids = collectDocuments(readDocuments({ file, text: source }))
      .candidates.map((c) => c.id)
      .filter((id): id is string => id !== undefined);
    const result = this.loadWith(
      [{ file, text: source }, ...others.map((r) => ({ file: storeFileOf(r.id), text: r.source }))],
      now,
    );
    const diagnostics = result.diagnostics.filter((d) => d.file === file);
    return {
      ids,
      diagnostics,
      valid: !diagnostics.some((d) => d.severity === 'error'),
      rules: result.rules.filter((r) => r.source?.file === file),
      context: result.rules,
    };
  }

  private loadWith(storeSources: RuleSource[], now: number | undefined): LayeredRules {
    const storeFiles = new Set(storeSources.map((s) => s.file));
    const result = loadRules([...storeSources, ...this.bundle], now !== undefined ? { now } : {});
    const fromStore = new Set(
      result.diagnostics.filter((d) => storeFiles.has(d.file ?? '') && d.ruleId).map((d) => d.ruleId as string),
    );
    const origins = new Map<string, 'bundle' | 'store'>();
    for (const rule of result.rules) {
      const store = storeFiles.has(rule.source?.file ?? '');
      origins.set(rule.id, store ? 'store' : 'bundle');
      if (store) fromStore.add(rule.id);
    }
    // A bundle rule the store replaces: its definition lost the id to the store's, as intended.
    const diagnostics = result.diagnostics.filter(
      (d) => !(d.code === 'duplicate-rule-id' && !storeFiles.has(d.file ?? '') && fromStore.has(d.ruleId ?? '')),
    );
    return { ...result, diagnostics, origins };
  }
}

/** What a rule is, for listings: its aggregation kind, Sigma, or a plain pattern. */
export function ruleKind(rule: Rule): string {
  if (rule.aggregation) return rule.aggregation.kind;
  return rule.sigma ? 'sigma' : 'pattern';
}

/** A rule's own outputs (`outputs:`) by rule id: a Map of them, or LayeredRuleOutputs. */
export interface RuleOutputs {
  get(ruleId: string): readonly string[] | undefined;
  /** Brings the outputs up to date for alerts of these rules, before they are routed. */
  refresh?(ruleIds: readonly string[]): Promise<void>;
}

export interface LayeredRuleOutputsOptions {
  /** How often the store version is read (RULE_STORE_REFRESH_SECONDS, as ingest reads it). */
  refreshSeconds: number;
  now?: () => number;
  /** A store read failed: the outputs in force stay. */
  onReadError?: (error: unknown) => void;
}

/**
 * The per-rule outputs the outputs function routes by, from the same two layers as the rules that
 * raised the alerts: the bundle's, with the runtime store's on top (a store rule's `outputs:`, and
 * a store rule that replaces a bundle rule replaces its outputs too). Like the ingest functions it
 * reads the store's version at most once per refresh interval and the rules only when it moved;
 * an alert of a rule it does not know (one created since) makes it read the version at once, so a
 * new store rule's first alert already goes to its outputs. A change of an existing rule's outputs
 * applies within the refresh interval.
 */
export class LayeredRuleOutputs implements RuleOutputs {
  private outputs: Map<string, readonly string[]>;
  /** Rule ids alerts named that the store did not have at the version read last: not re-read for. */
  private readonly absent = new Set<string>();
  private loadedVersion = -1;
  private lastCheck = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  constructor(
    private readonly layers: RuleLayers,
    private readonly store: Pick<RuleStore, 'storeVersion' | 'list'>,
    private readonly options: LayeredRuleOutputsOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.outputs = outputsOf(layers.load([], this.now()).rules);
  }

  get(ruleId: string): readonly string[] | undefined {
    return this.outputs.get(ruleId);
  }

  async refresh(ruleIds: readonly string[]): Promise<void> {
    const unknown = ruleIds.some((id) => !this.outputs.has(id) && !this.absent.has(id));
    const due = this.now() - this.lastCheck >= this.options.refreshSeconds * 1000;
    if (!unknown && !due) return;
    this.lastCheck = this.now();
    try {
      const version = await this.store.storeVersion();
      if (version !== this.loadedVersion) {
        const stored = version === 0 ? [] : await this.store.list();
        this.outputs = outputsOf(this.layers.load(stored, this.now()).rules);
        this.absent.clear();
        this.loadedVersion = version;
      }
    } catch (error) {
      this.options.onReadError?.(error);
    }
    for (const id of ruleIds) if (!this.outputs.has(id)) this.absent.add(id);
  }
}

function outputsOf(rules: readonly Rule[]): Map<string, readonly string[]> {
  return new Map(rules.map((r) => [r.id, r.outputs ?? []]));
}
