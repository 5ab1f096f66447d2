/**
 * Setters: what one field rule does with a value once the field trie hands it over — transform it, check it,
 * and write it into its object in the per-event scratch. Each rule compiles to one `Assign` closure over
 * compile-time facts only; everything of the event is in the scratch it is given.
 */
import { isRecord, type JsonRecord } from '../fields.js';
import type { PathSegment } from '../target-path.js';
import * as transforms from '../transforms.js';
import type { TransformFn } from '../transforms.js';
import type { ObjectNode } from './object-plan.js';
import type { EventScratch } from './scratch.js';

// Module-local copies: some loaders (tsx, bundlers emitting CommonJS) turn imported bindings into getter calls,
// which showed up in profiles of this hot path.
const SKIP = transforms.SKIP;
const FAIL = transforms.FAIL;
const ipScoType = transforms.ipScoType;

const SKIPPED = 0;
export const ASSIGNED = 1;
export const FAILED = 2;
export type AssignResult = typeof SKIPPED | typeof ASSIGNED | typeof FAILED;

/** One rule applied to one value of its field. */
export type Assign = (value: unknown, scratch: EventScratch) => AssignResult;
/** A rule's `when`, evaluated on the scratch's event. */
export type ScratchPredicate = (scratch: EventScratch) => boolean;

export function newSco(type: string): JsonRecord {
  return { type, spec_version: '2.1', id: '' };
}

function isScalar(value: unknown): boolean {
  const t = typeof value;
  return t === 'string' || t === 'number' || t === 'boolean';
}

/** Sets `value` at `segments` inside `target`; false on a conflict with a different value already there. */
export function compileSetter(segments: PathSegment[]): (target: JsonRecord, value: unknown) => boolean {
  const last = segments[segments.length - 1] as PathSegment;
  if (segments.length === 1) {
    const name = last.name;
    if (last.index === undefined) {
      return (target, value) => {
        const current = target[name];
        if (current === undefined) {
          target[name] = value;
          return true;
        }
        return current === value;
      };
    }
    if (last.index === '*') {
      return (target, value) => {
        const current = target[name];
        if (current === undefined) {
          target[name] = [value];
          return true;
        }
        if (!Array.isArray(current)) return false;
        current.push(value);
        return true;
      };
    }
  }
  return (target, value) => {
    let container: JsonRecord | unknown[] = target;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i] as PathSegment;
      const isLast = i === segments.length - 1;
      const holder = container as JsonRecord;
      if (Array.isArray(container)) return false;
      if (segment.index === undefined) {
        if (isLast) {
          const current = holder[segment.name];
          if (current === undefined) holder[segment.name] = value;
          return current === undefined || current === value;
        }
        let next = holder[segment.name];
        if (next === undefined) holder[segment.name] = next = {};
        if (!isRecord(next)) return false;
        container = next;
        continue;
      }
      let list = holder[segment.name];
      if (list === undefined) holder[segment.name] = list = [];
      if (!Array.isArray(list)) return false;
      if (segment.index === '*') {
        if (!isLast) return false;
        list.push(value);
        return true;
      }
      if (isLast) {
        const current: unknown = list[segment.index];
        if (current === undefined) list[segment.index] = value;
        return current === undefined || current === value;
      }
      let item: unknown = list[segment.index];
      if (item === undefined) list[segment.index] = item = {};
      if (!isRecord(item)) return false;
      container = item;
    }
    return false;
  };
}

export function chainTransforms(fns: TransformFn[]): TransformFn | undefined {
  if (fns.length === 0) return undefined;
  if (fns.length === 1) return fns[0];
  return (value) => {
    let v = value;
    for (const fn of fns) {
      v = fn(v);
      if (v === SKIP || v === FAIL) return v;
    }
    return v;
  };
}

/**
 * Applies `one` to each element of a list value. Elements a rule refuses are kept in x_unmapped on their own
 * (scratch.refused) while the others are mapped; only when none is mapped does the whole list stay unmapped.
 */
function eachElement(raw: unknown[], scratch: EventScratch, one: Assign): AssignResult {
  let result: AssignResult = SKIPPED;
  let refused: unknown[] | undefined;
  for (const item of raw) {
    const r = one(item, scratch);
    if (r === ASSIGNED) result = ASSIGNED;
    else if (r === FAILED) (refused ??= []).push(item);
  }
  if (refused === undefined) return result;
  if (result !== ASSIGNED) return FAILED;
  scratch.refused = refused;
  return ASSIGNED;
}

/** What a rule writes, resolved at compile time. */
export interface AssignSpec {
  node: ObjectNode;
  /** The property path inside the node's object. */
  property: PathSegment[];
  transform: TransformFn | undefined;
  /** The object's type comes from the value (ip-to-sco-type), applied after the other transforms. */
  typesByIp: boolean;
  when: ScratchPredicate | undefined;
}

