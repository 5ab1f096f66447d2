/**
 * Failing fast before the function's timeout. A Lambda that runs out of time is killed mid-batch:
 * every record of the batch comes back (SQS) or the shard retries the whole batch (Kinesis),
 * the invocation reports an error instead of what it did, and the next attempt starts as late.
 * Handlers instead ask `near()` before taking each unit of work (a message, a chunk of records,
 * a batch of an object's events); once less than the margin is left they take no more and report
 * the rest as failures to retry: SQS batch item failures, the Kinesis checkpoint (the first
 * record not done), an S3 notification message. What is done stays done: state writes are
 * conditional and alert ids stable, so a retried record neither correlates nor alerts twice.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { StixflowError } from '../src/errors.js';
import { metrics } from './runtime.js';

/** What the handlers need of the Lambda context. */
export interface RemainingTime {
  getRemainingTimeInMillis(): number;
}

/** Smallest margin: enough to report the batch response and flush metrics. */
export const MIN_DEADLINE_MARGIN_MS = 2_000;
/** Share of the invocation's time kept as the margin (a unit of work started before it may take this long). */
export const DEADLINE_MARGIN_SHARE = 0.2;

/** Thrown (and reported as the unit's failure) when a unit of work is refused because the deadline is near. */
export class DeadlineReached extends StixflowError {
  constructor(what: string, remainingMs: number) {
    super(
      'deadline',
      `${what} not started: ${remainingMs} ms left before the function's timeout; it is reported failed and retried`,
    );
  }
}

export class Deadline {
  /** Units of work refused so far in this invocation. */
  deferred = 0;

  private constructor(
    private readonly context: RemainingTime | undefined,
    /** Time that must be left to start another unit of work. */
    readonly marginMs: number,
  ) {}

  /**
   * The deadline of an invocation: the margin is DEADLINE_MARGIN_MS when set, else a fifth of the
   * time left at the start (at least MIN_DEADLINE_MARGIN_MS). Without a context (a direct call),
   * there is no deadline.
   */
  static of(
    context: Partial<RemainingTime> | undefined,
    env: Record<string, string | undefined> = process.env,
  ): Deadline {
    const remaining = typeof context?.getRemainingTimeInMillis === 'function' ? (context as RemainingTime) : undefined;
    const configured = Number(env.DEADLINE_MARGIN_MS);
    const margin =
      Number.isFinite(configured) && configured > 0
        ? configured
        : Math.max(
            MIN_DEADLINE_MARGIN_MS,
            Math.round((remaining?.getRemainingTimeInMillis() ?? 0) * DEADLINE_MARGIN_SHARE),
          );
    return new Deadline(remaining, margin);
  }

  /** Milliseconds left (Infinity without a context). */
  remainingMs(): number {
    return this.context ? this.context.getRemainingTimeInMillis() : Number.POSITIVE_INFINITY;
  }

  /** True once less than the margin is left: take no new work. */
  near(): boolean {
    return this.remainingMs() < this.marginMs;
  }

  /** Throws DeadlineReached (counted as `Deferred`) when the deadline is near; `what` names the unit of work. */
  check(what: string): void {
    if (!this.near()) return;
    this.deferred++;
    metrics.addMetric('Deferred', MetricUnit.Count, 1);
    throw new DeadlineReached(what, Math.max(0, Math.round(this.remainingMs())));
  }
}
