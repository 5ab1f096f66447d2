/**
 * Raw fields (`raw_fields` in a mapping): the fields found directly below some paths (Windows EventData) that no
 * rule mapped are also copied, by name and as text, into one dictionary property of a fixed object (the
 * anchor's `x_event_data`); lists of scalars stay lists. Patterns cannot read x_unmapped, which is not on an SCO; this is what lets a Sigma
 * rule on a field the taxonomy does not know still match the events it matches on the raw log.
 */
import type { JsonRecord } from '../fields.js';
import type { PathSegment } from '../target-path.js';
import type { ObjectNode } from './object-plan.js';
import type { EventScratch } from './scratch.js';
import { newSco } from './setters.js';

export interface RawFieldsPlan {
  node: ObjectNode;
  property: PathSegment[];
  /** The field's name when the x_unmapped key is directly below one of the paths, else undefined. */
  nameOf: (key: string) => string | undefined;
  /**
   * Names are whole source paths (`full_names`): a list of objects kept whole in x_unmapped is copied as its
   * leaves, each under its own path (`requestParameters.containerDefinitions.command`).
   */
  fullNames?: boolean;
}

/** Most leaves one nested field contributes: a huge request document is not copied whole a second time. */
const MAX_LEAVES_PER_FIELD = 256;

/** The scalar leaves below a list or object, as texts by their path below `name` (`name.a.b`). */
function leavesOf(name: string, value: unknown, into: Map<string, string[]>, budget: { left: number }): void {
  if (budget.left <= 0) return;
  if (Array.isArray(value)) {
    for (const item of value) leavesOf(name, item, into, budget);
    return;
  }
  if (typeof value === 'object' && value !== null) {
    for (const key in value as Record<string, unknown>)
      leavesOf(`${name}.${key}`, (value as Record<string, unknown>)[key], into, budget);
    return;
  }
  const text = scalarText(value);
  if (text === undefined) return;
  budget.left--;
  const texts = into.get(name);
  if (texts === undefined) into.set(name, [text]);
  else texts.push(text);
}

/**
 * `.` is the top level; `A.B` its direct children; `A.*` the children of any key below `A`. With `fullNames`, any
 * key at any depth below one of the paths, named by the whole key (`requestParameters.bucketName`): nested JSON
 * sources, whose Sigma rules name a field by its path from the record's top.
 */
export function compileRawFieldNames(under: readonly string[], fullNames = false): (key: string) => string | undefined {
  if (fullNames) {
    if (under.includes('.')) return (key) => key;
    const prefixes = under.map((path) => (path.endsWith('.*') ? path.slice(0, -1) : `${path}.`));
    return (key) => (prefixes.some((prefix) => key.startsWith(prefix) && key.length > prefix.length) ? key : undefined);
  }
  const top = under.includes('.');
  const direct: string[] = [];
  const anyBelow: string[] = [];
  for (const path of under) {
    if (path === '.') continue;
    if (path.endsWith('.*')) anyBelow.push(path.slice(0, -1));
    else direct.push(`${path}.`);
  }
  return (key) => {
    const dot = key.indexOf('.');
    if (dot < 0) return top ? key : undefined;
    for (const prefix of direct) {
      if (key.startsWith(prefix) && key.indexOf('.', prefix.length) < 0) return key.slice(prefix.length);
    }
    for (const prefix of anyBelow) {
      if (!key.startsWith(prefix)) continue;
      const element = key.indexOf('.', prefix.length);
      if (element > prefix.length && key.indexOf('.', element + 1) < 0) return key.slice(element + 1);
    }
    return undefined;
  };
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/** A scalar as text; a list of scalars (the classic PowerShell `Data` texts) as a list of texts; else undefined. */
function asText(value: unknown): string | string[] | undefined {
  if (!Array.isArray(value)) return scalarText(value);
  const texts: string[] = [];
  for (const item of value) {
    const text = scalarText(item);
    if (text === undefined) return undefined;
    texts.push(text);
  }
  return texts;
}

/** Copies the event's unmapped raw fields into the plan's dictionary (the first of two same-named fields wins). */
export function copyRawFields(plan: RawFieldsPlan, scratch: EventScratch): void {
  const unmapped = scratch.unmapped;
  if (unmapped === undefined) return;
  let dictionary: JsonRecord | undefined;
  for (const key in unmapped) {
    const name = plan.nameOf(key);
    if (name === undefined || name === '__proto__') continue;
    const value = unmapped[key];
    const text = asText(value);
    if (text === undefined) {
      if (plan.fullNames === true && typeof value === 'object' && value !== null) {
        const leaves = new Map<string, string[]>();
        leavesOf(name, value, leaves, { left: MAX_LEAVES_PER_FIELD });
        if (leaves.size === 0) continue;
        dictionary ??= openDictionary(plan, scratch);
        if (dictionary === undefined) return;
        for (const [path, texts] of leaves)
          if (dictionary[path] === undefined && !path.includes('__proto__'))
            dictionary[path] = texts.length === 1 ? (texts[0] as string) : texts;
      }
      continue;
    }
    dictionary ??= openDictionary(plan, scratch);
    if (dictionary === undefined) return;
    if (dictionary[name] === undefined) dictionary[name] = text;
    // Names with spaces (Defender's `Threat Name`) are also kept as Sigma spells them: `ThreatName`.
    if (name.includes(' ')) {
      const compact = name.replace(/ /g, '');
      if (compact.length > 0 && compact !== '__proto__' && dictionary[compact] === undefined)
        dictionary[compact] = text;
    }
  }
}

/** The dictionary on the plan's object, created (with the object) when missing; undefined if a non-object is there. */
function openDictionary(plan: RawFieldsPlan, scratch: EventScratch): JsonRecord | undefined {
  const node = plan.node;
  let container = (scratch.props[node.index] ??= newSco(node.type as string));
  for (const segment of plan.property) {
    const next = container[segment.name];
    if (next === undefined) container = container[segment.name] = {};
    else if (typeof next === 'object' && next !== null && !Array.isArray(next)) container = next as JsonRecord;
    else return undefined;
  }
  return container;
}
