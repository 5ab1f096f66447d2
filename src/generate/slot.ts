/**
 * Solving the constraints on one value (one object path, after list elements and references
 * are resolved): a value type is chosen (string, number, boolean, bytes), then candidates are
 * generated for that type — the constants of `=`/`IN`, points of a range, CIDR members and
 * blocks, LIKE fills, regex samples, realistic defaults — and every candidate is checked
 * against every comparison with the engine's own comparison code. Emptiness is only reported
 * as unsatisfiable when it is proven (finite sets, empty ranges, disjoint CIDR blocks, type
 * conflicts); anything else the generator cannot produce is "unsupported for generation".
 */
import type { ComparisonLeaf, Literal } from '../pattern/ast.js';
import { networkContains, parseNetwork, type Network } from '../pattern/cidr.js';
import { latin1Bytes, parseStixTimestamp } from '../pattern/literals.js';
import { printLiteral } from '../pattern/print.js';
import { accepts, byPosition, describeTest, type ValueLeaf } from './leaves.js';
import { anchors as regexAnchors, neverMatches, parseRegex, sampleRegex } from './regex.js';
import type { Prng } from './prng.js';
import { fillerText, formatMicros, hashLength, kindOf, realisticValue, type PropertyContext } from './realistic.js';

export type DataType = 'string' | 'number' | 'bool' | 'bytes';
export type DataValue = string | number | boolean | Uint8Array;

export interface SlotProblem {
  ctx: PropertyContext;
  tests: ValueLeaf[];
  /** `_hex` / `_bin` property: the value is bytes. */
  binary: boolean;
  /** A value fixed by the structure (a root object's `type`). */
  fixed?: DataValue;
  /** Event time, for realistic timestamps. */
  baseMicros: number;
  /** Mutation hint: prefer values close to this one (the unmutated solution). */
  near?: DataValue;
}

export type SlotResult =
  | { ok: true; value: DataValue }
  | { ok: false; unsat: true; message: string; leaf: ComparisonLeaf }
  | { ok: false; unsat: false; message: string; leaf?: ComparisonLeaf };

type Requirement = Set<DataType> | 'any';

function literalTypes(lit: Literal): DataType[] {
  switch (lit.type) {
    case 'string':
      return ['string', 'bytes'];
    case 'int':
    case 'float':
      return ['number'];
    case 'bool':
      return ['bool'];
    case 'binary':
      return ['bytes', 'string'];
    case 'timestamp':
      return ['string'];
  }
}

/** The data types for which the leaf can be true; 'any' when a non-value (or absent type) satisfies it anyway. */
function requirement(leaf: ValueLeaf): Requirement {
  if (leaf.kind === 'in') return leaf.negated ? 'any' : new Set(leaf.values.flatMap(literalTypes));
  const op = leaf.operator;
  const positive = op === '!=' ? leaf.negated : !leaf.negated;
  switch (op) {
    case '=':
    case '!=':
      return positive ? new Set(literalTypes(leaf.value)) : 'any';
    case '<':
    case '<=':
    case '>':
    case '>=':
      return new Set(leaf.value.type === 'bool' ? [] : literalTypes(leaf.value));
    case 'LIKE':
    case 'MATCHES':
      return leaf.negated ? 'any' : new Set<DataType>(['string', 'bytes']);
    case 'ISSUBSET':
    case 'ISSUPERSET':
      return leaf.negated ? 'any' : new Set<DataType>(['string']);
  }
}

/** Leaves whose truth needs the value to be a scalar (so an object or list there cannot satisfy them). */
export function needsScalar(leaf: ValueLeaf): boolean {
  return requirement(leaf) !== 'any';
}

const TYPE_NAMES: Record<DataType, string> = {
  string: 'a string',
  number: 'a number',
  bool: 'a boolean',
  bytes: 'binary data',
};

function conflict(
  leaves: ComparisonLeaf[],
  suffix = '',
): { ok: false; unsat: true; message: string; leaf: ComparisonLeaf } {
  const sorted = [...new Set(leaves)].sort(byPosition);
  return {
    ok: false,
    unsat: true,
    message: `no value satisfies ${sorted.map(describeTest).join(' and ')}${suffix}`,
    leaf: sorted[sorted.length - 1] as ComparisonLeaf,
  };
}

