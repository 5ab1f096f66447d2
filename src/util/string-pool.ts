/**
 * Many strings kept as a few large ones. A million indicators hold several million short
 * strings (ids, names, patterns); as separate objects, every full garbage collection has to
 * mark each of them, which slows every worker that loads a big feed. Here they are appended
 * to segments of a few million characters, and each string is an (segment, offset, length)
 * entry in typed arrays; reading one back is a `slice`.
 */

/** Characters per segment: large enough to be few, small enough to stay far below V8's string limit. */
const SEGMENT_CHARS = 1 << 23;

export class StringPool {
  private readonly segments: string[] = [];
  /** Strings appended since the last segment was sealed. */
  private pending: string[] = [];
  private pendingChars = 0;
  private segmentOf = new Uint32Array(1024);
  private offsetOf = new Uint32Array(1024);
  private lengthOf = new Uint32Array(1024);
  private count = 0;

  /** `segmentChars`: characters per segment (a string longer than that gets a segment of its own). */
  constructor(private readonly segmentChars = SEGMENT_CHARS) {}

  get size(): number {
    return this.count;
  }

  /** Appends a string; returns its position. */
  add(text: string): number {
    if (this.pendingChars + text.length > this.segmentChars && this.pending.length > 0) this.seal();
    const i = this.count++;
    if (i >= this.segmentOf.length) this.grow();
    this.segmentOf[i] = this.segments.length;
    this.offsetOf[i] = this.pendingChars;
    this.lengthOf[i] = text.length;
    this.pending.push(text);
    this.pendingChars += text.length;
    return i;
  }

  /** The string at a position returned by `add`. */
  get(i: number): string {
    if (i < 0 || i >= this.count) throw new RangeError(`no string at ${i} (pool of ${this.count})`);
    const segment = this.segmentOf[i] as number;
    if (segment === this.segments.length) this.seal();
    const offset = this.offsetOf[i] as number;
    return (this.segments[segment] as string).slice(offset, offset + (this.lengthOf[i] as number));
  }

  /** Joins the pending strings into one segment (flattened, so slices of it stay cheap). */
  private seal(): void {
    const joined = this.pending.join('');
    // Reading one character flattens the joined string once, instead of on the first slice.
    if (joined.length > 0) joined.charCodeAt(0);
    this.segments.push(joined);
    this.pending = [];
    this.pendingChars = 0;
  }

  private grow(): void {
    const size = this.segmentOf.length * 2;
    const grown = (a: Uint32Array<ArrayBuffer>): Uint32Array<ArrayBuffer> => {
      const b = new Uint32Array(size);
      b.set(a);
      return b;
    };
    this.segmentOf = grown(this.segmentOf);
    this.offsetOf = grown(this.offsetOf);
    this.lengthOf = grown(this.lengthOf);
  }
}
