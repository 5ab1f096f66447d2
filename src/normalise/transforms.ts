/**
 * The fixed set of value transforms a mapping may apply. Each returns the new value, SKIP when there is nothing
 * to set (for example the directory of a bare file name), or FAIL when the value is garbage for this transform,
 * in which case the source value is kept in x_unmapped.
 */
import { isIP } from 'node:net';
import { parseTimestamp } from './timestamps.js';

export const SKIP: unique symbol = Symbol('skip');
export const FAIL: unique symbol = Symbol('fail');
export type TransformResult = unknown;
export type TransformFn = (value: unknown) => TransformResult;

export const TRANSFORM_NAMES = [
  'lowercase',
  'uppercase',
  'trim',
  'to-string',
  'to-int',
  'to-port',
  'to-bool',
  'to-timestamp',
  'basename',
  'dirname',
  'ip-to-sco-type',
  'expand-registry-hive',
] as const;
export type TransformName = (typeof TRANSFORM_NAMES)[number];

function toInt(value: unknown): TransformResult {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : FAIL;
  if (typeof value !== 'string' || value.length === 0 || value.length > 16) return FAIL;
  const n = Number(value);
  // Number('') and Number(' 12 ') are lenient; insist on a plain optionally signed decimal integer.
  if (!Number.isSafeInteger(n)) return FAIL;
  for (let i = value.charCodeAt(0) === 45 ? 1 : 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return FAIL;
  }
  return n;
}

/** Last component of a POSIX or Windows path; a trailing separator is ignored. */
function basename(value: unknown): TransformResult {
  if (typeof value !== 'string') return FAIL;
  let end = value.length;
  while (end > 0 && (value.charCodeAt(end - 1) === 47 || value.charCodeAt(end - 1) === 92)) end--;
  if (end === 0) return SKIP;
  let start = end - 1;
  while (start >= 0 && value.charCodeAt(start) !== 47 && value.charCodeAt(start) !== 92) start--;
  return value.slice(start + 1, end);
}

/** Everything before the last separator; SKIP for a bare name. The root (`/`, `C:\`) keeps its separator. */
function dirname(value: unknown): TransformResult {
  if (typeof value !== 'string') return FAIL;
  let end = value.length;
  while (end > 0 && (value.charCodeAt(end - 1) === 47 || value.charCodeAt(end - 1) === 92)) end--;
  let cut = end - 1;
  while (cut >= 0 && value.charCodeAt(cut) !== 47 && value.charCodeAt(cut) !== 92) cut--;
  if (cut < 0) return SKIP;
  if (cut === 0) return value.slice(0, 1);
  if (cut === 2 && value.charCodeAt(1) === 58) return value.slice(0, 3); // C:\x -> C:\
  return value.slice(0, cut);
}

const REGISTRY_HIVES: Readonly<Record<string, string>> = {
  HKLM: 'HKEY_LOCAL_MACHINE',
  HKCU: 'HKEY_CURRENT_USER',
  HKU: 'HKEY_USERS',
  HKCR: 'HKEY_CLASSES_ROOT',
  HKCC: 'HKEY_CURRENT_CONFIG',
  HKPD: 'HKEY_PERFORMANCE_DATA',
  HKDD: 'HKEY_DYN_DATA',
};

/** STIX requires the hive fully spelled out: `HKLM\…` becomes `HKEY_LOCAL_MACHINE\…`. */
function expandRegistryHive(value: unknown): TransformResult {
  if (typeof value !== 'string' || value.length === 0) return FAIL;
  const cut = value.indexOf('\\');
  const hive = cut < 0 ? value : value.slice(0, cut);
  const expanded = REGISTRY_HIVES[hive.toUpperCase()];
  return expanded === undefined ? value : cut < 0 ? expanded : expanded + value.slice(cut);
}

/** Dotted-quad IPv4 without leading zeros, checked by hand: node's isIP is regex-based and this is per event. */
function isPlainIpv4(value: string): boolean {
  const length = value.length;
  if (length < 7 || length > 15) return false;
  let octets = 0;
  let octet = 0;
  let digits = 0;
  for (let i = 0; i <= length; i++) {
    const c = i === length ? 46 : value.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || octet > 255) return false;
      octets++;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return false; // leading zero: ambiguous (octal) in some parsers
      octet = octet * 10 + (c - 48);
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  return octets === 4;
}

/**
 * The SCO type an address belongs in: `ipv4-addr` or `ipv6-addr` (CIDR suffixes allowed, as STIX allows them).
 * The mapping compiler treats this transform specially: the type is applied to the object receiving the value.
 */
export function ipScoType(value: unknown): 'ipv4-addr' | 'ipv6-addr' | undefined {
  if (typeof value !== 'string' || value.length > 64) return undefined;
  if (isPlainIpv4(value)) return 'ipv4-addr';
  const slash = value.indexOf('/');
  const address = slash < 0 ? value : value.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return undefined;
  if (slash >= 0) {
    const bits = toInt(value.slice(slash + 1));
    if (typeof bits !== 'number' || bits < 0 || bits > (family === 4 ? 32 : 128)) return undefined;
  }
  return family === 4 ? 'ipv4-addr' : 'ipv6-addr';
}

export const TRANSFORMS: Readonly<Record<TransformName, TransformFn>> = {
  lowercase: (v) => (typeof v === 'string' ? v.toLowerCase() : FAIL),
  uppercase: (v) => (typeof v === 'string' ? v.toUpperCase() : FAIL),
  trim: (v) => {
    if (typeof v !== 'string') return FAIL;
    const t = v.trim();
    return t.length === 0 ? SKIP : t;
  },
  'to-string': (v) =>
    typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : FAIL,
  'to-int': toInt,
  'to-port': (v) => {
    const n = toInt(v);
    return typeof n === 'number' && n >= 0 && n <= 65535 ? n : FAIL;
  },
  'to-bool': (v) => {
    if (typeof v === 'boolean') return v;
    if (v === 1 || v === 'true' || v === 'True' || v === 'TRUE' || v === '1') return true;
    if (v === 0 || v === 'false' || v === 'False' || v === 'FALSE' || v === '0') return false;
    return FAIL;
  },
  'to-timestamp': (v) => parseTimestamp(v) ?? FAIL,
  basename,
  dirname,
  // The value itself is unchanged; the compiler reads the type with ipScoType.
  'ip-to-sco-type': (v) => (ipScoType(v) === undefined ? FAIL : v),
  'expand-registry-hive': expandRegistryHive,
};
