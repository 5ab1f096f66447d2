/**
 * Deterministic identifiers.
 *
 * SCO ids follow STIX 2.1 §2.9: UUIDv5 in the STIX namespace over the RFC 8785 (JCS) serialisation of the
 * object's id-contributing properties. Objects whose type has none (process, custom types) or that carry none of
 * them get an id from their event's identity and their position in the event instead (see docs/normalisation.md).
 */
import { uuidv5Bytes } from '../util/uuid.js';

export { sha1Hex, uuidv5, uuidv5Bytes, uuidv5WithBytes } from '../util/uuid.js';

/** The namespace STIX 2.1 mandates for deterministic SCO ids. */
export const STIX_SCO_NAMESPACE = '00abedb4-aa42-466c-9c01-fed23315a9b7';
/** Its 16 bytes, so that each id hashes them without looking the namespace up. */
const STIX_SCO_NAMESPACE_BYTES = Uint8Array.from(
  STIX_SCO_NAMESPACE.replace(/-/g, '').match(/../g) as string[],
  (pair) => Number.parseInt(pair, 16),
);
/**
 * stixflow's own namespace for ids it derives outside the STIX rule (observed-data from a source event id,
 * SCOs without id-contributing properties). Itself UUIDv5("stixflow") in the STIX namespace, so it is reproducible.
 */
export const STIXFLOW_NAMESPACE = '7de85368-dce1-5c4a-a436-4def8a9a9d1e';

/**
 * JSON text of a string. Most values need no escaping, and a scan is several times cheaper than JSON.stringify
 * for the short strings ids are made of.
 */
function quoteJson(value: string): string {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // Quote, backslash, control characters and surrogates (lone ones must be escaped) take the slow path.
    if (c === 34 || c === 92 || c < 0x20 || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(value);
  }
  return `"${value}"`;
}

/**
 * RFC 8785 JSON Canonicalization Scheme for the JSON values normalisation produces: keys sorted by UTF-16 code
 * units, no whitespace, ECMAScript number and string serialisation (which is what JCS specifies).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'string') return quoteJson(value);
    // Number::toString, as JSON.stringify writes a finite number (-0 as 0 too), without the call.
    if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
    return value === undefined ? 'null' : JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += canonicalJson(value[i]);
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const item = record[key];
    if (item === undefined) continue;
    if (!first) out += ',';
    first = false;
    out += `${quoteJson(key)}:${canonicalJson(item)}`;
  }
  return `${out}}`;
}

/** STIX 2.1 id-contributing properties per SCO type (§2.9 and each type's "ID Contributing Properties"). */
export const ID_CONTRIBUTING_PROPERTIES: Readonly<Record<string, readonly string[]>> = {
  artifact: ['hashes', 'payload_bin'],
  'autonomous-system': ['number'],
  directory: ['path'],
  'domain-name': ['value'],
  'email-addr': ['value'],
  'email-message': ['from_ref', 'subject', 'body'],
  file: ['hashes', 'name', 'extensions', 'parent_directory_ref'],
  'ipv4-addr': ['value'],
  'ipv6-addr': ['value'],
  'mac-addr': ['value'],
  mutex: ['name'],
  'network-traffic': ['start', 'end', 'src_ref', 'dst_ref', 'src_port', 'dst_port', 'protocols', 'extensions'],
  software: ['name', 'cpe', 'swid', 'vendor', 'version'],
  url: ['value'],
  'user-account': ['account_type', 'user_id', 'account_login'],
  'windows-registry-key': ['key', 'values'],
  'x509-certificate': ['hashes', 'serial_number'],
};

/** §2.9: when `hashes` contributes, only one hash is used, in this order of preference. */
const HASH_PREFERENCE = ['MD5', 'SHA-1', 'SHA-256', 'SHA-512'];

const HASH_PREFERENCE_PREFIXES = HASH_PREFERENCE.map((algorithm) => `{${JSON.stringify(algorithm)}:`);

/** `{"<algorithm>":<value>}` for the one hash §2.9 picks, or undefined when the dictionary holds none. */
function chosenHashJson(hashes: Record<string, unknown>): string | undefined {
  for (let i = 0; i < HASH_PREFERENCE.length; i++) {
    const value = hashes[HASH_PREFERENCE[i]!];
    if (value !== undefined) {
      return `${HASH_PREFERENCE_PREFIXES[i]!}${canonicalJson(value)}}`;
    }
  }
  for (const algorithm of Object.keys(hashes).sort()) {
    const value = hashes[algorithm];
    if (value !== undefined) return `{${JSON.stringify(algorithm)}:${canonicalJson(value)}}`;
  }
  return undefined;
}

