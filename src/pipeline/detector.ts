/**
 * The one pipeline every shell (CLI, local server, Lambda handlers) runs:
 * raw events → normalise → prepare → match and correlate (StreamingEngine, state store) →
 * alert ledger (stateless alerts) → alert gate (suppression, rate limit) → alert queue →
 * acknowledge (outboxes, ledger) → rule-health counters.
 * Shells only adapt their input and output around `Detector.process`.
 */
import type { Diagnostic } from '../errors.js';
import { AlertLedger, type Settlement } from '../engine/alert-ledger.js';
import { AlertGate, type GateResult } from '../engine/gate.js';
import { serialiseAlertDocument, type Alert } from '../engine/alert.js';
import {
  StreamingEngine,
  type BatchResult,
  type EventInput,
  type LateEvent,
  type StreamingEngineOptions,
} from '../engine/streaming.js';
import { createNormaliser } from '../normalise/index.js';
import type { Normaliser } from '../normalise/index.js';
import { InputError } from '../errors.js';
import { prepareEvent } from '../pattern/observation.js';
import type { MessageSink, SendResult } from '../queue/types.js';
import type { Rule } from '../rules/model.js';
import type { IndicatorSet } from '../rules/indicators.js';
import { CounterBuffer, utcDay, type CounterDeltas, type CounterStore } from '../state/counters.js';
import type { StateKey, StateStore } from '../state/types.js';
import type { ObservedEvent } from '../stix/types.js';

export interface DetectorOptions {
  rules: Rule[];
  /** Indicator feeds loaded from STIX bundles (see loadRules). */
  indicators?: IndicatorSet;
  store: StateStore;
  /** Where alerts go; without one, alerts are only returned. */
  sink?: MessageSink;
  counters?: CounterStore;
  normaliser?: Normaliser;
  engine?: Omit<StreamingEngineOptions, 'rules' | 'store'>;
  /**
   * How long (seconds, wall clock) the alert ledger remembers a stateless alert or a counted
   * hit, so that a redelivery within it raises and counts nothing again; default 7 days.
   */
  dedupeWindowSeconds?: number;
  now?: () => number;
}

/**
 * What one call did. Every diagnostic (`rejected`, `errors`, `late`) names, as `eventIndex`, the
 * position of the raw event in the caller's input, whatever happened in between: a rejected
 * event takes no engine slot, and one raw event (a bundle) may normalise to several observed-data.
 */
export interface ProcessResult {
  /** Raw events of which at least one observed-data reached the engine. */
  accepted: number;
  /** Events (or observed-data of an event) refused before matching, each with its raw index and reason. */
  rejected: Diagnostic[];
  /** Alerts delivered to the sink (or produced, without a sink), rate-limit notices included. */
  alerts: Alert[];
  /**
   * Alerts the sink did not take but may on a retry: the caller must fail (retry) the input.
   * Alerts it can never take (too large for the queue) are in `errors` (`alert-undeliverable`).
   */
  undelivered: { id: string; reason: string }[];
  suppressed: number;
  throttled: number;
  filtered: number;
  late: LateEvent[];
  /** Evaluation and state errors, each with the event index and rule. */
  errors: Diagnostic[];
  /** Correlation state items this batch touched. */
  touched: StateKey[];
  /** LIKE / MATCHES comparisons that saw only the first MAX_SEARCHED_LENGTH characters of a long value (docs/regex.md). */
  valuesCut: number;
}

/** The engine of a pipeline's rules and store, as the Detector and the outbox sweeper (outbox-sweep.ts) run it. */
export function pipelineEngine(
  options: Pick<DetectorOptions, 'rules' | 'indicators' | 'store' | 'engine'>,
  now: () => number,
): StreamingEngine {
  return new StreamingEngine({
    ...options.engine,
    rules: options.rules,
    ...(options.indicators ? { indicators: options.indicators } : {}),
    store: options.store,
    now,
  });
}

export class Detector {
  readonly engine: StreamingEngine;
  private readonly gate: AlertGate;
  private readonly ledger: AlertLedger;
  /** Rules whose alerts the engine's outboxes carry; all others go through the ledger. */
  private readonly statefulRules: ReadonlySet<string>;
  private readonly normaliser: Normaliser;
  private readonly now: () => number;

