import { prepareObservedData, type PreparedObservation } from '../../src/pattern/observation.js';
import { createRule, type Rule } from '../../src/rules/model.js';
import type { EventInput } from '../../src/engine/streaming.js';

export function rule(id: string, pattern: string, groupBy: string[] = []): Rule {
  return createRule({ id, pattern, groupBy, description: `test rule ${id}` });
}

/** A 2.1 observed-data (as the batch matcher takes it) with one SCO. */
export function observed(
  id: string,
  second: number,
  sco: Record<string, unknown>,
  count = 1,
): { bundle: object; input: EventInput } {
  const t = new Date(Date.UTC(2026, 0, 1, 0, 0, 0) + second * 1000).toISOString();
  const object = { id: `${sco.type as string}--${id}`, ...sco };
  const sdo = {
    type: 'observed-data',
    id: `observed-data--${id}`,
    first_observed: t,
    last_observed: t,
    number_observed: count,
    object_refs: [object.id],
  };
  const observation: PreparedObservation = prepareObservedData(sdo, 0, (ref) =>
    ref === object.id ? (object as never) : undefined,
  );
  return {
    bundle: { type: 'bundle', id: `bundle--${id}`, objects: [sdo, object] },
    input: { observation, objects: [object], sourceEventId: `src-${id}` },
  };
}
