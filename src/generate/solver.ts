/**
 * Constraint solving for one observation expression: its comparison expression in DNF, a
 * conjunct chosen, each comparison placed on a tree that mirrors the object to build (keys,
 * list elements, `_ref`/`_refs` targets, `_hex`/`_bin` values), structural contradictions
 * found (a value that must also be an object, EXISTS against NOT EXISTS, different root
 * types), each value solved (./slot.ts), and the objects built: the root object plus every
 * referenced object, linked by deterministic ids.
 */
import {
  andFactors,
  comparisonLeaves,
  isComparisonJunction,
  type ComparisonExpression,
  type ComparisonLeaf,
  type ObservationExpression,
  type PathStep,
} from '../pattern/ast.js';
import { StixflowBaseError } from '../errors.js';
import type { StixObject } from '../stix/types.js';
import { printPath } from '../pattern/print.js';
import { byPosition, conjuncts, describeTest, takeConjuncts, type ValueLeaf } from './leaves.js';
import { Prng } from './prng.js';
import { isModelList } from './model-types.js';
import { decorations, realisticValue, refTargetType } from './realistic.js';
import { needsScalar, solveSlot, type DataValue } from './slot.js';

type Role = 'object' | 'plain' | 'ref' | 'refs' | 'binary';

interface TreeNode {
  /** Pattern-style path of the node, for messages (`network-traffic:dst_ref.value`). */
  display: string;
  role: Role;
  /** Property name that led here (for list elements: the list's name). */
  name: string;
  /** Property names from the holding object down to here. */
  keys: string[];
  encoding?: 'hex' | 'base64';
  tests: ValueLeaf[];
  exists: ComparisonLeaf[];
  props: Map<string, TreeNode>;
  indexed: Map<number, TreeNode>;
  anys: TreeNode[];
  /** For objects (root and reference targets): the object type. */
  objectType?: string;
}

export interface Failure {
  unsat: boolean;
  message: string;
  leaf?: ComparisonLeaf;
}

export interface ConjunctPlan {
  leaves: ComparisonLeaf[];
  root?: TreeNode;
  failure?: Failure;
  notExists: ComparisonLeaf[];
}

function roleOf(name: string): { role: Role; encoding?: 'hex' | 'base64' } {
  if (name.endsWith('_refs')) return { role: 'refs' };
  if (name.endsWith('_ref')) return { role: 'ref' };
  if (name.endsWith('_hex')) return { role: 'binary', encoding: 'hex' };
  if (name.endsWith('_bin')) return { role: 'binary', encoding: 'base64' };
  return { role: 'plain' };
}

function newNode(display: string, role: Role, name: string, keys: string[], encoding?: 'hex' | 'base64'): TreeNode {
  const node: TreeNode = {
    display,
    role,
    name,
    keys,
    tests: [],
    exists: [],
    props: new Map(),
    indexed: new Map(),
    anys: [],
  };
  if (encoding) node.encoding = encoding;
  return node;
}

function stepText(step: PathStep): string {
  return step.kind === 'key'
    ? `.${/^[A-Za-z_][A-Za-z0-9_]*$/.test(step.name) ? step.name : `'${step.name}'`}`
    : step.kind === 'index'
      ? `[${step.index}]`
      : '[*]';
}

class Unsat extends StixflowBaseError {
  constructor(
    readonly display: string,
    readonly reason: string,
    readonly leaf: ComparisonLeaf,
  ) {
    super(reason);
  }
}

/** Concrete placement of a leaf: which any-element (`[*]`) each `[*]` step uses. */
type Choice = number[];

