/**
 * The group item: one stored item per (tenant, group) holding the state of every stateful rule
 * of that group (pattern rules' partial matches and outboxes, aggregation rules' counts). A
 * batch that touches a group touches one item, whatever the number of rules its events hit, so
 * it costs one conditional write, and none when no rule's state changed.
 *
 * Each rule's state keeps its own codec's text and its own expiry inside the item: a rule whose
 * state has expired counts as absent (and is dropped at the next write), and the item expires
 * with its longest-lived rule. Rule states are decoded only when their rule is touched and
 * encoded again only when they changed, so a write of an item costs the changed rules' encoding,
 * not every rule's.
 *
 * Stored layout (format 3): `{"format":3,"x":<item expiresAt>,"d":"<pattern digest>","rules":{"<rule id>":
 * [<x − rule expiresAt>,<rule state>(,"<observations digest>"(,0))],…},"pending":[…]}`, each rule state being
 * its codec's JSON object as the codec wrote it (group-state.ts, aggregation-state.ts), so a rule kind's layout
 * changes without this one changing. The rules' expiries differ by their windows, so relative to the item's
 * they are a few digits each where format 1 wrote each rule's expiresAt whole.
 *
 * A pattern rule's state is stored without its two fingerprints when they are the rule's own (they do not
 * deflate: 44 characters of base64 a rule). What tells a reader whether they still are: per rule, a 6-character
 * digest of the observation expressions' fingerprint (a wrong "same" would read the buffered events' masks
 * with another meaning, so it stays per rule); per item, one 8-character digest `d` of the patterns (the XOR
 * of a 48-bit hash of (rule id, pattern fingerprint) over those rules). Format 2 (read still) kept 12
 * characters per rule, both fingerprints' digests: 44% of a busy item's stored bytes (#18). When `d` does not
 * match the rules as they are now, the reader cannot tell which rule's pattern changed, so it takes every
 * rule's as changed: the correlator's reconcile then searches that state fully once (the same bindings, or
 * more when a qualifier did change) and keeps its partial matches where the observations digest matches, so
 * the cost of not knowing is a search, never a partial match. Such a rule is written with a trailing 0 until
 * its state is next encoded, so that `d` covers only rules whose pattern is known to be current.
 */
import { createHash } from 'node:crypto';
import { StateCorruptError } from '../state/errors.js';
import { GROUP_ITEM_RULE_ID } from '../state/table-schema.js';
import type { PutOutcome, StateItem, StateKey, StateStore } from '../state/types.js';
import { stateKeyId } from '../state/types.js';
import type { StateCodec } from './rule-kind.js';

/**
 * Every entry has all its fields (undefined when unset), made by `ruleEntry`: entries are read
 * for every rule of every touched item, and fields added later gave them several shapes.
 */
interface RuleEntry {
  expiresAt: number;
  /**
   * Set when the stored state leaves out its rule's fingerprints because they were the rule's
   * own when written: a short digest of the observation expressions' one, to tell on reading
   * whether it still is (the pattern's is covered by the item's digest).
   */
  digests: string | undefined;
  /**
   * Stored without fingerprints, and the pattern's is not known to be the rule's current one (the
   * item's pattern digest did not match, or the rule is not run here): restored as a marker no
   * fingerprint equals, so the correlator reconciles the state.
   */
  patternStale: boolean;
  /** The state's text as last encoded; undefined once the decoded state changed. */
  text: string | undefined;
  /** The decoded state, once a caller asked for it. */
  decoded: { state: unknown; codec: StateCodec<unknown> } | undefined;
  /**
   * The entry as last written into the item's text, and the item expiry it was written relative
   * to: a hot group is written many times a second, most of its rules unchanged each time.
   */
  written: { part: string; latest: number } | undefined;
}

function ruleEntry(
  expiresAt: number,
  text: string | undefined,
  digests: string | undefined,
  decoded: RuleEntry['decoded'],
  patternStale = false,
): RuleEntry {
  return { expiresAt, digests, patternStale, text, decoded, written: undefined };
}

export interface GroupItem {
  readonly rules: Map<string, RuleEntry>;
  /**
   * The rules whose state holds alerts not yet acknowledged (an outbox): kept beside the states so
   * that the outbox-index mark of the whole item is known without decoding every rule's state.
   */
  readonly pending: Set<string>;
}

export const GROUP_ITEM_FORMAT = 3;

