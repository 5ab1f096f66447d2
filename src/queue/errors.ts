import { StixflowError } from '../errors.js';

/** A queue that cannot be set up or used as asked (FIFO naming, bad options, missing queue). */
export class QueueConfigError extends StixflowError {
  constructor(message: string) {
    super('queue-config', message);
  }
}

/** The queue service failed a call in a way retries did not fix. */
export class QueueServiceError extends StixflowError {
  constructor(message: string, cause?: unknown) {
    super('queue-service', message, [], { cause });
  }
}

/**
 * Some received messages could not be acknowledged; they will become visible again and be
 * redelivered, so consumers must tolerate duplicates (alert ids are deterministic for that).
 */
export class QueueAckError extends StixflowError {
  readonly failed: { messageId: string; reason: string }[];

  constructor(failed: { messageId: string; reason: string }[]) {
    super('queue-ack', `${failed.length} message(s) could not be acknowledged and will be redelivered`);
    this.failed = failed;
  }
}