  constructor(private readonly options: DetectorOptions) {
    this.now = options.now ?? Date.now;
    this.engine = pipelineEngine(options, this.now);
    this.gate = new AlertGate(options.rules, options.store, this.now);
    this.ledger = new AlertLedger(options.store, {
      now: this.now,
      ...(options.dedupeWindowSeconds !== undefined ? { dedupeWindowSeconds: options.dedupeWindowSeconds } : {}),
    });
    this.statefulRules = new Set(this.engine.statefulRuleIds);
    this.normaliser = options.normaliser ?? createNormaliser();
  }

  /**
   * Normalises raw events (any supported format) for the tenant and runs them through the
   * pipeline. This is the one tenant path of every shell (CLI, `stixflow test`, Lambda
   * handlers, local stack): the normaliser records the tenant on copies (`x_tenant`, part of
   * derived ids), so the same event and tenant give the same ids everywhere, and the caller's
   * objects are never written to. `source` names the mapping for every event (an explicit choice beats detection).
   */
  async process(rawEvents: readonly unknown[], tenant = 'default', source?: string): Promise<ProcessResult> {
    const events: ObservedEvent[] = [];
    const rawIndexOf: number[] = [];
    const rejected: Diagnostic[] = [];
    // The time of records that carry none (a VPC flow log format without start/end): when this batch came in.
    const receivedAt = new Date(this.now()).toISOString();
    for (let index = 0; index < rawEvents.length; index++) {
      const result = this.normaliser.normalise(rawEvents[index], index, { tenant, source, receivedAt });
      if (!result.ok) {
        rejected.push({ ...result.diagnostic, eventIndex: index });
        continue;
      }
      for (const event of result.events) {
        events.push(event);
        rawIndexOf.push(index);
      }
    }
    return this.run(events, rawIndexOf, tenant, rejected);
  }

  /**
   * Runs already-normalised observed data through the pipeline, as they are (their `x_tenant`
   * is not consulted: the tenant is the argument). Indexes in the result are positions in `events`.
   */
  async processObserved(events: readonly ObservedEvent[], tenant = 'default'): Promise<ProcessResult> {
    return this.run(
      events,
      events.map((_, index) => index),
      tenant,
      [],
    );
  }

  /** Prepares the observed-data for the engine, runs it, and reports in raw-event indexes. */
  private async run(
    events: readonly ObservedEvent[],
    rawIndexOf: readonly number[],
    tenant: string,
    rejectedBefore: Diagnostic[],
  ): Promise<ProcessResult> {
    const rejected = rejectedBefore;
    const inputs: EventInput[] = [];
    /** The raw event of each engine input: the one translation from engine positions to the caller's. */
    const rawIndexOfInput: number[] = [];
    events.forEach((event, position) => {
      const rawIndex = rawIndexOf[position] as number;
      try {
        const observation = prepareEvent(
          event.observedData as unknown as Record<string, unknown>,
          event.objects,
          rawIndex,
        );
        const od = event.observedData as unknown as Record<string, unknown>;
        inputs.push({
          observation,
          objects:
            event.objects.length > 0
              ? (event.objects as unknown as Record<string, unknown>[])
              : observation.roots.map((r) => r.object as unknown as Record<string, unknown>),
          ...(typeof od.x_source_event_id === 'string' ? { sourceEventId: od.x_source_event_id } : {}),
          // The tenant is the caller's (the authenticated principal's), never the event's own
          // x_tenant: an event must not be able to place itself in another tenant's state.
          tenant,
        });
        rawIndexOfInput.push(rawIndex);
      } catch (error) {
        if (error instanceof InputError)
          rejected.push(...error.diagnostics.map((d) => ({ ...d, eventIndex: rawIndex })));
        else throw error;
      }
    });
    const result = await this.detect(inputs, tenant);
    const raw = (inputIndex: number | undefined): number | undefined =>
      inputIndex === undefined ? undefined : rawIndexOfInput[inputIndex];
    return {
      ...result,
      accepted: new Set(rawIndexOfInput).size,
      rejected: rejected.sort((a, b) => (a.eventIndex ?? 0) - (b.eventIndex ?? 0)),
      errors: result.errors.map((d) =>
        d.eventIndex === undefined ? d : { ...d, eventIndex: raw(d.eventIndex) as number },
      ),
      late: result.late.map((l) => ({ ...l, eventIndex: raw(l.eventIndex) as number })),
    };
  }

