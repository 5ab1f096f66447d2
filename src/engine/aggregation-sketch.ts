/**
 * A HyperLogLog sketch (Flajolet, Fusy, Gandouet, Meunier 2007) for the distinct_count rule
 * kind: once a window slot holds more distinct values than the rule keeps exactly, its values go
 * into one of these, 1 KiB whatever their number.
 *
 * 2^10 = 1024 registers of one byte; each value is hashed with SHA-256 (so that a crafted value
 * cannot aim at a register), the first 10 bits choose the register and the register keeps the
 * largest rank (leading zeros + 1) of the next 54 bits. The estimate uses the standard
 * correction for small cardinalities (linear counting while registers are empty); with 54 bits
 * of hash no large-range correction is needed. Its relative standard error is
 * 1.04 / sqrt(1024) ≈ 3.25 % (about two thirds of the estimates are within it, 95 % within
 * twice it). Sketches merge by taking each register's maximum, which is what a window made of
 * several slots does. Written here rather than taken from a library: the stored form (base64 of
 * the registers) must stay readable by every later version, and the engine needs no more than
 * add, merge and estimate.
 */
import { createHash } from 'node:crypto';

export const SKETCH_PRECISION = 10;
export const SKETCH_REGISTERS = 1 << SKETCH_PRECISION;
/** The sketch's relative standard error, as alerts and docs state it. */
export const SKETCH_RELATIVE_ERROR = 1.04 / Math.sqrt(SKETCH_REGISTERS);

export class DistinctSketch {
  readonly registers: Uint8Array;

  constructor(registers?: Uint8Array) {
    this.registers = registers ?? new Uint8Array(SKETCH_REGISTERS);
  }

  add(value: string): void {
    const hash = createHash('sha256').update(value).digest();
    const high = hash.readUInt32BE(0);
    const low = hash.readUInt32BE(4);
    const register = high >>> (32 - SKETCH_PRECISION);
    // The 54 bits after the register index: 22 of `high`, then 32 of `low`.
    const rest22 = high & ((1 << (32 - SKETCH_PRECISION)) - 1);
    let rank: number;
    if (rest22 !== 0) rank = Math.clz32(rest22) - SKETCH_PRECISION + 1;
    else rank = low !== 0 ? 32 - SKETCH_PRECISION + Math.clz32(low) + 1 : 64 - SKETCH_PRECISION + 1;
    if (rank > (this.registers[register] as number)) this.registers[register] = rank;
  }

  /** Takes in another sketch's values (register-wise maximum). */
  merge(other: DistinctSketch): void {
    for (let i = 0; i < SKETCH_REGISTERS; i++)
      if ((other.registers[i] as number) > (this.registers[i] as number))
        this.registers[i] = other.registers[i] as number;
  }

  copy(): DistinctSketch {
    return new DistinctSketch(new Uint8Array(this.registers));
  }

  /** The estimated number of distinct values added. */
  estimate(): number {
    const m = SKETCH_REGISTERS;
    let sum = 0;
    let empty = 0;
    for (let i = 0; i < m; i++) {
      const r = this.registers[i] as number;
      sum += 2 ** -r;
      if (r === 0) empty++;
    }
    const alpha = 0.7213 / (1 + 1.079 / m);
    const raw = (alpha * m * m) / sum;
    if (raw <= 2.5 * m && empty > 0) return Math.round(m * Math.log(m / empty));
    return Math.round(raw);
  }

  encode(): string {
    return Buffer.from(this.registers).toString('base64');
  }

  /** Undefined when the text is not a sketch's encoding. */
  static decode(text: string): DistinctSketch | undefined {
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length !== SKETCH_REGISTERS) return undefined;
    return new DistinctSketch(new Uint8Array(bytes));
  }
}
