// STIX 2.1 patterning grammar (STIX 2.1 specification, Part 9), written for stixflow.
//
// Literal tokens are deliberately lenient where the specification is strict (timestamps,
// base64, hex): a malformed literal is lexed as one token and rejected by the compiler with
// a precise, typed diagnostic, instead of surfacing as an opaque syntax error.
grammar STIXPattern;

pattern
  : observationExpressions EOF
  ;

// Precedence, loosest first: FOLLOWEDBY, OR, AND.
observationExpressions
  : <assoc=left> observationExpressions FOLLOWEDBY observationExpressions
  | observationExpressionOr
  ;

observationExpressionOr
  : <assoc=left> observationExpressionOr OR observationExpressionOr
  | observationExpressionAnd
  ;

observationExpressionAnd
  : <assoc=left> observationExpressionAnd AND observationExpressionAnd
  | observationExpression
  ;

// A qualifier binds to the observation expression (or parenthesised group) right before it.
observationExpression
  : LBRACK comparisonExpression RBRACK        # observationExpressionSimple
  | LPAREN observationExpressions RPAREN      # observationExpressionCompound
  | observationExpression startStopQualifier  # observationExpressionStartStop
  | observationExpression withinQualifier     # observationExpressionWithin
  | observationExpression repeatedQualifier   # observationExpressionRepeated
  ;

comparisonExpression
  : <assoc=left> comparisonExpression OR comparisonExpression
  | comparisonExpressionAnd
  ;

comparisonExpressionAnd
  : <assoc=left> comparisonExpressionAnd AND comparisonExpressionAnd
  | propTest
  ;

propTest
  : objectPath NOT? (EQ | NEQ) primitiveLiteral        # propTestEqual
  | objectPath NOT? (GT | LT | GE | LE) orderableLiteral # propTestOrder
  | objectPath NOT? IN setLiteral                      # propTestSet
  | objectPath NOT? LIKE StringLiteral                 # propTestLike
  | objectPath NOT? MATCHES StringLiteral              # propTestRegex
  | objectPath NOT? ISSUBSET StringLiteral             # propTestIsSubset
  | objectPath NOT? ISSUPERSET StringLiteral           # propTestIsSuperset
  | LPAREN comparisonExpression RPAREN                 # propTestParen
  | NOT? EXISTS objectPath                             # propTestExists
  ;

// STIX 2.0 wrote the bounds as plain strings; 2.1 requires timestamp literals. The compiler
// decides by the requested STIX version.
startStopQualifier
  : START (TimestampLiteral | StringLiteral) STOP (TimestampLiteral | StringLiteral)
  ;

withinQualifier
  : WITHIN (IntPosLiteral | FloatPosLiteral) SECONDS
  ;

repeatedQualifier
  : REPEATS IntPosLiteral TIMES
  ;

objectPath
  : objectType COLON firstPathComponent objectPathComponent*
  ;

objectType
  : IdentifierWithoutHyphen
  | IdentifierWithHyphen
  ;

firstPathComponent
  : IdentifierWithoutHyphen
  | StringLiteral
  ;

objectPathComponent
  : DOT (IdentifierWithoutHyphen | StringLiteral)                     # keyPathStep
  | LBRACK (IntPosLiteral | IntNegLiteral | ASTERISK) RBRACK          # indexPathStep
  ;

setLiteral
  : LPAREN RPAREN
  | LPAREN primitiveLiteral (COMMA primitiveLiteral)* RPAREN
  ;

primitiveLiteral
  : orderableLiteral
  | BoolLiteral
  ;

orderableLiteral
  : IntPosLiteral
  | IntNegLiteral
  | FloatPosLiteral
  | FloatNegLiteral
  | StringLiteral
  | BinaryLiteral
  | HexLiteral
  | TimestampLiteral
  ;

// ---------------------------------------------------------------- lexer

IntNegLiteral   : '-' ('0' | [1-9] [0-9]*) ;
IntPosLiteral   : '+'? ('0' | [1-9] [0-9]*) ;
FloatNegLiteral : '-' [0-9]* '.' [0-9]+ ;
FloatPosLiteral : '+'? [0-9]* '.' [0-9]+ ;

// Content is checked by the compiler (hex pairs, base64 groups, calendar fields).
HexLiteral       : 'h' QuotedBody ;
BinaryLiteral    : 'b' QuotedBody ;
TimestampLiteral : 't' QuotedBody ;

StringLiteral : QuotedBody ;

BoolLiteral : 'true' | 'false' ;

// Keywords are upper case only (STIX 2.1, 9.2).
AND        : 'AND' ;
OR         : 'OR' ;
NOT        : 'NOT' ;
FOLLOWEDBY : 'FOLLOWEDBY' ;
LIKE       : 'LIKE' ;
MATCHES    : 'MATCHES' ;
ISSUPERSET : 'ISSUPERSET' ;
ISSUBSET   : 'ISSUBSET' ;
EXISTS     : 'EXISTS' ;
IN         : 'IN' ;
START      : 'START' ;
STOP       : 'STOP' ;
SECONDS    : 'SECONDS' ;
WITHIN     : 'WITHIN' ;
REPEATS    : 'REPEATS' ;
TIMES      : 'TIMES' ;

IdentifierWithoutHyphen : [a-zA-Z_] [a-zA-Z0-9_]* ;
IdentifierWithHyphen    : [a-zA-Z_] [a-zA-Z0-9_-]* ;

EQ  : '=' | '==' ;
NEQ : '!=' | '<>' ;
LE  : '<=' ;
LT  : '<' ;
GE  : '>=' ;
GT  : '>' ;

COLON    : ':' ;
DOT      : '.' ;
COMMA    : ',' ;
RPAREN   : ')' ;
LPAREN   : '(' ;
RBRACK   : ']' ;
LBRACK   : '[' ;
ASTERISK : '*' ;

WS           : [ \t\r\n\u000B\u000C\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+ -> skip ;
COMMENT      : '/*' .*? '*/' -> skip ;
LINE_COMMENT : '//' ~[\r\n]* -> skip ;

// Anything else becomes a token of its own so that the parser reports it with its position.
UNKNOWN_CHAR : . ;

fragment QuotedBody : '\'' ( ~['\\] | '\\' . )* '\'' ;
