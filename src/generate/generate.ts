/**
 * `generateEvents`: sets of STIX 2.1 bundles that together satisfy a pattern, or near misses
 * that violate it in one minimal way each. Each observation expression is solved by
 * ./solver.ts; the observation operators and qualifiers become a timed plan (events one second
 * apart from `start`, tighter inside short WITHIN windows, inside START/STOP windows); every set
 * is checked with the engine's batch matcher before it is returned.
 */
import type { ComparisonLeaf, ObservationExpression } from '../pattern/ast.js';
import type { CompiledPattern } from '../pattern/compile.js';
import { parseStixTimestamp } from '../pattern/literals.js';
import { prepareObservations } from '../pattern/observation.js';
import { printPattern } from '../pattern/print.js';
import type { Bundle, StixObject } from '../stix/types.js';
import { analyse, assertGenerable, generable, GenerationError, toCompiled, type PatternAnalysis } from './analysis.js';
import { describeLeaf, flipLeaf } from './leaves.js';
import { Prng } from './prng.js';
import { formatMicros } from './realistic.js';
import { planConjunct, realise, type ConjunctPlan, type ObservationSolver, type Realised } from './solver.js';
import type { DataValue } from './slot.js';

export interface GenerateOptions {
  /** Number of event sets (default 1). */
  count?: number;
  /** Seed of the pseudo-random generator (default 1): the same seed gives the same output. */
  seed?: number;
  /** STIX timestamp of the first event (default 2024-01-01T00:00:00Z). */
  start?: string;
  /** Near misses instead of matching sets. */
  miss?: boolean;
}

/** The bundles (one observed-data and its SCOs each) that together satisfy the pattern. */
export type GeneratedSet = Bundle[];

export type NearMissKind =
  | 'comparison'
  | 'followedby-reversed'
  | 'within-exceeded'
  | 'repeats-short'
  | 'outside-start-stop'
  | 'observation-missing';

export interface NearMiss {
  events: Bundle[];
  /** What was changed, e.g. `comparison off: process:name = 'winword.exe' is false (process:name is 'winword.exf')`. */
  description: string;
  kind: NearMissKind;
}

const DEFAULT_START = '2024-01-01T00:00:00Z';
const SECOND = 1_000_000;

// ---------------------------------------------------------------------------------------------
// Plans: which observation instances, and when

interface Instance {
  leaf: number;
  time: number;
  serial: number;
}

type PlanNode =
  | { kind: 'leaf'; inst: Instance }
  | {
      kind: 'and' | 'followedBy';
      left: PlanNode;
      right: PlanNode;
      expr: Extract<ObservationExpression, { kind: 'and' | 'or' | 'followedBy' }>;
    }
  | { kind: 'or'; chosen: PlanNode }
  | { kind: 'within'; seconds: number; inner: PlanNode }
  | { kind: 'startStop'; start: number; stop: number; startText: string; stopText: string; inner: PlanNode }
  | { kind: 'repeats'; times: number; copies: PlanNode[] };

function buildPlan(node: ObservationExpression, a: PatternAnalysis, prng: Prng, serial: { n: number }): PlanNode {
  switch (node.kind) {
    case 'observation':
      return { kind: 'leaf', inst: { leaf: a.leafIndex.get(node) as number, time: 0, serial: serial.n++ } };
    case 'or': {
      const options = [node.left, node.right].filter((n) => generable(n, a));
      return { kind: 'or', chosen: buildPlan(prng.pick(options), a, prng, serial) };
    }
    case 'and':
    case 'followedBy':
      return {
        kind: node.kind,
        left: buildPlan(node.left, a, prng, serial),
        right: buildPlan(node.right, a, prng, serial),
        expr: node,
      };
    case 'qualified': {
      const q = node.qualifier;
      if (q.kind === 'within')
        return { kind: 'within', seconds: q.seconds, inner: buildPlan(node.expression, a, prng, serial) };
      if (q.kind === 'startStop')
        return {
          kind: 'startStop',
          start: q.start.value,
          stop: q.stop.value,
          startText: q.start.text,
          stopText: q.stop.text,
          inner: buildPlan(node.expression, a, prng, serial),
        };
      const copies: PlanNode[] = [];
      for (let i = 0; i < q.times; i++) copies.push(buildPlan(node.expression, a, prng, serial));
      return { kind: 'repeats', times: q.times, copies };
    }
  }
}

function instances(node: PlanNode, out: Instance[] = []): Instance[] {
  switch (node.kind) {
    case 'leaf':
      out.push(node.inst);
      break;
    case 'and':
    case 'followedBy':
      instances(node.left, out);
      instances(node.right, out);
      break;
    case 'or':
      instances(node.chosen, out);
      break;
    case 'within':
    case 'startStop':
      instances(node.inner, out);
      break;
    case 'repeats':
      for (const c of node.copies) instances(c, out);
      break;
  }
  return out;
}

