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
  'user-name',
  'user-domain',
  'windows-message-text',
] as const;
export type TransformName = (typeof TRANSFORM_NAMES)[number];

/** A transform as written in a mapping: a name, or a lookup in a table (the mapping's own or a built-in one). */
export type TransformSpec = TransformName | { lookup: string; keep?: boolean; skip?: boolean };

/**
 * Built-in lookup tables. Keys are the source values as text (numbers are looked up by their decimal form).
 */
export const BUILT_IN_TABLES: Readonly<Record<string, Readonly<Record<string, string | number | boolean>>>> = {
  // IANA protocol numbers, as STIX network-traffic:protocols names them.
  'iana-protocol': {
    '0': 'hopopt',
    '1': 'icmp',
    '2': 'igmp',
    '4': 'ipv4',
    '6': 'tcp',
    '17': 'udp',
    '41': 'ipv6',
    '47': 'gre',
    '50': 'esp',
    '51': 'ah',
    '58': 'ipv6-icmp',
    '89': 'ospf',
    '103': 'pim',
    '112': 'vrrp',
    '132': 'sctp',
  },
  // Windows logon types (event 4624 LogonType).
  'windows-logon-type': {
    '0': 'System',
    '2': 'Interactive',
    '3': 'Network',
    '4': 'Batch',
    '5': 'Service',
    '7': 'Unlock',
    '8': 'NetworkCleartext',
    '9': 'NewCredentials',
    '10': 'RemoteInteractive',
    '11': 'CachedInteractive',
    '12': 'CachedRemoteInteractive',
    '13': 'CachedUnlock',
  },
  // Windows `%%` message codes seen in Security events (the text Event Viewer shows).
  'windows-message-code': {
    '%%1537': 'DELETE',
    '%%1538': 'READ_CONTROL',
    '%%1539': 'WRITE_DAC',
    '%%1540': 'WRITE_OWNER',
    '%%1541': 'SYNCHRONIZE',
    '%%1542': 'ACCESS_SYS_SEC',
    '%%1832': 'Identification',
    '%%1833': 'Impersonation',
    '%%1840': 'Delegation',
    '%%1842': 'Yes',
    '%%1843': 'No',
    '%%1936': 'TokenElevationTypeDefault (1)',
    '%%1937': 'TokenElevationTypeFull (2)',
    '%%1938': 'TokenElevationTypeLimited (3)',
    '%%4416': 'ReadData (or ListDirectory)',
    '%%4417': 'WriteData (or AddFile)',
    '%%4418': 'AppendData (or AddSubdirectory or CreatePipeInstance)',
    '%%4419': 'ReadEA',
    '%%4420': 'WriteEA',
    '%%4421': 'Execute/Traverse',
    '%%4422': 'DeleteChild',
    '%%4423': 'ReadAttributes',
    '%%4424': 'WriteAttributes',
    '%%14592': 'Inbound',
    '%%14593': 'Outbound',
    '%%14608': 'Resource Assignment',
    '%%14609': 'Listen',
    '%%14610': 'Receive/Accept',
    '%%14611': 'Connect',
  },
};

/** A lookup transform: the table's value, or (with `keep`) the value unchanged when the table has no entry. */
export function lookupTransform(
  table: Readonly<Record<string, string | number | boolean>>,
  keep: boolean,
  skip = false,
): TransformFn {
  return (value) => {
    const key = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
    if (key === undefined) return FAIL;
    const found = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
    if (found !== undefined) return found;
    return keep ? value : skip ? SKIP : FAIL;
  };
}

/** `DOMAIN\user` → `user`, `user@domain` → `user`; a bare name stays as it is. */
function userName(value: unknown): TransformResult {
  if (typeof value !== 'string' || value.length === 0) return FAIL;
  const slash = value.lastIndexOf('\\');
  if (slash >= 0) return slash === value.length - 1 ? FAIL : value.slice(slash + 1);
  const at = value.indexOf('@');
  return at > 0 ? value.slice(0, at) : value;
}

/** `DOMAIN\user` → `DOMAIN`, `user@domain` → `domain`; nothing for a bare name. */
function userDomain(value: unknown): TransformResult {
  if (typeof value !== 'string') return FAIL;
  const slash = value.lastIndexOf('\\');
  if (slash > 0) return value.slice(0, slash);
  const at = value.indexOf('@');
  return at > 0 && at < value.length - 1 ? value.slice(at + 1) : SKIP;
}

const MESSAGE_CODES = BUILT_IN_TABLES['windows-message-code'] as Readonly<Record<string, string>>;

/** Replaces every Windows `%%NNNN` code in a text by its meaning (unknown codes stay); `%%14592` → `Inbound`. */
function windowsMessageText(value: unknown): TransformResult {
  if (typeof value !== 'string') return FAIL;
  if (value.indexOf('%%') < 0) return value;
  return value
    .replace(/%%[0-9]+/g, (code) => MESSAGE_CODES[code] ?? code)
    .replace(/\s+/g, ' ')
    .trim();
}

function toInt(value: unknown): TransformResult {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : FAIL;
  if (typeof value !== 'string' || value.length === 0 || value.length > 18) return FAIL;
  // Windows writes process ids and logon ids in hex: 0x1a2c.
  if (value.length > 2 && value.charCodeAt(0) === 48 && (value.charCodeAt(1) === 120 || value.charCodeAt(1) === 88)) {
    if (!/^0[xX][0-9a-fA-F]{1,13}$/.test(value)) return FAIL;
    return Number.parseInt(value.slice(2), 16);
  }
  if (value.length > 16) return FAIL;
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
/** Kernel spellings of the hives, as Windows Security events write object names. */
const KERNEL_HIVES: readonly [string, string][] = [
  ['\\REGISTRY\\MACHINE', 'HKEY_LOCAL_MACHINE'],
  ['\\REGISTRY\\USER', 'HKEY_USERS'],
];

function expandRegistryHive(value: unknown): TransformResult {
  if (typeof value !== 'string' || value.length === 0) return FAIL;
  if (value.charCodeAt(0) === 92) {
    const upper = value.toUpperCase();
    for (const [kernel, hive] of KERNEL_HIVES) {
      if (upper === kernel || upper.startsWith(`${kernel}\\`)) return hive + value.slice(kernel.length);
    }
  }
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
  'to-string': (v) => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : FAIL),
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
  'user-name': userName,
  'user-domain': userDomain,
  'windows-message-text': windowsMessageText,
};
