/** Queue contracts between the matcher (which emits alerts) and whatever delivers or consumes them. */

export interface OutgoingMessage {
  /** Deterministic alert id: the same alert always gets the same id, so duplicates can be dropped. */
  id: string;
  body: string;
  /** FIFO message group; defaults to the id, which gives no ordering between alerts but full parallelism. */
  groupId?: string;
}

export interface SendResult {
  /** Ids accepted by the queue (including FIFO duplicates the queue dropped, which SQS reports as success). */
  sent: string[];
  /**
   * Messages the queue did not take. `permanent`: it never will (too large for the queue,
   * refused as the sender's fault), so retrying the same message is pointless; otherwise the
   * failure is transient (throttling, an outage) and a retry may succeed.
   */
  failed: SendFailure[];
}

export interface SendFailure {
  id: string;
  reason: string;
  permanent?: boolean;
}

export interface MessageSink {
  send(messages: OutgoingMessage[]): Promise<SendResult>;
}

export interface ReceivedMessage {
  messageId: string;
  body: string;
  receiptHandle: string;
  /** System attributes such as ApproximateReceiveCount, MessageGroupId, MessageDeduplicationId. */
  attributes: Record<string, string>;
}

export interface MessageSource {
  receive(max: number, waitSeconds: number): Promise<ReceivedMessage[]>;
  ack(messages: ReceivedMessage[]): Promise<void>;
}
