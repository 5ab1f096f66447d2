/** The normaliser: picks the mapping that recognises each event and runs it, one event at a time. */
import type { Diagnostic } from '../errors.js';
import type { Bundle } from '../stix/types.js';
import type { ObservedEvent } from '../stix/types.js';
import { builtInMappings } from './builtin.js';
import { isRecord } from './fields.js';
import { STIXFLOW_NAMESPACE, uuidv5 } from './ids.js';
import type { Mapping, NormaliseBatchResult, NormaliseOptions, NormaliseResult, Normaliser, NormaliserOptions } from './types.js';

function reject(code: string, message: string, index: number | undefined): NormaliseResult {
  const diagnostic: Diagnostic = { severity: 'error', code, message };
  if (index !== undefined) diagnostic.eventIndex = index;
  return { ok: false, diagnostic };
}

export function createNormaliser(options: NormaliserOptions = {}): Normaliser {
  const own = options.mappings ?? [];
  const ownNames = new Set(own.map((m) => m.name));
  const builtIns = options.includeBuiltIns === false ? [] : builtInMappings().filter((m) => !ownNames.has(m.name));
  const mappings: readonly Mapping[] = Object.freeze([...own, ...builtIns]);
  const context = { tenant: options.tenant };
  const tried = mappings.map((m) => m.name).join(', ') || 'none';

  const normalise = (event: unknown, index?: number, options?: NormaliseOptions): NormaliseResult => {
    if (!isRecord(event)) {
      const kind = event === null ? 'null' : Array.isArray(event) ? 'an array' : `a ${typeof event}`;
      return reject('not-an-object', `an event must be a JSON object, not ${kind}`, index);
    }
    try {
      for (const mapping of mappings) {
        if (!mapping.compiled.detect(event)) continue;
        const outcome = mapping.compiled.run(event, options?.consumed === undefined ? context : { ...context, consumed: options.consumed });
        if (outcome.ok) return { ok: true, events: outcome.events, mapping: mapping.name };
        return reject(outcome.code, `${mapping.name}: ${outcome.message}`, index);
      }
    } catch (error) {
      // A defect, not bad input; still only this event is lost. The message names no event content.
      return reject('internal-error', `normalisation failed: ${error instanceof Error ? error.message : String(error)}`, index);
    }
    return reject('unrecognised-format', `no mapping recognises the event (tried: ${tried})`, index);
  };

  const normaliseBatch = (events: unknown[]): NormaliseBatchResult => {
    const out: ObservedEvent[] = [];
    const rejected: Diagnostic[] = [];
    for (let i = 0; i < events.length; i++) {
      const result = normalise(events[i], i);
      if (result.ok) for (const e of result.events) out.push(e);
      else rejected.push(result.diagnostic);
    }
    return { events: out, rejected };
  };

  return { mappings, normalise, normaliseBatch };
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