function place(root: TreeNode, leaf: ComparisonLeaf, choice: Choice): TreeNode {
  let node = root;
  let display = `${leaf.path.objectType}:`;
  let anyIndex = 0;
  leaf.path.steps.forEach((step, i) => {
    const text = i === 0 && step.kind === 'key' ? stepText(step).slice(1) : stepText(step);
    const parentDisplay = display;
    display += text;
    if (step.kind === 'key') {
      if (node.role === 'refs')
        throw new Unsat(parentDisplay, `a _refs list holds references: use [n] or [*] before ${text}`, leaf);
      if (node.role === 'binary') throw new Unsat(parentDisplay, `binary data has no property ${text.slice(1)}`, leaf);
      let child = node.props.get(step.name);
      if (!child) {
        const { role, encoding } = roleOf(step.name);
        const keys = node.role === 'object' || node.role === 'ref' ? [step.name] : [...node.keys, step.name];
        child = newNode(display, role, step.name, keys, encoding);
        node.props.set(step.name, child);
      }
      node = child;
      return;
    }
    if (node.role === 'object' || node.role === 'ref')
      throw new Unsat(
        parentDisplay,
        `a reference resolves to one object, not a list: ${text} never selects anything`,
        leaf,
      );
    if (node.role === 'binary')
      throw new Unsat(parentDisplay, `binary data is not a list: ${text} never selects anything`, leaf);
    const elementRole: Role = node.role === 'refs' ? 'ref' : 'plain';
    if (step.kind === 'index') {
      if (step.index < 0) throw new Unsat(display, `the negative index [${step.index}] never selects an element`, leaf);
      let child = node.indexed.get(step.index);
      if (!child) {
        child = newNode(display, elementRole, node.name, node.keys);
        node.indexed.set(step.index, child);
      }
      node = child;
      return;
    }
    const k = choice[anyIndex++] ?? 0;
    let child = node.anys[k];
    if (!child) {
      child = newNode(display, elementRole, node.name, node.keys);
      node.anys.push(child);
    }
    node = child;
  });
  if (leaf.kind === 'exists') node.exists.push(leaf);
  else if (leaf.kind !== 'fieldref') node.tests.push(leaf); // planConjunct stops at field references
  return node;
}

function buildTree(objectType: string, placements: [ComparisonLeaf, Choice][]): TreeNode {
  const root = newNode(`${objectType}:`, 'object', '', []);
  root.objectType = objectType;
  for (const [leaf, choice] of placements) place(root, leaf, choice);
  return root;
}

/** Structural checks of one node: a value that must also be an object or a list, and so on. */
function checkNode(node: TreeNode): void {
  const isList = node.indexed.size > 0 || node.anys.length > 0;
  const scalarTest = node.tests.find(needsScalar);
  const firstChild = (): ComparisonLeaf | undefined => {
    const leaves: ComparisonLeaf[] = [];
    const collect = (n: TreeNode): void => {
      leaves.push(...n.tests, ...n.exists);
      for (const c of [...n.props.values(), ...n.indexed.values(), ...n.anys]) collect(c);
    };
    for (const c of [...node.props.values(), ...node.indexed.values(), ...node.anys]) collect(c);
    return leaves.sort(byPosition)[0];
  };
  if (node.role === 'plain' && node.props.size > 0 && isList) {
    const leaf = firstChild() as ComparisonLeaf;
    throw new Unsat(node.display, 'it would have to be both an object (.key) and a list ([n])', leaf);
  }
  if (scalarTest && (node.role === 'ref' || node.role === 'object')) {
    throw new Unsat(
      node.display,
      `a reference resolves to an object, which ${describeTest(scalarTest)} never matches`,
      scalarTest,
    );
  }
  if (scalarTest && node.role === 'refs') {
    throw new Unsat(
      node.display,
      `a _refs list resolves to a list of objects, which ${describeTest(scalarTest)} never matches`,
      scalarTest,
    );
  }
  if (scalarTest && (node.props.size > 0 || isList)) {
    const other = firstChild() as ComparisonLeaf;
    const later = byPosition(scalarTest, other) > 0 ? scalarTest : other;
    throw new Unsat(
      node.display,
      `no value satisfies ${describeTest(scalarTest)} and ${printPath(other.path)} ${describeTest(other)} (a value has no properties or elements)`,
      later,
    );
  }
  for (const c of [...node.props.values(), ...node.indexed.values(), ...node.anys]) checkNode(c);
}

