/**
 * The batch matcher: finds a binding of observed-data to the observation expressions of a
 * pattern, with the reference semantics (STIX 2.1, 9.6–9.7):
 * - an observed-data stands for `number_observed` instances; a binding may use one
 *   observed-data as many times as it has instances, never more;
 * - AND binds its sides to different instances; OR binds one side;
 * - FOLLOWEDBY: the latest first_observed on the left ≤ the earliest last_observed on the right;
 * - WITHIN n: max(first_observed) − min(last_observed) ≤ n over the bound observations;
 * - START/STOP: every bound observation overlaps [start, stop);
 * - REPEATS n: n bindings of the inner expression, jointly within the instance counts.
 * Bindings are enumerated lazily, depth first, in the reference's order (left before right,
 * input order within a side), so the first binding found is the reference's first binding.
 * A step budget turns a combinatorial explosion into a typed error instead of a hung worker.
 */
import { MatchError } from '../errors.js';
import type { PreparedObservation } from './observation.js';

/** A binding: for each bound observation expression (leaf index), the observed-data index. */
export interface Binding {
  leaves: number[];
  observations: number[];
}

export type BindingNode =
  | { kind: 'leaf'; leaf: number }
  | { kind: 'and' | 'or' | 'followedBy'; left: BindingNode; right: BindingNode }
  | { kind: 'within'; micros: number; expression: BindingNode }
  | { kind: 'startStop'; start: number; stop: number; expression: BindingNode }
  | { kind: 'repeats'; times: number; expression: BindingNode };

export interface SearchContext {
  observations: PreparedObservation[];
  /** For each leaf, the indices (ascending) of the observed-data it matches. */
  leafMatches: number[][];
  budget: { remaining: number };
  /**
   * When set, only bindings that use this observed-data are wanted: the streaming engine's
   * newly arrived event, as the events before it had no binding among themselves. The
   * bindings found are those of the full search that use it, in the same order.
   */
  required?: number;
}

function spend(ctx: SearchContext): void {
  if (--ctx.budget.remaining < 0) {
    throw new MatchError(
      'match-budget-exceeded',
      'the pattern needs too many combinations of this data to decide (match budget exceeded)',
      [
        {
          severity: 'error',
          code: 'match-budget-exceeded',
          message: 'too many combinations to evaluate: narrow the pattern or the data',
        },
      ],
    );
  }
}

/** Can the two bindings be joined without using any observed-data more often than its instances? */
function fitsTogether(a: Binding, b: Binding, observations: PreparedObservation[]): boolean {
  const left = a.observations;
  const right = b.observations;
  const total = left.length + right.length;
  for (let i = 0; i < total; i++) {
    const o = observationAt(left, right, i);
    let uses = 0;
    let counted = false;
    for (let j = 0; j < total; j++) {
      if (observationAt(left, right, j) !== o) continue;
      if (j < i) {
        counted = true; // this observed-data was checked at its first occurrence
        break;
      }
      uses++;
    }
    if (!counted && uses > (observations[o] as PreparedObservation).numberObserved) return false;
  }
  return true;
}

/** The i-th observed-data of two bindings read one after the other. */
function observationAt(left: number[], right: number[], i: number): number {
  return i < left.length ? (left[i] as number) : (right[i - left.length] as number);
}

function join(a: Binding, b: Binding): Binding {
  return { leaves: a.leaves.concat(b.leaves), observations: a.observations.concat(b.observations) };
}

function latestFirst(b: Binding, observations: PreparedObservation[]): number {
  let t = -Infinity;
  for (const o of b.observations) t = Math.max(t, (observations[o] as PreparedObservation).firstObserved);
  return t;
}

function earliestLast(b: Binding, observations: PreparedObservation[]): number {
  let t = Infinity;
  for (const o of b.observations) t = Math.min(t, (observations[o] as PreparedObservation).lastObserved);
  return t;
}

/** Lazily materialised list of a sub-expression's bindings, reused by every left binding. */
interface Memo {
  get(i: number): Binding | undefined;
}

