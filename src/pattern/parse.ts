/**
 * Pattern text → typed AST. ANTLR (antlr-ng generated, antlr4ng runtime) gives the parse tree;
 * this module turns it into the AST and collects every syntax and literal error as a typed
 * diagnostic with line and column, instead of stopping at the first one.
 */
import {
  BailErrorStrategy,
  BaseErrorListener,
  CharStream,
  CommonTokenStream,
  DefaultErrorStrategy,
  ParseCancellationException,
  PredictionMode,
  type ATNSimulator,
  type ParserRuleContext,
  type RecognitionException,
  type Recognizer,
  type TerminalNode,
  type Token,
} from 'antlr4ng';
import type { Diagnostic } from '../errors.js';
import type {
  ComparisonExpression,
  Literal,
  ObjectPath,
  ObservationExpression,
  PathStep,
  PatternAst,
  Qualifier,
  Span,
} from './ast.js';
import { diagnosticAt, PatternDiagnosticCode as Code } from './diagnostics.js';
import { STIXPatternLexer } from './generated/STIXPatternLexer.js';
import {
  ComparisonExpressionAndContext,
  ComparisonExpressionContext,
  IndexPathStepContext,
  KeyPathStepContext,
  ObservationExpressionAndContext,
  ObservationExpressionCompoundContext,
  ObservationExpressionContext,
  ObservationExpressionOrContext,
  ObservationExpressionRepeatedContext,
  ObservationExpressionsContext,
  ObservationExpressionSimpleContext,
  ObservationExpressionStartStopContext,
  ObservationExpressionWithinContext,
  ObjectPathContext,
  OrderableLiteralContext,
  PrimitiveLiteralContext,
  PropTestContext,
  PropTestEqualContext,
  PropTestExistsContext,
  PropTestIsSubsetContext,
  PropTestIsSupersetContext,
  PropTestLikeContext,
  PropTestOrderContext,
  PropTestParenContext,
  PropTestRegexContext,
  PropTestSetContext,
  STIXPatternParser,
  type PatternContext,
} from './generated/STIXPatternParser.js';
import { parseSimpleEquality } from './fast-parse.js';
import { decodeBase64, decodeHex, parseStixTimestamp } from './literals.js';

export type StixVersion = '2.0' | '2.1';

export interface ParseResult {
  ast?: PatternAst;
  diagnostics: Diagnostic[];
}

class CollectingErrorListener extends BaseErrorListener {
  readonly diagnostics: Diagnostic[] = [];

  override syntaxError<S extends Token, T extends ATNSimulator>(
    recognizer: Recognizer<T>,
    offendingSymbol: S | null,
    line: number,
    charPositionInLine: number,
    msg: string,
    e: RecognitionException | null,
  ): void {
    // After the first error the parser recovers and often reports knock-on errors at the same
    // place; one diagnostic per position is what a reader wants.
    if (this.diagnostics.some((d) => d.line === line && d.column === charPositionInLine + 1)) return;
    const diagnostic: Diagnostic = {
      severity: 'error',
      code: Code.syntax,
      message: msg,
      line,
      column: charPositionInLine + 1,
    };
    if (offendingSymbol) {
      diagnostic.offset = offendingSymbol.start;
      diagnostic.length = Math.max(1, offendingSymbol.stop - offendingSymbol.start + 1);
      diagnostic.offendingToken = offendingSymbol.type === -1 ? '<EOF>' : (offendingSymbol.text ?? '');
    }
    if (recognizer instanceof STIXPatternParser) {
      const expected = (e?.getExpectedTokens() ?? recognizer.getExpectedTokens()).toArray();
      if (expected.length > 0) {
        diagnostic.expected = expected.map((t) => recognizer.vocabulary.getDisplayName(t) ?? String(t));
      }
    }
    this.diagnostics.push(diagnostic);
  }
}

function spanOfTokens(start: Token, stop: Token | null): Span {
  const end = stop ?? start;
  return {
    offset: start.start,
    length: Math.max(0, end.stop - start.start + 1),
    line: start.line,
    column: start.column + 1,
  };
}

function spanOf(ctx: ParserRuleContext | TerminalNode): Span {
  if ('symbol' in ctx) return spanOfTokens(ctx.symbol, ctx.symbol);
  return spanOfTokens(ctx.start as Token, ctx.stop);
}

/**
 * Patterns nested deeper than this are refused before parsing: the recursive-descent parser
 * and the AST builder use the call stack, and no real rule nests anywhere near this deep.
 */
