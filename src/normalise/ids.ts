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

function uuidToBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

const namespaceBytes = new Map<string, Buffer>();

function bytesOf(namespace: string): Buffer {
  let bytes = namespaceBytes.get(namespace);
  if (bytes === undefined) {
    bytes = uuidToBytes(namespace);
    namespaceBytes.set(namespace, bytes);
  }
  return bytes;
}

const HEX = '0123456789abcdef';

/** RFC 4122 UUIDv5 (SHA-1) of `name` (UTF-8) in `namespace`. */
export function uuidv5(namespace: string, name: string): string {
  const input = Buffer.concat([bytesOf(namespace), Buffer.from(name, 'utf8')]);
  const hex = hash('sha1', input, 'hex');
  // Version nibble 5 at hex position 12; variant bits 10xx at position 16.
  const variant = HEX[(parseInt(hex[16] as string, 16) & 0x3) | 0x8] as string;
  return (
    `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-` +
    `${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
  );
}

/**
 * RFC 8785 JSON Canonicalization Scheme for the JSON values normalisation produces: keys sorted by UTF-16 code
 * units, no whitespace, ECMAScript number and string serialisation (which is what JCS specifies).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
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
    out += `${JSON.stringify(key)}:${canonicalJson(item)}`;
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

function chooseOneHash(hashes: Record<string, unknown>): Record<string, unknown> | undefined {
  for (const algorithm of HASH_PREFERENCE) {
    if (hashes[algorithm] !== undefined) return { [algorithm]: hashes[algorithm] };
  }
  for (const algorithm in hashes) {
    if (hashes[algorithm] !== undefined) return { [algorithm]: hashes[algorithm] };
  }
  return undefined;
}

/**
 * The STIX 2.1 deterministic id for an SCO, or undefined when its type has no id-contributing properties or the
 * object carries none of them (the caller then derives an id from the event).
 */
export function deterministicScoId(sco: Record<string, unknown>, type: string): string | undefined {
  const contributing = ID_CONTRIBUTING_PROPERTIES[type];
  if (contributing === undefined) return undefined;
  let name: Record<string, unknown> | undefined;
  for (const property of contributing) {
    let value = sco[property];
    if (value === undefined) continue;
    if (property === 'hashes' && value !== null && typeof value === 'object') {
      value = chooseOneHash(value as Record<string, unknown>);
      if (value === undefined) continue;
    }
    (name ??= {})[property] = value;
  }
  if (name === undefined) return undefined;
  return `${type}--${uuidv5(STIX_SCO_NAMESPACE, canonicalJson(name))}`;
}
