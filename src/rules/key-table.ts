/**
 * Small-integer keys → index entry ids, as an open-addressing hash table in one Int32Array.
 * The rule index files a million indicator values under their 30-bit string keys; in a Map
 * each lookup follows several pointers through a large heap, where here it is one probe into
 * one array (usually one cache miss), and the table is a single object for the garbage
 * collector. An entry holds one id bare; several ids for one key share a list.
 */

/** Keys are below 2^30 (stringKey); stored plus one, so that 0 marks an empty slot. */
const EMPTY = 0;

export class KeyTable {
  /** Pairs (key + 1, value): value ≥ 0 is an id, value < 0 is list number −value − 1. */
  private slots = new Int32Array(32);
  private mask = 15;
  private used = 0;
  private readonly lists: number[][] = [];

  get size(): number {
    return this.used;
  }

  add(key: number, id: number): void {
    if (key < 0 || key >= 2 ** 30 || !Number.isInteger(key)) throw new RangeError(`key ${key} is not a 30-bit integer`);
    // Up to three quarters full: linear probes mostly stay within one cache line, and a smaller
    // table misses the cache less often than a sparser one probes.
    if ((this.used + 1) * 4 > (this.mask + 1) * 3) this.resize();
    const at = this.find(key);
    const slots = this.slots;
    if (slots[at] === EMPTY) {
      slots[at] = key + 1;
      slots[at + 1] = id;
      this.used++;
      return;
    }
    const value = slots[at + 1] as number;
    if (value >= 0) {
      this.lists.push([value, id]);
      slots[at + 1] = -this.lists.length;
    } else (this.lists[-value - 1] as number[]).push(id);
  }

  /** The id (bare) or ids filed under a key, or undefined. */
  get(key: number): number | number[] | undefined {
    const slots = this.slots;
    const at = this.find(key);
    if (slots[at] === EMPTY) return undefined;
    const value = slots[at + 1] as number;
    return value >= 0 ? value : this.lists[-value - 1];
  }

  /** The slot (pair index) holding key, or the empty one where it would go (linear probing). */
  private find(key: number): number {
    const slots = this.slots;
    const stored = key + 1;
    let i = mix(key) & this.mask;
    for (;;) {
      const at = i << 1;
      const k = slots[at] as number;
      if (k === stored || k === EMPTY) return at;
      i = (i + 1) & this.mask;
    }
  }

  private resize(): void {
    const old = this.slots;
    this.mask = this.mask * 2 + 1;
    this.slots = new Int32Array((this.mask + 1) * 2);
    for (let at = 0; at < old.length; at += 2) {
      const k = old[at] as number;
      if (k === EMPTY) continue;
      const to = this.find(k - 1);
      this.slots[to] = k;
      this.slots[to + 1] = old[at + 1] as number;
    }
  }
}

/** Spreads keys over the table, so that keys alike in their low bits do not cluster. */
function mix(key: number): number {
  return Math.imul(key ^ (key >>> 15), 0x2c1b3c6d) >>> 0;
}
