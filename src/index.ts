/**
 * The public API of the `stixflow` package (`import { … } from 'stixflow'`; deep imports are
 * not part of it and `exports` blocks them). docs/library.md shows how the pieces fit:
 * patterns, normalisation, rules, and the Detector with its ports (state store, alert sink,
 * counters) and their in-memory and AWS implementations.
 */

// ---- patterns: parse, validate, compile, batch-match
export { compilePattern, checkPattern, CompiledPattern, CompiledObservation } from './pattern/compile.js';
export type { CompileOptions, CheckResult, MatchResult, BoundObservation } from './pattern/compile.js';
export { parsePattern } from './pattern/parse.js';
export type { StixVersion, ParseResult } from './pattern/parse.js';
export { printPattern } from './pattern/print.js';
export type * from './pattern/ast.js';
export { prepareEvent, prepareObservations, prepareObservedData } from './pattern/observation.js';
export type { PreparedObservation, RootObject } from './pattern/observation.js';
export { StixflowError, PatternError, MatchError, InputError, formatDiagnostic, formatDiagnostics } from './errors.js';
export type { Diagnostic, Severity, SourceLocation } from './errors.js';
export type * from './stix/types.js';

// ---- event generation (tests of rules)
export { generateEvents, findUnsatisfiable, GenerationError } from './generate/index.js';
export type { GenerateOptions, GeneratedSet, NearMiss, NearMissKind } from './generate/index.js';

// ---- normalisation: raw events (ECS, flat, STIX, mapping files) into STIX observed data
export { createNormaliser, loadMapping, builtInMappings, toBundle } from './normalise/index.js';
export type {
  Mapping,
  Normaliser,
  NormaliserOptions,
  NormaliseResult,
  NormaliseBatchResult,
} from './normalise/index.js';

// ---- rules
export { loadRules, loadRulesFromPaths, readRuleSources } from './rules/load.js';
export type { LoadResult, RuleSource } from './rules/load.js';
export { createRule, SEVERITIES } from './rules/model.js';
export type { Rule, RuleFilter, RuleSpec, Severity as RuleSeverity } from './rules/model.js';
export { IndicatorSet } from './rules/indicators.js';

// ---- the pipeline: Detector (normalise → match → correlate → gate → sink → counters)
export { Detector } from './pipeline/detector.js';
export type { DetectorOptions, ProcessResult } from './pipeline/detector.js';
export { StreamingEngine } from './engine/streaming.js';
export type { StreamingEngineOptions, EventInput, BatchResult, Explanation, LateEvent } from './engine/streaming.js';
export { toAlertDocument, alertId } from './engine/alert.js';
export type { Alert, AlertDocument, AlertSighting } from './engine/alert.js';

// ---- correlation state: the port, in memory, and DynamoDB (with the table it expects)
export {
  InMemoryStateStore,
  DynamoDbStateStore,
  StateStoreError,
  InvalidStateKeyError,
  InvalidStateWriteError,
  createStateTableInput,
  stateKeyId,
} from './state/index.js';
export type {
  StateStore,
  StateKey,
  StateItem,
  PutOutcome,
  StoreStats,
  InMemoryStateStoreOptions,
  DynamoDbStateStoreOptions,
} from './state/index.js';

// ---- rule-health counters: the port, in memory, and DynamoDB (same table)
export {
  InMemoryCounterStore,
  DynamoDbCounterStore,
  CounterFlushError,
  InvalidCounterError,
  COUNTER_NAMES,
} from './state/index.js';
export type {
  CounterStore,
  CounterName,
  CounterValues,
  CounterDeltas,
  DynamoDbCounterStoreOptions,
} from './state/index.js';

// ---- queues: alert sink and event source ports, in memory and SQS
export {
  InMemoryQueue,
  SqsMessageSink,
  SqsMessageSource,
  QueueAckError,
  QueueConfigError,
  QueueServiceError,
} from './queue/index.js';
export type {
  MessageSink,
  MessageSource,
  OutgoingMessage,
  ReceivedMessage,
  SendResult,
  InMemoryQueueOptions,
  SqsMessageSinkOptions,
  SqsMessageSourceOptions,
  RetryPolicy,
} from './queue/index.js';