export const MAX_PATTERN_NESTING = 200;
/** Likewise for the number of operators (a chain of 20,000 ANDs is not a rule, it is an attack). */
export const MAX_PATTERN_OPERATORS = 2000;

function complexityDiagnostic(text: string): Diagnostic | undefined {
  let depth = 0;
  let maxDepth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === "'") inString = false;
      continue;
    }
    if (c === "'") inString = true;
    else if (c === '(' || c === '[') maxDepth = Math.max(maxDepth, ++depth);
    else if (c === ')' || c === ']') depth--;
  }
  if (maxDepth > MAX_PATTERN_NESTING) {
    return {
      severity: 'error',
      code: Code.tooComplex,
      message: `the pattern nests ${maxDepth} levels deep; at most ${MAX_PATTERN_NESTING} are accepted`,
      line: 1,
      column: 1,
    };
  }
  const operators = text.match(/\b(?:AND|OR|FOLLOWEDBY)\b/g)?.length ?? 0;
  if (operators > MAX_PATTERN_OPERATORS) {
    return {
      severity: 'error',
      code: Code.tooComplex,
      message: `the pattern has ${operators} AND/OR/FOLLOWEDBY operators; at most ${MAX_PATTERN_OPERATORS} are accepted (split it into several rules)`,
      line: 1,
      column: 1,
    };
  }
  return undefined;
}

/**
 * Parses pattern text. Returns the AST when there is no error; diagnostics either way. The
 * commonest indicator shapes, `[type:path = 'value']` and `[type:path ISSUBSET 'cidr']`, take a
 * fast path that gives the same AST.
 */
export function parsePattern(text: string, options: { stixVersion?: StixVersion } = {}): ParseResult {
  const simple = parseSimpleEquality(text);
  return simple ? { ast: simple, diagnostics: [] } : parseWithAntlr(text, options);
}

/** parsePattern without the fast path: every pattern through the ANTLR parser. */
export function parseWithAntlr(text: string, options: { stixVersion?: StixVersion } = {}): ParseResult {
  const tooComplex = complexityDiagnostic(text);
  if (tooComplex) return { diagnostics: [tooComplex] };
  try {
    return parseChecked(text, options);
  } catch (error) {
    // The limits above keep the parser within the stack; this is the last line of defence.
    if (error instanceof RangeError) {
      return {
        diagnostics: [
          {
            severity: 'error',
            code: Code.tooComplex,
            message: `the pattern is too complex to parse: ${error.message}`,
            line: 1,
            column: 1,
          },
        ],
      };
    }
    throw error;
  }
}

function parseChecked(text: string, options: { stixVersion?: StixVersion }): ParseResult {
  const listener = new CollectingErrorListener();
  const lexer = new STIXPatternLexer(CharStream.fromString(text));
  lexer.removeErrorListeners();
  lexer.addErrorListener(listener);
  const tokens = new CommonTokenStream(lexer);
  const parser = new STIXPatternParser(tokens);
  parser.removeErrorListeners();
  // Two-stage parsing: the cheaper SLL prediction, bailing out at the first error; only a
  // pattern that fails it is parsed again with full LL and error recovery, which is what
  // gives the complete, precise diagnostics.
  parser.interpreter.predictionMode = PredictionMode.SLL;
  parser.errorHandler = new BailErrorStrategy();
  let tree: PatternContext;
  try {
    tree = parser.pattern();
  } catch (error) {
    if (!(error instanceof ParseCancellationException)) throw error;
    tokens.seek(0);
    parser.reset();
    parser.addErrorListener(listener);
    parser.errorHandler = new DefaultErrorStrategy();
    parser.interpreter.predictionMode = PredictionMode.LL;
    tree = parser.pattern();
  }
  if (listener.diagnostics.length > 0) return { diagnostics: listener.diagnostics };

  const builder = new AstBuilder(options.stixVersion ?? '2.1');
  const root = builder.observationExpressions(tree.observationExpressions());
  return builder.diagnostics.length > 0 ? { diagnostics: builder.diagnostics } : { ast: { root }, diagnostics: [] };
}

class AstBuilder {
  readonly diagnostics: Diagnostic[] = [];

  constructor(private readonly stixVersion: StixVersion) {}

  private error(code: string, message: string, span: Span): void {
    this.diagnostics.push(diagnosticAt('error', code, message, span));
  }

  observationExpressions(ctx: ObservationExpressionsContext): ObservationExpression {
    const operands = ctx.observationExpressions();
    if (operands.length === 2) {
      return {
        kind: 'followedBy',
        left: this.observationExpressions(operands[0] as ObservationExpressionsContext),
        right: this.observationExpressions(operands[1] as ObservationExpressionsContext),
      };
    }
    return this.observationExpressionOr(ctx.observationExpressionOr() as ObservationExpressionOrContext);
  }

