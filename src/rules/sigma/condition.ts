/**
 * The Sigma condition language (specification v2): search identifiers joined by `and`, `or`,
 * `not` and parentheses, and `1 of` / `all of` a wildcard name or `them`. Parsed into a tree of
 * identifiers, which the compiler replaces by the compiled selections.
 */
import { StixflowBaseError } from '../../errors.js';

export type ConditionNode =
  | { kind: 'identifier'; name: string }
  | { kind: 'of'; quantifier: 'one' | 'all'; names: string[]; target: string }
  | { kind: 'and' | 'or'; items: ConditionNode[] }
  | { kind: 'not'; item: ConditionNode };

export type ConditionResult = { ok: true; node: ConditionNode } | { ok: false; message: string; offset: number };

interface Token {
  text: string;
  offset: number;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(\(|\)|\||[^\s()|]+)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const token = m[1] as string;
    tokens.push({ text: token, offset: m.index + m[0].length - token.length });
  }
  return tokens;
}

class ConditionError extends StixflowBaseError {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Search identifiers a name pattern (`selection_*`, `them`) selects, in detection order. */
function selectNames(target: string, identifiers: readonly string[]): string[] {
  if (target === 'them') return identifiers.filter((name) => !name.startsWith('_'));
  const re = new RegExp(
    `^${target
      .split('*')
      .map((s) => s.replace(/[\\^$.|?+()[\]{}]/g, '\\$&'))
      .join('.*')}$`,
  );
  return identifiers.filter((name) => re.test(name));
}

/**
 * Parses a condition against the detection's search identifiers: an unknown identifier, a
 * name pattern that selects none, or an aggregation (`| count() > 5`, Sigma v1, replaced by
 * correlation rules) is an error with its offset.
 */
export function parseCondition(text: string, identifiers: readonly string[]): ConditionResult {
  const tokens = tokenize(text);
  let at = 0;
  const peek = (): Token | undefined => tokens[at];
  const word = (token: Token | undefined): string | undefined => token?.text.toLowerCase();
  const end = text.length;

  const parseOr = (): ConditionNode => {
    const items = [parseAnd()];
    while (word(peek()) === 'or') {
      at++;
      items.push(parseAnd());
    }
    return items.length === 1 ? (items[0] as ConditionNode) : { kind: 'or', items };
  };
  const parseAnd = (): ConditionNode => {
    const items = [parseNot()];
    while (word(peek()) === 'and') {
      at++;
      items.push(parseNot());
    }
    return items.length === 1 ? (items[0] as ConditionNode) : { kind: 'and', items };
  };
  const parseNot = (): ConditionNode => {
    if (word(peek()) === 'not') {
      at++;
      return { kind: 'not', item: parseNot() };
    }
    return parsePrimary();
  };
  const parsePrimary = (): ConditionNode => {
    const token = peek();
    if (!token) throw new ConditionError('the condition ends where a search identifier is expected', end);
    if (token.text === '|')
      throw new ConditionError(
        'aggregations (`| count() …`) are Sigma v1; write a correlation rule instead',
        token.offset,
      );
    if (token.text === '(') {
      at++;
      const inner = parseOr();
      const close = peek();
      if (close?.text !== ')')
        throw new ConditionError(`expected ')' to close the '(' at ${token.offset + 1}`, close?.offset ?? end);
      at++;
      return inner;
    }
    if (token.text === ')') throw new ConditionError("unexpected ')'", token.offset);
    const lower = word(token) as string;
    if (['and', 'or'].includes(lower)) throw new ConditionError(`unexpected '${token.text}'`, token.offset);
    const next = tokens[at + 1];
    if (word(next) === 'of') {
      const quantifier = lower === '1' || lower === 'any' ? 'one' : lower === 'all' ? 'all' : undefined;
      if (!quantifier)
        throw new ConditionError(`'${token.text} of' is not Sigma: write '1 of' or 'all of'`, token.offset);
      const target = tokens[at + 2];
      if (!target || ['(', ')', '|'].includes(target.text))
        throw new ConditionError(`'${token.text} of' needs a name pattern or 'them'`, target?.offset ?? end);
      at += 3;
      const names = selectNames(target.text, identifiers);
      if (names.length === 0)
        throw new ConditionError(`'${target.text}' names no search identifier of the detection`, target.offset);
      return { kind: 'of', quantifier, names, target: target.text };
    }
    at++;
    if (!identifiers.includes(token.text))
      throw new ConditionError(`'${token.text}' is not a search identifier of the detection`, token.offset);
    return { kind: 'identifier', name: token.text };
  };

  try {
    if (tokens.length === 0) return { ok: false, message: 'the condition is empty', offset: 0 };
    const node = parseOr();
    const rest = peek();
    if (rest)
      throw new ConditionError(
        rest.text === '|'
          ? 'aggregations (`| count() …`) are Sigma v1; write a correlation rule instead'
          : `unexpected '${rest.text}' after a complete condition`,
        rest.offset,
      );
    return { ok: true, node };
  } catch (error) {
    if (error instanceof ConditionError) return { ok: false, message: error.message, offset: error.offset };
    throw error;
  }
}
