/**
 * Emit: once the walk has filled the scratch, the event's time and source id are chosen from their candidates,
 * the objects get their ids bottom-up (children before parents, so a file's id includes its directory's), the
 * links are set, and the observed-data is built around them.
 */
import type { ObservedData, ObservedEvent, StixObject } from '../../stix/types.js';
import { isRecord, type JsonRecord } from '../fields.js';
import * as ids from '../ids.js';
import type { PathSegment } from '../target-path.js';
import { compareStixTimestamps, parseTimestamp } from '../timestamps.js';
import type { MappingOutcome, RunContext } from '../types.js';
import type { Link, ObjectNode } from './object-plan.js';
import { copyRawFields, type RawFieldsPlan } from './raw-fields.js';
import { addUnmapped, type EventScratch } from './scratch.js';
import { newSco } from './setters.js';

// Module-local copies: some loaders turn imported bindings into getter calls (see setters.ts).
const deterministicScoId = ids.deterministicScoId;
const uuidv5 = ids.uuidv5;
const uuidv5Bytes = ids.uuidv5Bytes;
const uuidv5WithBytes = ids.uuidv5WithBytes;
const canonicalJson = ids.canonicalJson;
const STIXFLOW_NAMESPACE = ids.STIXFLOW_NAMESPACE;

/** A fixed property value of an object, set on every event that has any object. */
export interface Constant {
  node: ObjectNode;
  set: (target: JsonRecord, value: unknown) => boolean;
  value: unknown;
}

export interface EmitPlan {
  mappingName: string;
  /** The plan's objects, children before parents. */
  postOrder: ObjectNode[];
  links: Link[];
  constants: Constant[];
  startFields: string[];
  endFields: string[];
  idFields: string[];
  /** The source id joins every present id field (`host|channel|record`) rather than taking the first. */
  idJoin: boolean;
  /** A record with no time candidate at all takes the time it was received (`time.received`). */
  timeReceived: boolean;
  /** Unmapped fields also copied into a dictionary property (`raw_fields`). */
  rawFields: RawFieldsPlan | undefined;
}

const acceptId = (value: unknown): string | undefined =>
  typeof value === 'string'
    ? value.length > 0
      ? value
      : undefined
    : typeof value === 'number' && Number.isFinite(value)
      ? String(value)
      : undefined;

/** Picks the first candidate that passes `accept`; the others go to x_unmapped unless a rule used them. */
function pick<T>(
  scratch: EventScratch,
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
    if ((assignedMask & (1 << i)) === 0) addUnmapped(scratch, fields[i] as string, value);
  }
  return chosen;
}

/** A composite source id (host, channel and record id): the parts present, in order, joined with `|`. */
function joinedId(scratch: EventScratch): string | undefined {
  let id: string | undefined;
  for (let i = 0; i < scratch.idValues.length; i++) {
    const part = acceptId(scratch.idValues[i]);
    if (part === undefined) continue;
    id = id === undefined ? part : `${id}|${part}`;
  }
  return id;
}

function hasObjects(scratch: EventScratch): boolean {
  for (let i = 0; i < scratch.props.length; i++)
    if (scratch.props[i] !== undefined || scratch.fans[i] !== undefined) return true;
  return false;
}

