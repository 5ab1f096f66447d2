/** The streaming engine's options: what they mean, their defaults, and their validation. */
import { StixflowError } from '../errors.js';
import type { IndicatorSet } from '../rules/indicators.js';
import type { Rule } from '../rules/model.js';
import type { StateStore } from '../state/types.js';

export interface StreamingEngineOptions {
  rules: Rule[];
  /** Indicator feeds: single-observation indicators indexed by value, compiled on a hit. */
  indicators?: IndicatorSet;
  store: StateStore;
  /** How late (event time behind the group's newest event) an event may arrive and still correlate. */
  latenessSeconds?: number;
  /** Cap on partial matches kept per (rule, group); the oldest are evicted and counted. */
  maxPartialsPerGroup?: number;
  /** State TTL for rules with no WITHIN bound (seconds of wall-clock time). */
  unboundedTtlSeconds?: number;
  /** Wall clock, epoch milliseconds (injectable for tests). */
  now?: () => number;
  /** Conditional-write retries per key before the batch reports a failure. */
  maxConflictRetries?: number;
  /**
   * Alerts one event may raise for one correlation rule (number_observed can make it complete
   * many matches at once); further matches are counted on the last of them (additionalMatches).
   */
  maxAlertsPerEvent?: number;
  /**
   * How far (seconds) an event's time may be ahead of the wall clock (`now`) and still
   * correlate; an event further in the future is reported (`future-event`) and not applied,
   * so that it cannot move its group's watermark. Infinity turns the check off.
   */
  maxClockSkewSeconds?: number;
}

export const ENGINE_DEFAULTS = {
  latenessSeconds: 300,
  maxPartialsPerGroup: 100,
  unboundedTtlSeconds: 24 * 3600,
  maxConflictRetries: 10,
  maxAlertsPerEvent: 10,
  maxClockSkewSeconds: 300,
} as const;

type NumericOption = keyof typeof ENGINE_DEFAULTS;

/** What each numeric option must be: an integer or any finite number, its least value, and whether Infinity is allowed. */
const OPTION_RULES: Record<NumericOption, { integer: boolean; min: number; infinite?: boolean }> = {
  latenessSeconds: { integer: false, min: 0 },
  maxPartialsPerGroup: { integer: true, min: 1 },
  unboundedTtlSeconds: { integer: true, min: 1 },
  maxConflictRetries: { integer: true, min: 0 },
  maxAlertsPerEvent: { integer: true, min: 1 },
  maxClockSkewSeconds: { integer: false, min: 0, infinite: true },
};

/**
 * The numeric options with their defaults; throws one StixflowError (`invalid-engine-option`)
 * naming every bad option and why, so a misconfiguration fails at start, not on some event.
 */
export function resolveEngineOptions(options: Partial<Record<NumericOption, unknown>>): Record<NumericOption, number> {
  const problems: string[] = [];
  const resolved = { ...ENGINE_DEFAULTS } as Record<NumericOption, number>;
  for (const name of Object.keys(OPTION_RULES) as NumericOption[]) {
    const value = options[name];
    if (value === undefined) continue;
    const rule = OPTION_RULES[name];
    let why: string | undefined;
    if (typeof value !== 'number') why = `must be a number, got ${typeof value}`;
    else if (Number.isNaN(value)) why = 'must be a number, got NaN';
    else if (value === Infinity && rule.infinite) why = undefined;
    else if (!Number.isFinite(value)) why = `must be finite, got ${value}`;
    else if (rule.integer && !Number.isInteger(value)) why = `must be a whole number, got ${value}`;
    else if (value < rule.min) why = `must be at least ${rule.min}, got ${value}`;
    if (why) problems.push(`${name} ${why}`);
    else resolved[name] = value as number;
  }
  if (problems.length > 0)
    throw new StixflowError(
      'invalid-engine-option',
      `invalid engine option${problems.length > 1 ? 's' : ''}: ${problems.join('; ')}`,
    );
  return resolved;
}
