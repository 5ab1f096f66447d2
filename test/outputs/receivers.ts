/**
 * Loopback HTTP receivers standing in for the outputs' services. Each checks what it is sent against the
 * receiver's published format and answers as the service does; each can be told to fail the next requests.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: Record<string, unknown>;
  /** Problems the receiver found with the request (empty: the request is as the format asks). */
  problems: string[];
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Answer the next `count` requests with this status. */
  failNext(count: number, status: number): void;
  close(): Promise<void>;
}

type Check = (request: { headers: Received['headers']; body: string; json: Record<string, unknown> }) => string[];

async function receiver(check: Check, ok: { status: number; body: string }): Promise<Receiver> {
  const received: Received[] = [];
  let failures: { count: number; status: number } = { count: 0, status: 500 };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, unknown> = {};
      const problems: string[] = [];
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        problems.push('body is not JSON');
      }
      if (!String(request.headers['content-type'] ?? '').startsWith('application/json'))
        problems.push('content-type is not application/json');
      problems.push(...check({ headers: request.headers, body, json }));
      received.push({ path: request.url ?? '/', headers: request.headers, body, json, problems });
      if (failures.count > 0) {
        failures.count--;
        response.writeHead(failures.status, { 'content-type': 'text/plain' }).end('unavailable');
        return;
      }
      if (problems.length > 0) {
        response.writeHead(400, { 'content-type': 'text/plain' }).end(problems.join('; '));
        return;
      }
      response.writeHead(ok.status, { 'content-type': 'application/json' }).end(ok.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    failNext: (count, status) => (failures = { count, status }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A webhook receiver that verifies the stixflow signature with the shared key, as docs/outputs.md tells receivers. */
export function webhookReceiver(signingKey: string): Promise<Receiver> {
  return receiver(
    ({ headers, body, json }) => {
      const problems: string[] = [];
      const timestamp = String(headers['x-stixflow-timestamp'] ?? '');
      const signature = String(headers['x-stixflow-signature'] ?? '');
      const expected = `sha256=${createHmac('sha256', signingKey).update(`${timestamp}.${body}`).digest('hex')}`;
      if (signature.length !== expected.length || !timingSafeEqual(Buffer.from(signature), Buffer.from(expected)))
        problems.push('signature does not verify');
      if (!/^\d+$/.test(timestamp)) problems.push('no timestamp');
      if (headers['x-stixflow-alert-id'] !== json.id) problems.push('x-stixflow-alert-id is not the alert id');
      if (json.schema !== 'stixflow.alert/1') problems.push('body is not an alert document');
      return problems;
    },
    { status: 200, body: '{}' },
  );
}

/** Slack incoming webhooks: `text` (required as the fallback), Block Kit blocks within Slack's limits; answers "ok". */
export function slackReceiver(): Promise<Receiver> {
  return receiver(
    ({ json }) => {
      const problems: string[] = [];
      if (typeof json.text !== 'string' || json.text === '') problems.push('no text');
      const blocks = json.blocks as
        { type: string; text?: { type: string; text: string }; fields?: unknown[] }[] | undefined;
      if (!Array.isArray(blocks) || blocks.length > 50) problems.push('blocks missing or more than 50');
      for (const block of blocks ?? []) {
        if (!['header', 'section', 'context', 'divider'].includes(block.type))
          problems.push(`unknown block ${block.type}`);
        if (block.type === 'header' && (block.text?.type !== 'plain_text' || block.text.text.length > 150))
          problems.push('header text must be plain_text of at most 150 characters');
        if (block.fields && block.fields.length > 10) problems.push('more than 10 fields in a section');
      }
      return problems;
    },
    { status: 200, body: 'ok' },
  );
}

/** PagerDuty Events API v2: routing_key, event_action, payload.summary/source/severity; answers 202 with the dedup key. */
export function pagerDutyReceiver(): Promise<Receiver> {
  const r = receiver(
    ({ json }) => {
      const problems: string[] = [];
      if (typeof json.routing_key !== 'string' || json.routing_key.length !== 32)
        problems.push('routing_key must be 32 characters');
      if (!['trigger', 'acknowledge', 'resolve'].includes(json.event_action as string))
        problems.push('bad event_action');
      const payload = json.payload as Record<string, unknown> | undefined;
      if (typeof payload?.summary !== 'string' || payload.summary.length > 1024) problems.push('payload.summary');
      if (typeof payload?.source !== 'string') problems.push('payload.source');
      if (!['critical', 'error', 'warning', 'info'].includes(payload?.severity as string))
        problems.push('payload.severity');
      if (typeof json.dedup_key !== 'string' || json.dedup_key.length > 255) problems.push('dedup_key');
      return problems;
    },
    { status: 202, body: '{"status":"success","message":"Event processed"}' },
  );
  return r;
}
