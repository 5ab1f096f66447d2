/**
 * Cross-account sources (docs/operations.md): each source account sends to a queue of its own (and,
 * when asked, an EventBridge bus whose rule forwards to that queue). The queue's policy lets only
 * that account send, so the queue a message came on says which account sent it, and that fixes its
 * tenant: a message on a source queue is never placed by its self-declared `tenant` attribute.
 * SOURCE_QUEUES (set by the CDK construct) lists each source queue's ARN with its route.
 */
import { isValidTenant, RouteConfigError } from './routes.js';

export const SOURCE_QUEUES_ENV = 'SOURCE_QUEUES';

/** Where the messages of one source queue go. */
export interface SourceQueueRoute {
  /** The queue's ARN (the event source ARN of its messages). */
  queue: string;
  /** The source account (12 digits). */
  account: string;
  /** Tenant of every message on the queue. */
  tenant: string;
  /** Mapping of every event on the queue; detection (or the message's `source` attribute) when absent. */
  source?: string;
}

/** Parses SOURCE_QUEUES (JSON: a list of { queue, account, tenant, source? }); throws RouteConfigError naming every problem. */
export function parseSourceQueues(text: string | undefined): Map<string, SourceQueueRoute> {
  const routes = new Map<string, SourceQueueRoute>();
  if (text === undefined || text.trim() === '') return routes;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new RouteConfigError([`${SOURCE_QUEUES_ENV} is not JSON (${(error as Error).message})`]);
  }
  if (!Array.isArray(value))
    throw new RouteConfigError([`${SOURCE_QUEUES_ENV} must be a list of { queue, account, tenant, source? }`]);
  const problems: string[] = [];
  for (const raw of value as unknown[]) {
    const route = raw as Partial<SourceQueueRoute> | null;
    const arn = typeof route?.queue === 'string' ? route.queue : '';
    if (!arn.startsWith('arn:') || !arn.includes(':sqs:'))
      problems.push(`${SOURCE_QUEUES_ENV}: ${arn} is not an SQS queue ARN`);
    else if (typeof route?.account !== 'string' || !/^\d{12}$/.test(route.account))
      problems.push(`${SOURCE_QUEUES_ENV}: ${arn} needs a 12-digit account`);
    else if (typeof route.tenant !== 'string' || !isValidTenant(route.tenant))
      problems.push(`${SOURCE_QUEUES_ENV}: ${arn} needs a tenant of 1-256 printable characters`);
    else if (route.source !== undefined && typeof route.source !== 'string')
      problems.push(`${SOURCE_QUEUES_ENV}: ${arn} has a source that is not a string`);
    else
      routes.set(arn, {
        queue: arn,
        account: route.account,
        tenant: route.tenant,
        ...(route.source !== undefined ? { source: route.source } : {}),
      });
  }
  if (problems.length > 0) throw new RouteConfigError(problems);
  return routes;
}

let fromEnv: { text: string | undefined; routes: Map<string, SourceQueueRoute> } | undefined;

/** The route of the source queue a message came on (by its event source ARN), or undefined for the ingest queue. */
export function sourceQueueRoute(
  eventSourceArn: string | undefined,
  env: Record<string, string | undefined> = process.env,
): SourceQueueRoute | undefined {
  const text = env[SOURCE_QUEUES_ENV];
  const parsed = fromEnv?.text === text && fromEnv !== undefined ? fromEnv : { text, routes: parseSourceQueues(text) };
  fromEnv = parsed;
  return eventSourceArn === undefined ? undefined : parsed.routes.get(eventSourceArn);
}
