/**
 * Compiles a validated mapping definition into closures, once, at load time.
 *
 * The compiled form has two parts:
 * - a field trie: every mapped source path, reachable both segment by segment (nested objects) and by any dotted
 *   suffix (`"process.name"` keys), so one walk over the event visits each key once, applies the rules attached
 *   to it, and records everything else in x_unmapped without a second pass;
 * - an object plan: the SCOs the target paths describe (`process`, `process:parent_ref`, …), each with a fixed
 *   slot, so an event fills a small per-mapping array rather than building maps, and ids are computed bottom-up.
 */
import type { ObservedData, ObservedEvent, StixObject } from '../stix/types.js';
import * as ids from './ids.js';
import {
  compileCondition,
  compileDetect,
  compileFieldGetter,
  isRecord,
  type Condition,
  type FieldGetter,
  type JsonRecord,
  type Predicate,
} from './fields.js';
import { parseTargetPath, TargetPathError, type PathSegment } from './target-path.js';
import { compareStixTimestamps, parseTimestamp } from './timestamps.js';
import * as transforms from './transforms.js';
import type { TransformFn, TransformName, TransformSpec } from './transforms.js';
import { compileParser, type Parser } from './parsers.js';

// Module-local copies: some loaders (tsx, bundlers emitting CommonJS) turn imported bindings into getter calls,
// which showed up in profiles of this hot path.
const SKIP = transforms.SKIP;
const FAIL = transforms.FAIL;
const TRANSFORMS = transforms.TRANSFORMS;
const ipScoType = transforms.ipScoType;
const deterministicScoId = ids.deterministicScoId;
const uuidv5 = ids.uuidv5;
const uuidv5Bytes = ids.uuidv5Bytes;
const uuidv5WithBytes = ids.uuidv5WithBytes;
const canonicalJson = ids.canonicalJson;
const STIXFLOW_NAMESPACE = ids.STIXFLOW_NAMESPACE;
const ID_CONTRIBUTING_PROPERTIES = ids.ID_CONTRIBUTING_PROPERTIES;
import type { CompiledMapping, FieldRule, MappingDefinition, MappingOutcome, RunContext } from './types.js';

/** A problem in a mapping definition, located by its path inside the mapping document. */
export interface CompileIssue {
  message: string;
  at: (string | number)[];
}

/**
 * Object types implied by well-known STIX 2.1 reference properties (and the OCA `x-oca-*` extensions' `_ref`s).
 * `src_ref`, `dst_ref`, `resolves_to_refs` and `ip_refs` are missing on purpose: their type depends on the value
 * (ip-to-sco-type) or must be declared under `types`.
 */
const REF_TYPES: Readonly<Record<string, string>> = {
  parent_ref: 'process',
  child_refs: 'process',
  image_ref: 'file',
  creator_user_ref: 'user-account',
  opened_connection_refs: 'network-traffic',
  parent_directory_ref: 'directory',
  contains_refs: 'file',
  content_ref: 'artifact',
  from_ref: 'email-addr',
  sender_ref: 'email-addr',
  to_refs: 'email-addr',
  cc_refs: 'email-addr',
  bcc_refs: 'email-addr',
  raw_email_ref: 'artifact',
  body_raw_ref: 'artifact',
  belongs_to_ref: 'user-account',
  belongs_to_refs: 'autonomous-system',
  src_payload_ref: 'artifact',
  dst_payload_ref: 'artifact',
  encapsulates_refs: 'network-traffic',
  encapsulated_by_ref: 'network-traffic',
  mac_refs: 'mac-addr',
  process_ref: 'process',
  parent_process_ref: 'process',
  file_ref: 'file',
  user_ref: 'user-account',
  domain_ref: 'domain-name',
  url_ref: 'url',
};

/** STIX property names: lowercase ASCII letters, digits and underscore, 3 to 250 characters. */
const PROPERTY_NAME = /^[a-z0-9_]{3,250}$/;
/** Properties the normaliser itself sets on every SCO. */
const RESERVED_PROPERTIES = new Set(['type', 'id', 'spec_version']);
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

const UNMAPPED_KEY_CACHE_LIMIT = 1024;

const SKIPPED = 0;
const ASSIGNED = 1;
const FAILED = 2;
type AssignResult = typeof SKIPPED | typeof ASSIGNED | typeof FAILED;

/** Mutable per-event scratch space, allocated once per compiled mapping and reset for each event. */
interface EventState {
  event: JsonRecord;
  props: (JsonRecord | undefined)[];
  fans: (JsonRecord[] | undefined)[];
  unmapped: JsonRecord | undefined;
  startValues: unknown[];
  endValues: unknown[];
  idValues: unknown[];
  /** Bit i set: candidate i of that role was also consumed by a field rule, so it is not unmapped if unused. */
  startAssigned: number;
  endAssigned: number;
  idAssigned: number;
  /** Source paths consumed by a rule, collected only when the caller asks (coverage measurement). */
  trace: string[] | undefined;
  /** Counts runs, so that conditions shared by several rules are evaluated once per event. */
  serial: number;
  /** When tracing: the path of the value being mapped as found in the event (aliases and roots included). */
  tracePath: string | undefined;
  /** Serial of the array element being walked (0 outside arrays): per-element objects (`type[*]:`) key on it. */
  element: number;
  elementCounter: number;
  /** Elements of a list value that a rule refused, kept in x_unmapped alone while the others are mapped. */
  refused: unknown[] | undefined;
  /** x_unmapped keys met again in another array element, whose values are gathered into a list. */
  unmappedLists: Set<string> | undefined;
  /** Per-element objects: the element serial each object of `fans[i]` belongs to. */
  fanElements: (number[] | undefined)[];
}

type Assign = (value: unknown, state: EventState) => AssignResult;
type Leaf = (value: unknown, state: EventState) => void;

