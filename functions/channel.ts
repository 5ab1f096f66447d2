/**
 * What the channel shells (S3 objects, Kinesis, EventBridge, CloudWatch Logs) share: their routes from the
 * environment, one call into the pipeline for a batch of parsed events, and the rule that decides when the input
 * must be retried. The pipeline is `HandlerRuntime.ingest` → `Detector.process`, as for POST /events and SQS.
 */
import { StixflowError } from '../src/errors.js';
import { parseRoutes, type IngestRoute } from '../src/ingest/routes.js';
import { builtInMappings } from '../src/normalise/index.js';
import type { ProcessResult } from '../src/pipeline/detector.js';
import { countByCode } from './body.js';
import { addIngestMetrics, type HandlerRuntime, type IngestOutcome } from './runtime.js';

/** Why an input (a message, a record, an object) failed; `code` is stable, `reason` names no payload content. */
export class ChannelFailure extends StixflowError {
  constructor(code: string, reason: string) {
    super(code, reason);
  }
}

/** The routes in INGEST_ROUTES, checked against the built-in mappings. */
export function routesFromEnv(env: Record<string, string | undefined> = process.env): IngestRoute[] {
  const mappings = new Set(builtInMappings().map((m) => m.name));
  return parseRoutes(env.INGEST_ROUTES, (name) => mappings.has(name));
}

/** Totals over the batches of one input. */
export interface ChannelTally {
  events: number;
  accepted: number;
  rejected: number;
  alertIds: string[];
  rejectionCodes: Record<string, number>;
}

export function emptyTally(): ChannelTally {
  return { events: 0, accepted: 0, rejected: 0, alertIds: [], rejectionCodes: {} };
}

/**
 * Runs one batch through the pipeline and adds it to the tally. Throws ChannelFailure when a retry of the input
 * can cure what happened (an alert not delivered, state contended): the alerts already raised are raised again
 * under the same ids on the retry, and the ledger and the outboxes deliver each once.
 */
export async function ingestBatch(
  runtime: HandlerRuntime,
  values: readonly unknown[],
  tenant: string,
  source: string | undefined,
  tally: ChannelTally,
  rejectedBefore: { code: string }[] = [],
): Promise<ProcessResult | undefined> {
  tally.events += values.length + rejectedBefore.length;
  tally.rejected += rejectedBefore.length;
  for (const [code, n] of Object.entries(countByCode(rejectedBefore)))
    tally.rejectionCodes[code] = (tally.rejectionCodes[code] ?? 0) + n;
  if (values.length === 0) return undefined;
  const result = await runtime.ingest(values, tenant, source);
  const retryable = result.errors.filter((e) => e.retryable === true);
  const outcome: IngestOutcome = {
    total: values.length,
    accepted: result.accepted,
    rejections: result.rejected.map((d) => ({ index: d.eventIndex ?? -1, code: d.code, reason: d.message })),
    late: [],
    errors: [],
    alertIds: result.alerts.map((a) => a.id),
    undelivered: result.undelivered,
    retryable,
    result,
  };
  addIngestMetrics(outcome);
  tally.accepted += result.accepted;
  tally.rejected += result.rejected.length;
  tally.alertIds.push(...outcome.alertIds);
  for (const [code, n] of Object.entries(countByCode(result.rejected)))
    tally.rejectionCodes[code] = (tally.rejectionCodes[code] ?? 0) + n;
  if (result.undelivered.length > 0)
    throw new ChannelFailure(
      'alerts-undelivered',
      `${result.undelivered.length} alert(s) not delivered to the alert queue; the retry re-sends them`,
    );
  if (retryable.length > 0)
    throw new ChannelFailure(
      'state-contended',
      `correlation state could not be updated (${Object.entries(countByCode(retryable))
        .map(([code, n]) => `${code} x${n}`)
        .join(', ')}); retrying`,
    );
  return result;
}

/** A failure as logged and reported: code and reason, never the payload. */
export function describeFailure(error: unknown): { code: string; reason: string } {
  if (error instanceof ChannelFailure) return { code: error.code, reason: error.message };
  if (error instanceof StixflowError) return { code: error.code, reason: error.message };
  return { code: 'error', reason: `processing failed: ${error instanceof Error ? error.name : 'unknown error'}` };
}