/**
 * Gives every instance a time: sequentially from `earliest`, `spacing` apart, inside the
 * enclosing START/STOP windows [lo, hi). Returns the latest time used, or undefined.
 */
function schedule(node: PlanNode, earliest: number, lo: number, hi: number, spacing: number): number | undefined {
  switch (node.kind) {
    case 'leaf': {
      const t = Math.max(earliest, lo);
      if (t >= hi) return undefined;
      node.inst.time = t;
      return t;
    }
    case 'or':
      return schedule(node.chosen, earliest, lo, hi, spacing);
    case 'and':
    case 'followedBy': {
      const l = schedule(node.left, earliest, lo, hi, spacing);
      if (l === undefined) return undefined;
      const r = schedule(node.right, l + spacing, lo, hi, spacing) ?? schedule(node.right, l, lo, hi, spacing);
      if (r !== undefined) return Math.max(l, r);
      if (node.kind === 'and') {
        const r2 = schedule(node.right, earliest, lo, hi, spacing);
        return r2 === undefined ? undefined : Math.max(l, r2);
      }
      return undefined;
    }
    case 'within': {
      const n = instances(node.inner).length;
      const tight = n > 1 ? Math.min(spacing, Math.floor((node.seconds * SECOND) / (n - 1))) : spacing;
      const end = schedule(node.inner, earliest, lo, hi, tight);
      if (end === undefined) return undefined;
      const times = instances(node.inner).map((i) => i.time);
      return Math.max(...times) - Math.min(...times) <= node.seconds * SECOND ? end : undefined;
    }
    case 'startStop':
      return schedule(
        node.inner,
        Math.max(earliest, node.start),
        Math.max(lo, node.start),
        Math.min(hi, node.stop),
        spacing,
      );
    case 'repeats': {
      let t = earliest;
      let end = earliest;
      for (let i = 0; i < node.copies.length; i++) {
        const e = schedule(node.copies[i] as PlanNode, i === 0 ? t : t + spacing, lo, hi, spacing);
        if (e === undefined) return undefined;
        t = e;
        end = Math.max(end, e);
      }
      return end;
    }
  }
}

function startCandidates(root: ObservationExpression, start: number): number[] {
  const out = [start];
  const visit = (n: ObservationExpression): void => {
    if (n.kind === 'qualified') {
      if (n.qualifier.kind === 'startStop') out.push(n.qualifier.start.value);
      visit(n.expression);
    } else if (n.kind !== 'observation') {
      visit(n.left);
      visit(n.right);
    }
  };
  visit(root);
  return [...new Set(out)];
}

// ---------------------------------------------------------------------------------------------
// Events

interface InstanceEvent {
  inst: Instance;
  objects: StixObject[];
  plan: ConjunctPlan;
  realised: Realised;
  observedDataId: string;
  bundleId: string;
}

function bundleFor(e: { objects: StixObject[]; observedDataId: string; bundleId: string }, time: number): Bundle {
  const ts = formatMicros(time);
  const observed: StixObject = {
    type: 'observed-data',
    spec_version: '2.1',
    id: e.observedDataId,
    created: ts,
    modified: ts,
    first_observed: ts,
    last_observed: ts,
    number_observed: 1,
    object_refs: e.objects.map((o) => o.id as string),
  };
  return { type: 'bundle', id: e.bundleId, objects: [observed, ...e.objects] };
}

function toBundles(events: InstanceEvent[], times?: Map<Instance, number>): Bundle[] {
  const timed = events.map((e) => ({ e, t: times?.get(e.inst) ?? e.inst.time }));
  timed.sort((x, y) => x.t - y.t || x.e.inst.serial - y.e.inst.serial);
  return timed.map(({ e, t }) => bundleFor(e, t));
}

interface BaseSet {
  plan: PlanNode;
  events: InstanceEvent[];
  bundles: Bundle[];
}

function matches(pattern: CompiledPattern, bundles: Bundle[]): boolean {
  if (bundles.length === 0) return false;
  return pattern.match(bundles).matched;
}

function tryGenerateSet(a: PatternAnalysis, prng: Prng, start: number): BaseSet | undefined {
  const plan = buildPlan(a.pattern.ast.root, a, prng, { n: 0 });
  let scheduled = false;
  for (const s of startCandidates(a.pattern.ast.root, start)) {
    for (const spacing of [SECOND, 0]) {
      if (schedule(plan, s, -Infinity, Infinity, spacing) !== undefined) {
        scheduled = true;
        break;
      }
    }
    if (scheduled) break;
  }
  if (!scheduled) return undefined;
  const events: InstanceEvent[] = [];
  for (const inst of instances(plan)) {
    const solver = a.solvers[inst.leaf] as ObservationSolver;
    const generated = solver.generate(prng, inst.time);
    if (!generated) return undefined;
    events.push({
      inst,
      objects: generated.realised.objects,
      plan: generated.plan,
      realised: generated.realised,
      observedDataId: `observed-data--${prng.uuid()}`,
      bundleId: `bundle--${prng.uuid()}`,
    });
  }
  const bundles = toBundles(events);
  if (!matches(a.pattern, bundles)) return undefined;
  return { plan, events, bundles };
}

