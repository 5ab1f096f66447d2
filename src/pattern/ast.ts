/**
 * Typed AST of a STIX pattern. Parenthesised groups leave no node of their own: precedence is
 * in the tree shape, and the printer adds the parentheses back where they are needed.
 */

/** Where a node came from in the pattern text (0-based offset, 1-based line and column). */
export interface Span {
  offset: number;
  length: number;
  line: number;
  column: number;
}

export type PathStep = { kind: 'key'; name: string } | { kind: 'index'; index: number } | { kind: 'anyIndex' };

export interface ObjectPath {
  objectType: string;
  steps: PathStep[];
  span?: Span;
}

export type Literal =
  | { type: 'string'; value: string }
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'bool'; value: boolean }
  /** From `b'…'` (base64) or `h'…'` (hex): the decoded bytes; `encoding` keeps the written form. */
  | { type: 'binary'; value: Uint8Array; encoding: 'base64' | 'hex' }
  /** Microseconds since the epoch, and the text as written. */
  | { type: 'timestamp'; value: number; text: string };

export type ComparisonOperator =
  '=' | '!=' | '<' | '<=' | '>' | '>=' | 'IN' | 'LIKE' | 'MATCHES' | 'ISSUBSET' | 'ISSUPERSET';

export type ComparisonExpression =
  | {
      kind: 'comparison';
      path: ObjectPath;
      operator: Exclude<ComparisonOperator, 'IN'>;
      negated: boolean;
      value: Literal;
      span?: Span;
    }
  | { kind: 'in'; path: ObjectPath; negated: boolean; values: Literal[]; span?: Span }
  | { kind: 'exists'; path: ObjectPath; negated: boolean; span?: Span }
  | FieldReference
  | { kind: 'and' | 'or'; left: ComparisonExpression; right: ComparisonExpression };

/**
 * Not STIX: a comparison of two properties of the same root object (Sigma's `fieldref`), which the STIX grammar
 * cannot write (its right-hand side is always a constant). Only compiled Sigma rules build it, never the parser;
 * it prints in an internal form (`a = FIELD(b)`) that no STIX parser accepts. It holds when a value at `path`
 * equals (starts with, ends with, contains) a value at `other`; negated, when both have values and none relate.
 */
export interface FieldReference {
  kind: 'fieldref';
  path: ObjectPath;
  other: ObjectPath;
  relation: FieldRelation;
  negated: boolean;
  span?: Span;
}

export type FieldRelation = 'equals' | 'startswith' | 'endswith' | 'contains';

export type Qualifier =
  | { kind: 'within'; seconds: number; span?: Span }
  | { kind: 'startStop'; start: Literal & { type: 'timestamp' }; stop: Literal & { type: 'timestamp' }; span?: Span }
  | { kind: 'repeats'; times: number; span?: Span };

export type ObservationExpression =
  | { kind: 'observation'; comparison: ComparisonExpression; span?: Span }
  | { kind: 'and' | 'or' | 'followedBy'; left: ObservationExpression; right: ObservationExpression }
  | { kind: 'qualified'; qualifier: Qualifier; expression: ObservationExpression };

export interface PatternAst {
  root: ObservationExpression;
}

/** The bracketed observation expressions of a pattern, left to right. */
export function observationLeaves(
  expr: ObservationExpression,
): Extract<ObservationExpression, { kind: 'observation' }>[] {
  const leaves: Extract<ObservationExpression, { kind: 'observation' }>[] = [];
  const visit = (node: ObservationExpression): void => {
    if (node.kind === 'observation') leaves.push(node);
    else if (node.kind === 'qualified') visit(node.expression);
    else {
      visit(node.left);
      visit(node.right);
    }
  };
  visit(expr);
  return leaves;
}

/** Every comparison (leaf) of a comparison expression, left to right. */
export type ComparisonLeaf = Exclude<ComparisonExpression, { kind: 'and' | 'or' }>;
export type ComparisonJunction = Extract<ComparisonExpression, { kind: 'and' | 'or' }>;

export function isComparisonJunction(expr: ComparisonExpression): expr is ComparisonJunction {
  return expr.kind === 'and' || expr.kind === 'or';
}

/**
 * The operands of a chain of one kind of junction (`a AND b AND c`, however nested), left to
 * right. Iterative: a Sigma list of thousands of values is a chain that deep.
 */
export function junctionOperands(expr: ComparisonJunction): ComparisonExpression[] {
  const out: ComparisonExpression[] = [];
  const stack: ComparisonExpression[] = [expr];
  while (stack.length > 0) {
    const e = stack.pop() as ComparisonExpression;
    if (isComparisonJunction(e) && e.kind === expr.kind) stack.push(e.right, e.left);
    else out.push(e);
  }
  return out;
}

/** The operands of a chain of ANDs (`a AND (b AND c)` → a, b, c); an OR or a leaf is one operand. */
export function andFactors(expr: ComparisonExpression, out: ComparisonExpression[] = []): ComparisonExpression[] {
  if (expr.kind === 'and') {
    andFactors(expr.left, out);
    andFactors(expr.right, out);
  } else out.push(expr);
  return out;
}

export function comparisonLeaves(expr: ComparisonExpression): ComparisonLeaf[] {
  const out: ComparisonLeaf[] = [];
  const visit = (node: ComparisonExpression): void => {
    if (isComparisonJunction(node)) {
      visit(node.left);
      visit(node.right);
    } else {
      out.push(node);
    }
  };
  visit(expr);
  return out;
}
