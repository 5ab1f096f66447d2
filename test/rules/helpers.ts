/** Shared fixtures for the rule tests: STIX events with controlled ids and times, rules from YAML text, a clock. */
import { loadRules } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/model.js';

/** A valid STIX id suffix, distinct per n. */
export function uuid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

export interface EventSpec {
  /** Distinguishes events: the observed-data id is derived from it. */
  n: number;
  /** Event time (first and last observed), a STIX timestamp. */
  time: string;
  process: Record<string, unknown>;
  /** hostname of an x-oca-asset object in the event, when given. */
  assetHostname?: string;
}

export function observedDataId(n: number): string {
  return `observed-data--${uuid(n)}`;
}

/** A STIX 2.1 bundle holding one observed-data and its SCOs (passed through by the normaliser as is). */
export function stixEvent(spec: EventSpec): Record<string, unknown> {
  const process = { type: 'process', spec_version: '2.1', id: `process--${uuid(spec.n)}`, ...spec.process };
  const objects: Record<string, unknown>[] = [process];
  if (spec.assetHostname !== undefined)
    objects.push({
      type: 'x-oca-asset',
      spec_version: '2.1',
      id: `x-oca-asset--${uuid(spec.n)}`,
      hostname: spec.assetHostname,
    });
  const od = {
    type: 'observed-data',
    spec_version: '2.1',
    id: observedDataId(spec.n),
    created: spec.time,
    modified: spec.time,
    first_observed: spec.time,
    last_observed: spec.time,
    number_observed: 1,
    object_refs: objects.map((o) => o.id),
  };
  return { type: 'bundle', id: `bundle--${uuid(spec.n)}`, objects: [od, ...objects] };
}

/** Loads rules from YAML text, failing loudly on any diagnostic. */
export function rulesFrom(yaml: string, file = 'test.yaml'): Rule[] {
  const loaded = loadRules([{ file, text: yaml }]);
  const problems = loaded.diagnostics.map((d) => `${d.severity} ${d.code} ${d.line}:${d.column} ${d.message}`);
  if (problems.length > 0) throw new Error(`unexpected diagnostics:\n${problems.join('\n')}`);
  return loaded.rules;
}

export class Clock {
  constructor(public ms: number) {}
  readonly now = (): number => this.ms;
  set(iso: string): void {
    this.ms = Date.parse(iso);
  }
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}
