/**
 * The object plan: the SCOs a mapping's target paths describe (`process`, `process:parent_ref`,
 * `domain-name:resolves_to_refs[*]`), each with a fixed slot (its index) in the per-event scratch, their
 * references to one another, and the links set once the objects exist.
 */
import { ID_CONTRIBUTING_PROPERTIES } from '../ids.js';
import { parseTargetPath, TargetPathError, type PathSegment } from '../target-path.js';
import type { CompileIssue } from './issues.js';

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

export interface ObjectNode {
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
export interface Link {
  holder: ObjectNode;
  property: string;
  list: boolean;
  target: ObjectNode;
  /** Bring the holder into being when the target exists (the x-oca-event anchor). */
  create: boolean;
}

/** A target path resolved: the object it writes into and the property path inside that object. */
export interface ResolvedTarget {
  node: ObjectNode;
  property: PathSegment[];
}

export class ObjectPlan {
  readonly nodes: ObjectNode[] = [];
  readonly links: Link[] = [];
  private readonly byKey = new Map<string, ObjectNode>();
  private readonly usedTypeDeclarations = new Set<string>();

  constructor(
    private readonly declaredTypes: Readonly<Record<string, string>>,
    private readonly issues: CompileIssue[],
  ) {}

  private nodeFor(
    key: string,
    type: string | undefined,
    parent: ObjectNode | undefined,
    refProperty: string | undefined,
    fanOut: boolean,
    at: (string | number)[],
  ): ObjectNode {
    let node = this.byKey.get(key);
    if (node === undefined) {
      node = {
        index: this.nodes.length,
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
      this.nodes.push(node);
      this.byKey.set(key, node);
      parent?.children.push(node);
    }
    return node;
  }

  private parse(text: string, at: (string | number)[]): ReturnType<typeof parseTargetPath> | undefined {
    try {
      return parseTargetPath(text);
    } catch (error) {
      if (error instanceof TargetPathError) {
        this.issues.push({ message: error.message, at });
        return undefined;
      }
      throw error;
    }
  }

  /** Resolves a target path to the object it writes into, creating the plan's nodes on the way. */
  resolveTarget(text: string, at: (string | number)[]): ResolvedTarget | undefined {
    const issues = this.issues;
    const parsed = this.parse(text, at);
    if (parsed === undefined) return undefined;
    let node = this.nodeFor(parsed.rootKey, parsed.rootType, undefined, undefined, false, at);
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
      const declared = this.declaredTypes[key];
      if (declared !== undefined) this.usedTypeDeclarations.add(key);
      node = this.nodeFor(key, declared ?? REF_TYPES[segment.name], node, segment.name, isRefs, at);
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
  }

  /** A target of `defaults` or `constants`: an object of fixed type outside [*] lists. */
  resolveFixedTarget(text: string, at: (string | number)[], what: string): ResolvedTarget | undefined {
    const resolved = this.resolveTarget(text, at);
    if (resolved === undefined) return undefined;
    if (resolved.node.type === undefined || resolved.node.fanOut || resolved.node.perElement) {
      this.issues.push({ message: `"${text}": ${what} need an object of fixed type outside [*] lists`, at });
      return undefined;
    }
    return resolved;
  }

  /** `holder-path.<ref property>` → the object named by `targetKey` (an object key of the plan: `process:parent_ref`). */
  addLink(holderText: string, targetKey: string, create: boolean, at: (string | number)[]): void {
    const issues = this.issues;
    const parsed = this.parse(holderText, at);
    if (parsed === undefined) return;
    let holder = this.nodeFor(parsed.rootKey, parsed.rootType, undefined, undefined, false, at);
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
      holder = this.nodeFor(key, this.declaredTypes[key] ?? REF_TYPES[segment.name], holder, segment.name, false, at);
    }
    const last = segments[segments.length - 1] as PathSegment;
    const list = last.name.endsWith('_refs');
    if ((!list && !last.name.endsWith('_ref')) || (last.index !== undefined && !(list && last.index === '*'))) {
      return void issues.push({
        message: `"${holderText}": a link sets a reference property (ending in _ref or _refs)`,
        at,
      });
    }
    const target = this.byKey.get(targetKey);
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
    this.links.push({ holder, property: last.name, list, target, create });
  }

  /** Objects whose type nothing fixes, and `types` declarations no path uses. */
  checkTypes(): void {
    for (const node of this.nodes) {
      if (node.type === undefined && node.untypedRules > 0) {
        this.issues.push({
          message:
            `the type of the object at ${node.key} is unknown: declare it under types ("${node.key}": <sco-type>) ` +
            `or give every rule into it the ip-to-sco-type transform`,
          at: node.at,
        });
      }
    }
    for (const key of Object.keys(this.declaredTypes)) {
      if (!this.usedTypeDeclarations.has(key)) {
        this.issues.push({ message: `types: "${key}" is not a reference any target path uses`, at: ['types', key] });
      }
    }
  }

  /** Children before parents, so that a parent's id can include its references' ids (file -> directory). */
  postOrder(): ObjectNode[] {
    const order: ObjectNode[] = [];
    const visit = (node: ObjectNode): void => {
      for (const child of node.children) visit(child);
      order.push(node);
    };
    for (const node of this.nodes) if (node.parent === undefined) visit(node);
    return order;
  }
}