  private observationExpressionOr(ctx: ObservationExpressionOrContext): ObservationExpression {
    const operands = ctx.observationExpressionOr();
    if (operands.length === 2) {
      return {
        kind: 'or',
        left: this.observationExpressionOr(operands[0] as ObservationExpressionOrContext),
        right: this.observationExpressionOr(operands[1] as ObservationExpressionOrContext),
      };
    }
    return this.observationExpressionAnd(ctx.observationExpressionAnd() as ObservationExpressionAndContext);
  }

  private observationExpressionAnd(ctx: ObservationExpressionAndContext): ObservationExpression {
    const operands = ctx.observationExpressionAnd();
    if (operands.length === 2) {
      return {
        kind: 'and',
        left: this.observationExpressionAnd(operands[0] as ObservationExpressionAndContext),
        right: this.observationExpressionAnd(operands[1] as ObservationExpressionAndContext),
      };
    }
    return this.observationExpression(ctx.observationExpression() as ObservationExpressionContext);
  }

  private observationExpression(ctx: ObservationExpressionContext): ObservationExpression {
    if (ctx instanceof ObservationExpressionSimpleContext) {
      return {
        kind: 'observation',
        comparison: this.comparisonExpression(ctx.comparisonExpression()),
        span: spanOf(ctx),
      };
    }
    if (ctx instanceof ObservationExpressionCompoundContext) {
      return this.observationExpressions(ctx.observationExpressions());
    }
    // A chain of qualifiers: collect it so that a kind repeated on the same bracketed
    // observation can be reported. On a parenthesised group a repeated kind is allowed, as
    // the OASIS validator allows it (`([a]) WITHIN 5 SECONDS WITHIN 6 SECONDS`).
    const chain: { qualifier: Qualifier; span: Span }[] = [];
    let base: ObservationExpressionContext = ctx;
    for (;;) {
      if (base instanceof ObservationExpressionWithinContext) {
        chain.unshift({ qualifier: this.within(base), span: spanOf(base.withinQualifier()) });
        base = base.observationExpression();
      } else if (base instanceof ObservationExpressionRepeatedContext) {
        chain.unshift({ qualifier: this.repeats(base), span: spanOf(base.repeatedQualifier()) });
        base = base.observationExpression();
      } else if (base instanceof ObservationExpressionStartStopContext) {
        chain.unshift({ qualifier: this.startStop(base), span: spanOf(base.startStopQualifier()) });
        base = base.observationExpression();
      } else break;
    }
    // STIX 2.0 has no such rule (and its reference suite repeats REPEATS), so only 2.1 checks.
    if (base instanceof ObservationExpressionSimpleContext && this.stixVersion === '2.1') {
      const seen = new Set<string>();
      for (const { qualifier, span } of chain) {
        if (seen.has(qualifier.kind)) {
          this.error(
            Code.qualifierRepeated,
            `the ${qualifierKeyword(qualifier.kind)} qualifier is given twice on the same observation expression`,
            span,
          );
        }
        seen.add(qualifier.kind);
      }
    }
    let expression = this.observationExpression(base);
    for (const { qualifier } of chain) expression = { kind: 'qualified', qualifier, expression };
    return expression;
  }

  private within(ctx: ObservationExpressionWithinContext): Qualifier {
    const q = ctx.withinQualifier();
    const token = (q.IntPosLiteral() ?? q.FloatPosLiteral()) as TerminalNode;
    const seconds = Number(token.getText());
    if (!(seconds > 0) || !Number.isFinite(seconds)) {
      this.error(Code.withinZero, `WITHIN needs a positive number of seconds, got ${token.getText()}`, spanOf(token));
    }
    return { kind: 'within', seconds, span: spanOf(q) };
  }

  private repeats(ctx: ObservationExpressionRepeatedContext): Qualifier {
    const q = ctx.repeatedQualifier();
    const token = q.IntPosLiteral();
    const times = Number(token.getText());
    if (!(times >= 1) || !Number.isSafeInteger(times)) {
      this.error(Code.repeatsZero, `REPEATS needs a whole number of at least 1, got ${token.getText()}`, spanOf(token));
    }
    return { kind: 'repeats', times, span: spanOf(q) };
  }

