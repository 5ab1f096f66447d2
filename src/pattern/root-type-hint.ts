/**
 * The rewrite suggested for comparisons on different root types joined by AND inside one
 * observation expression (`[file:name = 'a' AND url:value = 'b']`, which can never match: every
 * comparison of a `[ ]` holds on the same root object). What the author wants is one event in
 * which both objects appear; in STIX that is one object that reaches the other through a
 * reference (`[process:name = 'x' AND process:image_ref.name = 'y']`), or the event object
 * that references both (`x-oca-event:file_ref`, `x-oca-event:url_ref`). Splitting into two
 * `[ ]` joined by AND is never suggested: that matches two different events.
 */
import { isComparisonJunction, type ComparisonExpression, type PathStep } from './ast.js';
import { printObservationExpression } from './print.js';

type Edge = { property: string; list: boolean; targets: string[] };

/** Reference properties between object types: STIX 2.1 SCOs and the OCA event and asset objects. */
const REFERENCES: Record<string, Edge[]> = {
  process: [
    { property: 'image_ref', list: false, targets: ['file'] },
    { property: 'parent_ref', list: false, targets: ['process'] },
    { property: 'creator_user_ref', list: false, targets: ['user-account'] },
    { property: 'opened_connection_refs', list: true, targets: ['network-traffic'] },
  ],
  file: [
    { property: 'parent_directory_ref', list: false, targets: ['directory'] },
    { property: 'content_ref', list: false, targets: ['artifact'] },
  ],
  directory: [{ property: 'contains_refs', list: true, targets: ['file', 'directory'] }],
  'network-traffic': [
    { property: 'src_ref', list: false, targets: ['ipv4-addr', 'ipv6-addr', 'mac-addr', 'domain-name'] },
    { property: 'dst_ref', list: false, targets: ['ipv4-addr', 'ipv6-addr', 'mac-addr', 'domain-name'] },
    { property: 'src_payload_ref', list: false, targets: ['artifact'] },
    { property: 'dst_payload_ref', list: false, targets: ['artifact'] },
  ],
  'domain-name': [{ property: 'resolves_to_refs', list: true, targets: ['ipv4-addr', 'ipv6-addr', 'domain-name'] }],
  'ipv4-addr': [{ property: 'resolves_to_refs', list: true, targets: ['mac-addr'] }],
  'ipv6-addr': [{ property: 'resolves_to_refs', list: true, targets: ['mac-addr'] }],
  'email-addr': [{ property: 'belongs_to_ref', list: false, targets: ['user-account'] }],
  'email-message': [
    { property: 'from_ref', list: false, targets: ['email-addr'] },
    { property: 'sender_ref', list: false, targets: ['email-addr'] },
    { property: 'to_refs', list: true, targets: ['email-addr'] },
    { property: 'cc_refs', list: true, targets: ['email-addr'] },
    { property: 'bcc_refs', list: true, targets: ['email-addr'] },
    { property: 'raw_email_ref', list: false, targets: ['artifact'] },
  ],
  'windows-registry-key': [{ property: 'creator_user_ref', list: false, targets: ['user-account'] }],
  'x-oca-event': [
    { property: 'process_ref', list: false, targets: ['process'] },
    { property: 'parent_process_ref', list: false, targets: ['process'] },
    { property: 'file_ref', list: false, targets: ['file'] },
    { property: 'user_ref', list: false, targets: ['user-account'] },
    { property: 'domain_ref', list: false, targets: ['domain-name'] },
    { property: 'url_ref', list: false, targets: ['url'] },
    { property: 'host_ref', list: false, targets: ['x-oca-asset'] },
    { property: 'network_ref', list: false, targets: ['network-traffic'] },
    { property: 'registry_ref', list: false, targets: ['windows-registry-key'] },
  ],
  'x-oca-asset': [
    { property: 'ip_refs', list: true, targets: ['ipv4-addr', 'ipv6-addr'] },
    { property: 'mac_refs', list: true, targets: ['mac-addr'] },
  ],
};

/** The event object of OCA-shaped telemetry: it references what the event is about. */
const EVENT_TYPE = 'x-oca-event';
const MAX_DEPTH = 3;

interface Route {
  steps: PathStep[];
  /** Text of the route (`image_ref`, `opened_connection_refs[*]`), and of the others as short. */
  text: string;
  alternatives: string[];
}

function stepsOf(edge: Edge): PathStep[] {
  return edge.list
    ? [{ kind: 'key', name: edge.property }, { kind: 'anyIndex' }]
    : [{ kind: 'key', name: edge.property }];
}

/** The shortest reference routes from one type to another (breadth first, a few steps deep). */
function route(from: string, to: string): Route | undefined {
  let frontier: { type: string; steps: PathStep[]; text: string }[] = [{ type: from, steps: [], text: '' }];
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const next: typeof frontier = [];
    for (const node of frontier) {
      for (const edge of REFERENCES[node.type] ?? []) {
        const text = `${node.text ? `${node.text}.` : ''}${edge.property}${edge.list ? '[*]' : ''}`;
        for (const target of edge.targets) next.push({ type: target, steps: [...node.steps, ...stepsOf(edge)], text });
      }
    }
    const found = next.filter((n) => n.type === to);
    if (found.length > 0) {
      const first = found[0] as (typeof found)[number];
      return {
        steps: first.steps,
        text: first.text,
        alternatives: [...new Set(found.slice(1).map((f) => f.text))].filter((t) => t !== first.text),
      };
    }
    frontier = next;
  }
  return undefined;
}