/** The setter of one rule, specialised by the kind of object it writes into. */
export function compileAssign(spec: AssignSpec): Assign {
  const { node, property, transform, typesByIp, when } = spec;
  const isList = property[property.length - 1]?.index === '*';
  const index = node.index;

  if (node.fanOut) {
    const leafName = property[0]?.name as string;
    const staticType = node.type;
    const addOne = (raw: unknown, scratch: EventScratch): AssignResult => {
      if (!isScalar(raw)) return FAILED;
      const value = transform === undefined ? raw : transform(raw);
      if (value === SKIP) return SKIPPED;
      if (value === FAIL) return FAILED;
      const type = typesByIp ? ipScoType(value) : staticType;
      if (type === undefined) return FAILED;
      const sco = newSco(type);
      sco[leafName] = value;
      (scratch.fans[index] ??= []).push(sco);
      return ASSIGNED;
    };
    return (raw, scratch) => {
      if (when !== undefined && !when(scratch)) return SKIPPED;
      if (!Array.isArray(raw)) return addOne(raw, scratch);
      return eachElement(raw, scratch, addOne);
    };
  }
  if (node.perElement) {
    // One object per element of the array being walked (scratch.element); outside arrays, one object.
    const set = compileSetter(property);
    const staticType = node.type as string;
    const setOne = (raw: unknown, scratch: EventScratch): AssignResult => {
      if (!isScalar(raw)) return FAILED;
      const value = transform === undefined ? raw : transform(raw);
      if (value === SKIP) return SKIPPED;
      if (value === FAIL) return FAILED;
      const list = (scratch.fans[index] ??= []);
      const elements = (scratch.fanElements[index] ??= []);
      let sco = elements[elements.length - 1] === scratch.element ? list[list.length - 1] : undefined;
      if (sco === undefined) {
        sco = newSco(staticType);
        list.push(sco);
        elements.push(scratch.element);
      }
      return set(sco, value) ? ASSIGNED : FAILED;
    };
    return (raw, scratch) => {
      if (when !== undefined && !when(scratch)) return SKIPPED;
      if (Array.isArray(raw))
        return isList ? eachElement(raw, scratch, setOne) : raw.length === 1 ? setOne(raw[0], scratch) : FAILED;
      return setOne(raw, scratch);
    };
  }

  const set = compileSetter(property);
  const staticType = node.type;
  if (!typesByIp && !isList && when === undefined && property.length === 1 && staticType !== undefined) {
    // The common rule (`process.name: process:name`, maybe with a transform), in one closure: it runs for most
    // fields of every event, and the general path below costs several calls per value.
    const name = (property[0] as PathSegment).name;
    return (raw, scratch) => {
      let value = raw;
      if (Array.isArray(value)) {
        if (value.length !== 1) return FAILED;
        value = value[0];
      }
      const t = typeof value;
      if (t !== 'string' && t !== 'number' && t !== 'boolean') return FAILED;
      if (transform !== undefined) {
        value = transform(value);
        if (value === SKIP) return SKIPPED;
        if (value === FAIL) return FAILED;
      }
      let target = scratch.props[index];
      if (target === undefined) {
        target = newSco(staticType);
        scratch.props[index] = target;
      }
      const current = target[name];
      if (current === undefined) {
        target[name] = value;
        return ASSIGNED;
      }
      return current === value ? ASSIGNED : FAILED;
    };
  }
  const props = (scratch: EventScratch, type: string): JsonRecord | undefined => {
    const existing = scratch.props[index];
    if (existing === undefined) {
      const created = newSco(type);
      scratch.props[index] = created;
      return created;
    }
    return existing.type === type ? existing : undefined;
  };
  const setOne = (raw: unknown, scratch: EventScratch): AssignResult => {
    if (!isScalar(raw)) return FAILED;
    const value = transform === undefined ? raw : transform(raw);
    if (value === SKIP) return SKIPPED;
    if (value === FAIL) return FAILED;
    const type = typesByIp ? ipScoType(value) : staticType;
    if (type === undefined) return FAILED;
    const target = props(scratch, type);
    if (target === undefined) return FAILED;
    return set(target, value) ? ASSIGNED : FAILED;
  };
  if (isList) {
    return (raw, scratch) => {
      if (when !== undefined && !when(scratch)) return SKIPPED;
      if (!Array.isArray(raw)) return setOne(raw, scratch);
      return eachElement(raw, scratch, setOne);
    };
  }
  return (raw, scratch) => {
    if (when !== undefined && !when(scratch)) return SKIPPED;
    if (Array.isArray(raw)) {
      // A one-element list is common for fields that are scalar in STIX (ECS email.from.address).
      return raw.length === 1 ? setOne(raw[0], scratch) : FAILED;
    }
    return setOne(raw, scratch);
  };
}