function generateBaseSets(a: PatternAnalysis, options: GenerateOptions): BaseSet[] {
  assertGenerable(a);
  const count = options.count ?? 1;
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count must be a whole number ≥ 0, got ${count}`);
  const startText = options.start ?? DEFAULT_START;
  const start = parseStixTimestamp(startText);
  if (start === undefined) throw new RangeError(`start ${JSON.stringify(startText)} is not a STIX timestamp`);
  const prng = new Prng(options.seed ?? 1);
  const sets: BaseSet[] = [];
  let cursor = start;
  for (let i = 0; i < count; i++) {
    let set: BaseSet | undefined;
    for (let attempt = 0; attempt < 12 && !set; attempt++) {
      set = tryGenerateSet(a, prng.fork(i * 131 + attempt), attempt < 6 ? cursor : start);
    }
    if (!set) {
      const diagnostic = {
        severity: 'error' as const,
        code: 'unsupported-generation',
        message:
          'no generated event set satisfied the pattern under the batch matcher (timing or value constraints beyond the generator)',
      };
      throw new GenerationError(diagnostic.code, diagnostic.message, [diagnostic]);
    }
    sets.push(set);
    const times = set.events.map((e) => e.inst.time);
    cursor = Math.max(...times) + 60 * SECOND;
  }
  return sets;
}

/**
 * Generates `count` sets of STIX 2.1 bundles that together satisfy the pattern (each verified
 * with the batch matcher), or with `miss: true` near misses: sets that violate the pattern in
 * one labelled, minimal way each (each verified not to match). Throws GenerationError (a
 * StixflowError, code `unsatisfiable` or `unsupported-generation`, with diagnostics) when the
 * pattern can never match or is beyond the generator, and PatternError when it does not compile.
 */
export function generateEvents(
  pattern: CompiledPattern | string,
  options: GenerateOptions & { miss: true },
): NearMiss[];
export function generateEvents(
  pattern: CompiledPattern | string,
  options?: GenerateOptions & { miss?: false },
): GeneratedSet[];
export function generateEvents(
  pattern: CompiledPattern | string,
  options?: GenerateOptions,
): GeneratedSet[] | NearMiss[];
export function generateEvents(
  pattern: CompiledPattern | string,
  options: GenerateOptions = {},
): GeneratedSet[] | NearMiss[] {
  const a = analyse(toCompiled(pattern));
  if (options.miss) return generateNearMisses(a.pattern, options);
  return generateBaseSets(a, options).map((s) => s.bundles);
}

// ---------------------------------------------------------------------------------------------
// Near misses

function print(expr: ObservationExpression): string {
  return printPattern({ root: expr });
}

function show(value: DataValue | undefined): string {
  if (value === undefined) return 'absent';
  if (value instanceof Uint8Array) return `h'${Buffer.from(value).toString('hex')}'`;
  return JSON.stringify(value);
}

function planNodes(node: PlanNode, out: PlanNode[] = []): PlanNode[] {
  out.push(node);
  if (node.kind === 'and' || node.kind === 'followedBy') {
    planNodes(node.left, out);
    planNodes(node.right, out);
  } else if (node.kind === 'or') planNodes(node.chosen, out);
  else if (node.kind === 'within' || node.kind === 'startStop') planNodes(node.inner, out);
  else if (node.kind === 'repeats') for (const c of node.copies) planNodes(c, out);
  return out;
}

function comparisonMisses(a: PatternAnalysis, base: BaseSet, prng: Prng): NearMiss[] {
  const out: NearMiss[] = [];
  const seenLeaf = new Set<number>();
  for (const event of base.events) {
    const leafIndex = event.inst.leaf;
    if (seenLeaf.has(leafIndex)) continue;
    seenLeaf.add(leafIndex);
    const observation = a.pattern.observations[leafIndex];
    if (!observation) continue;
    for (const target of event.plan.leaves) {
      const flipped = flipLeaf(target);
      const leaves = event.plan.leaves.map((l) => (l === target ? flipped : l));
      const plan = planConjunct(leaves);
      if (!plan.root) continue;
      const near = new Map<ComparisonLeaf, DataValue>();
      const original = event.realised.values.get(target);
      if (original !== undefined) near.set(flipped, original);
      for (let attempt = 0; attempt < 4; attempt++) {
        const realised = realise(plan, prng.fork(attempt), event.inst.time, near);
        if (!('objects' in realised)) break;
        const mutated = { ...event, objects: realised.objects };
        const bundle = bundleFor(mutated, event.inst.time);
        const prepared = prepareObservations([bundle]);
        if (prepared[0] && observation.test(prepared[0])) continue;
        const bundles = toBundles(base.events.map((e) => (e === event ? mutated : e)));
        if (matches(a.pattern, bundles)) continue;
        const now = realised.values.get(flipped);
        const what =
          target.kind === 'exists'
            ? target.negated
              ? `${describeLeaf(target).replace(/^NOT EXISTS /, '')} is present (${show(now)})`
              : `${describeLeaf(target).replace(/^EXISTS /, '')} is absent`
            : `${describeLeaf(target).split(' ')[0]} is ${show(now)}`;
        out.push({
          events: bundles,
          description: `comparison off in observation ${leafIndex + 1}: ${describeLeaf(target)} is false (${what})`,
          kind: 'comparison',
        });
        break;
      }
    }
  }
  return out;
}

function timingMisses(a: PatternAnalysis, base: BaseSet): NearMiss[] {
  const out: NearMiss[] = [];
  const consider = (
    kind: NearMissKind,
    description: string,
    events: InstanceEvent[],
    times?: Map<Instance, number>,
  ): void => {
    const bundles = toBundles(events, times);
    if (!matches(a.pattern, bundles)) out.push({ events: bundles, description, kind });
  };
  for (const node of planNodes(base.plan)) {
    if (node.kind === 'followedBy') {
      const left = instances(node.left);
      const right = instances(node.right);
      const lMin = Math.min(...left.map((i) => i.time));
      const rMin = Math.min(...right.map((i) => i.time));
      const rMax = Math.max(...right.map((i) => i.time));
      const times = new Map<Instance, number>();
      for (const i of right) times.set(i, i.time - rMin + lMin);
      const newRMax = rMax - rMin + lMin;
      for (const i of left) times.set(i, i.time - lMin + newRMax + SECOND);
      consider(
        'followedby-reversed',
        `FOLLOWEDBY reversed: ${print(node.expr.right)} observed before ${print(node.expr.left)}`,
        base.events,
        times,
      );
    } else if (node.kind === 'within') {
      const inner = instances(node.inner);
      if (inner.length < 2) continue;
      const min = Math.min(...inner.map((i) => i.time));
      const max = Math.max(...inner.map((i) => i.time));
      const delta = min + node.seconds * SECOND + SECOND - max;
      const times = new Map<Instance, number>();
      for (const i of inner)
        if (i.time > min || (i === inner[inner.length - 1] && max === min))
          times.set(i, i.time + delta + (max === min ? 0 : 0));
      if (max === min) {
        // All at one time: move the last instance out of the window.
        times.clear();
        times.set(inner[inner.length - 1] as Instance, min + node.seconds * SECOND + SECOND);
      }
      const shifted = [...inner].map((i) => times.get(i) ?? i.time);
      const span = (Math.max(...shifted) - Math.min(...shifted)) / SECOND;
      consider(
        'within-exceeded',
        `WITHIN ${node.seconds} SECONDS exceeded by 1 s: first and last observations ${span} s apart`,
        base.events,
        times,
      );
    } else if (node.kind === 'repeats' && node.times > 1) {
      const dropped = new Set(instances(node.copies[node.copies.length - 1] as PlanNode));
      consider(
        'repeats-short',
        `REPEATS ${node.times} TIMES short by one: ${node.times - 1} repetition${node.times - 1 === 1 ? '' : 's'}`,
        base.events.filter((e) => !dropped.has(e.inst)),
      );
    } else if (node.kind === 'startStop') {
      const inner = instances(node.inner);
      const min = Math.min(...inner.map((i) => i.time));
      const times = new Map<Instance, number>();
      for (const i of inner) times.set(i, i.time - min + node.stop);
      consider(
        'outside-start-stop',
        `outside START t'${node.startText}' STOP t'${node.stopText}': observations moved to ${formatMicros(node.stop)} (STOP is exclusive)`,
        base.events,
        times,
      );
    } else if (node.kind === 'and') {
      const dropped = new Set(instances(node.right));
      consider(
        'observation-missing',
        `observation missing: no event for ${print(node.expr.right)}`,
        base.events.filter((e) => !dropped.has(e.inst)),
      );
    }
  }
  return out;
}

function generateNearMisses(pattern: CompiledPattern, options: GenerateOptions): NearMiss[] {
  const a = analyse(pattern);
  const bases = generateBaseSets(a, options);
  const prng = new Prng(((options.seed ?? 1) ^ 0x5bd1e995) >>> 0);
  const out: NearMiss[] = [];
  for (const base of bases) out.push(...comparisonMisses(a, base, prng), ...timingMisses(a, base));
  return out;
}
