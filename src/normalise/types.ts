/** Public and shared types of the normalisation layer. */
import type { Diagnostic } from '../errors.js';
import type { ObservedEvent } from '../stix/types.js';
import type { CompiledDetect, Condition, DetectSpec, JsonRecord } from './fields.js';
import type { ParseSpec } from './parsers.js';
import type { TransformSpec } from './transforms.js';

/** One rule of a mapping's `fields` section, as written (a bare string is a target without transform). */
export type FieldRule = string | { target: string; transform?: TransformSpec | TransformSpec[]; when?: Condition };

/** A value built from several fields: `template` names them in braces (`http://{host}{uri}`). */
export interface ComposeRule {
  target: string;
  template: string;
  transform?: TransformSpec | TransformSpec[];
  when?: Condition;
}

/** A mapping file as written, after JSON Schema validation (schemas/mapping.schema.json). */
export interface MappingDefinition {
  mapping: 1;
  name: string;
  description?: string;
  mode?: 'fields' | 'stix-passthrough';
  detect: DetectSpec;
  /**
   * `received`: a record that carries no time at all (a VPC flow log format without start/end) takes the time the
   * pipeline received it, when the caller gives one (NormaliseOptions.receivedAt); marked `x_time_received`.
   */
  time?: { start: string | string[]; end?: string | string[]; received?: boolean };
  /** One field, a list (the first present wins), or `{ join: [...] }`: the fields present, joined with `|`. */
  source_id?: string | string[] | { join: string[] };
  /** Fields holding structure as text or name/value lists, parsed before their parts are mapped. */
  parse?: Record<string, ParseSpec>;
  /** Lookup tables for `{ lookup: <name> }` transforms, beside the built-in ones. */
  tables?: Record<string, Record<string, string | number | boolean>>;
  /** String values that mean "no value" in this source (`-`, `N/A`, ``): dropped, neither mapped nor kept. */
  null_values?: string[];
  /** Match source field names regardless of case (`eventid` for `EventID`). */
  case_insensitive?: boolean;
  compose?: ComposeRule[];
  /**
   * Paths whose content is read like the top level (the Windows shapes: `Event.EventData`, `winlog.event_data`):
   * the mapping's fields are found there as well. A final `*` stands for any key (`Event.UserData.*`).
   */
  roots?: string[];
  /**
   * Fields directly below these paths (`.`: the top level) that no rule maps are also copied, as text keyed by
   * name, into the dictionary `target`: patterns cannot read x_unmapped, and Sigma's raw-field fallback needs them.
   * With `full_names`, every unmapped field at any depth below the paths is copied, keyed by its whole source path
   * (`requestParameters.bucketName`), as Sigma's rules on nested JSON (CloudTrail, Okta) name them.
   */
  raw_fields?: { target: string; under: string[]; full_names?: boolean };
  /** Other places a field is found, read by its rules and conditions alike: `EventID: [winlog.event_id]`. */
  aliases?: Record<string, string[]>;
  types?: Record<string, string>;
  defaults?: Record<string, string | number | boolean>;
  ignore?: string[];
  fields?: Record<string, FieldRule | FieldRule[]>;
  /**
   * The Sigma logsource this mapping's events are: set (lower-cased) on every event as the anchor's
   * `x_sigma_logsource` dictionary, which Sigma rules of a logsource no built-in mapping produces select on
   * (docs/sigma-taxonomy.md).
   */
  sigma_logsource?: { product?: string; category?: string; service?: string };
  /** Property values set on every event that maps to at least one object (creating the object if needed). */
  constants?: Record<string, string | number | boolean>;
  /** The x-oca-event anchor's references: `process_ref: process`, `parent_process_ref: process:parent_ref`, … */
  anchor?: Record<string, string>;
  /** References set between objects when both exist: `process:creator_user_ref: user-account`. */
  links?: Record<string, string>;
}

/** What running a mapping on one recognised event gives. */
export type MappingOutcome = { ok: true; events: ObservedEvent[] } | { ok: false; code: string; message: string };

/** The per-event context a compiled mapping needs beyond the event itself. */
export interface RunContext {
  tenant: string | undefined;
  /** When given, the source paths that a rule consumed are appended (coverage measurement; off in production). */
  consumed?: string[];
  /** When the events were received (a STIX timestamp), for mappings whose records may carry no time. */
  receivedAt?: string;
}

/** A mapping compiled to closures once, at load time. */
export interface CompiledMapping {
  /** True when the event fits; `detect.score` says how specifically (see fields.ts). */
  detect: ((event: JsonRecord) => boolean) & CompiledDetect;
  run(event: JsonRecord, context: RunContext): MappingOutcome;
}

/** A loaded, validated and compiled mapping. */
export interface Mapping {
  readonly name: string;
  readonly description: string | undefined;
  /** The file it came from, when known (for diagnostics). */
  readonly file: string | undefined;
  readonly mode: 'fields' | 'stix-passthrough';
  readonly definition: MappingDefinition;
  readonly compiled: CompiledMapping;
}

export type NormaliseResult =
  | {
      ok: true;
      events: ObservedEvent[];
      mapping: string;
      /** Records of an envelope ({"Records": [...]}) that were rejected while the others were normalised. */
      rejected?: Diagnostic[];
    }
  | { ok: false; diagnostic: Diagnostic };

export interface NormaliseBatchResult {
  events: ObservedEvent[];
  /** One diagnostic per rejected event, each with the event's `eventIndex`. */
  rejected: Diagnostic[];
}

export interface Normaliser {
  /** The mappings tried, in order (user mappings first, then built-ins). */
  readonly mappings: readonly Mapping[];
  /** Never throws: any input gives a result or a diagnostic. */
  normalise(event: unknown, index?: number, options?: NormaliseOptions): NormaliseResult;
  normaliseBatch(events: readonly unknown[], options?: NormaliseOptions): NormaliseBatchResult;
}

export interface NormaliserOptions {
  /** Extra mappings, tried before the built-ins; one named like a built-in replaces it. */
  mappings?: Mapping[];
  /** Tenant recorded as `x_tenant` on every observed-data and part of derived ids. */
  tenant?: string;
  /** Include the built-in mappings (default true). */
  includeBuiltIns?: boolean;
  /** The mapping every event of this normaliser uses, by name, instead of detection (see NormaliseOptions.source). */
  source?: string;
}

/** Per-call choices of the caller (a normaliser may be shared by callers of several tenants and sources). */
export interface NormaliseOptions {
  /** The tenant of these events (recorded as `x_tenant`, part of derived ids); the normaliser's own when absent. */
  tenant?: string;
  /**
   * The mapping to use, by name, instead of detection (the sender said what it sends: an HTTP `source`
   * parameter, an SQS message attribute, a CLI `--source`). An unknown name is rejected (`unknown-source`).
   */
  source?: string;
  /** When these events were received (a STIX timestamp): the time of records that carry none (`time.received`). */
  receivedAt?: string;
  /** Source paths consumed by a mapping rule are appended here (coverage measurement). */
  consumed?: string[];
}

/** Per-call settings: the name the tenant path was introduced under. */
export type NormaliseCallOptions = NormaliseOptions;
