/**
 * The one interface through which a kind of rule plugs into the streaming engine. Today there
 * are two kinds: STIX pattern rules (src/engine/pattern-kind.ts; stateless when every binding
 * has a single observation, otherwise correlated over a group's buffered events) and indicator
 * sets (src/engine/indicator-kind.ts; stateless, matched through their own value index). The
 * aggregation and Sigma kinds add a module of their own beside these and nothing else: the
 * matcher, the state repository, the alert gate and the coordinator work on these types only.
 *
 * A kind says
 *   - how it compiles: `RuleKind.compile` turns its source (rules, an indicator set) into a
 *     `CompiledKind`, throwing a StixflowError for what the engine cannot run;
 *   - which observations an event satisfies: `CompiledKind.match` calls back once per rule the
 *     event satisfies, with a bit mask of the rule's observation expressions (no I/O: an index
 *     lookup and an evaluation);
 *   - what state it keeps and how it is encoded: a stateful rule has a `Correlation`, whose
 *     `codec` names the stored format, and whose `correlate` is a pure function from (state,
 *     hits, clock) to the next state and what it raised. A stateless rule has `matchesAlone`.
 */
import type { Diagnostic } from '../errors.js';
import type { PreparedObservation } from '../pattern/observation.js';
import type { Rule } from '../rules/model.js';
import type { StateKey } from '../state/types.js';
import type { Alert } from './alert.js';

/** An event as the engine takes it: one observed-data with its SCOs. */
export interface EventInput {
  observation: PreparedObservation;
  /** Objects of the event, for alert documents (the SCOs). */
  objects?: Record<string, unknown>[];
  sourceEventId?: string;
  tenant?: string;
}

/** Wall clock, epoch milliseconds. */
export type Clock = () => number;

/** How a kind's state is stored: an explicit format number, read back from this and earlier formats. */
export interface StateCodec<S> {
  /** The format `encode` writes. */
  readonly format: number;
  empty(): S;
  encode(state: S): string;
  /** Reads any format up to `format`; throws StateCorruptError (never retryable) for anything else. */
  decode(text: string): S;
  /**
   * Whether the state's meaning depends on the rule's fingerprints (a pattern state's buffered
   * events carry masks of its observation expressions). A state that does not is stored without
   * them or their digests (the group item's largest part that does not deflate); read back, it
   * has none, which reconciles exactly as the rule's own. Absent: always.
   */
  fingerprinted?(state: S): boolean;
}

/** One event that satisfied some observation expression of a rule. */
export interface Hit {
  input: EventInput;
  /** Position of the event in its batch, for diagnostics. */
  eventIndex: number;
  /** Bit i set: the event satisfies the rule's observation expression i. */
  observations: number;
}

export interface LateEvent {
  eventIndex: number;
  ruleId: string;
  groupKey: string;
  observedDataId: string;
  lagSeconds: number;
}

/** What correlating one group's hits yields; it takes effect only once the state is committed. */
export interface Correlated<S> {
  state: S;
  /** Alerts raised now (also held in the state's outbox until acknowledged). */
  alerts: Alert[];
  late: LateEvent[];
  /** Partial matches dropped (per-group cap, or a rule edit that makes them meaningless). */
  evicted: number;
  /** Hits already taken by this state (redeliveries). */
  duplicates: number;
  /** Search failures and future events, each with its event and rule. */
  diagnostics: Diagnostic[];
  /** The hits the state took (not duplicates, late or future events). */
  taken: Hit[];
  /** Whether the state must be written. */
  changed: boolean;
}

/** Makes a state smaller, one step at a time, when it outgrows its item. */
export interface StateFit {
  /** One step smaller (in place); false when nothing is left to shed. */
  shrink(): boolean;
  /** Partial matches shed so far, and a description of everything shed, for a diagnostic. */
  readonly evicted: number;
  describe(): string[];
}

/** The state a stateful rule keeps per (tenant, rule, group), and how hits change it. */
export interface Correlation<S> {
  readonly codec: StateCodec<S>;
  /**
   * Pure: the same state, hits, clock and key always give the same result. May change `state`
   * in place. `key` names the group (its tenant and group key go into alert ids).
   */
  correlate(state: S, hits: Hit[], clock: Clock, key: StateKey): Correlated<S>;
  /** Epoch seconds after which the stored state may be forgotten. */
  expiresAt(state: S, clock: Clock): number;
  /** Alerts committed in the state and not yet acknowledged as delivered. */
  outbox(state: S): Alert[];
  /** Removes acknowledged alerts (in place); false when none of them was there. */
  acknowledge(state: S, ids: ReadonlySet<string>): boolean;
  /** How to shed state to fit an item, without losing a committed alert. */
  fit(state: S): StateFit;
}

/** A rule as the engine runs it. */
export interface CompiledRule<S = unknown> {
  readonly rule: Rule;
  /** The kind's name, e.g. `stix-pattern`, `indicator`. */
  readonly kind: string;
  /** The group an event belongs to ('' when the rule does not group). */
  groupKey(observation: PreparedObservation): string;
  /**
   * Why the rule does not take an event it satisfies: out of its scope or validity, or muted
   * by a filter (counted as filtered). Undefined: it takes it.
   */
  excluded(input: EventInput, tenant: string, nowMs: number): 'filtered' | 'out-of-scope' | undefined;
  /** Present for stateful rules: hits go to their group's state. */
  readonly correlation?: Correlation<S>;
  /** For stateless rules: whether one hit is a match on its own (qualifiers on a single observation). */
  matchesAlone?(input: EventInput, observations: number): boolean;
}

/** A kind's rules, compiled for one engine. */
export interface CompiledKind {
  /** The rules known up front (an indicator set compiles its rules on a hit: none here). */
  readonly rules: readonly CompiledRule[];
  /**
   * Calls `hit` once per rule the event satisfies, with the observation expressions it
   * satisfies, and `fail` for a rule whose evaluation threw on it. No I/O.
   */
  match(
    observation: PreparedObservation,
    hit: (rule: CompiledRule, observations: number) => void,
    fail: (ruleId: string, error: unknown) => void,
  ): void;
}

/** Engine options a kind may use when it compiles (windows, caps). */
export interface KindOptions {
  /** How late (µs of event time behind a group's newest event) an event may still correlate. */
  latenessMicros: number;
  maxPartialsPerGroup: number;
  unboundedTtlSeconds: number;
  maxAlertsPerEvent: number;
  /** Allowed clock skew into the future, µs (Infinity: no check). */
  clockSkewMicros: number;
}

export interface RuleKind<Source> {
  readonly name: string;
  compile(source: Source, options: KindOptions): CompiledKind;
}