function passesAll(tests: ValueLeaf[], value: DataValue): boolean {
  for (const t of tests) if (!accepts(t, value)) return false;
  return true;
}

function firstRejecting(tests: ValueLeaf[], value: DataValue): ValueLeaf | undefined {
  return tests.find((t) => !accepts(t, value));
}

/** Converts a literal to candidate data of a type (undefined when it has no exact representation there). */
function asData(lit: Literal, type: DataType): DataValue | undefined {
  if (type === 'number') return lit.type === 'int' || lit.type === 'float' ? lit.value : undefined;
  if (type === 'bool') return lit.type === 'bool' ? lit.value : undefined;
  if (type === 'string') {
    if (lit.type === 'string') return lit.value;
    if (lit.type === 'binary') return String.fromCharCode(...lit.value);
    if (lit.type === 'timestamp') return lit.text;
    return undefined;
  }
  if (lit.type === 'binary') return lit.value;
  if (lit.type === 'string') return latin1Bytes(lit.value);
  return undefined;
}

/** Equality-like tests give a finite candidate set: `=`, `NOT !=`, `IN`, LIKE without wildcards. */
function anchorSets(tests: ValueLeaf[], type: DataType): { leaf: ValueLeaf; values: DataValue[]; exact: boolean }[] {
  const out: { leaf: ValueLeaf; values: DataValue[]; exact: boolean }[] = [];
  for (const t of tests) {
    let lits: Literal[] | undefined;
    if (t.kind === 'in' && !t.negated) lits = t.values;
    else if (t.kind === 'comparison' && ((t.operator === '=' && !t.negated) || (t.operator === '!=' && t.negated)))
      lits = [t.value];
    else if (
      t.kind === 'comparison' &&
      t.operator === 'LIKE' &&
      !t.negated &&
      t.value.type === 'string' &&
      !/[%_]/.test(t.value.value) &&
      /^[\x20-\x7e]*$/.test(t.value.value)
    )
      lits = [t.value];
    if (!lits) continue;
    const values: DataValue[] = [];
    let exact = true;
    for (const lit of lits) {
      if (lit.type === 'timestamp') exact = false;
      const v = asData(lit, type);
      if (v !== undefined) values.push(v);
    }
    out.push({ leaf: t, values, exact });
  }
  return out;
}

interface Bound<T> {
  value: T;
  inclusive: boolean;
  leaf: ValueLeaf;
}

/** Lower and upper bounds from ordering tests (NOT flips them), for the constants of a kind. */
function bounds<T>(
  tests: ValueLeaf[],
  pick: (lit: Literal) => T | undefined,
  cmp: (a: T, b: T) => number,
): { lo?: Bound<T>; hi?: Bound<T> } {
  let lo: Bound<T> | undefined;
  let hi: Bound<T> | undefined;
  for (const t of tests) {
    if (t.kind !== 'comparison' || !['<', '<=', '>', '>='].includes(t.operator)) continue;
    const v = pick(t.value);
    if (v === undefined) continue;
    let op = t.operator;
    if (t.negated) op = op === '<' ? '>=' : op === '<=' ? '>' : op === '>' ? '<=' : '<';
    if (op === '>' || op === '>=') {
      const inclusive = op === '>=';
      if (!lo || cmp(v, lo.value) > 0 || (cmp(v, lo.value) === 0 && !inclusive)) lo = { value: v, inclusive, leaf: t };
    } else {
      const inclusive = op === '<=';
      if (!hi || cmp(v, hi.value) < 0 || (cmp(v, hi.value) === 0 && !inclusive)) hi = { value: v, inclusive, leaf: t };
    }
  }
  return { lo, hi };
}

function emptyInterval<T>(lo: Bound<T> | undefined, hi: Bound<T> | undefined, cmp: (a: T, b: T) => number): boolean {
  if (!lo || !hi) return false;
  const d = cmp(lo.value, hi.value);
  return d > 0 || (d === 0 && !(lo.inclusive && hi.inclusive));
}