/** A pattern rule's fingerprints (pattern-kind.ts), which its states carry to detect rule edits. */
export interface RuleFingerprints {
  patternKey: string;
  observationsKey: string;
}

/** The current fingerprints of a rule, when it has some (pattern rules). */
export type FingerprintsOf = (ruleId: string) => RuleFingerprints | undefined;

/**
 * Digest characters kept per fingerprint (base64url, 6 bits each): 36 bits, so a rule edit goes
 * unnoticed by a stored state with odds of one in 69 billion per edit.
 */
const DIGEST_CHARS = 6;

function digestOf(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('base64url').slice(0, DIGEST_CHARS);
}

/** A rule's 48-bit pattern hash, as two 24-bit halves, which the item's pattern digest XORs together. */
type PatternHash = [number, number];

function patternHashOf(ruleId: string, patternKey: string): PatternHash {
  const bytes = createHash('sha256').update(`${ruleId}\u0000${patternKey}`, 'utf8').digest();
  return [bytes.readUIntBE(0, 3), bytes.readUIntBE(3, 3)];
}

/** The item's pattern digest: 8 base64url characters of the XOR of its rules' pattern hashes. */
function patternDigestText(hash: PatternHash): string {
  const bytes = Buffer.alloc(6);
  bytes.writeUIntBE(hash[0], 0, 3);
  bytes.writeUIntBE(hash[1], 3, 3);
  return bytes.toString('base64url');
}

/** What a codec computes once per rule: the observations digest it stores, the pattern hash it XORs. */
interface RuleDigests {
  observations: string;
  pattern: PatternHash;
}

function ruleDigestsOf(cache: Map<string, RuleDigests>, ruleId: string, fingerprints: RuleFingerprints): RuleDigests {
  let digests = cache.get(ruleId);
  if (digests === undefined) {
    digests = {
      observations: digestOf(fingerprints.observationsKey),
      pattern: patternHashOf(ruleId, fingerprints.patternKey),
    };
    cache.set(ruleId, digests);
  }
  return digests;
}

/** The pattern digest of the rules stored without fingerprints whose pattern is known current; undefined: none. */
function itemPatternDigest(
  item: GroupItem,
  cache: Map<string, RuleDigests>,
  fingerprints: FingerprintsOf | undefined,
): string | undefined {
  const hash: PatternHash = [0, 0];
  let any = false;
  for (const [ruleId, entry] of item.rules) {
    if (entry.digests === undefined || entry.patternStale) continue;
    const current = fingerprints?.(ruleId);
    if (current === undefined) return undefined; // cannot be covered: the caller marks the rules stale
    const own = ruleDigestsOf(cache, ruleId, current).pattern;
    hash[0] ^= own[0];
    hash[1] ^= own[1];
    any = true;
  }
  return any ? patternDigestText(hash) : '';
}

/** Takes every rule stored without fingerprints as having a changed pattern (see the header). */
function markPatternsStale(item: GroupItem): void {
  for (const entry of item.rules.values())
    if (entry.digests !== undefined && !entry.patternStale) {
      entry.patternStale = true;
      entry.written = undefined;
    }
}

interface Fingerprinted {
  patternKey?: unknown;
  observationsKey?: unknown;
}

interface StoredGroupItem {
  format: number;
  /** Formats 2 and 3: the item's expiry (its longest-lived rule's), which each rule's is stored relative to. */
  x?: number;
  /** Format 3: the pattern digest of the rules stored without fingerprints (absent: none). */
  d?: string;
  /** Rule ids of the states holding unacknowledged alerts (absent: none). */
  pending?: string[];
  /**
   * Rule id → [expiry, its state: the codec's JSON object, or its text when that is not a JSON
   * object(, digests(, 0: pattern stale))]; the expiry is expiresAt in format 1, `x` − expiresAt
   * after. Digests: both fingerprints' (12 characters) in formats 1 and 2, the observations' (6) in 3.
   */
  rules: Record<
    string,
    [number, string | object] | [number, string | object, string] | [number, string | object, string, 0]
  >;
}

const quotedRuleIds = new Map<string, string>();

