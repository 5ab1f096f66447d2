/**
 * Deterministic identifiers.
 *
 * SCO ids follow STIX 2.1 §2.9: UUIDv5 in the STIX namespace over the RFC 8785 (JCS) serialisation of the
 * object's id-contributing properties. Objects whose type has none (process, custom types) or that carry none of
 * them get an id from their event's identity and their position in the event instead (see docs/normalisation.md).
 */
import { hash } from 'node:crypto';

/** The namespace STIX 2.1 mandates for deterministic SCO ids. */
export const STIX_SCO_NAMESPACE = '00abedb4-aa42-466c-9c01-fed23315a9b7';
/**
 * stixflow's own namespace for ids it derives outside the STIX rule (observed-data from a source event id,
 * SCOs without id-contributing properties). Itself UUIDv5("stixflow") in the STIX namespace, so it is reproducible.
 */
export const STIXFLOW_NAMESPACE = '7de85368-dce1-5c4a-a436-4def8a9a9d1e';

/*
 * SHA-1 for UUIDv5. Normalising one event derives a handful of ids, most from short names. For a name that fits
 * one SHA-1 block (up to 39 bytes after the 16 of the namespace), hashing in JavaScript over reusable buffers
 * beats any call into node:crypto, whose fixed cost per call is that of a few blocks; longer names (the JCS of a
 * network-traffic, a file with hashes, an observed-data without a source id) go to node:crypto's one-shot
 * `hash`, which is two to three times faster there. Correctness is pinned by tests against node:crypto and
 * published UUIDv5 vectors.
 */
/** Longest name (in UTF-16 code units) hashed in JavaScript; an ASCII name up to this length is one block. */
const ONE_BLOCK_NAME = 39;
let nativeMessage = Buffer.allocUnsafe(1024);
/** Hex digit values by character code, for reading node:crypto's hex digest back into words. */
const HEX_VALUE = new Int8Array(128);
for (let i = 0; i < 16; i++) HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i;

/** SHA-1 of namespace bytes and the UTF-8 of `name` by node:crypto, as five 32-bit words in `out`. */
function nativeSha1Words(namespace: Uint8Array, name: string, out: Int32Array): void {
  const worst = 16 + name.length * 3;
  if (worst > nativeMessage.length) nativeMessage = Buffer.allocUnsafe(worst);
  // Copied every time: a per-event namespace is one buffer rewritten for each event.
  nativeMessage.set(namespace, 0);
  const written = nativeMessage.write(name, 16, 'utf8');
  const hex = hash('sha1', nativeMessage.subarray(0, 16 + written), 'hex');
  for (let w = 0; w < 5; w++) {
    let word = 0;
    for (let k = w * 8; k < w * 8 + 8; k++) word = (word << 4) | HEX_VALUE[hex.charCodeAt(k)]!;
    out[w] = word;
  }
}

/**
 * The padded message as big-endian 32-bit words (a `const`, which V8 optimises better): three blocks, the most a
 * name of ONE_BLOCK_NAME code units can take as UTF-8.
 */
const MESSAGE = new Int32Array(48);
const words = new Int32Array(80);
/** UTF-8 of names with non-ASCII characters, before they are packed into words. */
let utf8Scratch = new Uint8Array(3 * ONE_BLOCK_NAME);
const HEX_BYTE: string[] = [];
for (let i = 0; i < 256; i++) HEX_BYTE.push(i.toString(16).padStart(2, '0'));

function uuidToBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a UUID: ${uuid}`);
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

const namespaceBytes = new Map<string, Uint8Array>();

function bytesOf(namespace: string): Uint8Array {
  let bytes = namespaceBytes.get(namespace);
  if (bytes === undefined) {
    bytes = uuidToBytes(namespace);
    namespaceBytes.set(namespace, bytes);
  }
  return bytes;
}

const encoder = new TextEncoder();

/**
 * Writes namespace + UTF-8 name with SHA-1 padding into a word buffer, packing ASCII characters straight into
 * big-endian words (no byte buffer in between: for these short names that step cost as much as a block of
 * hashing). Returns the buffer; `paddedWords` receives its length in words.
 */
function fillMessage(namespace: Uint8Array, name: string): Int32Array {
  const nameLength = name.length;
  // UTF-8 needs at most 3 bytes per UTF-16 code unit; +16 namespace, +9 padding, rounded up to a block.
  const worstWords = ((16 + nameLength * 3 + 9 + 63) >> 6) << 4;
  const message = worstWords <= MESSAGE.length ? MESSAGE : new Int32Array(worstWords);
  for (let i = 0; i < 4; i++) {
    const j = i * 4;
    message[i] = (namespace[j]! << 24) | (namespace[j + 1]! << 16) | (namespace[j + 2]! << 8) | namespace[j + 3]!;
  }
  let length = 16;
  let word = 0;
  let i = 0;
  for (; i < nameLength; i++) {
    const c = name.charCodeAt(i);
    if (c > 0x7f) break;
    word = (word << 8) | c;
    if ((++length & 3) === 0) {
      message[(length >> 2) - 1] = word;
      word = 0;
    }
  }
  if (i < nameLength) {
    // Not ASCII: encode the rest as UTF-8 bytes, then pack those.
    if (utf8Scratch.length < (nameLength - i) * 3) utf8Scratch = new Uint8Array((nameLength - i) * 3);
    const written = encoder.encodeInto(name.slice(i), utf8Scratch).written;
    for (let k = 0; k < written; k++) {
      word = (word << 8) | utf8Scratch[k]!;
      if ((++length & 3) === 0) {
        message[(length >> 2) - 1] = word;
        word = 0;
      }
    }
  }
  // The 0x80 terminator after the last byte, then zeros, then the length in bits (names are far below 2^32 bits).
  const filled = length & 3;
  message[length >> 2] = ((word << 8) | 0x80) << ((3 - filled) * 8);
  const padded = ((length + 9 + 63) >> 6) << 4;
  for (let k = (length >> 2) + 1; k < padded - 1; k++) message[k] = 0;
  message[padded - 1] = length * 8;
  paddedWords = padded;
  return message;
}

let paddedWords = 0;

function hexWord(word: number): string {
  return (
    HEX_BYTE[(word >>> 24) & 0xff]! +
    HEX_BYTE[(word >>> 16) & 0xff]! +
    HEX_BYTE[(word >>> 8) & 0xff]! +
    HEX_BYTE[word & 0xff]!
  );
}

/** SHA-1 of namespace bytes followed by the UTF-8 of `name`, as five 32-bit words. */
function sha1Words(namespace: Uint8Array, name: string, out: Int32Array): void {
  if (name.length > ONE_BLOCK_NAME) return nativeSha1Words(namespace, name, out);
  const message = fillMessage(namespace, name);
  const length = paddedWords;
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  const w = words;
  for (let block = 0; block < length; block += 16) {
    for (let i = 0; i < 16; i++) w[i] = message[block + i]!;
    for (let i = 16; i < 80; i++) {
      const x = w[i - 3]! ^ w[i - 8]! ^ w[i - 14]! ^ w[i - 16]!;
      w[i] = (x << 1) | (x >>> 31);
    }
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    // Four loops of 20 rounds rather than one loop with a branch per round: measurably faster in V8.
    let t: number;
    for (let i = 0; i < 20; i++) {
      t = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 20; i < 40; i++) {
      t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 40; i < 60; i++) {
      t = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e - 0x70e44324 + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    for (let i = 60; i < 80; i++) {
      t = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e - 0x359d3e2a + w[i]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  out[0] = h0;
  out[1] = h1;
  out[2] = h2;
  out[3] = h3;
  out[4] = h4;
}

const digest = new Int32Array(5);

/** SHA-1 (hex) of namespace UUID bytes followed by `name`; exported for tests against node:crypto. */
export function sha1Hex(namespace: string, name: string): string {
  sha1Words(bytesOf(namespace), name, digest);
  return hexWord(digest[0]!) + hexWord(digest[1]!) + hexWord(digest[2]!) + hexWord(digest[3]!) + hexWord(digest[4]!);
}

/** RFC 4122 UUIDv5 (SHA-1) of `name` (UTF-8) in `namespace`. */
export function uuidv5(namespace: string, name: string): string {
  return uuidv5Bytes(bytesOf(namespace), name);
}

/**
 * UUIDv5 of `name` in `namespace`, also writing the UUID's 16 bytes into `bytesOut`, so that it can serve as a
 * namespace itself (per-event namespaces) without parsing the string back.
 */
export function uuidv5WithBytes(namespace: string, name: string, bytesOut: Uint8Array): string {
  const uuid = uuidv5Bytes(bytesOf(namespace), name);
  for (let i = 0; i < 4; i++) {
    const word =
      i === 1 ? (digest[1]! & ~0xf000) | 0x5000 : i === 2 ? (digest[2]! & ~0xc0000000) | 0x80000000 : digest[i]!;
    bytesOut[i * 4] = (word >>> 24) & 0xff;
    bytesOut[i * 4 + 1] = (word >>> 16) & 0xff;
    bytesOut[i * 4 + 2] = (word >>> 8) & 0xff;
    bytesOut[i * 4 + 3] = word & 0xff;
  }
  return uuid;
}

/** UUIDv5 of `name` in a namespace given as its 16 bytes, optionally preceded by `prefix` (`file--`). */
export function uuidv5Bytes(namespace: Uint8Array, name: string, prefix = ''): string {
  sha1Words(namespace, name, digest);
  // Version 5 in the high nibble of byte 6; variant 10xx in the top bits of byte 8.
  return formatUuid(
    prefix,
    digest[0]!,
    (digest[1]! & ~0xf000) | 0x5000,
    (digest[2]! & 0x3fffffff) | 0x80000000,
    digest[3]!,
  );
}

/** `<type>--<UUIDv5 of name in namespace>`, built as one flat string. */
export function stixId(type: string, namespace: string, name: string): string {
  return uuidv5Bytes(bytesOf(namespace), name, `${type}--`);
}

const HEX_CODES = new Uint8Array([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);

/** Char-code buffers per id prefix (`''`, `'file--'`…), with the prefix and the dashes already in place. */
const idBuffers = new Map<string, number[]>();

function idBuffer(prefix: string): number[] {
  let chars = idBuffers.get(prefix);
  if (chars === undefined) {
    chars = new Array<number>(prefix.length + 36).fill(45);
    for (let i = 0; i < prefix.length; i++) chars[i] = prefix.charCodeAt(i);
    idBuffers.set(prefix, chars);
  }
  return chars;
}

function putHex(chars: number[], word: number, at: number, nibbles: number): void {
  for (let i = nibbles - 1; i >= 0; i--) {
    chars[at + i] = HEX_CODES[word & 0xf]!;
    word >>>= 4;
  }
}

/**
 * Formats `prefix` and 128 bits as a UUID in one flat string. Concatenating hex pieces builds a tree of small
 * strings per id, flattened later, which showed up as garbage-collection time with a dozen ids per event.
 */
function formatUuid(prefix: string, w0: number, w1: number, w2: number, w3: number): string {
  const chars = idBuffer(prefix);
  const at = prefix.length;
  putHex(chars, w0, at, 8);
  putHex(chars, w1 >>> 16, at + 9, 4);
  putHex(chars, w1 & 0xffff, at + 14, 4);
  putHex(chars, w2 >>> 16, at + 19, 4);
  putHex(chars, w2 & 0xffff, at + 24, 4);
  putHex(chars, w3, at + 28, 8);
  return String.fromCharCode.apply(null, chars);
}

/**
 * JSON text of a string. Most values need no escaping, and a scan is several times cheaper than JSON.stringify
 * for the short strings ids are made of.
 */
export function quoteJson(value: string): string {
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
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
    if (typeof value === 'string') return quoteJson(value);
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
      properties: [...properties].sort(),
      prefixes: [...properties].sort().map((p) => `${JSON.stringify(p)}:`),
      cache: new Map<unknown, unknown>(),
      size: 0,
      cacheable: type !== 'network-traffic' && type !== 'email-message' && type !== 'artifact',
    },
  ]),
);

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
    if (typeof value !== 'string') return stixId(type, STIX_SCO_NAMESPACE, `{${prefixes[0]!}${canonicalJson(value)}}`);
    let id = plan.cache.get(value) as string | undefined;
    if (id === undefined) {
      id = stixId(type, STIX_SCO_NAMESPACE, `{${prefixes[0]!}${quoteJson(value)}}`);
      remember(plan, plan.cache, value, id);
    }
    return id;
  }
  if (!plan.cacheable) {
    const name = jcsName(sco, properties, prefixes);
    return name === undefined ? undefined : stixId(type, STIX_SCO_NAMESPACE, name);
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
  const id = stixId(type, STIX_SCO_NAMESPACE, jcsName(sco, properties, prefixes) as string);
  remember(plan, level, ABSENT, id);
  return id;
}