interface ObjectNode {
  index: number;
  /** `process`, `process:parent_ref`, `domain-name:resolves_to_refs[*]`: stable name used in derived ids. */
  key: string;
  /** Undefined: chosen per event by ip-to-sco-type. */
  type: string | undefined;
  parent: ObjectNode | undefined;
  refProperty: string | undefined;
  fanOut: boolean;
  /** `type[*]:` root objects: one per element of the source array being walked, each with several properties. */
  perElement: boolean;
  fanLeaf: string | undefined;
  children: ObjectNode[];
  /** Rules into this node that do / do not set its type with ip-to-sco-type (to validate dynamic types). */
  typedRules: number;
  untypedRules: number;
  defaults: [PathSegment[], unknown][];
  /** Where the node was first mentioned, for error positions. */
  at: (string | number)[];
  /** `key#0` and `type--`, precomputed for per-event ids. */
  idName: string;
  idPrefix: string;
}

/** A reference set after the objects exist: the anchor's `process_ref`, a process's `creator_user_ref`. */
interface Link {
  holder: ObjectNode;
  property: string;
  list: boolean;
  target: ObjectNode;
  /** Bring the holder into being when the target exists (the x-oca-event anchor). */
  create: boolean;
}

interface FieldNode {
  path: string;
  /** `path.` (or '' for the root): prefix of unmapped keys found below this node. */
  prefix: string;
  /**
   * Full dotted paths of unmapped keys seen below this node, so that the same key in the next event reuses one
   * string instead of concatenating (and re-hashing) a new one. Bounded: keys come from untrusted input.
   */
  unmappedKeys: Map<string, string>;
  children: Map<string, FieldNode> | undefined;
  leaf: Leaf | undefined;
  ignore: boolean;
  /** Text or list fields holding structure: parsed, then walked like a nested object. */
  parse: Parser | undefined;
  /** A `roots` entry ending in `*`: the node for any key below this one. */
  anyChild?: FieldNode;
}

function addUnmapped(state: EventState, key: string, value: unknown): void {
  const unmapped = (state.unmapped ??= {});
  if (key === '__proto__')
    return void Object.defineProperty(unmapped, key, { value, enumerable: true, writable: true, configurable: true });
  if (state.element !== 0 && unmapped[key] !== undefined) {
    // The same field of another element of a list of objects: keep both, in element order.
    const lists = (state.unmappedLists ??= new Set());
    if (lists.has(key)) (unmapped[key] as unknown[]).push(value);
    else {
      lists.add(key);
      unmapped[key] = [unmapped[key], value];
    }
    return;
  }
  unmapped[key] = value;
}

function asList(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : typeof value === 'string' ? [value] : value;
}

function newSco(type: string): JsonRecord {
  return { type, spec_version: '2.1', id: '' };
}