  /**
   * Match and correlate → alert gate → sink → acknowledge → counters, for engine inputs.
   * Event indexes in what it returns are positions in `inputs` (`run` translates them).
   */
  private async detect(inputs: EventInput[], tenant: string): Promise<ProcessResult> {
    const batch = await this.engine.processBatch(inputs, tenant);

    // Stateless and indicator alerts go through the ledger (stateful ones have their outbox):
    // new ones are gated and counted, unsettled ones are sent again, settled ones dropped.
    // Correlation alerts sent uncommitted (their state did not fit its item) have no outbox either.
    const uncommitted = new Set(batch.uncommitted);
    const viaLedger = (a: Alert): boolean => !this.statefulRules.has(a.ruleId) || uncommitted.has(a.id);
    const statelessAlerts = batch.alerts.filter(viaLedger);
    const ledger = statelessAlerts.length > 0 ? await this.ledger.record(statelessAlerts) : undefined;
    const dropped = new Set(ledger?.duplicates);
    const resentCopies = new Map(ledger?.resent.map((a) => [a.id, a]));
    const raised = batch.alerts
      .filter((a) => !dropped.has(a))
      .map((a) => (viaLedger(a) ? (resentCopies.get(a.id) ?? a) : a));
    const gated = await this.gate.admit(raised, new Set([...batch.redelivered, ...resentCopies.keys()]));
    const outgoing = [...gated.admitted, ...gated.notices];
    let failed: SendResult['failed'] = [];
    if (this.options.sink && outgoing.length > 0) {
      failed = (
        await this.options.sink.send(
          outgoing.map((a) => ({ id: a.id, body: serialiseAlertDocument(a), groupId: a.ruleId })),
        )
      ).failed;
    }
    const failures = new Map(failed.map((f) => [f.id, f]));
    const delivered = outgoing.filter((a) => !failures.has(a.id));
    // A permanent failure (too large for the queue, refused as the sender's fault) cannot be
    // cured by a retry: it is reported as an error naming the alert, and settled, so that the
    // input is not retried forever (HTTP 503 after 503, SQS to the dead-letter queue).
    const undeliverable = outgoing.filter((a) => failures.get(a.id)?.permanent === true);
    const undelivered = failed.filter((f) => f.permanent !== true).map((f) => ({ id: f.id, reason: f.reason }));
    const errors = [
      ...batch.errors,
      ...undeliverable.map((a) => undeliverableDiagnostic(a, failures.get(a.id)?.reason ?? '', inputs)),
    ];

    // Only what was delivered (or decided) leaves its outbox or is settled in the ledger; the
    // rest is sent again when its input is retried. A throttle notice leaves its rate item's
    // outbox once delivered; until then the alert that started the throttle stays unsettled
    // too, so the retry of its input brings it back to the gate, which sends the notice again.
    const notices = new Set(gated.notices);
    const settledNotice = (n: Alert): boolean => !failures.has(n.id) || failures.get(n.id)?.permanent === true;
    const noticesOut = new Set(gated.notices.filter(settledNotice).map((n) => n.id));
    const held = (a: Alert): boolean => {
      const notice = gated.noticeOf.get(a.id);
      return notice !== undefined && !noticesOut.has(notice);
    };
    const settled: { alert: Alert; outcome: Settlement }[] = [
      ...delivered.filter((a) => !notices.has(a)).map((alert) => ({ alert, outcome: 'delivered' as const })),
      ...undeliverable.filter((a) => !notices.has(a)).map((alert) => ({ alert, outcome: 'undeliverable' as const })),
      ...gated.suppressed.map((alert) => ({ alert, outcome: 'suppressed' as const })),
      ...gated.throttled.filter((a) => !held(a)).map((alert) => ({ alert, outcome: 'throttled' as const })),
    ];
    // The alerts are out: bookkeeping that fails now only means a re-send (same id) or a count
    // missed on a later delivery, so it is reported, never a failure of the whole input.
    const afterDelivery = async (what: string, step: () => Promise<void>): Promise<void> => {
      try {
        await step();
      } catch (error) {
        errors.push({
          severity: 'warning',
          code: 'bookkeeping-failed',
          message: `${what} failed after delivery (${error instanceof Error ? error.name : 'unknown error'}); the alerts may be sent again with the same ids`,
        });
      }
    };
    await afterDelivery('clearing outboxes', () =>
      this.engine.acknowledge(settled.filter((s) => !viaLedger(s.alert)).map((s) => s.alert)),
    );
    if (ledger)
      await afterDelivery('settling the alert ledger', () =>
        this.ledger.settle(
          settled.filter((s) => viaLedger(s.alert)),
          ledger.versions,
        ),
      );
    await afterDelivery('acknowledging rate-limit notices', () =>
      this.gate.acknowledgeNotices(gated.notices.filter((n) => noticesOut.has(n.id))),
    );
    const resent = new Set(gated.resent);
    if (this.options.counters)
      await afterDelivery('updating rule-health counters', () =>
        this.count(batch, gated, ledger?.fresh ?? [], inputs, tenant),
      );
    return {
      accepted: inputs.length,
      rejected: [],
      alerts: delivered,
      undelivered,
      // Decisions about re-sent alerts were counted when first made.
      suppressed: gated.suppressed.filter((a) => !resent.has(a)).length,
      throttled: gated.throttled.filter((a) => !resent.has(a)).length,
      filtered: batch.filtered.length,
      late: batch.late,
      errors,
      touched: batch.touched,
      valuesCut: batch.stats.valuesCut,
    };
  }

