/**
 * A length of time as rules, options and configuration write it: `30s`, `10m`, `2h`, `1d`, or a
 * number of seconds. One parser for all of them, so that `suppress: 10m` in a rule and
 * `--lateness 10m` on the command line mean the same, and every bad input gets the same located
 * explanation.
 */

export type DurationUnit = 's' | 'm' | 'h' | 'd';

const UNIT_SECONDS: Record<DurationUnit, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
/** Largest first: what toString() prefers. */
const UNITS_DESCENDING: DurationUnit[] = ['d', 'h', 'm', 's'];
const UNIT_LIST = 's, m, h or d';
const EXAMPLES = '30s, 10m, 2h, 1d';

/** Why a text is not a duration, and where in it (0-based offset and length into the text). */
export interface DurationError {
  message: string;
  offset: number;
  length: number;
}

export interface DurationParseOptions {
  /**
   * Whether a bare number (`300`) is read as seconds. Rule files take a bare number only as a
   * YAML/JSON number (`suppress: 600`), never as a string; command-line options take `300`.
   */
  bareSeconds?: boolean;
  /** Whether fractions (`1.5m`, `0.5`) are allowed; rules take whole numbers only. */
  fractions?: boolean;
}

export class Duration {
  private constructor(
    /** The length in seconds (finite, not negative). */
    readonly seconds: number,
  ) {}

  static ofSeconds(seconds: number): Duration {
    if (!Number.isFinite(seconds) || seconds < 0)
      throw new RangeError(`a duration is a finite number of seconds, not negative; got ${seconds}`);
    return new Duration(seconds);
  }

  /**
   * Reads `<number><unit>` (unit s, m, h or d), or with `bareSeconds` a number of seconds. A
   * number (not a string) is a number of seconds. Returns the reason, located in the text, when
   * it is not a duration.
   */
  static parse(input: string | number, options: DurationParseOptions = {}): Duration | DurationError {
    if (typeof input === 'number') {
      if (!Number.isFinite(input) || input < 0)
        return { message: `a duration is not negative; got ${input}`, offset: 0, length: String(input).length };
      if (!options.fractions && !Number.isInteger(input))
        return {
          message: `a duration is a whole number of seconds; got ${input}`,
          offset: 0,
          length: String(input).length,
        };
      return new Duration(input);
    }
    const number = (options.fractions ? /^\d+(?:\.\d+)?/ : /^\d+/).exec(input)?.[0];
    if (number === undefined)
      return {
        message: `'${input}' is not a duration: it starts with a number (${EXAMPLES})`,
        offset: 0,
        length: Math.max(1, input.length),
      };
    const rest = input.slice(number.length);
    if (rest === '') {
      if (options.bareSeconds) return new Duration(Number(number));
      return {
        message: `'${input}' is not a duration: a unit follows the number (${UNIT_LIST}: ${EXAMPLES})`,
        offset: number.length,
        length: 0,
      };
    }
    const unit = rest[0] as string;
    if (!(unit in UNIT_SECONDS))
      return {
        message: `'${input}' is not a duration: '${rest}' is not a unit (${UNIT_LIST}: ${EXAMPLES})`,
        offset: number.length,
        length: rest.length,
      };
    if (rest.length > 1)
      return {
        message: `'${input}' is not a duration: unexpected '${rest.slice(1)}' after the unit (${EXAMPLES})`,
        offset: number.length + 1,
        length: rest.length - 1,
      };
    return new Duration(Number(number) * UNIT_SECONDS[unit as DurationUnit]);
  }

  static isError(value: Duration | DurationError): value is DurationError {
    return !(value instanceof Duration);
  }

  get milliseconds(): number {
    return this.seconds * 1000;
  }

  equals(other: Duration): boolean {
    return this.seconds === other.seconds;
  }

  /** The largest unit that writes it exactly: `600` seconds is `10m`, `90` is `90s`; parse() reads it back. */
  toString(): string {
    if (this.seconds === 0) return '0s';
    for (const unit of UNITS_DESCENDING) {
      const count = this.seconds / UNIT_SECONDS[unit];
      if (Number.isInteger(count)) return `${count}${unit}`;
    }
    return `${this.seconds}s`;
  }

  toJSON(): string {
    return this.toString();
  }
}