function intervalMessage<T>(
  lo: Bound<T>,
  hi: Bound<T>,
  show: (v: T) => string,
  extra: ValueLeaf[] = [],
): { ok: false; unsat: true; message: string; leaf: ComparisonLeaf } {
  const text = `${show(lo.value)} ${lo.inclusive ? '<=' : '<'} x ${hi.inclusive ? '<=' : '<'} ${show(hi.value)}`;
  const leaves = [lo.leaf, hi.leaf, ...extra].sort(byPosition);
  const more = extra.length ? ` and ${extra.sort(byPosition).map(describeTest).join(' and ')}` : '';
  return {
    ok: false,
    unsat: true,
    message: `no value satisfies ${text}${more}`,
    leaf: leaves[leaves.length - 1] as ComparisonLeaf,
  };
}

function compareCodePoints(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0) as number);
  const y = [...b].map((c) => c.codePointAt(0) as number);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
  return x.length - y.length;
}

// ---------------------------------------------------------------------------------------------
// Numbers

function numberCandidates(
  tests: ValueLeaf[],
  p: SlotProblem,
  prng: Prng,
): DataValue[] | { ok: false; unsat: true; message: string; leaf: ComparisonLeaf } {
  const { lo, hi } = bounds(
    tests,
    (l) => (l.type === 'int' || l.type === 'float' ? l.value : undefined),
    (a, b) => a - b,
  );
  if (emptyInterval(lo, hi, (a, b) => a - b)) return intervalMessage(lo as Bound<number>, hi as Bound<number>, String);
  if (lo && hi && lo.value === hi.value) {
    if (!passesAll(tests, lo.value)) {
      const excluded = tests.filter((t) => !accepts(t, lo.value) && t !== lo.leaf && t !== hi.leaf);
      return intervalMessage(lo, hi, String, excluded);
    }
    return [lo.value];
  }
  const out: number[] = [];
  if (typeof p.near === 'number') {
    const n = p.near;
    out.push(n + 1, n - 1, n + 0.5, n - 0.5, n + 2, n - 2);
    if (lo) out.push(lo.inclusive ? lo.value : lo.value + 1, lo.value + 0.5);
    if (hi) out.push(hi.inclusive ? hi.value : hi.value - 1, hi.value - 0.5);
  }
  const def = realisticValue(p.ctx, prng, p.baseMicros);
  out.push(typeof def === 'number' ? def : prng.int(1, 5000));
  const ilo = lo ? (Number.isInteger(lo.value) ? lo.value + (lo.inclusive ? 0 : 1) : Math.ceil(lo.value)) : undefined;
  const ihi = hi ? (Number.isInteger(hi.value) ? hi.value - (hi.inclusive ? 0 : 1) : Math.floor(hi.value)) : undefined;
  if (ilo !== undefined && ihi !== undefined) {
    if (ilo <= ihi) for (let i = 0; i < 3; i++) out.push(prng.int(ilo, Math.min(ihi, ilo + 100_000)));
    out.push(
      lo?.inclusive ? (lo.value as number) : (ilo as number),
      Math.floor(((ilo as number) + (ihi as number)) / 2),
    );
  } else if (ilo !== undefined) {
    for (let i = 0; i < 3; i++) out.push(ilo + prng.int(0, Math.max(10, Math.min(1000, Math.abs(ilo)))));
  } else if (ihi !== undefined) {
    for (let i = 0; i < 3; i++) out.push(ihi - prng.int(0, Math.max(10, Math.min(1000, Math.abs(ihi)))));
  }
  const low = lo ? lo.value : hi ? hi.value - 1000 : 0;
  const high = hi ? hi.value : lo ? lo.value + 1000 : 65535;
  const span = high - low;
  for (let k = 1; k < 16; k++) out.push(low + (span * k) / 16);
  out.push((low + high) / 2, low + Number.EPSILON * Math.abs(low) * 4, high - Number.EPSILON * Math.abs(high) * 4);
  return out.filter((v) => Number.isFinite(v));
}

// ---------------------------------------------------------------------------------------------
// Strings and bytes