function memo(node: BindingNode, ctx: SearchContext, limits: Limits): Memo {
  const cache: Binding[] = [];
  const source = cursor(node, ctx, limits, false);
  let done = false;
  return {
    get(i: number): Binding | undefined {
      while (!done && cache.length <= i) {
        const next = source.next();
        if (next === undefined) done = true;
        else cache.push(next);
      }
      return cache[i];
    },
  };
}

/** A sub-expression's bindings, one at a time, in order; undefined once there are no more. */
interface Cursor {
  next(): Binding | undefined;
}

/**
 * The bindings of `node`, read as far as they are asked for. A leaf (the sides of most AND and
 * FOLLOWEDBY rules) is read by a plain loop: it does exactly what the generator's `leaf` case
 * does, step for step and in the same order (so the budget is spent alike), without a
 * generator object per side and a resumption per binding.
 */
function cursor(node: BindingNode, ctx: SearchContext, limits: Limits, mustUse: boolean): Cursor {
  if (node.kind === 'leaf') return new LeafCursor(node.leaf, ctx, limits, mustUse);
  const it = bindings(node, ctx, limits, mustUse);
  return {
    next(): Binding | undefined {
      const next = it.next();
      return next.done ? undefined : next.value;
    },
  };
}

class LeafCursor implements Cursor {
  private at = 0;
  private readonly matches: number[];
  private readonly anchor: PreparedObservation | undefined;

  constructor(
    private readonly leaf: number,
    private readonly ctx: SearchContext,
    private readonly limits: Limits,
    private readonly mustUse: boolean,
  ) {
    this.matches = ctx.leafMatches[leaf] as number[];
    this.anchor =
      limits.near !== undefined && ctx.required !== undefined
        ? (ctx.observations[ctx.required] as PreparedObservation)
        : undefined;
  }

  next(): Binding | undefined {
    const { ctx, limits, matches, anchor } = this;
    while (this.at < matches.length) {
      const o = matches[this.at++] as number;
      if (this.mustUse && o !== ctx.required) continue;
      const p = ctx.observations[o] as PreparedObservation;
      if (
        anchor &&
        Math.max(p.firstObserved, anchor.firstObserved) - Math.min(p.lastObserved, anchor.lastObserved) >
          (limits.near as number)
      )
        continue;
      spend(ctx);
      if (limits.intervals.length > 0 && !inIntervals(p, limits.intervals)) continue;
      return { leaves: [this.leaf], observations: [o] };
    }
    return undefined;
  }
}

/** Does the observed-data overlap every one of the enclosing START/STOP intervals? */
function inIntervals(p: PreparedObservation, intervals: Limits['intervals']): boolean {
  for (const [start, stop] of intervals) if (!(p.firstObserved < stop && p.lastObserved >= start)) return false;
  return true;
}

/**
 * The bindings of `all` that use observed-data `required`, in order: a view that reads `all`
 * as far as it is asked to, so that a side is never enumerated twice.
 */
function using(all: Memo, required: number): Memo {
  const cache: Binding[] = [];
  let read = 0;
  let done = false;
  return {
    get(i: number): Binding | undefined {
      while (!done && cache.length <= i) {
        const next = all.get(read++);
        if (next === undefined) done = true;
        else if (next.observations.includes(required)) cache.push(next);
      }
      return cache[i];
    },
  };
}

/**
 * Constraints of the enclosing qualifiers, pushed down so that partial bindings that can never
 * satisfy them are pruned early: a binding's time span only grows as observations join it, and
 * every bound observation must lie in every enclosing START/STOP interval.
 */
export interface Limits {
  /** The tightest enclosing WITHIN, in microseconds (Infinity when none). */
  window: number;
  /** Enclosing START/STOP intervals. */
  intervals: readonly (readonly [number, number])[];
  /**
   * The tightest enclosing WITHIN whose binding must use `ctx.required`: every observation
   * bound under it lies within this many microseconds of the required one.
   */
  near?: number;
}

export const NO_LIMITS: Limits = { window: Infinity, intervals: [] };

function withinWindow(b: Binding, limits: Limits, observations: PreparedObservation[]): boolean {
  return limits.window === Infinity || latestFirst(b, observations) - earliestLast(b, observations) <= limits.window;
}