/** Sets `value` at `segments` inside `target`; false on a conflict with a different value already there. */
function compileSetter(segments: PathSegment[]): (target: JsonRecord, value: unknown) => boolean {
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

function chainTransforms(fns: TransformFn[]): TransformFn | undefined {
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
 * (state.refused) while the others are mapped; only when none is mapped does the whole list stay unmapped.
 */
function eachElement(raw: unknown[], state: EventState, one: Assign): AssignResult {
  let result: AssignResult = SKIPPED;
  let refused: unknown[] | undefined;
  for (const item of raw) {
    const r = one(item, state);
    if (r === ASSIGNED) result = ASSIGNED;
    else if (r === FAILED) (refused ??= []).push(item);
  }
  if (refused === undefined) return result;
  if (result !== ASSIGNED) return FAILED;
  state.refused = refused;
  return ASSIGNED;
}

function isScalar(value: unknown): boolean {
  const t = typeof value;
  return t === 'string' || t === 'number' || t === 'boolean';
}

export function compileMapping(definition: MappingDefinition, issues: CompileIssue[]): CompiledMapping {
  const caseInsensitive = definition.case_insensitive === true;
  const aliases = definition.aliases ?? {};
  const readOptions = { caseInsensitive, aliases, roots: definition.roots ?? [] };
  const detect = compileDetect(definition.detect, readOptions);
  const mappingName = definition.name;
  const nullValues =
    definition.null_values === undefined || definition.null_values.length === 0
      ? undefined
      : new Set(definition.null_values);

  // Rules of one field often share a condition (`EventID in [1]` on every hash); each is evaluated once per event.
  const conditions = new Map<string, Predicate>();
  const sharedCondition = (condition: Condition): Predicate => {
    const key = JSON.stringify(condition);
    let predicate = conditions.get(key);
    if (predicate === undefined) {
      const evaluate = compileCondition(condition, readOptions);
      let serial = -1;
      let result = false;
      predicate = (event) => {
        if (serial !== state.serial) {
          serial = state.serial;
          result = evaluate(event);
        }
        return result;
      };
      conditions.set(key, predicate);
    }
    return predicate;
  };

  /** Transform functions of a rule; ip-to-sco-type is applied by the rule itself (ipScoType), after the others. */
  const resolveTransforms = (specs: TransformSpec[], at: (string | number)[]): TransformFn[] => {
    const fns: TransformFn[] = [];
    for (const spec of specs) {
      if (typeof spec === 'string') {
        if (spec !== 'ip-to-sco-type') fns.push(TRANSFORMS[spec]);
        continue;
      }
      const table = definition.tables?.[spec.lookup] ?? transforms.BUILT_IN_TABLES[spec.lookup];
      if (table === undefined) {
        issues.push({
          message: `lookup: no table "${spec.lookup}" (the mapping's tables, or ${Object.keys(transforms.BUILT_IN_TABLES).join(', ')})`,
          at,
        });
        continue;
      }
      fns.push(transforms.lookupTransform(table, spec.keep === true, spec.skip === true));
    }
    return fns;
  };

  // ---- Object plan ----
  const nodes: ObjectNode[] = [];
  const nodesByKey = new Map<string, ObjectNode>();
  const declaredTypes = definition.types ?? {};
  const usedTypeDeclarations = new Set<string>();

  const nodeFor = (
    key: string,
    type: string | undefined,
    parent: ObjectNode | undefined,
    refProperty: string | undefined,
    fanOut: boolean,
    at: (string | number)[],
  ): ObjectNode => {
    let node = nodesByKey.get(key);
    if (node === undefined) {
      node = {
        index: nodes.length,
        key,
        type,
        parent,
        refProperty,
        fanOut,
        perElement: false,
        fanLeaf: undefined,
        children: [],
        typedRules: 0,
        untypedRules: 0,
        defaults: [],
        at,
        idName: `${key}#0`,
        idPrefix: `${type ?? ''}--`,
      };
      nodes.push(node);
      nodesByKey.set(key, node);
      parent?.children.push(node);
    }
    return node;
  };

  /** Resolves a target path to the object it writes into and the property path inside that object. */
  const resolveTarget = (
    text: string,
    at: (string | number)[],
  ): { node: ObjectNode; property: PathSegment[] } | undefined => {
    let parsed;
    try {
      parsed = parseTargetPath(text);
    } catch (error) {
      if (error instanceof TargetPathError) {
        issues.push({ message: error.message, at });
        return undefined;
      }
      throw error;
    }
    let node = nodeFor(parsed.rootKey, parsed.rootType, undefined, undefined, false, at);
    if (parsed.perElement) node.perElement = true;
    const segments = parsed.segments;
    let i = 0;
    // Leading `_ref` / `_refs[*]` segments walk to referenced objects; the rest is a property inside the object.
    for (; i < segments.length - 1; i++) {
      const segment = segments[i] as PathSegment;
      const isRef = segment.name.endsWith('_ref') && segment.index === undefined;
      const isRefs = segment.name.endsWith('_refs') && segment.index === '*';
      if (!isRef && !isRefs) break;
      if (node.fanOut || node.perElement) {
        issues.push({ message: `"${text}": references below a [*] list of objects are not supported`, at });
        return undefined;
      }
      if (node.type === undefined) {
        issues.push({
          message: `"${text}": references below an object whose type is chosen by ip-to-sco-type are not supported`,
          at,
        });
        return undefined;
      }
      const key = `${node.key}${node.parent === undefined ? ':' : '.'}${segment.name}${isRefs ? '[*]' : ''}`;
      const declared = declaredTypes[key];
      if (declared !== undefined) usedTypeDeclarations.add(key);
      node = nodeFor(key, declared ?? REF_TYPES[segment.name], node, segment.name, isRefs, at);
    }
    const property = segments.slice(i);
    const first = property[0] as PathSegment;
    for (const segment of property) {
      if (FORBIDDEN_KEYS.has(segment.name)) {
        issues.push({ message: `"${text}": "${segment.name}" is not allowed as a property name`, at });
        return undefined;
      }
      if (segment.name.endsWith('_ref') || segment.name.endsWith('_refs')) {
        issues.push({
          message:
            `"${text}": "${segment.name}" is a reference; a mapping sets a property of the referenced object ` +
            `(e.g. "${segment.name}${segment.name.endsWith('_refs') ? '[*]' : ''}.value"), not the reference itself`,
          at,
        });
        return undefined;
      }
    }
    if (!PROPERTY_NAME.test(first.name) || RESERVED_PROPERTIES.has(first.name)) {
      issues.push({
        message: `"${text}": "${first.name}" is not a settable STIX property name (a-z, 0-9, _; 3-250 characters; not type/id/spec_version)`,
        at,
      });
      return undefined;
    }
    if (node.fanOut) {
      if (property.length !== 1 || first.index !== undefined) {
        issues.push({ message: `"${text}": an object in a [*] list takes exactly one plain property`, at });
        return undefined;
      }
      if (node.fanLeaf !== undefined && node.fanLeaf !== first.name) {
        issues.push({ message: `"${text}": objects at ${node.key} already take "${node.fanLeaf}"`, at });
        return undefined;
      }
      node.fanLeaf = first.name;
    }
    return { node, property };
  };

  const compileRule = (rule: FieldRule, at: (string | number)[]): Assign | undefined => {
    const target = typeof rule === 'string' ? rule : rule.target;
    const transformSpecs: TransformSpec[] =
      typeof rule === 'string' || rule.transform === undefined
        ? []
        : Array.isArray(rule.transform)
          ? rule.transform
          : [rule.transform];
    const transformNames = transformSpecs.filter((t): t is TransformName => typeof t === 'string');
    const when: Predicate | undefined =
      typeof rule === 'string' || rule.when === undefined ? undefined : sharedCondition(rule.when);
    const resolved = resolveTarget(target, typeof rule === 'string' ? at : [...at, 'target']);
    if (resolved === undefined) return undefined;
    const { node, property } = resolved;
    const typesByIp = transformNames.includes('ip-to-sco-type');
    if (typesByIp) {
      if (node.parent === undefined) {
        issues.push({
          message: `"${target}": ip-to-sco-type chooses the type of a referenced object (e.g. network-traffic:dst_ref.value); a root object's type is fixed by the path`,
          at,
        });
        return undefined;
      }
      node.typedRules++;
    } else {
      node.untypedRules++;
    }
    const transform = chainTransforms(resolveTransforms(transformSpecs, at));
    const isList = property[property.length - 1]?.index === '*';
    const index = node.index;

    if (node.fanOut) {
      const leafName = property[0]?.name as string;
      const staticType = node.type;
      const addOne = (raw: unknown, state: EventState): AssignResult => {
        if (!isScalar(raw)) return FAILED;
        const value = transform === undefined ? raw : transform(raw);
        if (value === SKIP) return SKIPPED;
        if (value === FAIL) return FAILED;
        const type = typesByIp ? ipScoType(value) : staticType;
        if (type === undefined) return FAILED;
        const sco = newSco(type);
        sco[leafName] = value;
        (state.fans[index] ??= []).push(sco);
        return ASSIGNED;
      };
      return (raw, state) => {
        if (when !== undefined && !when(state.event)) return SKIPPED;
        if (!Array.isArray(raw)) return addOne(raw, state);
        return eachElement(raw, state, addOne);
      };
    }
    if (node.perElement) {
      // One object per element of the array being walked (state.element); outside arrays, one object.
      const set = compileSetter(property);
      const staticType = node.type as string;
      const setOne = (raw: unknown, state: EventState): AssignResult => {
        if (!isScalar(raw)) return FAILED;
        const value = transform === undefined ? raw : transform(raw);
        if (value === SKIP) return SKIPPED;
        if (value === FAIL) return FAILED;
        const list = (state.fans[index] ??= []);
        const elements = (state.fanElements[index] ??= []);
        let sco = elements[elements.length - 1] === state.element ? list[list.length - 1] : undefined;
        if (sco === undefined) {
          sco = newSco(staticType);
          list.push(sco);
          elements.push(state.element);
        }
        return set(sco, value) ? ASSIGNED : FAILED;
      };
      return (raw, state) => {
        if (when !== undefined && !when(state.event)) return SKIPPED;
        if (Array.isArray(raw))
          return isList ? eachElement(raw, state, setOne) : raw.length === 1 ? setOne(raw[0], state) : FAILED;
        return setOne(raw, state);
      };
    }

    const set = compileSetter(property);
    const staticType = node.type;
    if (!typesByIp && !isList && when === undefined && property.length === 1 && staticType !== undefined) {
      // The common rule (`process.name: process:name`, maybe with a transform), in one closure: it runs for most
      // fields of every event, and the general path below costs several calls per value.
      const name = (property[0] as PathSegment).name;
      return (raw, state) => {
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
        let target = state.props[index];
        if (target === undefined) {
          target = newSco(staticType);
          state.props[index] = target;
        }
        const current = target[name];
        if (current === undefined) {
          target[name] = value;
          return ASSIGNED;
        }
        return current === value ? ASSIGNED : FAILED;
      };
    }
    const props = (state: EventState, type: string): JsonRecord | undefined => {
      const existing = state.props[index];
      if (existing === undefined) {
        const created = newSco(type);
        state.props[index] = created;
        return created;
      }
      return existing.type === type ? existing : undefined;
    };
    const setOne = (raw: unknown, state: EventState): AssignResult => {
      if (!isScalar(raw)) return FAILED;
      const value = transform === undefined ? raw : transform(raw);
      if (value === SKIP) return SKIPPED;
      if (value === FAIL) return FAILED;
      const type = typesByIp ? ipScoType(value) : staticType;
      if (type === undefined) return FAILED;
      const target = props(state, type);
      if (target === undefined) return FAILED;
      return set(target, value) ? ASSIGNED : FAILED;
    };
    if (isList) {
      return (raw, state) => {
        if (when !== undefined && !when(state.event)) return SKIPPED;
        if (!Array.isArray(raw)) return setOne(raw, state);
        return eachElement(raw, state, setOne);
      };
    }
    return (raw, state) => {
      if (when !== undefined && !when(state.event)) return SKIPPED;
      if (Array.isArray(raw)) {
        // A one-element list is common for fields that are scalar in STIX (ECS email.from.address).
        return raw.length === 1 ? setOne(raw[0], state) : FAILED;
      }
      return setOne(raw, state);
    };
  };

  // ---- Field trie ----
  const root: FieldNode = {
    path: '',
    prefix: '',
    unmappedKeys: new Map(),
    children: new Map(),
    leaf: undefined,
    ignore: false,
    parse: undefined,
  };
  const fieldNodes = new Map<string, FieldNode>();
  const fieldNode = (path: string): FieldNode => {
    let node = fieldNodes.get(path);
    if (node !== undefined) return node;
    const segments = path.split('.');
    let current = root;
    for (let i = 0; i < segments.length; i++) {
      const sub = segments.slice(0, i + 1).join('.');
      let next = fieldNodes.get(sub);
      if (next === undefined) {
        next = {
          path: sub,
          prefix: `${sub}.`,
          unmappedKeys: new Map(),
          children: undefined,
          leaf: undefined,
          ignore: false,
          parse: undefined,
        };
        fieldNodes.set(sub, next);
      }
      current = next;
    }
    node = current;
    return node;
  };

  const assignsByField = new Map<string, Assign[]>();
  for (const [field, rules] of Object.entries(definition.fields ?? {})) {
    const list = Array.isArray(rules) ? rules : [rules];
    const assigns: Assign[] = [];
    list.forEach((rule, i) => {
      const at = Array.isArray(rules) ? ['fields', field, i] : ['fields', field];
      const assign = compileRule(rule, at);
      if (assign !== undefined) assigns.push(assign);
    });
    assignsByField.set(field, assigns);
    fieldNode(field);
  }

  const startFields = asList(definition.time?.start);
  const endFields = asList(definition.time?.end);
  const idSpec = definition.source_id;
  const idJoin = typeof idSpec === 'object' && !Array.isArray(idSpec);
  const idFields = idJoin ? (idSpec as { join: string[] }).join : asList(idSpec as string | string[] | undefined);
  for (const [role, list] of [
    ['time.start', startFields],
    ['time.end', endFields],
    ['source_id', idFields],
  ] as const) {
    if (list.length > 30) issues.push({ message: `${role}: at most 30 fields`, at: role.split('.') });
    for (const field of list) fieldNode(field);
  }
  for (const field of definition.ignore ?? []) fieldNode(field).ignore = true;
  for (const field of Object.keys(definition.parse ?? {})) fieldNode(field);
  const rootAliases = (definition.roots ?? []).map((path) => fieldNode(path));
  for (const list of Object.values(aliases)) for (const path of list) fieldNode(path);

  for (const [path, node] of fieldNodes) {
    const assigns = assignsByField.get(path) ?? [];
    const startSlot = startFields.indexOf(path);
    const endSlot = endFields.indexOf(path);
    const idSlot = idFields.indexOf(path);
    if (assigns.length > 0 || startSlot >= 0 || endSlot >= 0 || idSlot >= 0) {
      node.leaf = compileLeaf(path, assigns, startSlot, endSlot, idSlot);
    }
  }
  // Every node is reachable from each ancestor by its dotted remainder, so dotted keys need one Map lookup.
  for (const [path, node] of fieldNodes) {
    const segments = path.split('.');
    for (let i = 0; i < segments.length; i++) {
      const ancestor = i === 0 ? root : (fieldNodes.get(segments.slice(0, i).join('.')) as FieldNode);
      const key = segments.slice(i).join('.');
      (ancestor.children ??= new Map()).set(caseInsensitive ? key.toLowerCase() : key, node);
    }
  }
  // Aliases read their canonical field's rules (reported under the canonical name); roots read the top-level rules.
  for (const [canonical, list] of Object.entries(aliases)) {
    const leaf = fieldNodes.get(canonical)?.leaf;
    if (leaf === undefined) {
      issues.push({ message: `aliases: "${canonical}" is not a field the mapping maps`, at: ['aliases', canonical] });
      continue;
    }
    for (const path of list) (fieldNodes.get(path) as FieldNode).leaf ??= leaf;
  }
  for (const node of rootAliases) {
    const merged = new Map(root.children);
    for (const [key, child] of node.children ?? []) {
      // A node of the root's own fields met here too (Event.System.EventID beside EventID): it does both jobs.
      const top = root.children?.get(key);
      if (top !== undefined && child.leaf === undefined) child.leaf = top.leaf;
      merged.set(key, child);
    }
    node.children = merged;
    const segments = node.path.split('.');
    if (node.path === '*') root.anyChild = node;
    else if (segments[segments.length - 1] === '*') {
      // `Event.UserData.*`: any element name below its parent.
      const parent = fieldNodes.get(segments.slice(0, -1).join('.'));
      if (parent !== undefined) parent.anyChild = node;
    }
  }
  for (const [field, spec] of Object.entries(definition.parse ?? {})) {
    const node = fieldNodes.get(field) as FieldNode;
    node.parse = compileParser(spec);
    node.children ??= new Map();
  }

  // ---- Defaults and object-plan checks ----
  for (const [target, value] of Object.entries(definition.defaults ?? {})) {
    const resolved = resolveTarget(target, ['defaults', target]);
    if (resolved === undefined) continue;
    if (resolved.node.type === undefined || resolved.node.fanOut || resolved.node.perElement) {
      issues.push({
        message: `"${target}": defaults need an object of fixed type outside [*] lists`,
        at: ['defaults', target],
      });
      continue;
    }
    resolved.node.defaults.push([resolved.property, value]);
  }
  // ---- Constants, anchor and links ----
  const constants: { node: ObjectNode; set: (target: JsonRecord, value: unknown) => boolean; value: unknown }[] = [];
  for (const [target, value] of Object.entries(definition.constants ?? {})) {
    const resolved = resolveTarget(target, ['constants', target]);
    if (resolved === undefined) continue;
    if (resolved.node.type === undefined || resolved.node.fanOut || resolved.node.perElement) {
      issues.push({
        message: `"${target}": constants need an object of fixed type outside [*] lists`,
        at: ['constants', target],
      });
      continue;
    }
    constants.push({ node: resolved.node, set: compileSetter(resolved.property), value });
  }
  const links: Link[] = [];
  /** `holder-path.<ref property>` → the object named by `targetKey` (an object key of the plan: `process:parent_ref`). */
  const compileLink = (holderText: string, targetKey: string, create: boolean, at: (string | number)[]): void => {
    let parsed;
    try {
      parsed = parseTargetPath(holderText);
    } catch (error) {
      if (error instanceof TargetPathError) return void issues.push({ message: error.message, at });
      throw error;
    }
    let holder = nodeFor(parsed.rootKey, parsed.rootType, undefined, undefined, false, at);
    const segments = parsed.segments;
    for (let i = 0; i < segments.length - 1; i++) {
      const segment = segments[i] as PathSegment;
      if (!segment.name.endsWith('_ref') || segment.index !== undefined || holder.type === undefined) {
        return void issues.push({
          message: `"${holderText}": a link is a reference property of an object reached by _ref properties`,
          at,
        });
      }
      const key = `${holder.key}${holder.parent === undefined ? ':' : '.'}${segment.name}`;
      holder = nodeFor(key, declaredTypes[key] ?? REF_TYPES[segment.name], holder, segment.name, false, at);
    }
    const last = segments[segments.length - 1] as PathSegment;
    const list = last.name.endsWith('_refs');
    if ((!list && !last.name.endsWith('_ref')) || (last.index !== undefined && !(list && last.index === '*'))) {
      return void issues.push({
        message: `"${holderText}": a link sets a reference property (ending in _ref or _refs)`,
        at,
      });
    }
    const target = nodesByKey.get(targetKey);
    if (target === undefined) {
      return void issues.push({
        message: `"${holderText}": "${targetKey}" is not an object any target path of this mapping creates`,
        at,
      });
    }
    if (target.fanOut || holder.fanOut || target.perElement || holder.perElement) {
      return void issues.push({ message: `"${holderText}": links cannot involve objects of [*] lists`, at });
    }
    if (holder.type === undefined) {
      return void issues.push({ message: `"${holderText}": the holder's type must be fixed by the path`, at });
    }
    if (ID_CONTRIBUTING_PROPERTIES[holder.type]?.includes(last.name)) {
      return void issues.push({
        message: `"${holderText}": ${last.name} contributes to the id of ${holder.type}, so it cannot be a link`,
        at,
      });
    }
    if (create && holder.parent !== undefined) {
      return void issues.push({
        message: `"${holderText}": only a root object can be brought into being by a link`,
        at,
      });
    }
    links.push({ holder, property: last.name, list, target, create });
  };
  const composes = (definition.compose ?? []).flatMap((rule, i) => {
    const parts: (string | FieldGetter)[] = [];
    const template = rule.template;
    let last = 0;
    for (const m of template.matchAll(/\{([^{}]+)\}/g)) {
      if ((m.index ?? 0) > last) parts.push(template.slice(last, m.index));
      parts.push(compileFieldGetter(m[1] as string, readOptions));
      last = (m.index ?? 0) + m[0].length;
    }
    if (last < template.length) parts.push(template.slice(last));
    if (!parts.some((p) => typeof p !== 'string') && rule.when === undefined) {
      // A fixed text is allowed with a condition: `outcome: failure` when errorCode is present.
      issues.push({
        message: `compose: "${template}" names no field (write fields in braces: {host}{uri}) and has no when`,
        at: ['compose', i, 'template'],
      });
      return [];
    }
    const assign = compileRule(
      {
        target: rule.target,
        ...(rule.transform === undefined ? {} : { transform: rule.transform }),
        ...(rule.when === undefined ? {} : { when: rule.when }),
      },
      ['compose', i],
    );
    return assign === undefined ? [] : [{ parts, assign }];
  });

  for (const [property, targetKey] of Object.entries(definition.anchor ?? {})) {
    compileLink(`x-oca-event:${property}`, targetKey, true, ['anchor', property]);
  }
  for (const [holderText, targetKey] of Object.entries(definition.links ?? {})) {
    compileLink(holderText, targetKey, false, ['links', holderText]);
  }

  for (const node of nodes) {
    if (node.type === undefined && node.untypedRules > 0) {
      issues.push({
        message:
          `the type of the object at ${node.key} is unknown: declare it under types ("${node.key}": <sco-type>) ` +
          `or give every rule into it the ip-to-sco-type transform`,
        at: node.at,
      });
    }
  }
  for (const key of Object.keys(declaredTypes)) {
    if (!usedTypeDeclarations.has(key)) {
      issues.push({ message: `types: "${key}" is not a reference any target path uses`, at: ['types', key] });
    }
  }

  // Children before parents, so that a parent's id can include its references' ids (file -> directory).
  const postOrder: ObjectNode[] = [];
  const visit = (node: ObjectNode): void => {
    for (const child of node.children) visit(child);
    postOrder.push(node);
  };
  for (const node of nodes) if (node.parent === undefined) visit(node);

  const state: EventState = {
    event: {},
    props: new Array<JsonRecord | undefined>(nodes.length).fill(undefined),
    fans: new Array<JsonRecord[] | undefined>(nodes.length).fill(undefined),
    unmapped: undefined,
    startValues: new Array<unknown>(startFields.length).fill(undefined),
    endValues: new Array<unknown>(endFields.length).fill(undefined),
    idValues: new Array<unknown>(idFields.length).fill(undefined),
    startAssigned: 0,
    endAssigned: 0,
    idAssigned: 0,
    trace: undefined,
    serial: 0,
    tracePath: undefined,
    element: 0,
    elementCounter: 0,
    refused: undefined,
    unmappedLists: undefined,
    fanElements: new Array<number[] | undefined>(nodes.length).fill(undefined),
  };

  /** Bytes of the current event's observed-data UUID; reused, as `state` is. */
  const eventNamespaceBytes = new Uint8Array(16);

  const lowerKeys = new Map<string, string>();
  const lower = (key: string): string => {
    let l = lowerKeys.get(key);
    if (l === undefined) {
      l = key.toLowerCase();
      if (lowerKeys.size < UNMAPPED_KEY_CACHE_LIMIT) lowerKeys.set(key, l);
    }
    return l;
  };

  /** `at`: the dotted path of `object` in the event, kept only while tracing (coverage measurement). */
  const walk = (object: JsonRecord, node: FieldNode, at: string): void => {
    const children = node.children as Map<string, FieldNode>;
    for (const key in object) {
      const value = object[key];
      if (value === null || value === undefined) continue;
      if (nullValues !== undefined && typeof value === 'string' && nullValues.has(value)) continue;
      const child =
        children.get(caseInsensitive ? lower(key) : key) ?? (typeof value === 'object' ? node.anyChild : undefined);
      if (child === undefined) {
        let path = node.unmappedKeys.get(key);
        if (path === undefined) {
          path = node.prefix + key;
          if (node.unmappedKeys.size < UNMAPPED_KEY_CACHE_LIMIT) node.unmappedKeys.set(key, path);
        }
        addUnmapped(state, path, value);
        continue;
      }
      if (child.ignore) continue;
      if (child.parse !== undefined) {
        const parsed = child.parse(value);
        if (parsed !== undefined) {
          walk(parsed, child, state.trace === undefined ? '' : `${at}${key}.`);
          continue;
        }
      }
      if (child.children !== undefined && typeof value === 'object') {
        if (!Array.isArray(value)) walk(value as JsonRecord, child, state.trace === undefined ? '' : `${at}${key}.`);
        else if (child.leaf !== undefined && !hasRecord(value)) {
          if (state.trace !== undefined) state.tracePath = at + key;
          child.leaf(value, state);
        } else walkElements(value, child, state.trace === undefined ? '' : `${at}${key}.`);
      } else if (child.leaf !== undefined) {
        if (state.trace !== undefined) state.tracePath = at + key;
        child.leaf(value, state);
      } else {
        addUnmapped(state, child.path, value);
      }
    }
  };

  /** A list of objects is mapped element by element (Okta target[], Suricata dns.answers[]). */
  const walkElements = (list: unknown[], node: FieldNode, at: string): void => {
    const outer = state.element;
    for (const item of list) {
      if (item === null || item === undefined) continue;
      state.element = ++state.elementCounter;
      if (isRecord(item)) walk(item, node, at);
      else addUnmapped(state, node.path, item);
    }
    state.element = outer;
  };

  /** Picks the first candidate that passes `accept`; the others go to x_unmapped unless a rule used them. */
  function pick<T>(
    values: unknown[],
    fields: string[],
    assignedMask: number,
    accept: (value: unknown) => T | undefined,
  ): T | undefined {
    let chosen: T | undefined;
    for (let i = 0; i < values.length; i++) {
      const value = values[i];
      if (value === undefined) continue;
      if (chosen === undefined) {
        chosen = accept(value);
        if (chosen !== undefined) continue;
      }
      if ((assignedMask & (1 << i)) === 0) addUnmapped(state, fields[i] as string, value);
    }
    return chosen;
  }

  /** A composite source id (host, channel and record id): the parts present, in order, joined with `|`. */
  const joinedId = (): string | undefined => {
    let id: string | undefined;
    for (let i = 0; i < state.idValues.length; i++) {
      const part = acceptId(state.idValues[i]);
      if (part === undefined) continue;
      id = id === undefined ? part : `${id}|${part}`;
    }
    return id;
  };

  const acceptId = (value: unknown): string | undefined =>
    typeof value === 'string'
      ? value.length > 0
        ? value
        : undefined
      : typeof value === 'number' && Number.isFinite(value)
        ? String(value)
        : undefined;

  function run(event: JsonRecord, context: RunContext): MappingOutcome {
    state.event = event;
    state.props.fill(undefined);
    state.fans.fill(undefined);
    state.unmapped = undefined;
    state.startValues.fill(undefined);
    state.endValues.fill(undefined);
    state.idValues.fill(undefined);
    state.startAssigned = 0;
    state.endAssigned = 0;
    state.idAssigned = 0;
    state.trace = context.consumed;
    state.serial++;
    state.element = 0;
    state.elementCounter = 0;
    state.refused = undefined;
    state.unmappedLists = undefined;
    state.fanElements.fill(undefined);
    try {
      walk(event, root, '');
      for (let i = 0; i < composes.length; i++) compose(composes[i]!);
      return finish(context);
    } finally {
      // Do not keep the last event alive through the scratch state.
      state.event = {};
      state.trace = undefined;
      state.unmapped = undefined;
      state.props.fill(undefined);
      state.fans.fill(undefined);
    }
  }

  function compose(rule: { parts: (string | FieldGetter)[]; assign: Assign }): void {
    let text = '';
    for (const part of rule.parts) {
      if (typeof part === 'string') {
        text += part;
        continue;
      }
      const value = part(state.event);
      if (typeof value !== 'string' && typeof value !== 'number') return;
      if (typeof value === 'string' && (value.length === 0 || nullValues?.has(value) === true)) return;
      text += String(value);
    }
    rule.assign(text, state);
  }

  function finish(context: RunContext): MappingOutcome {
    if (constants.length > 0 && hasObjects()) {
      for (let i = 0; i < constants.length; i++) {
        const constant = constants[i]!;
        const index = constant.node.index;
        const sco = (state.props[index] ??= newSco(constant.node.type as string));
        constant.set(sco, constant.value);
      }
    }
    const firstObserved = pick(state.startValues, startFields, state.startAssigned, parseTimestamp);
    if (firstObserved === undefined) {
      const present = startFields.filter((_, i) => state.startValues[i] !== undefined);
      return present.length === 0
        ? { ok: false, code: 'no-timestamp', message: `no event time: none of ${startFields.join(', ')} is present` }
        : {
            ok: false,
            code: 'bad-timestamp',
            message: `no usable event time: ${present.join(', ')} ${present.length === 1 ? 'is' : 'are'} not an ISO 8601 date-time or epoch seconds/milliseconds`,
          };
    }
    let lastObserved = firstObserved;
    if (endFields.length > 0) {
      const end = pick(state.endValues, endFields, state.endAssigned, (v) => {
        const t = parseTimestamp(v);
        return t !== undefined && compareStixTimestamps(t, firstObserved) >= 0 ? t : undefined;
      });
      if (end !== undefined) lastObserved = end;
    }
    const sourceEventId = idJoin
      ? joinedId()
      : idFields.length > 0
        ? pick(state.idValues, idFields, state.idAssigned, acceptId)
        : undefined;
    const tenant = context.tenant;
    // With a source event id, the observed-data id comes from it alone and is known before the SCOs; it is then
    // the UUIDv5 namespace for the event's SCOs that have no STIX id-contributing content.
    const observedUuid =
      sourceEventId === undefined
        ? undefined
        : uuidv5WithBytes(
            STIXFLOW_NAMESPACE,
            // Kept short: names up to 39 bytes hash in a single SHA-1 block.
            `${tenant ?? ''}\u001f${mappingName}\u001f${sourceEventId}`,
            eventNamespaceBytes,
          );
    const eventNamespace = observedUuid === undefined ? undefined : eventNamespaceBytes;

    const objects: StixObject[] = [];
    for (const node of postOrder) {
      const index = node.index;
      if (node.fanOut || node.perElement) {
        const list = state.fans[index];
        if (list === undefined) continue;
        const ids: string[] = [];
        for (let i = 0; i < list.length; i++) {
          const sco = list[i] as JsonRecord;
          const id = scoId(sco, node, eventNamespace, firstObserved, i);
          if (ids.includes(id)) continue;
          sco.id = id;
          ids.push(id);
          addObject(objects, sco);
        }
        if (node.fanOut) attachToParent(node, ids);
        continue;
      }
      const sco = state.props[index];
      if (sco === undefined) continue;
      const defaults = node.defaults;
      for (let d = 0; d < defaults.length; d++) applyDefault(sco, defaults[d]![0], defaults[d]![1]);
      if (sco.type === 'network-traffic' && sco.protocols === undefined) deriveProtocols(sco);
      sco.id = scoId(sco, node, eventNamespace, firstObserved, 0);
      addObject(objects, sco);
      if (node.parent !== undefined) attachToParent(node, sco.id as string);
    }
    if (links.length > 0 && objects.length > 0) applyLinks(objects, eventNamespace, firstObserved);
    if (objects.length === 0) {
      return {
        ok: false,
        code: 'no-observables',
        message: `no field of the event maps to a STIX cyber-observable (mapping ${mappingName})`,
      };
    }
    objects.reverse(); // roots first, for readability; order carries no meaning
    const objectRefs = objects.map((o) => o.id as string);
    const observedData: ObservedData = {
      type: 'observed-data',
      spec_version: '2.1',
      id: '',
      created: firstObserved,
      modified: firstObserved,
      first_observed: firstObserved,
      last_observed: lastObserved,
      number_observed: 1,
      object_refs: objectRefs,
      x_source_mapping: mappingName,
    };
    if (sourceEventId !== undefined) observedData.x_source_event_id = sourceEventId;
    if (tenant !== undefined) observedData.x_tenant = tenant;
    if (state.unmapped !== undefined) observedData.x_unmapped = state.unmapped;
    observedData.id = `observed-data--${observedUuid ?? uuidv5(STIXFLOW_NAMESPACE, canonicalJson(observedData))}`;
    const result: ObservedEvent = { observedData, objects };
    return { ok: true, events: [result] };
  }

  function hasObjects(): boolean {
    for (let i = 0; i < state.props.length; i++)
      if (state.props[i] !== undefined || state.fans[i] !== undefined) return true;
    return false;
  }

  function applyLinks(objects: StixObject[], eventNamespace: Uint8Array | undefined, firstObserved: string): void {
    let created: ObjectNode[] | undefined;
    for (let i = 0; i < links.length; i++) {
      const link = links[i]!;
      const target = state.props[link.target.index];
      if (target === undefined) continue;
      let holder = state.props[link.holder.index];
      if (holder === undefined) {
        if (!link.create) continue;
        holder = newSco(link.holder.type as string);
        state.props[link.holder.index] = holder;
        (created ??= []).push(link.holder);
      }
      const id = target.id as string;
      const current = holder[link.property];
      if (!link.list) {
        if (current === undefined) holder[link.property] = id;
      } else if (current === undefined) {
        holder[link.property] = [id];
      } else if (Array.isArray(current) && !current.includes(id)) {
        current.push(id);
      }
    }
    // A holder brought into being here gets its id from its finished content (its references included).
    if (created !== undefined) {
      for (const node of created) {
        const sco = state.props[node.index] as JsonRecord;
        sco.id = scoId(sco, node, eventNamespace, firstObserved, 0);
        addObject(objects, sco);
      }
    }
  }

  function attachToParent(node: ObjectNode, ids: string | string[]): void {
    const parent = node.parent as ObjectNode;
    const parentIndex = parent.index;
    let parentSco = state.props[parentIndex];
    if (parentSco === undefined) {
      // A reference alone brings its holder into being (only process.parent.name given: the child process exists).
      parentSco = newSco(parent.type as string);
      state.props[parentIndex] = parentSco;
    }
    parentSco[node.refProperty as string] = ids;
  }

  function scoId(
    sco: JsonRecord,
    node: ObjectNode,
    eventNamespace: Uint8Array | undefined,
    firstObserved: string,
    position: number,
  ): string {
    const type = sco.type as string;
    const deterministic = deterministicScoId(sco, type);
    if (deterministic !== undefined) return deterministic;
    // No STIX id-contributing content: identify the object by its event and its place in it, so that it stays
    // stable across re-normalisation yet two processes in two events never share an id.
    if (eventNamespace !== undefined) {
      return uuidv5Bytes(
        eventNamespace,
        position === 0 ? node.idName : `${node.key}#${position}`,
        type === node.type ? node.idPrefix : `${type}--`,
      );
    }
    // Without a source id, the event time and content are what separate equal objects of different events.
    const name = `${type}\u001f${mappingName}\u001f${firstObserved}\u001f${node.key}\u001f${canonicalJson(sco)}`;
    return `${type}--${uuidv5(STIXFLOW_NAMESPACE, name)}`;
  }

  return { detect, run };
}

/**
 * Adds an SCO unless one with the same id is already there (two paths can describe the same object, e.g. the
 * same address as source and destination); then the extra properties are merged into the first.
 */
function addObject(objects: StixObject[], sco: JsonRecord): void {
  const id = sco.id;
  for (let i = 0; i < objects.length; i++) {
    const existing = objects[i] as StixObject;
    if (existing.id !== id) continue;
    for (const key in sco) if (existing[key] === undefined) existing[key] = sco[key];
    return;
  }
  objects.push(sco as StixObject);
}

function applyDefault(sco: JsonRecord, property: PathSegment[], value: unknown): void {
  let container: JsonRecord = sco;
  for (let i = 0; i < property.length - 1; i++) {
    const name = (property[i] as PathSegment).name;
    const next = container[name];
    if (next === undefined) container[name] = {};
    else if (!isRecord(next)) return;
    container = container[name] as JsonRecord;
  }
  const last = property[property.length - 1] as PathSegment;
  if (container[last.name] !== undefined) return;
  container[last.name] = last.index === '*' ? [value] : value;
}

/**
 * STIX requires `protocols` on network-traffic. When the source names none, the address objects still tell the IP
 * version, which is a true (if minimal) statement of the protocol stack.
 */
function deriveProtocols(sco: JsonRecord): void {
  const ref = (sco.src_ref ?? sco.dst_ref) as string | undefined;
  if (ref === undefined) return;
  if (ref.startsWith('ipv4-addr--')) sco.protocols = ['ipv4'];
  else if (ref.startsWith('ipv6-addr--')) sco.protocols = ['ipv6'];
}

/** The elements of a list that a rule refused, kept alone in x_unmapped under the list's path. */
function keepRefused(state: EventState, path: string): void {
  const refused = state.refused as unknown[];
  state.refused = undefined;
  addUnmapped(state, path, refused.length === 1 ? refused[0] : refused);
}

function hasRecord(list: unknown[]): boolean {
  for (const item of list) if (isRecord(item)) return true;
  return false;
}

function compileLeaf(path: string, assigns: Assign[], startSlot: number, endSlot: number, idSlot: number): Leaf {
  const hasRole = startSlot >= 0 || endSlot >= 0 || idSlot >= 0;
  if (!hasRole && assigns.length === 1) {
    const assign = assigns[0] as Assign;
    return (value, state) => {
      if (assign(value, state) !== ASSIGNED) addUnmapped(state, path, value);
      else {
        if (state.refused !== undefined) keepRefused(state, path);
        if (state.trace !== undefined) state.trace.push(state.tracePath ?? path);
      }
    };
  }
  return (value, state) => {
    let assigned = false;
    let failed = false;
    for (const assign of assigns) {
      const result = assign(value, state);
      if (result === ASSIGNED) assigned = true;
      else if (result === FAILED) failed = true;
    }
    // One rule that took the value is enough: it is represented (a rule refusing it as an address, say, loses nothing).
    const consumed = assigned;
    if (state.refused !== undefined) keepRefused(state, path);
    if (consumed && state.trace !== undefined) state.trace.push(state.tracePath ?? path);
    if (hasRole) {
      // The role decides later whether the value is used; record whether a rule already kept it.
      if (startSlot >= 0) {
        state.startValues[startSlot] = value;
        if (consumed) state.startAssigned |= 1 << startSlot;
      }
      if (endSlot >= 0) {
        state.endValues[endSlot] = value;
        if (consumed) state.endAssigned |= 1 << endSlot;
      }
      if (idSlot >= 0) {
        state.idValues[idSlot] = value;
        if (consumed) state.idAssigned |= 1 << idSlot;
      }
      if (failed) addUnmapped(state, path, value);
      return;
    }
    if (!consumed) addUnmapped(state, path, value);
  };
}