function formatNetwork(n: Network): string {
  if (n.family === 4) {
    const a = Number(n.address);
    return [a >>> 24, (a >>> 16) & 255, (a >>> 8) & 255, a & 255].join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n.address >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function maskNetwork(n: Network, prefix: number): Network {
  const bits = n.family === 4 ? 32 : 128;
  const host = BigInt(bits - prefix);
  return { family: n.family, address: (n.address >> host) << host, prefix };
}

function withPrefix(n: Network): string {
  const bits = n.family === 4 ? 32 : 128;
  return n.prefix === bits ? formatNetwork(n) : `${formatNetwork(n)}/${n.prefix}`;
}

function cidrTests(tests: ValueLeaf[]): {
  subset: { leaf: ValueLeaf; net: Network }[];
  superset: { leaf: ValueLeaf; net: Network }[];
} {
  const subset: { leaf: ValueLeaf; net: Network }[] = [];
  const superset: { leaf: ValueLeaf; net: Network }[] = [];
  for (const t of tests) {
    if (
      t.kind !== 'comparison' ||
      t.negated ||
      (t.operator !== 'ISSUBSET' && t.operator !== 'ISSUPERSET') ||
      t.value.type !== 'string'
    )
      continue;
    const net = parseNetwork(t.value.value);
    if (!net) continue;
    (t.operator === 'ISSUBSET' ? subset : superset).push({ leaf: t, net });
  }
  return { subset, superset };
}

/** Proven-empty CIDR constraint sets: mixed families, disjoint blocks, a required superset outside a required subset. */
function cidrConflict(tests: ValueLeaf[]): ReturnType<typeof conflict> | undefined {
  const { subset, superset } = cidrTests(tests);
  const all = [...subset, ...superset];
  for (let i = 1; i < all.length; i++) {
    if ((all[i] as { net: Network }).net.family !== (all[0] as { net: Network }).net.family)
      return conflict([(all[0] as { leaf: ValueLeaf }).leaf, (all[i] as { leaf: ValueLeaf }).leaf], ' (IPv4 and IPv6)');
  }
  for (let i = 0; i < subset.length; i++) {
    for (let j = i + 1; j < subset.length; j++) {
      const a = subset[i] as { leaf: ValueLeaf; net: Network };
      const b = subset[j] as { leaf: ValueLeaf; net: Network };
      if (!networkContains(a.net, b.net) && !networkContains(b.net, a.net))
        return conflict([a.leaf, b.leaf], ' (disjoint blocks)');
    }
  }
  for (const s of subset)
    for (const q of superset) if (!networkContains(s.net, q.net)) return conflict([s.leaf, q.leaf]);
  return undefined;
}

function cidrCandidates(tests: ValueLeaf[], prng: Prng): string[] {
  const { subset, superset } = cidrTests(tests);
  const out: string[] = [];
  const narrowest = subset.slice().sort((a, b) => b.net.prefix - a.net.prefix)[0]?.net;
  for (const q of superset) {
    const floor = narrowest ? narrowest.prefix : 0;
    for (let k = 0; k < 3; k++)
      out.push(withPrefix(maskNetwork(q.net, Math.max(floor, q.net.prefix - prng.int(0, 8)))));
    out.push(withPrefix(q.net));
  }
  if (narrowest) {
    const bits = narrowest.family === 4 ? 32 : 128;
    const hostBits = bits - narrowest.prefix;
    const base = maskNetwork(narrowest, narrowest.prefix).address;
    for (let k = 0; k < 4; k++) {
      const usable = Math.min(hostBits, narrowest.family === 4 ? 32 : 16);
      let host = usable === 0 ? 0n : BigInt(prng.int(1, Math.max(1, 2 ** usable - 2)));
      if (usable === 0) host = 0n;
      out.push(formatNetwork({ family: narrowest.family, address: base | host, prefix: bits }));
    }
    out.push(withPrefix(maskNetwork(narrowest, narrowest.prefix)));
  }
  return out;
}

function nearStrings(base: string, prng: Prng, ctx: PropertyContext): string[] {
  const out: string[] = [];
  const net = parseNetwork(base);
  if (net) {
    const bits = net.family === 4 ? 32n : 128n;
    const size = 1n << (bits - BigInt(net.prefix));
    const start = maskNetwork(net, net.prefix).address;
    const after = start + size;
    const before = start - 1n;
    const max = (1n << bits) - 1n;
    if (after <= max) out.push(formatNetwork({ family: net.family, address: after, prefix: Number(bits) }));
    if (before >= 0n) out.push(formatNetwork({ family: net.family, address: before, prefix: Number(bits) }));
    if (net.prefix > 0) out.push(withPrefix(maskNetwork(net, net.prefix - 1)));
  }
  if (base.length > 0) {
    const last = base.charCodeAt(base.length - 1);
    const bump = (c: number): string =>
      String.fromCharCode(
        /[0-9]/.test(String.fromCharCode(c))
          ? c === 57
            ? 48
            : c + 1
          : /[a-y]/i.test(String.fromCharCode(c))
            ? c + 1
            : c === 122
              ? 97
              : 120,
      );
    out.push(base.slice(0, -1) + bump(last));
    const first = base.charAt(0);
    const flipped = first === first.toUpperCase() ? first.toLowerCase() : first.toUpperCase();
    if (flipped !== first) out.push(flipped + base.slice(1));
    out.push(base.slice(0, -1));
    out.push(base + (ctx.keys[ctx.keys.length - 2] === 'hashes' ? '0' : 'x'));
    out.push('x' + base);
    const mid = Math.floor(base.length / 2);
    out.push(base.slice(0, mid) + bump(base.charCodeAt(mid)) + base.slice(mid + 1));
  } else out.push('x');
  void prng;
  return out;
}

interface StringSources {
  regexSamples: string[];
  likeFills: string[];
}

function likeFill(like: string, fill: () => string, one: () => string): string {
  let out = '';
  for (const ch of like) out += ch === '%' ? fill() : ch === '_' ? one() : ch;
  return out;
}

function stringSources(
  tests: ValueLeaf[],
  p: SlotProblem,
  prng: Prng,
): StringSources | { unsupported: string; leaf: ValueLeaf } {
  const regexSamples: string[] = [];
  const hex = p.ctx.keys[p.ctx.keys.length - 2] === 'hashes';
  const words = (): string => fillerText(p.ctx, prng);
  for (const t of tests) {
    if (t.kind !== 'comparison' || t.operator !== 'MATCHES' || t.negated || t.value.type !== 'string') continue;
    const parsed = parseRegex(t.value.value.normalize('NFC'));
    if (!parsed.ok)
      return {
        unsupported: `MATCHES ${printLiteral(t.value)} is unsupported for generation (${parsed.reason})`,
        leaf: t,
      };
    const anchored = regexAnchors(parsed.node);
    for (let k = 0; k < 6; k++) {
      let s = sampleRegex(parsed.node, prng, words);
      if (k >= 3 && !anchored.start && prng.chance(0.5)) s = words() + s;
      if (k >= 3 && !anchored.end && prng.chance(0.5)) s = s + words();
      regexSamples.push(s);
    }
  }
  const likes = tests
    .filter(
      (t): t is ValueLeaf & { kind: 'comparison' } =>
        t.kind === 'comparison' && t.operator === 'LIKE' && !t.negated && t.value.type === 'string',
    )
    .map((t) => (t.value as { value: string }).value.normalize('NFC'));
  const likeFills: string[] = [];
  const oneChar = (): string => (hex ? prng.hex(1) : prng.pick([...'abcdefghijklmnopqrstuvwxyz0123456789']));
  for (const like of likes) {
    const target = hex ? hashLength(p.ctx.keys[p.ctx.keys.length - 1] ?? '') : undefined;
    for (let k = 0; k < 3; k++) {
      const percents = [...like].filter((c) => c === '%').length;
      const fixedLen = [...like].filter((c) => c !== '%').length;
      if (target !== undefined && percents > 0) {
        const room = Math.max(0, target - fixedLen);
        const each = Math.floor(room / percents);
        let extra = room - each * percents;
        likeFills.push(likeFill(like, () => prng.hex(each + (extra-- > 0 ? 1 : 0)), oneChar));
      } else likeFills.push(likeFill(like, words, oneChar));
    }
    // Fill the wildcards with what the other constraints need, so that several LIKE / MATCHES
    // on one value can hold together ('a%' and '%b' → 'a…b').
    for (const other of [...likes.filter((l) => l !== like), ...regexSamples.slice(0, 3)]) {
      const inner = likes.includes(other) ? likeFill(other, () => '', oneChar) : other;
      likeFills.push(
        likeFill(
          like,
          (() => {
            let used = false;
            return () => (used ? '' : ((used = true), inner));
          })(),
          oneChar,
        ),
      );
    }
  }
  // A regex sample can also carry the other LIKEs' literal parts.
  if (likes.length > 0)
    for (const s of regexSamples.slice(0, 3))
      for (const like of likes) likeFills.push(likeFill(like, () => s, oneChar));
  return { regexSamples, likeFills };
}

function stringCandidates(
  tests: ValueLeaf[],
  p: SlotProblem,
  prng: Prng,
  type: DataType,
): DataValue[] | ReturnType<typeof conflict> | { ok: false; unsat: false; message: string; leaf?: ComparisonLeaf } {
  const out: string[] = [];
  if (typeof p.near === 'string') out.push(...nearStrings(p.near, prng, p.ctx));
  else if (p.near instanceof Uint8Array) out.push(...nearStrings(String.fromCharCode(...p.near), prng, p.ctx));
  // Timestamps: a value compared with a timestamp constant must itself be a timestamp.
  const timestampTests = tests.filter((t) =>
    t.kind === 'comparison'
      ? t.value.type === 'timestamp'
      : t.kind === 'in' && t.values.some((v) => v.type === 'timestamp'),
  );
  if (timestampTests.length > 0 && type === 'string') {
    const { lo, hi } = bounds(
      tests,
      (l) => (l.type === 'timestamp' ? l.value : undefined),
      (a, b) => a - b,
    );
    if (emptyInterval(lo, hi, (a, b) => a - b))
      return intervalMessage(lo as Bound<number>, hi as Bound<number>, (v) => `t'${formatMicros(v)}'`);
    const low = lo
      ? lo.value + (lo.inclusive ? 0 : 1_000_000)
      : hi
        ? hi.value - 86_400_000_000
        : p.baseMicros - 3_600_000_000;
    const high = hi ? hi.value - (hi.inclusive ? 0 : 1_000_000) : low + 86_400_000_000;
    if (typeof p.near === 'string') {
      const n = parseStixTimestamp(p.near);
      if (n !== undefined) out.push(formatMicros(n + 1_000_000), formatMicros(n - 1_000_000), formatMicros(n + 1));
    }
    if (lo) out.push(formatMicros(lo.value), formatMicros(lo.value + 1), formatMicros(lo.value + 1_000_000));
    if (hi) out.push(formatMicros(hi.value), formatMicros(hi.value - 1), formatMicros(hi.value - 1_000_000));
    if (low <= high) {
      if (p.baseMicros >= low && p.baseMicros <= high) out.push(formatMicros(p.baseMicros));
      for (let k = 0; k < 4; k++) out.push(formatMicros(low + Math.floor(prng.next() * (high - low))));
    }
    return out;
  }
  const cidr = cidrConflict(tests);
  if (cidr) return cidr;
  out.push(...cidrCandidates(tests, prng));
  // Just outside a block that must not contain (or be contained in) the value.
  for (const t of tests) {
    if (
      t.kind === 'comparison' &&
      t.negated &&
      (t.operator === 'ISSUBSET' || t.operator === 'ISSUPERSET') &&
      t.value.type === 'string'
    ) {
      const net = parseNetwork(t.value.value);
      if (net) out.push(...nearStrings(withPrefix(maskNetwork(net, net.prefix)), prng, p.ctx).slice(0, 3));
    }
  }
  const sources = stringSources(tests, p, prng);
  if ('unsupported' in sources) return { ok: false, unsat: false, message: sources.unsupported, leaf: sources.leaf };
  out.push(...sources.likeFills, ...sources.regexSamples);
  // Orderings on strings.
  const { lo, hi } = bounds(
    tests,
    (l) => (l.type === 'string' ? l.value : l.type === 'binary' ? String.fromCharCode(...l.value) : undefined),
    compareCodePoints,
  );
  if (emptyInterval(lo, hi, compareCodePoints))
    return intervalMessage(lo as Bound<string>, hi as Bound<string>, (v) => printLiteral({ type: 'string', value: v }));
  if (lo) out.push(lo.value + 'a', lo.value + '0', lo.value);
  if (hi)
    out.push(
      hi.value,
      hi.value.slice(0, -1),
      hi.value.slice(0, -1) + String.fromCharCode(Math.max(0, hi.value.charCodeAt(hi.value.length - 1) - 1)),
    );
  if (lo && hi) {
    const common = [...lo.value].findIndex((c, i) => hi.value[i] !== c);
    if (common >= 0) {
      const c = lo.value.charCodeAt(common);
      out.push(lo.value.slice(0, common) + String.fromCharCode(c + 1));
    }
  }
  for (let k = 0; k < 3; k++) {
    const v = realisticValue(p.ctx, prng, p.baseMicros);
    out.push(String(v));
  }
  for (const like of tests)
    if (like.kind === 'comparison' && like.operator === 'LIKE' && !like.negated && like.value.type === 'string')
      out.push(
        likeFill(
          like.value.value,
          () => '',
          () => 'x',
        ),
      );
  out.push('x', 'a', '0', 'Z', '-', '');
  return out;
}

function toType(values: (string | DataValue)[], type: DataType): DataValue[] {
  if (type === 'string') return values.filter((v): v is string => typeof v === 'string');
  const out: DataValue[] = [];
  for (const v of values) {
    if (v instanceof Uint8Array) out.push(v);
    else if (typeof v === 'string') {
      const b = latin1Bytes(v);
      if (b) out.push(b);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

function typeOrder(p: SlotProblem): DataType[] {
  if (p.binary) return ['bytes', 'number', 'bool'];
  const order: DataType[] = [];
  if (typeof p.near === 'number') order.push('number');
  else if (typeof p.near === 'boolean') order.push('bool');
  else if (typeof p.near === 'string') order.push('string');
  for (const t of [...p.tests].sort(byPosition)) {
    const r = requirement(t);
    if (r !== 'any') for (const d of r) if (d !== 'bytes' && !order.includes(d)) order.push(d);
  }
  const kind = kindOf(p.ctx);
  const preferred: DataType = kind === 'int' || kind === 'float' ? 'number' : kind === 'bool' ? 'bool' : 'string';
  if (!order.includes(preferred)) order.push(preferred);
  for (const d of ['string', 'number', 'bool'] as DataType[]) if (!order.includes(d)) order.push(d);
  return order;
}

/** Solves one value. Deterministic for a given generator state. */
export function solveSlot(p: SlotProblem, prng: Prng): SlotResult {
  const tests = p.tests;
  if (p.fixed !== undefined) {
    const bad = firstRejecting(tests, p.fixed);
    if (!bad) return { ok: true, value: p.fixed };
    return {
      ok: false,
      unsat: true,
      message: `no value satisfies ${describeTest(bad)} (the value is ${JSON.stringify(p.fixed)})`,
      leaf: bad,
    };
  }
  for (const t of tests) {
    const r = requirement(t);
    if (r !== 'any' && r.size === 0) return conflict([t]);
  }
  for (const t of tests) {
    if (t.kind !== 'comparison' || t.operator !== 'MATCHES' || t.negated || t.value.type !== 'string') continue;
    const why = neverMatches(t.value.value.normalize('NFC'));
    if (why)
      return {
        ok: false,
        unsat: true,
        message: `no value satisfies ${describeTest(t)} (the regex can never match: ${why})`,
        leaf: t,
      };
  }
  let firstFailure: SlotResult | undefined;
  let allExact = true;
  for (const type of typeOrder(p)) {
    const result = solveAs(type, p, prng);
    if (result.ok) return result;
    firstFailure ??= result;
    if (!result.unsat) allExact = false;
  }
  if (firstFailure && !firstFailure.ok && firstFailure.unsat && allExact) return firstFailure;
  if (allExact) return conflict(tests);
  const unsupported = firstFailure && !firstFailure.ok && !firstFailure.unsat ? firstFailure : undefined;
  return (
    unsupported ?? {
      ok: false,
      unsat: false,
      message: `no generated value satisfies ${tests.map(describeTest).join(' and ')}`,
    }
  );
}

function solveAs(type: DataType, p: SlotProblem, prng: Prng): SlotResult {
  const tests = p.tests;
  // Type conflicts: a test that needs another type can never hold on a value of this one.
  const typed = tests.slice().sort(byPosition);
  const firstNeeding = typed.find((t) => requirement(t) !== 'any');
  const incompatible = typed.find((t) => {
    const r = requirement(t);
    return r !== 'any' && !r.has(type);
  });
  if (incompatible) {
    const partner =
      firstNeeding && firstNeeding !== incompatible
        ? firstNeeding
        : typed.find((t) => t !== incompatible && requirement(t) !== 'any');
    if (partner) {
      const a = requirement(partner) as Set<DataType>;
      const b = requirement(incompatible) as Set<DataType>;
      const overlap = [...a].some((d) => b.has(d) && (!p.binary || d !== 'string'));
      if (!overlap)
        return conflict(
          [partner, incompatible],
          ` (${TYPE_NAMES[[...a][0] as DataType]} and ${TYPE_NAMES[[...b][0] as DataType]})`,
        );
    }
    return { ok: false, unsat: true, message: `no value satisfies ${describeTest(incompatible)}`, leaf: incompatible };
  }
  // Finite candidate sets from equalities.
  const sets = anchorSets(tests, type);
  if (sets.length > 0) {
    const smallest = sets.slice().sort((a, b) => a.values.length - b.values.length)[0] as (typeof sets)[number];
    const ordered = p.near === undefined ? prng.shuffle(smallest.values) : smallest.values;
    for (const v of ordered) if (passesAll(tests, v)) return { ok: true, value: v };
    if (smallest.values.length === 0 && smallest.leaf.kind === 'in' && smallest.leaf.values.length === 0)
      return conflict([smallest.leaf]);
    const culprits: ComparisonLeaf[] = [smallest.leaf];
    for (const v of smallest.values) {
      const bad = firstRejecting(
        tests.filter((t) => t !== smallest.leaf),
        v,
      );
      if (bad) culprits.push(bad);
    }
    if (smallest.exact) return conflict(culprits);
    return {
      ok: false,
      unsat: false,
      message: `no generated value satisfies ${tests.map(describeTest).join(' and ')}`,
    };
  }
  let candidates: DataValue[] | SlotResult;
  if (type === 'bool') candidates = p.near === undefined ? prng.shuffle([true, false]) : [!p.near, true, false];
  else if (type === 'number') candidates = numberCandidates(tests, p, prng);
  else {
    const c = stringCandidates(tests, p, prng, type);
    candidates = Array.isArray(c) ? toType(c, type) : c;
    if (type === 'bytes' && Array.isArray(candidates)) {
      const random = new Uint8Array(prng.int(4, 16));
      for (let i = 0; i < random.length; i++) random[i] = prng.int(0, 255);
      candidates.push(new Uint8Array([0x4d, 0x5a, 0x90, 0x00, 0x03]), random);
    }
  }
  if (!Array.isArray(candidates)) return candidates;
  for (const v of candidates) if (passesAll(tests, v)) return { ok: true, value: v };
  const hard = tests.find((t) => t.kind === 'comparison' && (t.operator === 'MATCHES' || t.operator === 'LIKE'));
  return {
    ok: false,
    unsat: false,
    message: `no generated ${TYPE_NAMES[type].replace(/^an? /, '')} satisfies ${tests.slice().sort(byPosition).map(describeTest).join(' and ')}${hard ? ' (unsupported for generation)' : ''}`,
    ...(hard ? { leaf: hard } : {}),
  };
}