  /**
   * Rule-health counters, exactly once per event however often it is delivered: stateful
   * matches as the engine committed them (duplicates excluded), stateless matches by their
   * alert's first recording in the ledger, filtered and late hits by their first ledger entry,
   * alerts when first admitted, suppressed and throttled when first decided.
   */
  private async count(
    batch: BatchResult,
    gated: GateResult,
    freshStateless: Alert[],
    inputs: EventInput[],
    tenant: string,
  ): Promise<void> {
    const buffer = new CounterBuffer(this.options.counters as CounterStore);
    const day = utcDay(this.now());
    const tenantOf = (eventIndex: number): string => inputs[eventIndex]?.tenant ?? tenant;
    const add = (t: string, ruleId: string, deltas: CounterDeltas): void => buffer.add(t, ruleId, day, deltas);
    for (const m of batch.matched) if (!m.stateless) add(tenantOf(m.eventIndex), m.ruleId, { matches: 1 });
    // Evictions are committed with their state: a redelivery finds the events taken, evicts nothing again.
    for (const e of batch.evictions) add(e.tenant, e.ruleId, { evicted: e.evicted });
    // (An uncommitted correlation alert is in the ledger too, but its match is counted as the engine reported it.)
    for (const a of freshStateless) if (!this.statefulRules.has(a.ruleId)) add(a.tenant, a.ruleId, { matches: 1 });
    const hits = [
      ...batch.filtered.map((f) => ({
        tenant: tenantOf(f.eventIndex),
        ruleId: f.ruleId,
        kind: 'filtered',
        eventId: f.observedDataId,
      })),
      ...batch.late.map((l) => ({
        tenant: tenantOf(l.eventIndex),
        ruleId: l.ruleId,
        kind: 'late',
        eventId: l.observedDataId,
      })),
    ];
    for (const hit of hits.length > 0 ? await this.ledger.firstHits(hits) : [])
      add(hit.tenant, hit.ruleId, { [hit.kind as 'filtered' | 'late']: 1 });
    // A re-send is the same alert again: counted once, when it was first admitted.
    const resent = new Set(gated.resent);
    for (const a of gated.admitted) if (!resent.has(a)) add(a.tenant, a.ruleId, { alerts: 1 });
    for (const a of [...gated.suppressed, ...gated.throttled])
      if (!resent.has(a)) add(a.tenant, a.ruleId, { suppressed: 1 });
    await buffer.flush();
  }
}

/** An alert the sink refused for good, as an error with its rule and, when in this batch, the event that completed it. */
function undeliverableDiagnostic(alert: Alert, reason: string, inputs: EventInput[]): Diagnostic {
  const ids = new Set(alert.observedDataIds);
  let eventIndex: number | undefined;
  inputs.forEach((input, index) => {
    if (input.observation.id !== undefined && ids.has(input.observation.id)) eventIndex = index;
  });
  return {
    severity: 'error',
    code: 'alert-undeliverable',
    message: `alert ${alert.id} of rule ${alert.ruleId} cannot be delivered and is not retried: ${reason}`,
    ruleId: alert.ruleId,
    ...(eventIndex !== undefined ? { eventIndex } : {}),
  };
}
