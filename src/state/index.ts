export {
  emptyStoreStats,
  epochSeconds,
  isExpired,
  stateKeyId,
  type PutOutcome,
  type StateItem,
  type StateKey,
  type StateStore,
  type StoreStats,
} from './types.js';
export {
  CounterFlushError,
  InvalidCounterError,
  InvalidStateKeyError,
  InvalidStateWriteError,
  StateStoreError,
} from './errors.js';
export * from './table-schema.js';
export { stateItemBytes } from './item-size.js';
export { InMemoryStateStore, type InMemoryStateStoreOptions } from './memory-store.js';
export { DynamoDbStateStore, type DynamoDbStateStoreOptions } from './dynamodb-store.js';
export { BATCH_GET_MAX_KEYS } from './batch-get.js';
export {
  COUNTER_NAMES,
  AggregatingCounterStore,
  CounterBuffer,
  DynamoDbCounterStore,
  InMemoryCounterStore,
  dayStartMs,
  utcDay,
  zeroCounts,
  type AggregatingCounterStoreOptions,
  type CounterBufferOptions,
  type CounterDeltas,
  type CounterName,
  type CounterStore,
  type CounterValues,
  type DynamoDbCounterStoreOptions,
} from './counters.js';