/** Does NOT EXISTS `p` contradict a comparison on `q` (q's truth makes something exist at p)? */
function covers(p: PathStep[], q: PathStep[]): boolean {
  if (p.length > q.length) return false;
  for (let i = 0; i < p.length; i++) {
    const a = p[i] as PathStep;
    const b = q[i] as PathStep;
    if (
      a.kind === 'key'
        ? b.kind !== 'key' || b.name !== a.name
        : a.kind === 'index'
          ? b.kind !== 'index' || b.index !== a.index
          : b.kind === 'key'
    )
      return false;
  }
  return true;
}

const CHECK_BASE = Date.UTC(2024, 0, 1) * 1000;

/**
 * Solves every value slot of the tree once, to learn whether the conjunct can be generated. A
 * slot proven empty wins over one the generator merely cannot fill, so that a contradiction is
 * reported as such whatever else the conjunct holds.
 */
function checkValues(node: TreeNode, objectType: string, prng: Prng): Failure | undefined {
  let unsupported: Failure | undefined;
  const consider = (f: Failure | undefined): boolean => {
    if (!f) return false;
    if (f.unsat) return true;
    unsupported ??= f;
    return false;
  };
  const isLeafValue =
    node.props.size === 0 &&
    node.indexed.size === 0 &&
    node.anys.length === 0 &&
    (node.role === 'plain' || node.role === 'binary');
  if (isLeafValue && node.tests.length > 0) {
    const result = solveSlot(
      {
        ctx: { objectType, keys: node.keys },
        tests: node.tests,
        binary: node.role === 'binary',
        baseMicros: CHECK_BASE,
      },
      prng,
    );
    if (!result.ok) {
      const f: Failure = {
        unsat: result.unsat,
        message: `${node.display}: ${result.message}`,
        ...(result.leaf ? { leaf: result.leaf } : {}),
      };
      if (consider(f)) return f;
    }
  }
  for (const [name, child] of node.props) {
    if (name === 'type' && node.role === 'object') continue;
    const childType = child.role === 'ref' ? targetType(child, objectType) : objectType;
    const f = checkValues(child, childType, prng);
    if (consider(f)) return f;
  }
  for (const child of [...node.indexed.values(), ...node.anys]) {
    const f = checkValues(child, node.role === 'refs' ? targetType(child, objectType) : objectType, prng);
    if (consider(f)) return f;
  }
  if (node.role === 'object') {
    const typeNode = node.props.get('type');
    if (typeNode && typeNode.tests.length > 0) {
      const result = solveSlot(
        {
          ctx: { objectType, keys: ['type'] },
          tests: typeNode.tests,
          binary: false,
          baseMicros: CHECK_BASE,
          fixed: objectType,
        },
        prng,
      );
      if (!result.ok)
        return {
          unsat: true,
          message: `${typeNode.display}: ${result.message}`,
          ...(result.leaf ? { leaf: result.leaf } : {}),
        };
    }
  }
  return unsupported;
}

/** A constant that tells what a reference points to (an IP address, an e-mail address, …). */
function sampleConstant(node: TreeNode): string | undefined {
  const valueNode = node.props.get('value');
  for (const t of valueNode?.tests ?? []) {
    if (t.kind === 'comparison' && t.value.type === 'string' && (!t.negated || t.operator === '!='))
      return t.value.value;
    if (t.kind === 'in' && !t.negated && t.values[0]?.type === 'string') return t.values[0].value as string;
  }
  return undefined;
}

/**
 * The object type of a reference target: an explicit `type = '…'`, or inferred (the STIX model's
 * targets for the property of `holderType`, then the reference's name).
 */
function targetType(node: TreeNode, holderType: string): string {
  if (node.objectType) return node.objectType;
  const typeNode = node.props.get('type');
  for (const t of typeNode?.tests ?? []) {
    if (t.kind === 'comparison' && t.operator === '=' && !t.negated && t.value.type === 'string')
      return (node.objectType = t.value.value);
    if (t.kind === 'in' && !t.negated && t.values[0]?.type === 'string')
      return (node.objectType = t.values[0].value as string);
  }
  node.objectType = refTargetType(node.name, sampleConstant(node), [...node.props.keys()], {
    objectType: holderType,
    keys: node.keys,
  });
  if (typeNode && typeNode.tests.length > 0) {
    const solved = solveSlot(
      {
        ctx: { objectType: node.objectType, keys: ['type'] },
        tests: typeNode.tests,
        binary: false,
        baseMicros: CHECK_BASE,
      },
      new Prng(3),
    );
    const inferred = solveSlot(
      {
        ctx: { objectType: node.objectType, keys: ['type'] },
        tests: typeNode.tests,
        binary: false,
        baseMicros: CHECK_BASE,
        fixed: node.objectType,
      },
      new Prng(3),
    );
    if (!inferred.ok && solved.ok && typeof solved.value === 'string') node.objectType = solved.value;
  }
  return node.objectType;
}

