/**
 * The outbox sweeper: re-sends alerts whose delivery to the alert queue failed, even when their
 * input never comes back. Such an alert stays where it was committed (a correlation state's
 * outbox, or a pending alert-ledger entry) and that item carries the outbox-index marker
 * (src/state/pending-index.ts). On a schedule, the sweeper queries the index shard by shard for
 * items marked at least `minAgeSeconds` ago (younger ones are still being delivered by the
 * invocation that raised them), sends their alerts again with the same ids (the FIFO alert queue
 * deduplicates by alert id; consumers of a standard queue deduplicate by id), and on delivery
 * clears them exactly as the pipeline does: the outbox entry acknowledged, the ledger entry
 * settled, the marker dropped by that write. An alert the queue refuses for good is settled as
 * undeliverable (reported), one it refuses for now stays for the next sweep.
 *
 * Re-sending does not pass the alert gate again: an alert in an outbox was admitted, or its
 * decision was lost with the invocation; the pipeline's own redelivery path treats it the same.
 */
import { AlertLedger, LEDGER_ALERT_PREFIX, type Settlement } from '../engine/alert-ledger.js';
import { serialiseAlertDocument, type Alert } from '../engine/alert.js';
import type { StreamingEngine, StreamingEngineOptions } from '../engine/streaming.js';
import { pipelineEngine } from './detector.js';
import type { MessageSink } from '../queue/types.js';
import type { IndicatorSet } from '../rules/indicators.js';
import type { Rule } from '../rules/model.js';
import { PENDING_SHARDS, type PendingPage } from '../state/pending-index.js';
import type { StateKey, StateStore } from '../state/types.js';

/** The index the sweeper reads (DynamoDbPendingIndex). */
export interface PendingIndexReader {
  page(shard: string, before: number, limit: number, start?: PendingPage['next']): Promise<PendingPage>;
}

export interface OutboxSweepOptions {
  rules: Rule[];
  indicators?: IndicatorSet;
  store: StateStore;
  index: PendingIndexReader;
  sink: MessageSink;
  engine?: Omit<StreamingEngineOptions, 'rules' | 'store'>;
  /** Leave items marked less than this long ago (seconds): their own invocation is still delivering them. Default 60. */
  minAgeSeconds?: number;
  /** Index items per page; default 100. */
  pageSize?: number;
  /** Shards of the index; default PENDING_SHARDS. */
  shards?: number;
  now?: () => number;
  /** Asked before each page: true stops the sweep (the function's deadline is near); the rest waits for the next. */
  shouldStop?: () => boolean;
}

export interface SweepReport {
  /** Index items read. */
  examined: number;
  /** Alerts found pending and sent again. */
  resent: number;
  /** Alerts the queue took. */
  delivered: string[];
  /** Alerts the queue did not take now: still pending, sent again by the next sweep. */
  failed: { id: string; reason: string }[];
  /** Alerts the queue refuses for good (too large): settled as undeliverable so they are not swept forever. */
  undeliverable: { id: string; reason: string }[];
  /** Items of rules no longer deployed (their state cannot be read) or with an unreadable index entry. */
  skipped: number;
  /** The sweep stopped before the end (shouldStop): the rest is for the next run. */
  stopped: boolean;
}

export const DEFAULT_SWEEP_MIN_AGE_SECONDS = 60;

export class OutboxSweeper {
  private readonly engine: StreamingEngine;
  private readonly ledger: AlertLedger;
  private readonly now: () => number;

  constructor(private readonly options: OutboxSweepOptions) {
    this.now = options.now ?? Date.now;
    this.engine = pipelineEngine(options, this.now);
    this.ledger = new AlertLedger(options.store, { now: this.now });
  }

  async sweep(): Promise<SweepReport> {
    const report: SweepReport = {
      examined: 0,
      resent: 0,
      delivered: [],
      failed: [],
      undeliverable: [],
      skipped: 0,
      stopped: false,
    };
    const before = Math.floor(this.now() / 1000) - (this.options.minAgeSeconds ?? DEFAULT_SWEEP_MIN_AGE_SECONDS);
    const shards = this.options.shards ?? PENDING_SHARDS;
    for (let shard = 0; shard < shards; shard++) {
      let start: PendingPage['next'];
      do {
        if (this.options.shouldStop?.() === true) {
          report.stopped = true;
          return report;
        }
        const page = await this.options.index.page(String(shard), before, this.options.pageSize ?? 100, start);
        report.examined += page.entries.length + page.unreadable;
        report.skipped += page.unreadable;
        await this.resend(
          page.entries.map((e) => e.key),
          report,
        );
        start = page.next;
      } while (start !== undefined);
    }
    return report;
  }

  /** Sends the pending alerts of these items again and clears what was delivered. */
  private async resend(keys: StateKey[], report: SweepReport): Promise<void> {
    const ledgerKeys = keys.filter((k) => k.group.startsWith(LEDGER_ALERT_PREFIX));
    // Correlation groups are '' or JSON; every other '#' group (the gate's items) is never marked.
    const stateKeys = keys.filter((k) => !k.group.startsWith('#'));
    report.skipped += keys.length - ledgerKeys.length - stateKeys.length;
    const [fromLedger, fromStates] = await Promise.all([
      this.ledger.pendingAlerts(ledgerKeys),
      this.engine.outboxes(stateKeys),
    ]);
    report.skipped += fromStates.unknown.length;
    const alerts = [...fromLedger, ...fromStates.alerts];
    if (alerts.length === 0) return;
    report.resent += alerts.length;
    const { failed } = await this.options.sink.send(
      alerts.map((a) => ({ id: a.id, body: serialiseAlertDocument(a), groupId: a.ruleId })),
    );
    const failures = new Map(failed.map((f) => [f.id, f]));
    const settled = new Map<Alert, Settlement>();
    for (const alert of alerts) {
      const failure = failures.get(alert.id);
      if (failure === undefined) {
        settled.set(alert, 'delivered');
        report.delivered.push(alert.id);
      } else if (failure.permanent === true) {
        settled.set(alert, 'undeliverable');
        report.undeliverable.push({ id: alert.id, reason: failure.reason });
      } else report.failed.push({ id: alert.id, reason: failure.reason });
    }
    const ledgerAlerts = new Set(fromLedger);
    await this.engine.acknowledge(fromStates.alerts.filter((a) => settled.has(a)));
    await this.ledger.settle(
      [...settled].filter(([a]) => ledgerAlerts.has(a)).map(([alert, outcome]) => ({ alert, outcome })),
    );
  }
}
