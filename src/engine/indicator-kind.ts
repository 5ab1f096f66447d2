/**
 * The indicator kind: single-observation indicators from feeds, indexed by value in their own
 * set (src/rules/indicators.ts) and compiled to a rule on their first hit. Stateless: each hit
 * alerts on its own, in group ''. Only a rule's tenant scope applies (its validity is checked
 * by the set, by event time; indicators carry no filters).
 */
import type { PreparedObservation } from '../pattern/observation.js';
import type { IndicatorSet } from '../rules/indicators.js';
import type { Rule } from '../rules/model.js';
import type { CompiledKind, CompiledRule, RuleKind } from './rule-kind.js';

/** Diagnostics of a failing indicator lookup name this in place of a rule id. */
export const INDICATORS_RULE_ID = 'indicators';

export class CompiledIndicators implements CompiledKind {
  readonly rules: readonly CompiledRule[] = [];
  private readonly compiled = new WeakMap<Rule, CompiledRule>();

  constructor(private readonly set: IndicatorSet) {}

  match(
    observation: PreparedObservation,
    hit: (rule: CompiledRule, observations: number) => void,
    fail: (ruleId: string, error: unknown) => void,
  ): void {
    try {
      this.set.match(observation, (rule) => hit(this.compile(rule), 1));
    } catch (error) {
      fail(INDICATORS_RULE_ID, error);
    }
  }

  private compile(rule: Rule): CompiledRule {
    let compiled = this.compiled.get(rule);
    if (compiled === undefined) {
      const tenants = rule.scope?.tenants;
      compiled = {
        rule,
        kind: 'indicator',
        groupKey: () => '',
        excluded: (_input, tenant) => (tenants && !tenants.includes(tenant) ? 'out-of-scope' : undefined),
        matchesAlone: () => true,
      };
      this.compiled.set(rule, compiled);
    }
    return compiled;
  }
}

export const indicatorKind: RuleKind<IndicatorSet> = {
  name: 'indicator',
  compile: (set) => new CompiledIndicators(set),
};
