/** The normaliser: picks the mapping that recognises each event and runs it, one event at a time. */
import type { Diagnostic } from '../errors.js';
import type { Bundle } from '../stix/types.js';
import type { ObservedEvent } from '../stix/types.js';
import { builtInMappings } from './builtin.js';
import { createDetectPrefilter } from './detect-index.js';
import { eventRecords } from './envelopes.js';
import { isRecord, type JsonRecord } from './fields.js';
import { STIXFLOW_NAMESPACE, uuidv5 } from './ids.js';
import type {
  Mapping,
  NormaliseBatchResult,
  NormaliseOptions,
  NormaliseResult,
  Normaliser,
  NormaliserOptions,
  RunContext,
} from './types.js';

function reject(code: string, message: string, index: number | undefined): NormaliseResult {
  const diagnostic: Diagnostic = { severity: 'error', code, message };
  if (index !== undefined) diagnostic.eventIndex = index;
  return { ok: false, diagnostic };
}

/**
 * Why `source` names no mapping, naming the known ones; undefined when it names one. Shells call it before they
 * take a request, message or command line that names a source, so a typo is one clear error rather than a
 * rejection per event.
 */
export function unknownSourceMessage(source: string, mappings: readonly { name: string }[]): string | undefined {
  if (mappings.some((m) => m.name === source)) return undefined;
  return `source "${source}" names no mapping (known: ${mappings.map((m) => m.name).join(', ')})`;
}

/** How many of the closest mappings an `unrecognised-format` rejection names. */
const CLOSEST_NAMED = 3;