export function enumerateBindings(
  node: BindingNode,
  ctx: SearchContext,
  limits: Limits = NO_LIMITS,
): Generator<Binding> {
  return bindings(node, ctx, limits, ctx.required !== undefined);
}

/** `mustUse`: yield only the bindings that use `ctx.required`, pruning the others early. */
function* bindings(node: BindingNode, ctx: SearchContext, limits: Limits, mustUse: boolean): Generator<Binding> {
  const obs = ctx.observations;
  switch (node.kind) {
    case 'leaf': {
      const leaf = new LeafCursor(node.leaf, ctx, limits, mustUse);
      for (let b = leaf.next(); b !== undefined; b = leaf.next()) yield b;
      return;
    }
    case 'or':
      yield* bindings(node.left, ctx, limits, mustUse);
      yield* bindings(node.right, ctx, limits, mustUse);
      return;
    case 'and':
    case 'followedBy': {
      const allRights = memo(node.right, ctx, limits);
      // A left binding without the required observed-data pairs only with right bindings that
      // use it: a subsequence of all right bindings, so the order of the results is kept.
      const usingRights = mustUse ? using(allRights, ctx.required as number) : allRights;
      const lefts = cursor(node.left, ctx, limits, false);
      for (let l = lefts.next(); l !== undefined; l = lefts.next()) {
        const rights = mustUse && !l.observations.includes(ctx.required as number) ? usingRights : allRights;
        const leftLatestFirst = node.kind === 'followedBy' ? latestFirst(l, obs) : 0;
        for (let i = 0; ; i++) {
          const r = rights.get(i);
          if (!r) break;
          spend(ctx);
          if (!fitsTogether(l, r, obs)) continue;
          if (node.kind === 'followedBy' && leftLatestFirst > earliestLast(r, obs)) continue;
          const joined = join(l, r);
          if (withinWindow(joined, limits, obs)) yield joined;
        }
      }
      return;
    }
    case 'within': {
      const inner: Limits = { ...limits, window: Math.min(limits.window, node.micros) };
      if (mustUse) inner.near = Math.min(limits.near ?? Infinity, node.micros);
      for (const b of bindings(node.expression, ctx, inner, mustUse)) {
        spend(ctx);
        if (latestFirst(b, obs) - earliestLast(b, obs) <= node.micros) yield b;
      }
      return;
    }
    case 'startStop':
      if (node.start >= node.stop) return;
      for (const b of bindings(
        node.expression,
        ctx,
        { ...limits, intervals: [...limits.intervals, [node.start, node.stop]] },
        mustUse,
      )) {
        spend(ctx);
        if (
          b.observations.every(
            (o) =>
              (obs[o] as PreparedObservation).firstObserved < node.stop &&
              (obs[o] as PreparedObservation).lastObserved >= node.start,
          )
        )
          yield b;
      }
      return;
    case 'repeats': {
      if (node.times === 1) {
        yield* bindings(node.expression, ctx, limits, mustUse);
        return;
      }
      const inner = memo(node.expression, ctx, limits);
      // Combinations with repetition of inner bindings, in lexicographic order; a binding may
      // repeat when its observed-data have instances to spare (number_observed).
      const times = node.times;
      const chosen: number[] = [];
      const partial: Binding[] = [];
      function* extend(from: number): Generator<Binding> {
        for (let i = from; ; i++) {
          const candidate = inner.get(i);
          if (!candidate) return;
          spend(ctx);
          const base = partial[partial.length - 1];
          if (base && !fitsTogether(base, candidate, obs)) continue;
          const combined = base ? join(base, candidate) : candidate;
          if (!withinWindow(combined, limits, obs)) continue;
          if (chosen.length + 1 === times) {
            // Repetitions are not pruned by `required`, only filtered.
            if (!mustUse || combined.observations.includes(ctx.required as number)) yield combined;
            continue;
          }
          chosen.push(i);
          partial.push(combined);
          yield* extend(i);
          chosen.pop();
          partial.pop();
        }
      }
      yield* extend(0);
      return;
    }
  }
}