/**
 * Plans a conjunct: places its comparisons on the object tree, with greedy reuse of `[*]`
 * elements (a new element when the comparisons on one would conflict), and checks it.
 */
export function planConjunct(leaves: ComparisonLeaf[]): ConjunctPlan {
  const notExists = leaves.filter((l) => l.kind === 'exists' && l.negated);
  const positive = leaves.filter((l) => !(l.kind === 'exists' && l.negated));
  const plan: ConjunctPlan = { leaves, notExists };
  // A field reference (Sigma fieldref) ties two values together, which the value slots cannot say: such an
  // alternative is neither generated nor proven empty.
  const reference = leaves.find((l) => l.kind === 'fieldref');
  if (reference !== undefined) {
    plan.failure = {
      unsat: false,
      message: `${printPath(reference.path)}: a field reference compares two properties, which the generator cannot fill`,
      leaf: reference,
    };
    return plan;
  }
  const types = [...new Set(leaves.map((l) => l.path.objectType))];
  if (types.length > 1) {
    const odd = leaves
      .slice()
      .sort(byPosition)
      .find((l) => l.path.objectType !== leaves.slice().sort(byPosition)[0]?.path.objectType) as ComparisonLeaf;
    plan.failure = {
      unsat: true,
      message: `${printPath(odd.path)}: comparisons on different root types (${types.join(', ')}) are joined by AND; they can never hold on the same object`,
      leaf: odd,
    };
    return plan;
  }
  const objectType = types[0] as string;
  for (const n of notExists) {
    const hit = positive.find((p) => covers(n.path.steps, p.path.steps));
    if (hit) {
      const same = printPath(hit.path) === printPath(n.path);
      const later = byPosition(hit, n) > 0 ? hit : n;
      plan.failure = {
        unsat: true,
        message: `${printPath(n.path)}: no value satisfies NOT EXISTS and ${same ? describeTest(hit) : `${printPath(hit.path)} ${describeTest(hit)}`}`,
        leaf: later,
      };
      return plan;
    }
  }
  const placements: [ComparisonLeaf, Choice][] = [];
  const check = new Prng(7);
  try {
    for (const leaf of positive) {
      const anySteps = leaf.path.steps.filter((s) => s.kind === 'anyIndex').length;
      if (anySteps === 0) {
        placements.push([leaf, []]);
        continue;
      }
      // Try the existing [*] elements first, then a fresh one (always possible on its own).
      let chosen: Choice | undefined;
      const fresh = freshChoice(objectType, placements, leaf, anySteps);
      for (let k = 0; k < Math.min(8, fresh[0] ?? 0) && !chosen; k++) {
        const choice = Array<number>(anySteps).fill(k);
        const tree = tryBuild(objectType, [...placements, [leaf, choice]]);
        if (!tree) continue;
        try {
          checkNode(tree);
          if (!checkValues(tree, objectType, check)) chosen = choice;
        } catch (error) {
          if (!(error instanceof Unsat)) throw error;
        }
      }
      placements.push([leaf, chosen ?? fresh]);
    }
    const root = buildTree(objectType, placements);
    checkNode(root);
    const failure = checkValues(root, objectType, check);
    if (failure) plan.failure = failure;
    else plan.root = root;
  } catch (error) {
    if (!(error instanceof Unsat)) throw error;
    plan.failure = { unsat: true, message: `${error.display}: ${error.reason}`, leaf: error.leaf };
  }
  return plan;
}

