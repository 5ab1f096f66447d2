/**
 * Generated values follow the STIX data model (issue #14, item 3): for every property of every
 * object type the model knows, `[EXISTS type:property]` yields an event that matches and whose
 * value has the model's type (an integer, a list, a reference to an object of an allowed type),
 * not the type the property's name suggests.
 */
import { describe, expect, it } from 'vitest';
import { generateEvents } from '../../src/generate/index.js';
import { STIX_OBJECT_TYPES, type PropertyType } from '../../src/pattern/stix-model.js';
import type { Bundle, StixObject } from '../../src/stix/types.js';
import { firstRoot, matches, objectById, roots } from './helpers.js';

/** Why `value` does not have the model's type `type` in `set`, or undefined when it does. */
function typeProblem(value: unknown, type: PropertyType, set: Bundle[]): string | undefined {
  switch (type.kind) {
    case 'integer':
      return Number.isInteger(value) ? undefined : `not an integer: ${JSON.stringify(value)}`;
    case 'float':
      return typeof value === 'number' ? undefined : `not a number: ${JSON.stringify(value)}`;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `not a boolean: ${JSON.stringify(value)}`;
    case 'string':
    case 'timestamp':
    case 'hex':
    case 'binary':
      return typeof value === 'string' ? undefined : `not a string: ${JSON.stringify(value)}`;
    case 'list':
      if (!Array.isArray(value) || value.length === 0) return `not a list: ${JSON.stringify(value)}`;
      for (const element of value) {
        const problem = typeProblem(element, type.of, set);
        if (problem) return `element ${problem}`;
      }
      return undefined;
    case 'ref': {
      const target = objectById(set, value);
      if (!target) return `a reference to nothing: ${JSON.stringify(value)}`;
      if (type.targets !== 'any' && !type.targets.includes(target.type))
        return `a reference to a ${target.type}, not to ${type.targets.join(' or ')}`;
      return undefined;
    }
    default:
      return undefined;
  }
}

/** Every (type, property) of the model with a type a value can be checked against. */
const PROPERTIES = [...STIX_OBJECT_TYPES].flatMap(([objectType, properties]) =>
  [...properties]
    .filter(([name, type]) => !['type', 'id'].includes(name) && !['extensions', 'dictionary'].includes(type.kind))
    .filter(([, type]) => type.kind !== 'hashes' && !(type.kind === 'object'))
    .filter(([, type]) => !(type.kind === 'list' && type.of.kind === 'object'))
    .map(([name, type]) => ({ objectType, name, type })),
);

describe('typed generation from the STIX model', () => {
  it('covers the model', () => {
    expect(PROPERTIES.length).toBeGreaterThan(200);
  });

  it('EXISTS on every property yields a matching event whose value has the model type', () => {
    const problems: string[] = [];
    for (const { objectType, name, type } of PROPERTIES) {
      const pattern = `[EXISTS ${objectType}:${name}]`;
      const [set] = generateEvents(pattern, { seed: 5 }) as Bundle[][];
      if (!matches(pattern, set as Bundle[])) {
        problems.push(`${pattern}: the event does not match`);
        continue;
      }
      const root = roots(set as Bundle[])[0] as StixObject;
      const problem = typeProblem(root[name], type, set as Bundle[]);
      if (problem) problems.push(`${pattern}: ${problem}`);
    }
    expect(problems).toEqual([]);
  });

  it('decorates objects with values of the model type too', () => {
    const traffic = firstRoot("[network-traffic:src_ref.value = '10.0.0.1']");
    expect(Array.isArray(traffic.protocols)).toBe(true);
    expect(Number.isInteger(traffic.dst_port)).toBe(true);
  });

  it('a reference and a list step reach objects of the types the model gives', () => {
    for (const [pattern, path] of [
      ["[x-oca-event:host_ref.hostname = 'fin-ws-12']", 'host_ref'],
      ["[x-oca-event:user_ref.account_login = 'jdoe']", 'user_ref'],
      ['[x-oca-event:network_ref.dst_port = 4444]', 'network_ref'],
      ["[x-oca-event:ip_refs[*].value = '10.0.0.9']", 'ip_refs'],
    ] as const) {
      const [set] = generateEvents(pattern, { seed: 3 }) as Bundle[][];
      expect(matches(pattern, set as Bundle[]), pattern).toBe(true);
      const root = roots(set as Bundle[])[0] as StixObject;
      const type = STIX_OBJECT_TYPES.get('x-oca-event')?.get(path) as PropertyType;
      expect(typeProblem(root[path], type, set as Bundle[]), pattern).toBeUndefined();
    }
  });
});
