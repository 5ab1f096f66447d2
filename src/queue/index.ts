export type { MessageSink, MessageSource, OutgoingMessage, ReceivedMessage, SendFailure, SendResult } from './types.js';
export { QueueAckError, QueueConfigError, QueueServiceError } from './errors.js';
export { DEFAULT_RETRY_POLICY, backoffDelayMs, isTransientError, type RetryPolicy } from './retry.js';
export {
  SQS_DEFAULT_MAX_BATCH_BYTES,
  SQS_DEFAULT_MAX_MESSAGE_BYTES,
  SQS_MAX_BATCH_ENTRIES,
  SqsMessageSink,
  fifoToken,
  messageTooLarge,
  type SqsMessageSinkOptions,
} from './sqs-sink.js';
export { SQS_MAX_WAIT_SECONDS, SqsMessageSource, type SqsMessageSourceOptions } from './sqs-source.js';
export { InMemoryQueue, type InMemoryQueueOptions } from './memory-queue.js';