function tryBuild(objectType: string, placements: [ComparisonLeaf, Choice][]): TreeNode | undefined {
  try {
    return buildTree(objectType, placements);
  } catch (error) {
    if (error instanceof Unsat) return undefined;
    throw error;
  }
}

/** A choice that puts the leaf on a new element at its first `[*]` (everything under it is new too). */
function freshChoice(
  objectType: string,
  placements: [ComparisonLeaf, Choice][],
  leaf: ComparisonLeaf,
  anySteps: number,
): Choice {
  let node: TreeNode | undefined = tryBuild(objectType, placements);
  for (const step of leaf.path.steps) {
    if (!node) break;
    if (step.kind === 'anyIndex') return Array<number>(anySteps).fill(node.anys.length);
    node = step.kind === 'key' ? node.props.get(step.name) : node.indexed.get(step.index);
  }
  return Array<number>(anySteps).fill(0);
}

// ---------------------------------------------------------------------------------------------
// Building objects

export interface Realised {
  objects: StixObject[];
  /** The value each comparison was given (by leaf), for near-miss mutations. */
  values: Map<ComparisonLeaf, DataValue>;
}

interface RealiseContext {
  prng: Prng;
  baseMicros: number;
  objects: StixObject[];
  values: Map<ComparisonLeaf, DataValue>;
  near?: Map<ComparisonLeaf, DataValue>;
  /** Property names mentioned by NOT EXISTS: never added as decoration. */
  avoid: Set<string>;
}

class RealiseFailure extends StixflowBaseError {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
}

function encodeBytes(bytes: Uint8Array, encoding: 'hex' | 'base64'): string {
  return Buffer.from(bytes).toString(encoding);
}

function solveValue(node: TreeNode, objectType: string, ctx: RealiseContext): unknown {
  const near = node.tests.map((t) => ctx.near?.get(t)).find((v) => v !== undefined);
  const problem = {
    ctx: { objectType, keys: node.keys },
    tests: node.tests,
    binary: node.role === 'binary',
    baseMicros: ctx.baseMicros,
    ...(near !== undefined ? { near } : {}),
  };
  let result = solveSlot(problem, ctx.prng);
  if (!result.ok) result = solveSlot(problem, new Prng(7));
  if (!result.ok)
    throw new RealiseFailure({
      unsat: result.unsat,
      message: `${node.display}: ${result.message}`,
      ...(result.leaf ? { leaf: result.leaf } : {}),
    });
  for (const t of [...node.tests, ...node.exists]) ctx.values.set(t, result.value);
  const v = result.value;
  if (v instanceof Uint8Array) return encodeBytes(v, node.encoding ?? 'hex');
  return v;
}

function realiseNode(node: TreeNode, objectType: string, ctx: RealiseContext): unknown {
  switch (node.role) {
    case 'ref':
      return realiseObject(node, targetType(node, objectType), ctx);
    case 'refs': {
      const holder = { objectType, keys: node.keys };
      const length = Math.max(-1, ...node.indexed.keys()) + 1;
      const ids: unknown[] = [];
      for (let i = 0; i < length; i++) {
        const element = node.indexed.get(i);
        ids.push(
          element
            ? realiseNode(element, objectType, ctx)
            : realiseObject(
                newNode(node.display, 'ref', node.name, []),
                refTargetType(node.name, undefined, [], holder),
                ctx,
              ),
        );
      }
      for (const element of node.anys) ids.push(realiseNode(element, objectType, ctx));
      if (ids.length === 0)
        ids.push(
          realiseObject(
            newNode(node.display, 'ref', node.name, []),
            refTargetType(node.name, undefined, [], holder),
            ctx,
          ),
        );
      return ids;
    }
    case 'binary':
      return solveValue(node, objectType, ctx);
    case 'object':
      return realiseObject(node, objectType, ctx);
    case 'plain': {
      if (node.props.size > 0) {
        const out: Record<string, unknown> = {};
        for (const [name, child] of node.props) out[name] = realiseNode(child, objectType, ctx);
        return out;
      }
      if (node.indexed.size > 0 || node.anys.length > 0) {
        const length = Math.max(-1, ...node.indexed.keys()) + 1;
        const elements = [...node.indexed.values(), ...node.anys];
        const sample = elements[0] as TreeNode;
        const out: unknown[] = [];
        for (let i = 0; i < length; i++) {
          const element = node.indexed.get(i);
          if (element) out.push(realiseNode(element, objectType, ctx));
          else if (sample.props.size > 0) out.push({});
          else if (sample.indexed.size > 0 || sample.anys.length > 0) out.push([]);
          else out.push(realisticValue({ objectType, keys: node.keys }, ctx.prng, ctx.baseMicros));
        }
        for (const element of node.anys) out.push(realiseNode(element, objectType, ctx));
        return out;
      }
      // Only EXISTS on a property the model has as a list (network-traffic:protocols): a list of
      // one value of the element's type. A comparison on a list itself can never hold anyway.
      if (node.tests.length === 0 && isModelList(objectType, node.keys)) return [solveValue(node, objectType, ctx)];
      return solveValue(node, objectType, ctx);
    }
  }
}