export function emit(plan: EmitPlan, scratch: EventScratch, context: RunContext): MappingOutcome {
  const { mappingName, constants, startFields, endFields, idFields } = plan;
  const anyObject = (constants.length > 0 || plan.rawFields !== undefined) && hasObjects(scratch);
  if (constants.length > 0 && anyObject) {
    for (let i = 0; i < constants.length; i++) {
      const constant = constants[i]!;
      const index = constant.node.index;
      const sco = (scratch.props[index] ??= newSco(constant.node.type as string));
      constant.set(sco, constant.value);
    }
  }
  let firstObserved = pick(scratch, scratch.startValues, startFields, scratch.startAssigned, parseTimestamp);
  const present = firstObserved === undefined ? startFields.filter((_, i) => scratch.startValues[i] !== undefined) : [];
  // Only a record with no time field at all takes its time of receipt: a time that is there but unreadable is an error.
  const received =
    firstObserved === undefined && present.length === 0 && plan.timeReceived ? context.receivedAt : undefined;
  if (received !== undefined) firstObserved = received;
  if (firstObserved === undefined) {
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
    const end = pick(scratch, scratch.endValues, endFields, scratch.endAssigned, (v) => {
      const t = parseTimestamp(v);
      return t !== undefined && compareStixTimestamps(t, firstObserved) >= 0 ? t : undefined;
    });
    if (end !== undefined) lastObserved = end;
  }
  const sourceEventId = plan.idJoin
    ? joinedId(scratch)
    : idFields.length > 0
      ? pick(scratch, scratch.idValues, idFields, scratch.idAssigned, acceptId)
      : undefined;
  // After the time and id candidates: the unused ones are unmapped fields too (Sysmon's UtcTime).
  if (plan.rawFields !== undefined && anyObject) copyRawFields(plan.rawFields, scratch);
  const tenant = context.tenant;
  // With a source event id, the observed-data id comes from it alone and is known before the SCOs; it is then
  // the UUIDv5 namespace for the event's SCOs that have no STIX id-contributing content.
  const observedUuid =
    sourceEventId === undefined
      ? undefined
      : uuidv5WithBytes(
          STIXFLOW_NAMESPACE,
          // Kept short: names up to 103 bytes hash in JavaScript (two SHA-1 blocks), without a call into node:crypto.
          `${tenant ?? ''}\u001f${mappingName}\u001f${sourceEventId}`,
          scratch.eventNamespace,
        );
  const ids: IdContext = {
    mappingName,
    eventNamespace: observedUuid === undefined ? undefined : scratch.eventNamespace,
    firstObserved,
  };

  const objects: StixObject[] = [];
  for (const node of plan.postOrder) {
    const index = node.index;
    if (node.fanOut || node.perElement) {
      const list = scratch.fans[index];
      if (list === undefined) continue;
      const listIds: string[] = [];
      for (let i = 0; i < list.length; i++) {
        const sco = list[i] as JsonRecord;
        const id = scoId(sco, node, ids, i);
        if (listIds.includes(id)) continue;
        sco.id = id;
        listIds.push(id);
        addObject(objects, sco);
      }
      if (node.fanOut) attachToParent(scratch, node, listIds);
      continue;
    }
    const sco = scratch.props[index];
    if (sco === undefined) continue;
    const defaults = node.defaults;
    for (let d = 0; d < defaults.length; d++) applyDefault(sco, defaults[d]![0], defaults[d]![1]);
    if (sco.type === 'network-traffic' && sco.protocols === undefined) deriveProtocols(sco);
    sco.id = scoId(sco, node, ids, 0);
    addObject(objects, sco);
    if (node.parent !== undefined) attachToParent(scratch, node, sco.id as string);
  }
  if (plan.links.length > 0 && objects.length > 0) applyLinks(plan.links, scratch, objects, ids);
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
  if (received !== undefined) observedData.x_time_received = true;
  if (sourceEventId !== undefined) observedData.x_source_event_id = sourceEventId;
  if (tenant !== undefined) observedData.x_tenant = tenant;
  if (scratch.unmapped !== undefined) observedData.x_unmapped = scratch.unmapped;
  observedData.id = `observed-data--${observedUuid ?? uuidv5(STIXFLOW_NAMESPACE, canonicalJson(observedData))}`;
  const result: ObservedEvent = { observedData, objects };
  return { ok: true, events: [result] };
}

/** What derived ids of one event's objects are made from. */
interface IdContext {
  mappingName: string;
  /** The observed-data UUID's bytes when the event has a source id. */
  eventNamespace: Uint8Array | undefined;
  firstObserved: string;
}

function applyLinks(links: Link[], scratch: EventScratch, objects: StixObject[], ids: IdContext): void {
  let created: ObjectNode[] | undefined;
  for (let i = 0; i < links.length; i++) {
    const link = links[i]!;
    const target = scratch.props[link.target.index];
    if (target === undefined) continue;
    let holder = scratch.props[link.holder.index];
    if (holder === undefined) {
      if (!link.create) continue;
      holder = newSco(link.holder.type as string);
      scratch.props[link.holder.index] = holder;
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
      const sco = scratch.props[node.index] as JsonRecord;
      sco.id = scoId(sco, node, ids, 0);
      addObject(objects, sco);
    }
  }
}

function attachToParent(scratch: EventScratch, node: ObjectNode, refs: string | string[]): void {
  const parent = node.parent as ObjectNode;
  const parentIndex = parent.index;
  let parentSco = scratch.props[parentIndex];
  if (parentSco === undefined) {
    // A reference alone brings its holder into being (only process.parent.name given: the child process exists).
    parentSco = newSco(parent.type as string);
    scratch.props[parentIndex] = parentSco;
  }
  parentSco[node.refProperty as string] = refs;
}

function scoId(sco: JsonRecord, node: ObjectNode, ids: IdContext, position: number): string {
  const type = sco.type as string;
  const deterministic = deterministicScoId(sco, type);
  if (deterministic !== undefined) return deterministic;
  // No STIX id-contributing content: identify the object by its event and its place in it, so that it stays
  // stable across re-normalisation yet two processes in two events never share an id.
  if (ids.eventNamespace !== undefined) {
    return uuidv5Bytes(
      ids.eventNamespace,
      position === 0 ? node.idName : `${node.key}#${position}`,
      type === node.type ? node.idPrefix : `${type}--`,
    );
  }
  // Without a source id, the event time and content are what separate equal objects of different events.
  const name = `${type}\u001f${ids.mappingName}\u001f${ids.firstObserved}\u001f${node.key}\u001f${canonicalJson(sco)}`;
  return `${type}--${uuidv5(STIXFLOW_NAMESPACE, name)}`;
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