export function createNormaliser(options: NormaliserOptions = {}): Normaliser {
  const own = options.mappings ?? [];
  const ownNames = new Set(own.map((m) => m.name));
  const builtIns = options.includeBuiltIns === false ? [] : builtInMappings().filter((m) => !ownNames.has(m.name));
  const mappings: readonly Mapping[] = Object.freeze([...own, ...builtIns]);
  const byName = new Map(mappings.map((m) => [m.name, m]));
  const ownCount = own.length;
  const ownContext: RunContext = { tenant: options.tenant };
  /** The context of one call: the normaliser's tenant unless the call names another; coverage measurement adds `consumed`. */
  let lastReceived: RunContext | undefined;
  const contextFor = (call: NormaliseOptions | undefined): RunContext => {
    const tenant = call?.tenant ?? ownContext.tenant;
    if (call?.consumed !== undefined) {
      const context: RunContext = { tenant, consumed: call.consumed };
      if (call.receivedAt !== undefined) context.receivedAt = call.receivedAt;
      return context;
    }
    if (call?.receivedAt !== undefined) {
      // The events of one batch share their time of receipt: one context for all of them.
      let context = lastReceived;
      if (context === undefined || context.tenant !== tenant || context.receivedAt !== call.receivedAt) {
        context = { tenant, receivedAt: call.receivedAt };
        lastReceived = context;
      }
      return context;
    }
    return tenant === ownContext.tenant ? ownContext : { tenant };
  };
  const detectable = createDetectPrefilter(mappings.map((m) => m.compiled.detect.gates));
  /** The highest score each mapping can reach (unknown: any). */
  const maxScores = mappings.map((m) => m.compiled.detect.maxScore ?? Infinity);
  /**
   * The order in which candidates are scored: the caller's own mappings first, then by the highest score each can
   * reach, then by position. Once a mapping fits with score s, a later one whose highest reachable score is below s
   * cannot come first in the ranking (nor can a built-in once an own mapping fits), so it is left unscored unless
   * the winner rejects the event. Scoring every candidate cost the ECS and generic mappings' getters on every
   * OCSF, Suricata and Zeek record, though they never win there.
   */
  const scoringOrder = mappings
    .map((_, i) => i)
    .sort(
      (a, b) =>
        Number(b < ownCount) - Number(a < ownCount) ||
        (maxScores[a] === maxScores[b] ? 0 : (maxScores[b] as number) > (maxScores[a] as number) ? 1 : -1) ||
        a - b,
    );

  const run = (
    mapping: Mapping,
    event: JsonRecord,
    index: number | undefined,
    context: RunContext,
  ): NormaliseResult => {
    const outcome = mapping.compiled.run(event, context);
    if (outcome.ok) return { ok: true, events: outcome.events, mapping: mapping.name };
    return reject(outcome.code, `${mapping.name}: ${outcome.message}`, index);
  };

  /** Names the mappings that came closest to recognising the event, and what each missed. */
  const closest = (event: JsonRecord): string => {
    const ranked = mappings
      .map((m, i) => ({ m, i, ...m.compiled.detect.explain(event) }))
      .filter((c) => c.share > 0)
      .sort((a, b) => b.share - a.share || a.i - b.i)
      .slice(0, CLOSEST_NAMED);
    // Not the names of all of them: this reason is repeated for every such event of a batch (docs/normalisation.md lists them).
    if (ranked.length === 0) return `none of the ${mappings.length} mappings comes close`;
    return `closest: ${ranked.map((c) => `${c.m.name} (missing ${c.missing.join(', ')})`).join('; ')}`;
  };

  /**
   * The mappings other than `best` that fit the event, in ranking order (own mappings first, then by score, then
   * by position): where a rejected event goes next. Scores them all; only an event its winner rejects gets here.
   */
  const fittingAfter = (event: JsonRecord, best: number): number[] => {
    // Without the prefilter's findings, which the winner's run may have replaced (they are the last event's): a
    // mapping the prefilter dismisses is one whose score rejects the event anyway.
    const scores = new Array<number>(mappings.length).fill(-1);
    const order: number[] = [];
    for (let i = 0; i < mappings.length; i++) {
      if (i === best) continue;
      const score = (mappings[i] as Mapping).compiled.detect.score(event);
      scores[i] = score;
      if (score >= 0) order.push(i);
    }
    return order.sort(
      (a, b) => Number(b < ownCount) - Number(a < ownCount) || (scores[b] as number) - (scores[a] as number) || a - b,
    );
  };

  const normalise = (event: unknown, index?: number, call?: NormaliseOptions): NormaliseResult => {
    if (!isRecord(event)) {
      const kind = event === null ? 'null' : Array.isArray(event) ? 'an array' : `a ${typeof event}`;
      return reject('not-an-object', `an event must be a JSON object, not ${kind}`, index);
    }
    const context = contextFor(call);
    try {
      // An explicit choice beats detection.
      const source = call?.source ?? options.source;
      if (source !== undefined) {
        const chosen = byName.get(source);
        if (chosen === undefined)
          return reject('unknown-source', unknownSourceMessage(source, mappings) as string, index);
        return run(chosen, event, index, context);
      }
      // Scored detection: the most specific mapping that fits wins; ties go to the earlier one. The caller's own
      // mappings come before the built-ins whatever the scores: they describe the caller's sources.
      const candidates = detectable(event);
      let best = -1;
      let bestScore = -1;
      for (let k = 0; k < scoringOrder.length; k++) {
        const i = scoringOrder[k] as number;
        if (candidates[i] !== 1) continue;
        // Neither this mapping nor any after it can outrank the best one (see scoringOrder).
        if (best >= 0 && ((best < ownCount && i >= ownCount) || (maxScores[i] as number) < bestScore)) break;
        const score = (mappings[i] as Mapping).compiled.detect.score(event, detectable.opened(i));
        if (score >= 0 && (best < 0 || score > bestScore || (score === bestScore && i < best))) {
          best = i;
          bestScore = score;
        }
      }
      if (best < 0) return reject('unrecognised-format', `no mapping recognises the event; ${closest(event)}`, index);
      const result = run(mappings[best] as Mapping, event, index, context);
      if (result.ok) return result;
      // A mapping that fits but then rejects the event (no time, nothing observable) hands it to the next one.
      for (const i of fittingAfter(event, best)) {
        const next = run(mappings[i] as Mapping, event, index, context);
        if (next.ok) return next;
      }
      return result;
    } catch (error) {
      // A defect, not bad input; still only this event is lost. The message names no event content.
      return reject(
        'internal-error',
        `normalisation failed: ${error instanceof Error ? error.message : String(error)}`,
        index,
      );
    }
  };

  /** Envelopes ({"Records": [...]}, forwarded JSON text, EventBridge) are opened and their records normalised alone. */
  const normaliseInput = (event: unknown, index?: number, call?: NormaliseOptions): NormaliseResult => {
    const records = eventRecords(event);
    if (records.length === 1 && records[0] === event) return normalise(event, index, call);
    const events: ObservedEvent[] = [];
    const rejected: Diagnostic[] = [];
    let mapping: string | undefined;
    let firstFailure: NormaliseResult | undefined;
    records.forEach((record, i) => {
      const result = normalise(record, index, call);
      if (result.ok) {
        mapping ??= result.mapping;
        for (const e of result.events) events.push(e);
        if (result.rejected !== undefined) rejected.push(...result.rejected);
      } else {
        firstFailure ??= result;
        rejected.push({ ...result.diagnostic, message: `record ${i}: ${result.diagnostic.message}` });
      }
    });
    if (mapping === undefined) return firstFailure ?? reject('no-records', 'the envelope holds no records', index);
    return rejected.length === 0 ? { ok: true, events, mapping } : { ok: true, events, mapping, rejected };
  };

  const normaliseBatch = (events: readonly unknown[], call?: NormaliseOptions): NormaliseBatchResult => {
    const out: ObservedEvent[] = [];
    const rejected: Diagnostic[] = [];
    for (let i = 0; i < events.length; i++) {
      const result = normaliseInput(events[i], i, call);
      if (result.ok) {
        for (const e of result.events) out.push(e);
        if (result.rejected !== undefined) rejected.push(...result.rejected);
      } else rejected.push(result.diagnostic);
    }
    return { events: out, rejected };
  };

  return { mappings, normalise: normaliseInput, normaliseBatch };
}

/**
 * Wraps one event in a STIX 2.1 bundle. The bundle id is derived from the observed-data id, so the same event
 * always gives the same bundle.
 */
export function toBundle(event: ObservedEvent): Bundle {
  return {
    type: 'bundle',
    id: `bundle--${uuidv5(STIXFLOW_NAMESPACE, `bundle\u001f${event.observedData.id ?? ''}`)}`,
    objects: [event.observedData, ...event.objects],
  };
}