function realiseObject(node: TreeNode, type: string, ctx: RealiseContext): string {
  const object: StixObject = { type, id: `${type}--${ctx.prng.uuid()}` };
  // Register first, so that the root comes before the objects it references.
  ctx.objects.push(object);
  for (const [name, child] of node.props) {
    if (name === 'type') {
      for (const t of [...child.tests, ...child.exists]) ctx.values.set(t, type);
      continue;
    }
    const value = realiseNode(child, type, ctx);
    if (name === 'id') {
      if (typeof value !== 'string')
        throw new RealiseFailure({ unsat: false, message: `${child.display}: an id must be a string` });
      object.id = value;
      continue;
    }
    object[name] = value;
  }
  for (const [name] of decorations(type)) {
    if (name === undefined || name in object || ctx.avoid.has(name)) continue;
    const value = realisticValue(
      { objectType: type, keys: [name], ...(typeof object.name === 'string' ? { processName: object.name } : {}) },
      ctx.prng,
      ctx.baseMicros,
    );
    object[name] = isModelList(type, [name]) ? [value] : value;
  }
  return object.id as string;
}

/** Builds the objects of a planned conjunct: the root first, then every referenced object. */
export function realise(
  plan: ConjunctPlan,
  prng: Prng,
  baseMicros: number,
  near?: Map<ComparisonLeaf, DataValue>,
): Realised | Failure {
  if (!plan.root) return plan.failure ?? { unsat: false, message: 'not planned' };
  const avoid = new Set<string>();
  for (const n of plan.notExists) for (const s of n.path.steps) if (s.kind === 'key') avoid.add(s.name);
  const ctx: RealiseContext = { prng, baseMicros, objects: [], values: new Map(), avoid, ...(near ? { near } : {}) };
  try {
    realiseObject(plan.root, plan.root.objectType as string, ctx);
  } catch (error) {
    if (error instanceof RealiseFailure) return error.failure;
    throw error;
  }
  return { objects: ctx.objects, values: ctx.values };
}

// ---------------------------------------------------------------------------------------------

export type ObservationLeaf = Extract<ObservationExpression, { kind: 'observation' }>;

export type ObservationStatus =
  { kind: 'sat' } | { kind: 'unsat'; failures: Failure[] } | { kind: 'unsupported'; failures: Failure[] };

/** DNF alternatives planned for generation (a random satisfiable one is used per event). */
const CONJUNCT_LIMIT = 64;
/** When none of those is satisfiable, how many more are tried before giving up on generation. */
const EXTRA_CONJUNCTS = 1024;

/** Everything the generator knows about one bracketed observation expression. */
export class ObservationSolver {
  readonly plans: ConjunctPlan[];
  readonly status: ObservationStatus;
  private readonly satisfiable: ConjunctPlan[];

