/**
 * IPv4 and IPv6 addresses and CIDR blocks as bigints, for ISSUBSET / ISSUPERSET.
 * STIX 2.1 requires both families; the OASIS reference handles IPv4 only.
 */

export interface Network {
  family: 4 | 6;
  /** Address with host bits kept as written. */
  address: bigint;
  prefix: number;
}

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseIPv6(text: string): bigint | undefined {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return undefined;
  let head = text;
  let tailV4: bigint | undefined;
  // An embedded dotted IPv4 tail (::ffff:1.2.3.4) stands for the last 32 bits.
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.')) {
    tailV4 = parseIPv4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const doubleColon = head.indexOf('::');
  if (doubleColon !== head.lastIndexOf('::')) return undefined;
  let groups: string[];
  if (doubleColon >= 0) {
    const left = head.slice(0, doubleColon);
    const right = head.slice(doubleColon + 2);
    const l = left ? left.split(':') : [];
    const r = right ? right.split(':') : [];
    const missing = 8 - l.length - r.length;
    if (missing < 1) return undefined;
    groups = [...l, ...Array<string>(missing).fill('0'), ...r];
  } else {
    groups = head.split(':');
  }
  if (groups.length !== 8) return undefined;
  let value = 0n;
  for (const g of groups) {
    if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return undefined;
    value = (value << 16n) | BigInt(parseInt(g, 16));
  }
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

/** Parses `addr` or `addr/prefix` (IPv4 or IPv6); undefined when malformed. */
export function parseNetwork(text: string): Network | undefined {
  const slash = text.indexOf('/');
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? undefined : text.slice(slash + 1);
  const v4 = parseIPv4(addrText);
  const family: 4 | 6 | undefined = v4 !== undefined ? 4 : parseIPv6(addrText) !== undefined ? 6 : undefined;
  if (family === undefined) return undefined;
  const address = v4 ?? (parseIPv6(addrText) as bigint);
  const bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return undefined;
    prefix = Number(prefixText);
    if (prefix > bits) return undefined;
  }
  return { family, address, prefix };
}

/** Does `outer` contain `inner` (same family, outer prefix no longer, same masked bits)? */
export function networkContains(outer: Network, inner: Network): boolean {
  if (outer.family !== inner.family || outer.prefix > inner.prefix) return false;
  const bits = BigInt(outer.family === 4 ? 32 : 128);
  const hostBits = bits - BigInt(outer.prefix);
  return outer.address >> hostBits === inner.address >> hostBits;
}

/**
 * Fast path for the common case, an IPv4 address or block in the data: parses `a.b.c.d[/n]`
 * into a 32-bit number and prefix without allocating. Returns false when the text is not IPv4.
 */
export function parseIPv4Fast(text: string, out: { address: number; prefix: number }): boolean {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return false;
    } else if (c === 46) {
      if (digits === 0 || ++dots > 3) return false;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else break;
  }
  if (digits === 0 || dots !== 3) return false;
  value = value * 256 + octet;
  let prefix = 32;
  if (i < text.length) {
    if (text.charCodeAt(i) !== 47 || i + 1 === text.length || text.length - i - 1 > 2) return false;
    prefix = 0;
    for (let j = i + 1; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (c < 48 || c > 57) return false;
      prefix = prefix * 10 + (c - 48);
    }
    if (prefix > 32) return false;
  }
  out.address = value;
  out.prefix = prefix;
  return true;
}

/** Does the IPv4 block (address, prefix) contain the IPv4 block (innerAddress, innerPrefix)? */
export function ipv4Contains(address: number, prefix: number, innerAddress: number, innerPrefix: number): boolean {
  if (prefix > innerPrefix) return false;
  const hostBits = 32 - prefix;
  // Division instead of shifts: shifts work on signed 32-bit values and break above 2^31.
  const scale = 2 ** hostBits;
  return Math.floor(address / scale) === Math.floor(innerAddress / scale);
}
