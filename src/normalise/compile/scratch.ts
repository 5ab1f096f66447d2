/**
 * The per-event scratch of a compiled mapping: everything one event's run writes, in one explicit object that
 * every step of the run takes as an argument (no step keeps per-event state of its own). A compiled mapping owns
 * one, sized by its plan and reset for each event, so an event allocates only what it produces.
 */
import type { JsonRecord } from '../fields.js';

export interface EventScratch {
  event: JsonRecord;
  /** The SCO of each single object of the plan (by node index), created when a rule first writes to it. */
  props: (JsonRecord | undefined)[];
  /** The SCOs of each list object (`[*]` fan-out, `type[*]:` per element), by node index. */
  fans: (JsonRecord[] | undefined)[];
  /** Per-element objects: the element serial each object of `fans[i]` belongs to. */
  fanElements: (number[] | undefined)[];
  unmapped: JsonRecord | undefined;
  /** Candidate values of the time and source-id roles, by the role's field position. */
  startValues: unknown[];
  endValues: unknown[];
  idValues: unknown[];
  /** Bit i set: candidate i of that role was also consumed by a field rule, so it is not unmapped if unused. */
  startAssigned: number;
  endAssigned: number;
  idAssigned: number;
  /** `when` conditions shared by several rules, evaluated once per event: -1 not yet, 0 false, 1 true. */
  conditions: Int8Array;
  /** Source paths consumed by a rule, collected only when the caller asks (coverage measurement). */
  trace: string[] | undefined;
  /** When tracing: the path of the value being mapped as found in the event (aliases and roots included). */
  tracePath: string | undefined;
  /** Serial of the array element being walked (0 outside arrays): per-element objects (`type[*]:`) key on it. */
  element: number;
  elementCounter: number;
  /** Elements of a list value that a rule refused, kept in x_unmapped alone while the others are mapped. */
  refused: unknown[] | undefined;
  /** x_unmapped keys met again in another array element, whose values are gathered into a list. */
  unmappedLists: Set<string> | undefined;
  /** The 16 bytes of the event's observed-data UUID, the namespace of its objects' derived ids. */
  eventNamespace: Uint8Array;
}

export interface ScratchShape {
  objects: number;
  startFields: number;
  endFields: number;
  idFields: number;
  conditions: number;
}

export function createScratch(shape: ScratchShape): EventScratch {
  return {
    event: {},
    props: new Array<JsonRecord | undefined>(shape.objects).fill(undefined),
    fans: new Array<JsonRecord[] | undefined>(shape.objects).fill(undefined),
    fanElements: new Array<number[] | undefined>(shape.objects).fill(undefined),
    unmapped: undefined,
    startValues: new Array<unknown>(shape.startFields).fill(undefined),
    endValues: new Array<unknown>(shape.endFields).fill(undefined),
    idValues: new Array<unknown>(shape.idFields).fill(undefined),
    startAssigned: 0,
    endAssigned: 0,
    idAssigned: 0,
    conditions: new Int8Array(shape.conditions).fill(-1),
    trace: undefined,
    tracePath: undefined,
    element: 0,
    elementCounter: 0,
    refused: undefined,
    unmappedLists: undefined,
    eventNamespace: new Uint8Array(16),
  };
}

/**
 * Readies the scratch for `event`. `props` and `fans` are already clear: createScratch makes them so, and
 * endEvent, which every run ends with (in a finally), clears them again.
 */
export function beginEvent(scratch: EventScratch, event: JsonRecord, trace: string[] | undefined): void {
  scratch.event = event;
  scratch.fanElements.fill(undefined);
  scratch.unmapped = undefined;
  scratch.startValues.fill(undefined);
  scratch.endValues.fill(undefined);
  scratch.idValues.fill(undefined);
  scratch.startAssigned = 0;
  scratch.endAssigned = 0;
  scratch.idAssigned = 0;
  scratch.conditions.fill(-1);
  scratch.trace = trace;
  scratch.tracePath = undefined;
  scratch.element = 0;
  scratch.elementCounter = 0;
  scratch.refused = undefined;
  scratch.unmappedLists = undefined;
}

/** Drops the references to the last event and its objects, so that the scratch does not keep them alive. */
export function endEvent(scratch: EventScratch): void {
  scratch.event = {};
  scratch.trace = undefined;
  scratch.unmapped = undefined;
  scratch.props.fill(undefined);
  scratch.fans.fill(undefined);
}

export function addUnmapped(scratch: EventScratch, key: string, value: unknown): void {
  const unmapped = (scratch.unmapped ??= {});
  if (key === '__proto__')
    return void Object.defineProperty(unmapped, key, { value, enumerable: true, writable: true, configurable: true });
  if (scratch.element !== 0 && unmapped[key] !== undefined) {
    // The same field of another element of a list of objects: keep both, in element order.
    const lists = (scratch.unmappedLists ??= new Set());
    if (lists.has(key)) (unmapped[key] as unknown[]).push(value);
    else {
      lists.add(key);
      unmapped[key] = [unmapped[key], value];
    }
    return;
  }
  unmapped[key] = value;
}

/** The elements of a list that a rule refused, kept alone in x_unmapped under the list's path. */
export function keepRefused(scratch: EventScratch, path: string): void {
  const refused = scratch.refused as unknown[];
  scratch.refused = undefined;
  addUnmapped(scratch, path, refused.length === 1 ? refused[0] : refused);
}