  constructor(readonly expression: ObservationLeaf) {
    const { list, complete } = takeConjuncts(expression.comparison, CONJUNCT_LIMIT);
    this.plans = list.map(planConjunct);
    let explored = complete;
    let extraUnsupported = false;
    const extraFailures: Failure[] = [];
    if (!complete && !this.plans.some((p) => p.root)) {
      // Past the cap with nothing generable yet: look further for one alternative that is.
      let seen = 0;
      explored = true;
      for (const leaves of conjuncts(expression.comparison)) {
        if (seen++ < CONJUNCT_LIMIT) continue;
        if (seen > CONJUNCT_LIMIT + EXTRA_CONJUNCTS) {
          explored = false;
          break;
        }
        const plan = planConjunct(leaves);
        if (plan.root) {
          this.plans.push(plan);
          break;
        }
        if (!plan.failure?.unsat) extraUnsupported = true;
        if (plan.failure && extraFailures.length < CONJUNCT_LIMIT) extraFailures.push(plan.failure);
      }
    }
    this.satisfiable = this.plans.filter((p) => p.root);
    const failures = [
      ...this.plans.map((p) => p.failure).filter((f): f is Failure => f !== undefined),
      ...extraFailures,
    ];
    if (this.satisfiable.length > 0) this.status = { kind: 'sat' };
    else if (explored && !extraUnsupported && failures.every((f) => f.unsat)) this.status = { kind: 'unsat', failures };
    else {
      // Too many alternatives to list, or some the generator cannot fill: the expression may
      // still be provably empty, decided on its structure rather than alternative by alternative.
      const decision = decideComparison(expression.comparison, { plans: DECISION_BUDGET });
      if (decision.types.size === 0) this.status = { kind: 'unsat', failures: decision.failures };
      else
        this.status = {
          kind: 'unsupported',
          failures: failures
            .filter((f) => !f.unsat)
            .concat(
              explored
                ? []
                : [
                    {
                      unsat: false,
                      message: `more than ${CONJUNCT_LIMIT + EXTRA_CONJUNCTS} alternatives (OR) to explore`,
                    },
                  ],
            ),
        };
    }
  }

