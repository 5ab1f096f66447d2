/**
 * The one pipeline every shell (CLI, local server, Lambda handlers) runs:
 * raw events → normalise → prepare → match and correlate (StreamingEngine, state store) →
 * alert gate (suppression, rate limit) → alert queue → acknowledge → rule-health counters.
 * Shells only adapt their input and output around `Detector.process`.
 */
import type { Diagnostic } from '../errors.js';
import { AlertGate } from '../engine/gate.js';
import { toAlertDocument, type Alert } from '../engine/alert.js';
import { StreamingEngine, type EventInput, type LateEvent, type StreamingEngineOptions } from '../engine/streaming.js';
import { createNormaliser } from '../normalise/index.js';
import type { Normaliser } from '../normalise/index.js';
import { InputError } from '../errors.js';
import { prepareEvent } from '../pattern/observation.js';
import type { MessageSink } from '../queue/types.js';
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
  /** Alerts the sink did not take: the caller must fail (retry) the input. */
  undelivered: { id: string; reason: string }[];
  suppressed: number;
  throttled: number;
  filtered: number;
  late: LateEvent[];
  /** Evaluation and state errors, each with the event index and rule. */
  errors: Diagnostic[];
  /** Correlation state items this batch touched. */
  touched: StateKey[];
}

export class Detector {
  readonly engine: StreamingEngine;
  private readonly gate: AlertGate;
  private readonly normaliser: Normaliser;
  private readonly now: () => number;

  constructor(private readonly options: DetectorOptions) {
    this.now = options.now ?? Date.now;
    this.engine = new StreamingEngine({ ...options.engine, rules: options.rules, ...(options.indicators ? { indicators: options.indicators } : {}), store: options.store, now: this.now });
    this.gate = new AlertGate(options.rules, options.store, this.now);
    this.normaliser = options.normaliser ?? createNormaliser();
  }

  /**
   * Normalises raw events (any supported format) for the tenant and runs them through the
   * pipeline. This is the one tenant path of every shell (CLI, `stixflow test`, Lambda
   * handlers, local stack): the normaliser records the tenant on copies (`x_tenant`, part of
   * derived ids), so the same event and tenant give the same ids everywhere, and the caller's
   * objects are never written to.
   */
  async process(rawEvents: readonly unknown[], tenant = 'default'): Promise<ProcessResult> {
    const events: ObservedEvent[] = [];
    const rawIndexOf: number[] = [];
    const rejected: Diagnostic[] = [];
    for (let index = 0; index < rawEvents.length; index++) {
      const result = this.normaliser.normalise(rawEvents[index], index, { tenant });
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
    return this.run(events, events.map((_, index) => index), tenant, []);
  }

  /** Prepares the observed-data for the engine, runs it, and reports in raw-event indexes. */
  private async run(events: readonly ObservedEvent[], rawIndexOf: readonly number[], tenant: string, rejectedBefore: Diagnostic[]): Promise<ProcessResult> {
    const rejected = rejectedBefore;
    const inputs: EventInput[] = [];
    /** The raw event of each engine input: the one translation from engine positions to the caller's. */
    const rawIndexOfInput: number[] = [];
    events.forEach((event, position) => {
      const rawIndex = rawIndexOf[position] as number;
      try {
        const observation = prepareEvent(event.observedData as unknown as Record<string, unknown>, event.objects, rawIndex);
        const od = event.observedData as unknown as Record<string, unknown>;
        inputs.push({
          observation,
          objects: event.objects.length > 0 ? (event.objects as unknown as Record<string, unknown>[]) : observation.roots.map((r) => r.object as unknown as Record<string, unknown>),
          ...(typeof od.x_source_event_id === 'string' ? { sourceEventId: od.x_source_event_id } : {}),
          // The tenant is the caller's (the authenticated principal's), never the event's own
          // x_tenant: an event must not be able to place itself in another tenant's state.
          tenant,
        });
        rawIndexOfInput.push(rawIndex);
      } catch (error) {
        if (error instanceof InputError) rejected.push(...error.diagnostics.map((d) => ({ ...d, eventIndex: rawIndex })));
        else throw error;
      }
    });
    const result = await this.detect(inputs, tenant);
    const raw = (inputIndex: number | undefined): number | undefined => (inputIndex === undefined ? undefined : rawIndexOfInput[inputIndex]);
    return {
      ...result,
      accepted: new Set(rawIndexOfInput).size,
      rejected: rejected.sort((a, b) => (a.eventIndex ?? 0) - (b.eventIndex ?? 0)),
      errors: result.errors.map((d) => (d.eventIndex === undefined ? d : { ...d, eventIndex: raw(d.eventIndex) as number })),
      late: result.late.map((l) => ({ ...l, eventIndex: raw(l.eventIndex) as number })),
    };
  }

  /**
   * Match and correlate → alert gate → sink → acknowledge → counters, for engine inputs.
   * Event indexes in what it returns are positions in `inputs` (`run` translates them).
   */
  private async detect(inputs: EventInput[], tenant: string): Promise<ProcessResult> {
    const batch = await this.engine.processBatch(inputs, tenant);
    const gated = await this.gate.admit(batch.alerts, new Set(batch.redelivered));
    const outgoing = [...gated.admitted, ...gated.notices];
    let undelivered: { id: string; reason: string }[] = [];
    if (this.options.sink && outgoing.length > 0) {
      const sent = await this.options.sink.send(outgoing.map((a) => ({ id: a.id, body: JSON.stringify(toAlertDocument(a)), groupId: a.ruleId })));
      undelivered = sent.failed;
    }
    const delivered = outgoing.filter((a) => !undelivered.some((f) => f.id === a.id));
    // Only what was delivered leaves the outbox; the rest is re-sent when its input is retried.
    await this.engine.acknowledge([...delivered, ...gated.suppressed, ...gated.throttled]);
    if (this.options.counters) await this.count(batch, gated, inputs, tenant);
    return {
      accepted: inputs.length,
      rejected: [],
      alerts: delivered,
      undelivered,
      suppressed: gated.suppressed.length,
      throttled: gated.throttled.length,
      filtered: batch.filtered.length,
      late: batch.late,
      errors: batch.errors,
      touched: batch.touched,
    };
  }

  private async count(batch: Awaited<ReturnType<StreamingEngine['processBatch']>>, gated: Awaited<ReturnType<AlertGate['admit']>>, inputs: EventInput[], tenant: string): Promise<void> {
    const buffer = new CounterBuffer(this.options.counters as CounterStore);
    const day = utcDay(this.now());
    const tenantOf = (eventIndex: number): string => inputs[eventIndex]?.tenant ?? tenant;
    const add = (t: string, ruleId: string, deltas: CounterDeltas): void => buffer.add(t, ruleId, day, deltas);
    for (const m of batch.matched) add(tenantOf(m.eventIndex), m.ruleId, { matches: 1 });
    for (const f of batch.filtered) add(tenantOf(f.eventIndex), f.ruleId, { filtered: 1 });
    for (const l of batch.late) add(tenantOf(l.eventIndex), l.ruleId, { late: 1 });
    // A re-send is the same alert again: counted once, when it was first admitted.
    const resent = new Set(gated.resent);
    for (const a of gated.admitted) if (!resent.has(a)) add(a.tenant, a.ruleId, { alerts: 1 });
    for (const a of [...gated.suppressed, ...gated.throttled]) add(a.tenant, a.ruleId, { suppressed: 1 });
    await buffer.flush();
  }
}