  private startStop(ctx: ObservationExpressionStartStopContext): Qualifier {
    const q = ctx.startStopQualifier();
    const bounds = [...q.TimestampLiteral(), ...q.StringLiteral()].sort((a, b) => a.symbol.start - b.symbol.start);
    const [start, stop] = bounds.map((node) => this.startStopBound(node)) as [
      Literal & { type: 'timestamp' },
      Literal & { type: 'timestamp' },
    ];
    if (start.value >= stop.value && this.diagnostics.length === 0) {
      this.error(
        Code.startNotBeforeStop,
        `START ${start.text} is not before STOP ${stop.text}: the qualifier can never match`,
        spanOf(q),
      );
    }
    return { kind: 'startStop', start, stop, span: spanOf(q) };
  }

  private startStopBound(node: TerminalNode): Literal & { type: 'timestamp' } {
    if (node.symbol.type === STIXPatternParser.StringLiteral) {
      if (this.stixVersion === '2.1') {
        this.error(
          Code.startStopString,
          `STIX 2.1 requires a timestamp literal t'…' after START and STOP, got ${node.getText()}`,
          spanOf(node),
        );
        return { type: 'timestamp', value: 0, text: '' };
      }
      const text = this.stringBody(node);
      return this.timestamp(text, node);
    }
    return this.timestamp(node.getText().slice(2, -1), node);
  }

  private timestamp(text: string, node: TerminalNode): Literal & { type: 'timestamp' } {
    const value = parseStixTimestamp(text);
    if (value === undefined) {
      this.error(
        Code.badTimestamp,
        `'${text}' is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.fraction]Z, upper-case T and Z)`,
        spanOf(node),
      );
      return { type: 'timestamp', value: 0, text };
    }
    return { type: 'timestamp', value, text };
  }

  private comparisonExpression(ctx: ComparisonExpressionContext): ComparisonExpression {
    const operands = ctx.comparisonExpression();
    if (operands.length === 2) {
      return {
        kind: 'or',
        left: this.comparisonExpression(operands[0] as ComparisonExpressionContext),
        right: this.comparisonExpression(operands[1] as ComparisonExpressionContext),
      };
    }
    return this.comparisonExpressionAnd(ctx.comparisonExpressionAnd() as ComparisonExpressionAndContext);
  }

  private comparisonExpressionAnd(ctx: ComparisonExpressionAndContext): ComparisonExpression {
    const operands = ctx.comparisonExpressionAnd();
    if (operands.length === 2) {
      return {
        kind: 'and',
        left: this.comparisonExpressionAnd(operands[0] as ComparisonExpressionAndContext),
        right: this.comparisonExpressionAnd(operands[1] as ComparisonExpressionAndContext),
      };
    }
    return this.propTest(ctx.propTest() as PropTestContext);
  }

  private propTest(ctx: PropTestContext): ComparisonExpression {
    const span = spanOf(ctx);
    if (ctx instanceof PropTestParenContext) return this.comparisonExpression(ctx.comparisonExpression());
    if (ctx instanceof PropTestExistsContext) {
      return { kind: 'exists', path: this.objectPath(ctx.objectPath()), negated: ctx.NOT() !== null, span };
    }
    if (ctx instanceof PropTestSetContext) {
      const set = ctx.setLiteral();
      const values = set.primitiveLiteral().map((lit) => this.primitiveLiteral(lit));
      return { kind: 'in', path: this.objectPath(ctx.objectPath()), negated: ctx.NOT() !== null, values, span };
    }
    const path = this.objectPath((ctx as PropTestEqualContext).objectPath());
    const negated = (ctx as PropTestEqualContext).NOT() !== null;
    if (ctx instanceof PropTestEqualContext) {
      const operator = ctx.EQ() ? '=' : '!=';
      return {
        kind: 'comparison',
        path,
        operator,
        negated,
        value: this.primitiveLiteral(ctx.primitiveLiteral()),
        span,
      };
    }
    if (ctx instanceof PropTestOrderContext) {
      const operator = ctx.GT() ? '>' : ctx.LT() ? '<' : ctx.GE() ? '>=' : '<=';
      return {
        kind: 'comparison',
        path,
        operator,
        negated,
        value: this.orderableLiteral(ctx.orderableLiteral()),
        span,
      };
    }
    const stringOperand = (node: TerminalNode): Literal => ({ type: 'string', value: this.stringBody(node) });
    if (ctx instanceof PropTestLikeContext) {
      return { kind: 'comparison', path, operator: 'LIKE', negated, value: stringOperand(ctx.StringLiteral()), span };
    }
    if (ctx instanceof PropTestRegexContext) {
      return {
        kind: 'comparison',
        path,
        operator: 'MATCHES',
        negated,
        value: stringOperand(ctx.StringLiteral()),
        span,
      };
    }
    if (ctx instanceof PropTestIsSubsetContext) {
      return {
        kind: 'comparison',
        path,
        operator: 'ISSUBSET',
        negated,
        value: stringOperand(ctx.StringLiteral()),
        span,
      };
    }
    if (ctx instanceof PropTestIsSupersetContext) {
      return {
        kind: 'comparison',
        path,
        operator: 'ISSUPERSET',
        negated,
        value: stringOperand(ctx.StringLiteral()),
        span,
      };
    }
    throw new Error(`unhandled comparison form: ${ctx.getText()}`);
  }