function leafTypes(expr: ComparisonExpression, out: string[]): string[] {
  if (isComparisonJunction(expr)) {
    leafTypes(expr.left, out);
    leafTypes(expr.right, out);
  } else if (!out.includes(expr.path.objectType)) out.push(expr.path.objectType);
  return out;
}

/** Root types on which the expression can hold (AND intersects, OR unites). */
function rootTypes(expr: ComparisonExpression): Set<string> {
  if (!isComparisonJunction(expr)) return new Set([expr.path.objectType]);
  const l = rootTypes(expr.left);
  const r = rootTypes(expr.right);
  return expr.kind === 'or' ? new Set([...l, ...r]) : new Set([...l].filter((t) => r.has(t)));
}

interface Plan {
  root: string;
  /** Route from the root to each other type; missing: no known reference. */
  routes: Map<string, Route>;
  missing: string[];
}

/** The root that reaches every other type by the shortest routes in all: one of the types, else the event object. */
function choose(types: string[]): Plan {
  const plans: Plan[] = [];
  for (const root of [...types, ...(types.includes(EVENT_TYPE) ? [] : [EVENT_TYPE])]) {
    const routes = new Map<string, Route>();
    const missing: string[] = [];
    for (const t of types) {
      if (t === root) continue;
      const r = route(root, t);
      if (r) routes.set(t, r);
      else missing.push(t);
    }
    plans.push({ root, routes, missing });
  }
  const cost = (p: Plan): number => [...p.routes.values()].reduce((n, r) => n + r.steps.length, 0);
  const complete = plans.filter((p) => p.missing.length === 0).sort((a, b) => cost(a) - cost(b));
  return complete[0] ?? (plans[0] as Plan);
}

const PLACEHOLDER = '__stixflow_ref_to__';

function reroot(expr: ComparisonExpression, plan: Plan): ComparisonExpression {
  if (isComparisonJunction(expr))
    return { kind: expr.kind, left: reroot(expr.left, plan), right: reroot(expr.right, plan) };
  const type = expr.path.objectType;
  if (type === plan.root) return expr;
  const r = plan.routes.get(type);
  const via: PathStep[] = r ? r.steps : [{ kind: 'key', name: `${PLACEHOLDER}${type}` }];
  return { ...expr, path: { objectType: plan.root, steps: [...via, ...expr.path.steps] } } as ComparisonExpression;
}

interface Rewrite {
  expression: ComparisonExpression;
  plans: Plan[];
}

/** Rewrites every AND chain that can hold on no root type; everything else stays as written. */
function rewrite(expr: ComparisonExpression, plans: Plan[]): ComparisonExpression {
  if (!isComparisonJunction(expr)) return expr;
  if (expr.kind === 'or') return { kind: 'or', left: rewrite(expr.left, plans), right: rewrite(expr.right, plans) };
  if (rootTypes(expr).size > 0) return expr;
  const plan = choose(leafTypes(expr, []));
  plans.push(plan);
  return reroot(expr, plan);
}

function rewriteAll(comparison: ComparisonExpression): Rewrite {
  const plans: Plan[] = [];
  return { expression: rewrite(comparison, plans), plans };
}

/**
 * The hint that follows "… so this can never match": a rewrite of the observation expression in
 * which the objects are reached from one root object through references, and, where no
 * reference between two types is known, the shape such a rewrite takes.
 */
export function differentRootTypesHint(comparison: ComparisonExpression): string {
  const { expression, plans } = rewriteAll(comparison);
  let text = printObservationExpression({ kind: 'observation', comparison: expression });
  text = text.replace(
    new RegExp(`'?${PLACEHOLDER}([a-z0-9-]+)'?`, 'g'),
    (_, type: string) => `<a _ref to the ${type}>`,
  );
  const missing = [...new Set(plans.flatMap((p) => p.missing.map((m) => `${p.root} and ${m}`)))];
  const alternatives = [
    ...new Set(
      plans.flatMap((p) =>
        [...p.routes.values()]
          .filter((r) => r.alternatives.length > 0)
          .map((r) => `${r.text} may instead be ${r.alternatives.join(' or ')}`),
      ),
    ),
  ];
  const separate = '(separate [ ] observations joined by AND would match two different events, not one)';
  if (missing.length > 0) {
    return `both objects must be reached from one root object through a _ref property (no reference between ${missing.join(', ')} is known to stixflow), in this shape: ${text} ${separate}`;
  }
  return `to compare objects of one event, reach them from one object through references: ${text}${alternatives.length > 0 ? ` (${alternatives.join('; ')}, depending on what the event says)` : ''} ${separate}`;
}
