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

export interface ProcessResult {
  /** Raw events accepted (normalised) and rejected, with their index and reason. */
  accepted: number;
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

  /** Normalises raw events (any supported format) and runs them through the pipeline. */
  async process(rawEvents: unknown[], tenant = 'default'): Promise<ProcessResult> {
    const normalised = this.normaliser.normaliseBatch(rawEvents);
    for (const event of normalised.events) (event.observedData as unknown as Record<string, unknown>).x_tenant = tenant;
    const result = await this.processObserved(normalised.events, tenant);
    return { ...result, rejected: [...normalised.rejected, ...result.rejected] };
  }

  /** Runs already-normalised observed data through the pipeline. */
  async processObserved(events: ObservedEvent[], tenant = 'default'): Promise<ProcessResult> {
    const rejected: Diagnostic[] = [];
    const inputs: EventInput[] = [];
    events.forEach((event, index) => {
      try {
        const observation = prepareEvent(event.observedData as unknown as Record<string, unknown>, event.objects, index);
        const od = event.observedData as unknown as Record<string, unknown>;
        inputs.push({
          observation,
          objects: event.objects.length > 0 ? (event.objects as unknown as Record<string, unknown>[]) : observation.roots.map((r) => r.object as unknown as Record<string, unknown>),
          ...(typeof od.x_source_event_id === 'string' ? { sourceEventId: od.x_source_event_id } : {}),
          // The tenant is the caller's (the authenticated principal's), never the event's own
          // x_tenant: an event must not be able to place itself in another tenant's state.
          tenant,
        });
      } catch (error) {
        if (error instanceof InputError) rejected.push(...error.diagnostics.map((d) => ({ ...d, eventIndex: index })));
        else throw error;
      }
    });

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
      rejected,
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