  /** Objects for one event of this observation, from a randomly chosen satisfiable conjunct. */
  generate(prng: Prng, baseMicros: number): { realised: Realised; plan: ConjunctPlan } | undefined {
    const order = this.satisfiable.length > 1 ? prng.shuffle(this.satisfiable) : this.satisfiable;
    for (const plan of order) {
      const realised = realise(plan, prng, baseMicros);
      if ('objects' in realised) return { realised, plan };
    }
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Deciding emptiness without listing every alternative

/** Conjuncts planned, at most, by one decision (each costs some tens of microseconds). */
const DECISION_BUDGET = 4096;
/** Alternatives of one group of dependent AND operands planned together, at most. */
const COMPONENT_LIMIT = 1024;

export interface Decision {
  /**
   * The root object types on which the expression may hold: a superset of the true set, so an
   * empty set proves the expression never holds.
   */
  types: Set<string>;
  /** When `types` is empty: why (one proof per empty part, as far as they were kept). */
  failures: Failure[];
}

const MAX_FAILURES = 8;

function countConjuncts(expr: ComparisonExpression, cap: number): number {
  if (!isComparisonJunction(expr)) return 1;
  const l = countConjuncts(expr.left, cap);
  const r = countConjuncts(expr.right, cap);
  return Math.min(cap + 1, expr.kind === 'or' ? l + r : l * r);
}

/** Where a comparison can interact with another one: its root type and first property. */
function anchorKey(leaf: ComparisonLeaf): string {
  const first = leaf.path.steps[0];
  return `${leaf.path.objectType}\u0000${first?.kind === 'key' ? first.name : ''}`;
}

function emptyInterTypes(sides: { types: Set<string>; leaf: ComparisonLeaf }[]): Failure {
  const sorted = sides.slice().sort((x, y) => byPosition(x.leaf, y.leaf));
  const odd = (sorted[sorted.length - 1] as { leaf: ComparisonLeaf }).leaf;
  const types = [...new Set(sorted.flatMap((s) => [...s.types]))];
  return {
    unsat: true,
    message: `${printPath(odd.path)}: comparisons on different root types (${types.join(', ')}) are joined by AND; they can never hold on the same object`,
    leaf: odd,
  };
}

/**
 * Decides on which root types a comparison expression may hold, without its full DNF: OR is a
 * union; the operands of an AND are grouped by the properties they touch (root type and first
 * property), each group decided on its own (jointly, alternative by alternative, when it has
 * several operands), and the groups' types intersected. Every step only over-approximates, so
 * the answer "no type" is a proof; a budget of planned alternatives bounds the work, and what
 * is left undecided keeps every type its comparisons name.
 */
function decideComparison(expr: ComparisonExpression, budget: { plans: number }): Decision {
  if (!isComparisonJunction(expr)) {
    if (budget.plans <= 0) return { types: new Set([expr.path.objectType]), failures: [] };
    budget.plans--;
    const plan = planConjunct([expr]);
    if (!plan.root && plan.failure?.unsat) return { types: new Set(), failures: [plan.failure] };
    return { types: new Set([expr.path.objectType]), failures: [] };
  }
  if (expr.kind === 'or') {
    const l = decideComparison(expr.left, budget);
    const r = decideComparison(expr.right, budget);
    return {
      types: new Set([...l.types, ...r.types]),
      failures: l.types.size === 0 && r.types.size === 0 ? [...l.failures, ...r.failures].slice(0, MAX_FAILURES) : [],
    };
  }
  const factors = andFactors(expr);
  // Union-find over the factors: those touching a common property are decided together.
  const parent = factors.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i] as number)));
  const owner = new Map<string, number>();
  factors.forEach((factor, i) => {
    for (const leaf of comparisonLeaves(factor)) {
      const key = anchorKey(leaf);
      const j = owner.get(key);
      if (j === undefined) owner.set(key, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, ComparisonExpression[]>();
  factors.forEach((factor, i) => {
    const root = find(i);
    groups.set(root, [...(groups.get(root) ?? []), factor]);
  });
  const sides: { types: Set<string>; leaf: ComparisonLeaf }[] = [];
  for (const group of groups.values()) {
    const decision = decideGroup(group, budget);
    if (decision.types.size === 0) return decision;
    sides.push({
      types: decision.types,
      leaf: comparisonLeaves(group[0] as ComparisonExpression).sort(byPosition)[0] as ComparisonLeaf,
    });
  }
  let types = new Set((sides[0] as { types: Set<string> }).types);
  for (const side of sides.slice(1)) types = new Set([...types].filter((t) => side.types.has(t)));
  return { types, failures: types.size === 0 ? [emptyInterTypes(sides)] : [] };
}

function decideGroup(group: ComparisonExpression[], budget: { plans: number }): Decision {
  if (group.length === 1) return decideComparison(group[0] as ComparisonExpression, budget);
  const joined = group.reduce((l, r): ComparisonExpression => ({ kind: 'and', left: l, right: r }));
  const count = countConjuncts(joined, COMPONENT_LIMIT);
  if (count <= COMPONENT_LIMIT && count <= budget.plans) {
    const types = new Set<string>();
    const failures: Failure[] = [];
    for (const leaves of conjuncts(joined)) {
      budget.plans--;
      const plan = planConjunct(leaves);
      if (plan.root || !plan.failure?.unsat) {
        const only = new Set(leaves.map((l) => l.path.objectType));
        if (only.size === 1) types.add([...only][0] as string);
      } else if (failures.length < MAX_FAILURES && !failures.some((f) => f.message === plan.failure?.message))
        failures.push(plan.failure);
    }
    return { types, failures: types.size === 0 ? failures : [] };
  }
  // Too many to list together: each operand on its own (weaker, still sound).
  const sides: { types: Set<string>; leaf: ComparisonLeaf }[] = [];
  for (const factor of group) {
    const decision = decideComparison(factor, budget);
    if (decision.types.size === 0) return decision;
    sides.push({ types: decision.types, leaf: comparisonLeaves(factor).sort(byPosition)[0] as ComparisonLeaf });
  }
  let types = new Set((sides[0] as { types: Set<string> }).types);
  for (const side of sides.slice(1)) types = new Set([...types].filter((t) => side.types.has(t)));
  return { types, failures: types.size === 0 ? [emptyInterTypes(sides)] : [] };
}