  private objectPath(ctx: ObjectPathContext): ObjectPath {
    const objectType = ctx.objectType().getText();
    const first = ctx.firstPathComponent();
    const steps: PathStep[] = [];
    const firstString = first.StringLiteral();
    steps.push({ kind: 'key', name: firstString ? this.stringBody(firstString) : first.getText() });
    for (const component of ctx.objectPathComponent()) {
      if (component instanceof KeyPathStepContext) {
        const quoted = component.StringLiteral();
        const bare = component.IdentifierWithoutHyphen();
        steps.push({ kind: 'key', name: quoted ? this.stringBody(quoted) : (bare as TerminalNode).getText() });
      } else if (component instanceof IndexPathStepContext) {
        if (component.ASTERISK()) steps.push({ kind: 'anyIndex' });
        else {
          const token = (component.IntPosLiteral() ?? component.IntNegLiteral()) as TerminalNode;
          steps.push({ kind: 'index', index: Number(token.getText()) });
        }
      }
    }
    return { objectType, steps, span: spanOf(ctx) };
  }

  private primitiveLiteral(ctx: PrimitiveLiteralContext): Literal {
    const bool = ctx.BoolLiteral();
    if (bool) return { type: 'bool', value: bool.getText() === 'true' };
    return this.orderableLiteral(ctx.orderableLiteral() as OrderableLiteralContext);
  }

  private orderableLiteral(ctx: OrderableLiteralContext): Literal {
    const node = ctx.getChild(0) as TerminalNode;
    const text = node.getText();
    switch (node.symbol.type) {
      case STIXPatternParser.IntPosLiteral:
      case STIXPatternParser.IntNegLiteral: {
        const value = Number(text);
        if (!Number.isSafeInteger(value)) {
          this.error(
            Code.badNumber,
            `integer ${text} is outside the range that compares exactly (±2^53)`,
            spanOf(node),
          );
        }
        return { type: 'int', value };
      }
      case STIXPatternParser.FloatPosLiteral:
      case STIXPatternParser.FloatNegLiteral:
        return { type: 'float', value: Number(text) };
      case STIXPatternParser.StringLiteral:
        return { type: 'string', value: this.stringBody(node) };
      case STIXPatternParser.TimestampLiteral:
        return this.timestamp(text.slice(2, -1), node);
      case STIXPatternParser.BinaryLiteral: {
        const value = decodeBase64(text.slice(2, -1));
        if (!value)
          this.error(
            Code.badBase64,
            `${text} is not valid base64 (groups of four characters from A–Z a–z 0–9 + /, '=' padding)`,
            spanOf(node),
          );
        return { type: 'binary', value: value ?? new Uint8Array(), encoding: 'base64' };
      }
      case STIXPatternParser.HexLiteral: {
        const value = decodeHex(text.slice(2, -1));
        if (!value) this.error(Code.badHex, `${text} is not valid hex (pairs of 0–9 a–f digits)`, spanOf(node));
        return { type: 'binary', value: value ?? new Uint8Array(), encoding: 'hex' };
      }
      default:
        throw new Error(`unhandled literal token: ${text}`);
    }
  }

  /** The value of a quoted string: only `\'` and `\\` are escapes (STIX 2.1, 9.4). */
  private stringBody(node: TerminalNode): string {
    const raw = node.getText().slice(1, -1);
    if (!raw.includes('\\')) return raw;
    let out = '';
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i] as string;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const next = raw[i + 1];
      if (next === '\\' || next === "'") {
        out += next;
        i++;
      } else {
        const span = spanOf(node);
        this.error(Code.badString, `'\\${next ?? ''}' is not an escape in a STIX string: only \\' and \\\\ are`, {
          ...span,
          offset: span.offset + 1 + i,
          column: span.column + 1 + i,
          length: 2,
        });
        out += c;
      }
    }
    return out;
  }
}

function qualifierKeyword(kind: Qualifier['kind']): string {
  return kind === 'within' ? 'WITHIN' : kind === 'repeats' ? 'REPEATS' : 'START/STOP';
}