interface TypeIdPlan {
  type: string;
  /**
   * `<type>--`, made once: a prefix built per id is a new string each time, which the formatter's lookup of its
   * buffer for that prefix then had to hash.
   */
  idPrefix: string;
  /** Contributing properties in JCS key order, so ids need no sorting per object. */
  properties: readonly string[];
  /** `"name":` for each property, precomputed. */
  prefixes: readonly string[];
  /**
   * Recently derived ids. Event streams repeat the same addresses, directories, files and accounts constantly,
   * and a lookup is far cheaper than SHA-1. Single-property types are keyed by the raw value; the others by a
   * trie of Maps over the contributing values, which avoids building (and hashing) a long key string.
   * Cleared when full, which bounds memory simply.
   */
  cache: Map<unknown, unknown>;
  size: number;
  /** network-traffic (ports, times) is almost never repeated: caching it would only churn memory. */
  cacheable: boolean;
}

const ID_CACHE_LIMIT = 4096;
/** Trie key for an absent property (distinct from every JSON value). */
const ABSENT = Symbol('absent');

const ID_PLANS: ReadonlyMap<string, TypeIdPlan> = new Map(
  Object.entries(ID_CONTRIBUTING_PROPERTIES).map(([type, properties]) => [
    type,
    {
      type,
      idPrefix: `${type}--`,
      properties: [...properties].sort(),
      prefixes: [...properties].sort().map((p) => `${JSON.stringify(p)}:`),
      cache: new Map<unknown, unknown>(),
      size: 0,
      cacheable: type !== 'network-traffic' && type !== 'email-message' && type !== 'artifact',
    },
  ]),
);

/** `<type>--<UUIDv5 of the JCS name in the STIX namespace>`. */
function scoUuid(plan: TypeIdPlan, name: string): string {
  return uuidv5Bytes(STIX_SCO_NAMESPACE_BYTES, name, plan.idPrefix);
}

function remember(plan: TypeIdPlan, level: Map<unknown, unknown>, key: unknown, id: string): void {
  if (plan.size >= ID_CACHE_LIMIT) {
    plan.cache.clear();
    plan.size = 0;
    return;
  }
  level.set(key, id);
  plan.size++;
}

/** The trie level below `level` for `key`, created on the way. */
function descend(level: Map<unknown, unknown>, key: unknown): Map<unknown, unknown> {
  let next = level.get(key) as Map<unknown, unknown> | undefined;
  if (next === undefined) {
    next = new Map();
    level.set(key, next);
  }
  return next;
}

/** The JCS text of the contributing properties present, or undefined when there are none. */
function jcsName(
  sco: Record<string, unknown>,
  properties: readonly string[],
  prefixes: readonly string[],
): string | undefined {
  let name = '';
  for (let i = 0; i < properties.length; i++) {
    const property = properties[i]!;
    const value = sco[property];
    if (value === undefined) continue;
    let json: string | undefined;
    if (property === 'hashes' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      json = chosenHashJson(value as Record<string, unknown>);
      if (json === undefined) continue;
    } else json = canonicalJson(value);
    name = name.length === 0 ? `{${prefixes[i]!}${json}` : `${name},${prefixes[i]!}${json}`;
  }
  return name.length === 0 ? undefined : `${name}}`;
}

/**
 * The STIX 2.1 deterministic id for an SCO, or undefined when its type has no id-contributing properties or the
 * object carries none of them (the caller then derives an id from the event). Builds the JCS text directly:
 * this runs for most objects of every event.
 */
export function deterministicScoId(sco: Record<string, unknown>, type: string): string | undefined {
  const plan = ID_PLANS.get(type);
  if (plan === undefined) return undefined;
  const properties = plan.properties;
  const prefixes = plan.prefixes;
  const count = properties.length;
  if (count === 1) {
    // Single-property types (addresses, domain names, directories, urls…).
    const value = sco[properties[0]!];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') return scoUuid(plan, `{${prefixes[0]!}${canonicalJson(value)}}`);
    let id = plan.cache.get(value) as string | undefined;
    if (id === undefined) {
      id = scoUuid(plan, `{${prefixes[0]!}${quoteJson(value)}}`);
      remember(plan, plan.cache, value, id);
    }
    return id;
  }
  if (!plan.cacheable) {
    const name = jcsName(sco, properties, prefixes);
    return name === undefined ? undefined : scoUuid(plan, name);
  }
  // Walk the cache trie with the raw contributing values; build the JCS text only on a miss.
  let level = plan.cache;
  let present = 0;
  for (let i = 0; i < count; i++) {
    const property = properties[i]!;
    const value = sco[property];
    if (value === undefined) {
      level = descend(level, ABSENT);
      continue;
    }
    if (property === 'hashes' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const chosenHash = chosenHashJson(value as Record<string, unknown>);
      if (chosenHash === undefined) {
        level = descend(level, ABSENT);
        continue;
      }
      present++;
      level = descend(level, chosenHash);
      continue;
    }
    present++;
    const t = typeof value;
    level = descend(level, t === 'string' || t === 'number' || t === 'boolean' ? value : canonicalJson(value));
  }
  if (present === 0) return undefined;
  const cached = level.get(ABSENT) as string | undefined;
  if (cached !== undefined) return cached;
  const id = scoUuid(plan, jcsName(sco, properties, prefixes) as string);
  remember(plan, level, ABSENT, id);
  return id;
}