/** A rule id as a JSON string (quoted once per rule id: every write of an item writes every rule's). */
function quotedRuleId(ruleId: string): string {
  let quoted = quotedRuleIds.get(ruleId);
  if (quoted === undefined) {
    quoted = JSON.stringify(ruleId);
    if (quotedRuleIds.size < 100_000) quotedRuleIds.set(ruleId, quoted);
  }
  return quoted;
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The store key of the group item of (tenant, group). */
export function groupItemKey(tenant: string, group: string): StateKey {
  return { tenant, ruleId: GROUP_ITEM_RULE_ID, group };
}

export function emptyGroupItem(): GroupItem {
  return { rules: new Map(), pending: new Set() };
}

/** Records whether a rule's state in the item holds alerts not yet acknowledged. */
export function markPendingAlerts(item: GroupItem, ruleId: string, pending: boolean): void {
  if (pending) item.pending.add(ruleId);
  else item.pending.delete(ruleId);
}

/** Whether any rule's state in the item holds alerts not yet acknowledged. */
export function hasPendingAlerts(item: GroupItem): boolean {
  return item.pending.size > 0;
}

/**
 * A rule's state in the item, decoded (and kept decoded: the caller may change it in place, then
 * says so with `setRuleState`); undefined when the rule has none or it expired before `nowSeconds`.
 * Throws StateCorruptError when the rule's text cannot be decoded.
 */
export function ruleState<S>(
  item: GroupItem,
  ruleId: string,
  codec: StateCodec<S>,
  nowSeconds: number,
  fingerprints?: FingerprintsOf,
): S | undefined {
  const entry = item.rules.get(ruleId);
  if (entry === undefined || entry.expiresAt < nowSeconds) return undefined;
  if (entry.decoded === undefined) {
    const text = entry.text as string;
    let state: S;
    try {
      state = codec.decode(text);
    } catch (error) {
      if (error instanceof StateCorruptError) throw error;
      throw new StateCorruptError(
        `a stored state could not be decoded: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (entry.digests !== undefined) restoreFingerprints(state as Fingerprinted, entry, fingerprints?.(ruleId));
    entry.decoded = { state, codec: codec as StateCodec<unknown> };
  }
  return entry.decoded.state as S;
}

/** What a stale pattern fingerprint is restored as: `#`, which no fingerprint (base64) equals. */
const STALE_PATTERN = '#';

/**
 * Puts back the fingerprints a state was stored without: the rule's current ones where the item
 * says they still are, else a value no fingerprint equals (the correlator then sees the rule edited).
 */
function restoreFingerprints(
  state: Fingerprinted,
  entry: Pick<RuleEntry, 'digests' | 'patternStale'>,
  current: RuleFingerprints | undefined,
): void {
  const observations = entry.digests as string;
  state.patternKey = current !== undefined && !entry.patternStale ? current.patternKey : STALE_PATTERN;
  state.observationsKey =
    current !== undefined && digestOf(current.observationsKey) === observations
      ? current.observationsKey
      : `#${observations}`;
}

/** The expiry of a rule's state in the item (undefined: none). */
export function ruleExpiry(item: GroupItem, ruleId: string): number | undefined {
  return item.rules.get(ruleId)?.expiresAt;
}

/** Records that a rule's state changed (or is new): it is encoded again at the next write. */
export function setRuleState<S>(
  item: GroupItem,
  ruleId: string,
  state: S,
  codec: StateCodec<S>,
  expiresAt: number,
): void {
  item.rules.set(ruleId, ruleEntry(expiresAt, undefined, undefined, { state, codec: codec as StateCodec<unknown> }));
}

/** The item's expiry: that of its longest-lived rule state. */
export function groupItemExpiry(item: GroupItem): number {
  let latest = 0;
  for (const entry of item.rules.values()) latest = Math.max(latest, entry.expiresAt);
  return latest;
}

/**
 * The codec of group items. `now` (epoch ms) decides which rule states are expired: they are
 * left out of what is written.
 */
export function groupItemCodec(now: () => number, fingerprints?: FingerprintsOf): StateCodec<GroupItem> {
  const digestCache = new Map<string, RuleDigests>();
  return {
    format: GROUP_ITEM_FORMAT,
    empty: emptyGroupItem,
    encode(item: GroupItem): string {
      const nowSeconds = Math.floor(now() / 1000);
      let latest = 0;
      for (const [ruleId, entry] of item.rules) {
        if (entry.expiresAt < nowSeconds) {
          item.rules.delete(ruleId);
          item.pending.delete(ruleId);
        } else if (entry.expiresAt > latest) latest = entry.expiresAt;
      }
      for (const [ruleId, entry] of item.rules) {
        if (entry.text !== undefined) continue;
        const decoded = entry.decoded as { state: unknown; codec: StateCodec<unknown> };
        const state = decoded.state as Fingerprinted;
        const current = fingerprints?.(ruleId);
        entry.patternStale = false;
        if (decoded.codec.fingerprinted?.(decoded.state) === false) {
          // Its meaning does not depend on them: stored with neither fingerprints nor digests.
          entry.text = decoded.codec.encode({ ...state, patternKey: undefined, observationsKey: undefined });
          entry.digests = undefined;
        } else if (
          // A rule's fingerprints are the same in each of its groups' states, and do not deflate
          // (44 characters of base64 per rule): a state carrying the rule's own is stored without
          // them, with 6 characters of digest and its share of the item's pattern digest.
          current !== undefined &&
          state.patternKey === current.patternKey &&
          state.observationsKey === current.observationsKey
        ) {
          entry.text = decoded.codec.encode({ ...state, patternKey: undefined, observationsKey: undefined });
          entry.digests = ruleDigestsOf(digestCache, ruleId, current).observations;
        } else {
          entry.text = decoded.codec.encode(decoded.state);
          entry.digests = undefined;
        }
      }
      let patternDigest = itemPatternDigest(item, digestCache, fingerprints);
      if (patternDigest === undefined) {
        // A rule stored without fingerprints that this codec has none for (a tool's codec): its
        // pattern cannot be vouched for, so no rule's is.
        markPatternsStale(item);
        patternDigest = '';
      }
      const parts: string[] = [];
      for (const [ruleId, entry] of item.rules) {
        const text = entry.text as string;
        if (entry.written === undefined || entry.written.latest !== latest) {
          // A JSON object text goes in as it is (quoting it would escape every quote in it); any other text as a string.
          const json = text.charCodeAt(0) === 123 /* { */ ? text : JSON.stringify(text);
          const digests =
            entry.digests === undefined ? '' : entry.patternStale ? `,"${entry.digests}",0` : `,"${entry.digests}"`;
          entry.written = { part: `${quotedRuleId(ruleId)}:[${latest - entry.expiresAt},${json}${digests}]`, latest };
        }
        parts.push(entry.written.part);
      }
      for (const ruleId of item.pending) if (!item.rules.has(ruleId)) item.pending.delete(ruleId);
      const pending = item.pending.size > 0 ? `,"pending":${JSON.stringify([...item.pending])}` : '';
      const digest = patternDigest === '' ? '' : `,"d":"${patternDigest}"`;
      return `{"format":${GROUP_ITEM_FORMAT},"x":${latest}${digest},"rules":{${parts.join(',')}}${pending}}`;
    },
    decode(text: string): GroupItem {
      let raw: StoredGroupItem;
      try {
        raw = JSON.parse(text) as StoredGroupItem;
      } catch {
        throw new StateCorruptError('a stored group item is not valid JSON');
      }
      if (typeof raw !== 'object' || raw === null || typeof raw.rules !== 'object' || raw.rules === null)
        throw new StateCorruptError('a stored group item lacks its rules');
      if (raw.format !== 1 && raw.format !== 2 && raw.format !== GROUP_ITEM_FORMAT)
        throw new StateCorruptError(
          `a stored group item has format ${JSON.stringify(raw.format)}; this version reads formats 1 to ${GROUP_ITEM_FORMAT}`,
        );
      // Formats 2 and 3 store each rule's expiry as how much earlier than the item's (`x`) it is.
      const latest = raw.format === 1 ? 0 : raw.x;
      const sign = raw.format === 1 ? 1 : -1;
      if (typeof latest !== 'number') throw new StateCorruptError('a stored group item lacks its expiry');
      if (raw.d !== undefined && typeof raw.d !== 'string')
        throw new StateCorruptError('a stored group item has a malformed pattern digest');
      const item = emptyGroupItem();
      if (raw.pending !== undefined) {
        if (!Array.isArray(raw.pending) || raw.pending.some((id) => typeof id !== 'string'))
          throw new StateCorruptError('a stored group item has a malformed pending list');
        for (const ruleId of raw.pending) item.pending.add(ruleId);
      }
      // Formats 1 and 2 kept both digests per rule; from 3 on, the observations' one, the pattern's in `d`.
      const pairs = raw.format !== GROUP_ITEM_FORMAT;
      for (const [ruleId, entry] of Object.entries(raw.rules)) {
        if (
          !Array.isArray(entry) ||
          typeof entry[0] !== 'number' ||
          (typeof entry[1] !== 'string' && !isObject(entry[1]))
        )
          throw new StateCorruptError(`the state of rule ${ruleId} in a stored group item is not [expiresAt, state]`);
        // An object is the rule's JSON text as written; it is decoded by the rule's codec only when touched.
        const digests = entry[2];
        if (
          digests !== undefined &&
          (typeof digests !== 'string' ||
            digests.length !== (pairs ? 2 : 1) * DIGEST_CHARS ||
            (entry.length > 3 && (pairs || entry[3] !== 0)))
        )
          throw new StateCorruptError(`the state of rule ${ruleId} in a stored group item has malformed digests`);
        let observations = digests;
        let patternStale = entry.length > 3;
        if (pairs && digests !== undefined) {
          // Its own pattern digest says now, per rule, what format 3's item digest says for all.
          const current = fingerprints?.(ruleId);
          patternStale = current === undefined || digestOf(current.patternKey) !== digests.slice(0, DIGEST_CHARS);
          observations = digests.slice(DIGEST_CHARS);
        }
        item.rules.set(
          ruleId,
          ruleEntry(
            latest + sign * entry[0],
            typeof entry[1] === 'string' ? entry[1] : JSON.stringify(entry[1]),
            observations,
            undefined,
            patternStale,
          ),
        );
      }
      // The rules' patterns as they are now must give the digest the writer stored; if not, some
      // rule's changed (or is not run here), and which one cannot be told.
      if (!pairs && itemPatternDigest(item, digestCache, fingerprints) !== (raw.d ?? '')) markPatternsStale(item);
      return item;
    },
  };
}

/**
 * A rule's state as if it were an item of its own (its text, expiry and the group item's
 * version), for tools and tests that look at one rule's stored state.
 */
export function ruleStateText(item: GroupItem, ruleId: string): { text: string; expiresAt: number } | undefined {
  const entry = item.rules.get(ruleId);
  if (entry === undefined) return undefined;
  if (entry.text === undefined) {
    const decoded = entry.decoded as { state: unknown; codec: StateCodec<unknown> };
    entry.text = decoded.codec.encode(decoded.state);
  }
  if (entry.digests === undefined) return { text: entry.text, expiresAt: entry.expiresAt };
  // Stored without its fingerprints: shown as markers in their place (`#` for the pattern's, `#` and
  // the 6-character digest for the observations').
  const state = JSON.parse(entry.text) as Fingerprinted;
  restoreFingerprints(state, entry, undefined);
  return { text: JSON.stringify(state), expiresAt: entry.expiresAt };
}

/** Replaces a rule's stored text (tools and tests writing a state of an earlier format). */
export function setRuleStateText(item: GroupItem, ruleId: string, text: string, expiresAt: number): void {
  item.rules.set(ruleId, ruleEntry(expiresAt, text, undefined, undefined));
}

/**
 * One rule's stored state as if it were an item of its own: its text and expiry, with the
 * version of its group item. For tools and tests that look at one rule's state.
 */
export async function readRuleItem(store: StateStore, key: StateKey): Promise<StateItem | undefined> {
  const itemKey = groupItemKey(key.tenant, key.group);
  const stored = (await store.getMany([itemKey])).get(stateKeyId(itemKey));
  if (stored === undefined) return undefined;
  const rule = ruleStateText(groupItemCodec(Date.now).decode(stored.value), key.ruleId);
  return rule && { key, version: stored.version, value: rule.text, expiresAt: rule.expiresAt };
}

/**
 * Replaces one rule's stored state in its group item, conditionally on the group item's version
 * (null: the item must not exist). For tools and tests that write a state of an earlier format.
 */
export async function writeRuleItem(
  store: StateStore,
  rule: { key: StateKey; value: string; expiresAt: number },
  expectedVersion: number | null,
): Promise<PutOutcome> {
  const itemKey = groupItemKey(rule.key.tenant, rule.key.group);
  const codec = groupItemCodec(() => 0); // keeps every rule state, expired or not: a tool writes what it is given
  const stored = expectedVersion === null ? undefined : (await store.getMany([itemKey])).get(stateKeyId(itemKey));
  const item = stored ? codec.decode(stored.value) : emptyGroupItem();
  setRuleStateText(item, rule.key.ruleId, rule.value, rule.expiresAt);
  return store.put({ key: itemKey, value: codec.encode(item), expiresAt: groupItemExpiry(item) }, expectedVersion);
}
