/**
 * STIX pass-through: bundles and observed-data that are already STIX are validated and used as they are.
 *
 * - A 2.1 (or 2.0) bundle may hold several observed-data; each becomes one event with the SCOs its
 *   `object_refs` name, which must be in the same bundle.
 * - A bare 2.1 observed-data with `object_refs` is refused: its SCOs are not alongside, so nothing could match.
 * - A 2.0-style observed-data with embedded `objects` is self-contained and accepted alone or in a bundle.
 *
 * The only change made is `x_tenant` on the observed-data (a shallow copy; the input is never mutated), because
 * the tenant comes from who sent the event, not from the event.
 */
import type { ObservedData, ObservedEvent, StixObject } from '../stix/types.js';
import { isRecord, type JsonRecord } from './fields.js';
import { compareStixTimestamps, isStixTimestamp } from './timestamps.js';
import type { MappingOutcome, RunContext } from './types.js';

const STIX_ID =
  /^[a-z0-9][a-z0-9-]*[a-z0-9]--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const MAX_NUMBER_OBSERVED = 999_999_999;

function fail(code: string, message: string): MappingOutcome {
  return { ok: false, code, message };
}

/** Returns why `object` is not a usable observed-data, or undefined when it is. */
function observedDataProblem(object: JsonRecord): string | undefined {
  const id = object.id;
  if (typeof id !== 'string' || !id.startsWith('observed-data--') || !STIX_ID.test(id)) {
    return 'id must be "observed-data--<uuid>"';
  }
  const { first_observed: first, last_observed: last, number_observed: count } = object;
  if (!isStixTimestamp(first)) return `${id}: first_observed must be a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z)`;
  if (!isStixTimestamp(last)) return `${id}: last_observed must be a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.s+]Z)`;
  if (compareStixTimestamps(last, first) < 0) return `${id}: last_observed is before first_observed`;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_NUMBER_OBSERVED) {
    return `${id}: number_observed must be an integer from 1 to ${MAX_NUMBER_OBSERVED}`;
  }
  const hasObjects = object.objects !== undefined;
  const hasRefs = object.object_refs !== undefined;
  if (hasObjects && hasRefs) return `${id}: has both objects and object_refs; STIX allows only one`;
  if (!hasObjects && !hasRefs) return `${id}: has neither object_refs (2.1) nor objects (2.0)`;
  if (hasRefs) {
    const refs = object.object_refs;
    if (!Array.isArray(refs) || refs.length === 0) return `${id}: object_refs must be a non-empty list`;
    for (const ref of refs) {
      if (typeof ref !== 'string' || !STIX_ID.test(ref))
        return `${id}: object_refs holds "${String(ref).slice(0, 80)}", not a STIX id`;
    }
    if (object.spec_version !== '2.1') return `${id}: observed-data with object_refs must have spec_version "2.1"`;
  } else {
    const objects = object.objects;
    if (!isRecord(objects) || Object.keys(objects).length === 0) return `${id}: objects must be a non-empty dictionary`;
    for (const key in objects) {
      const sco = objects[key];
      if (!isRecord(sco) || typeof sco.type !== 'string') return `${id}: objects["${key.slice(0, 40)}"] has no type`;
    }
  }
  return undefined;
}

function withTenant(observedData: JsonRecord, tenant: string | undefined): ObservedData {
  const copy = tenant === undefined ? observedData : { ...observedData, x_tenant: tenant };
  return copy as unknown as ObservedData;
}

export function normaliseStix(event: JsonRecord, context: RunContext): MappingOutcome {
  if (event.type === 'observed-data') {
    const problem = observedDataProblem(event);
    if (problem !== undefined) return fail('invalid-stix', problem);
    if (event.object_refs !== undefined) {
      return fail(
        'dangling-ref',
        `${String(event.id)}: object_refs cannot be resolved outside a bundle; send it in a bundle with its SCOs`,
      );
    }
    return { ok: true, events: [{ observedData: withTenant(event, context.tenant), objects: [] }] };
  }
  if (event.type !== 'bundle') return fail('invalid-stix', 'a STIX event must be a bundle or an observed-data');
  if (typeof event.id !== 'string' || !event.id.startsWith('bundle--') || !STIX_ID.test(event.id)) {
    return fail('invalid-stix', 'bundle id must be "bundle--<uuid>"');
  }
  const contents = event.objects;
  if (!Array.isArray(contents)) return fail('invalid-stix', `${event.id}: objects must be a list`);
  const byId = new Map<string, StixObject>();
  for (const object of contents) {
    if (isRecord(object) && typeof object.id === 'string' && typeof object.type === 'string') {
      byId.set(object.id, object as StixObject);
    }
  }
  const events: ObservedEvent[] = [];
  for (let i = 0; i < contents.length; i++) {
    const object: unknown = contents[i];
    if (!isRecord(object) || object.type !== 'observed-data') continue;
    const problem = observedDataProblem(object);
    if (problem !== undefined) return fail('invalid-stix', `${event.id} objects[${i}]: ${problem}`);
    const scos: StixObject[] = [];
    if (Array.isArray(object.object_refs)) {
      for (const ref of object.object_refs as string[]) {
        const sco = byId.get(ref);
        if (sco === undefined) {
          return fail(
            'dangling-ref',
            `${event.id} objects[${i}]: object_refs names ${ref}, which is not in the bundle`,
          );
        }
        scos.push(sco);
      }
    }
    events.push({ observedData: withTenant(object, context.tenant), objects: scos });
  }
  if (events.length === 0) return fail('no-observed-data', `${event.id}: the bundle holds no observed-data`);
  return { ok: true, events };
}
