/** Helpers for tests that drive a running local stack over HTTP and read its queues. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { AlertDocument } from '../../src/engine/alert.js';
import type { LocalStack } from '../../src/local/server.js';

export const EXAMPLE_EVENTS = readFileSync(new URL('../../examples/events.ndjson', import.meta.url), 'utf8');
export const EXAMPLE_LINES = EXAMPLE_EVENTS.trim().split('\n');
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** `Bearer local-dev:<tenant>`, so that tests never share correlation state. */
export const auth = (tenant?: string): Record<string, string> => ({
  authorization: tenant ? `Bearer local-dev:${tenant}` : 'Bearer local-dev',
});

export interface StackClient {
  request(
    method: string,
    path: string,
    body?: string | Buffer,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: Record<string, unknown>; bytes: number }>;
  post(
    path: string,
    body: string | Buffer,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: Record<string, unknown>; bytes: number }>;
  /** Receives (and deletes) messages until `wanted` arrived or the time is up. */
  receiveAll(queueUrl: string, wanted: number, timeoutMs?: number): Promise<Message[]>;
  /** Exactly `count` alerts of the tenant from the alert queue, sorted by rule id; checks that nothing more arrives. */
  alertsFor(tenant: string, count: number): Promise<AlertDocument[]>;
}

export function stackClient(stack: () => LocalStack): StackClient {
  const request: StackClient['request'] = async (method, path, body, headers = auth()) => {
    const response = await fetch(`${stack().url}${path}`, { method, ...(body !== undefined ? { body } : {}), headers });
    const text = await response.text();
    return {
      status: response.status,
      body: JSON.parse(text) as Record<string, unknown>,
      bytes: Buffer.byteLength(text),
    };
  };
  const receiveAll: StackClient['receiveAll'] = async (queueUrl, wanted, timeoutMs = 8000) => {
    const got: Message[] = [];
    const deadline = Date.now() + timeoutMs;
    while (got.length < wanted && Date.now() < deadline) {
      const { Messages = [] } = await stack().sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
        }),
      );
      got.push(...Messages);
      if (Messages.length > 0) {
        await stack().sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: Messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle ?? '' })),
          }),
        );
      }
    }
    return got;
  };
  return {
    request,
    post: (path, body, headers) => request('POST', path, body, headers),
    receiveAll,
    async alertsFor(tenant, count) {
      const messages = await receiveAll(stack().alertQueueUrl, count);
      const extra = await receiveAll(stack().alertQueueUrl, 1, 1500);
      const alerts = [...messages, ...extra].map((m) => JSON.parse(m.Body ?? '{}') as AlertDocument);
      if (alerts.length !== count || alerts.some((a) => a.tenant !== tenant)) {
        throw new Error(
          `expected ${count} alert(s) of tenant ${tenant}, got ${JSON.stringify(alerts.map((a) => [a.tenant, a.ruleId]))}`,
        );
      }
      return alerts.sort((a, b) => a.ruleId.localeCompare(b.ruleId));
    },
  };
}
