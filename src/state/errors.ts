import { StixflowError } from '../errors.js';

/** A key that cannot be stored: empty tenant or rule, unencodable text, or a key part too long for DynamoDB. */
export class InvalidStateKeyError extends StixflowError {
  constructor(message: string, options?: ErrorOptions) {
    super('invalid-state-key', message, [], options);
  }
}

/** A put or delete whose arguments are malformed (non-string value, bad expiresAt, bad expected version). */
export class InvalidStateWriteError extends StixflowError {
  constructor(message: string) {
    super('invalid-state-write', message);
  }
}

/** Arguments to the counter store that cannot be stored (bad day, non-integer delta). */
export class InvalidCounterError extends StixflowError {
  constructor(message: string) {
    super('invalid-counter', message);
  }
}

/** The backing store failed in a way the caller cannot fix by retrying the same logical operation. */
export class StateStoreError extends StixflowError {
  constructor(message: string, cause?: unknown) {
    super('state-store', message, [], { cause });
  }
}

/** Some counter increments could not be written; their deltas were kept in the buffer for the next flush. */
export class CounterFlushError extends StixflowError {
  readonly failedKeys: number;

  constructor(failedKeys: number, cause: unknown) {
    super('counter-flush', `${failedKeys} counter update(s) failed and were kept for the next flush`, [], { cause });
    this.failedKeys = failedKeys;
  }
}

/**
 * A stored item that cannot be read: a row missing its attributes, a value that is not the
 * state it should be, or a format this version does not know. Retrying the same input meets
 * the same item, so it is never retryable.
 */
export class StateCorruptError extends StixflowError {
  constructor(message: string) {
    super('state-corrupt', message);
  }
}
