import { expect } from 'vitest';
import type { ObservedEvent, StixObject } from '../../src/stix/types.js';
import type { NormaliseResult } from '../../src/normalise/index.js';

/** The single event of a successful result (fails the test otherwise). */
export function single(result: NormaliseResult): ObservedEvent {
  if (!result.ok) throw new Error(`expected success, got ${result.diagnostic.code}: ${result.diagnostic.message}`);
  expect(result.events).toHaveLength(1);
  return result.events[0] as ObservedEvent;
}

export function ofType(event: ObservedEvent, type: string): StixObject[] {
  return event.objects.filter((o) => o.type === type);
}

export function byId(event: ObservedEvent, id: unknown): StixObject {
  const found = event.objects.find((o) => o.id === id);
  if (found === undefined) throw new Error(`no object ${String(id)} in the event`);
  return found;
}

/** Checks the structural invariants every normalised event must hold. */
export function expectWellFormed(event: ObservedEvent): void {
  const od = event.observedData;
  expect(od.type).toBe('observed-data');
  expect(od.spec_version).toBe('2.1');
  expect(od.id).toMatch(/^observed-data--[0-9a-f-]{36}$/);
  expect(od.number_observed).toBe(1);
  expect(od.created).toBe(od.first_observed);
  expect(od.modified).toBe(od.first_observed);
  expect(od.objects).toBeUndefined();
  const ids = event.objects.map((o) => o.id);
  expect(od.object_refs).toEqual(ids);
  expect(new Set(ids).size).toBe(ids.length);
  for (const object of event.objects) {
    expect(object.id).toMatch(
      new RegExp(`^${object.type}--[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`),
    );
    expect(object.spec_version).toBe('2.1');
    for (const [key, value] of Object.entries(object)) {
      if (key.endsWith('_ref')) expect(ids).toContain(value);
      if (key.endsWith('_refs')) for (const ref of value as string[]) expect(ids).toContain(ref);
    }
  }
}
