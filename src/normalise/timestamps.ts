import { digitsAt } from '../util/digits.js';
/**
 * Timestamp reading and writing for normalisation.
 *
 * Accepted inputs (see docs/normalisation.md for the ambiguities):
 * - ISO 8601 / RFC 3339 date-times: `YYYY-MM-DDTHH:MM:SS[.f{1,9}][Z|±HH:MM|±HHMM|±HH]`, with `T`, `t` or a single
 *   space between date and time. No zone means UTC.
 * - Epoch numbers or numeric strings, integer or with a fraction, classified by magnitude of the integer part:
 *   below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds, otherwise nanoseconds.
 *
 * Output is always the STIX form `YYYY-MM-DDTHH:MM:SS[.fff…]Z`, keeping the fraction digits the source gave
 * (up to nanoseconds). The parser is hand-written over char codes: it runs once or more per event, and a regex plus
 * `Date` round trip would dominate the cost of normalising a small event.
 */

const CHAR_0 = 48;
const CHAR_9 = 57;

/** Epoch magnitude boundaries: below each bound, the value is read in the matching unit. */
const EPOCH_SECONDS_BELOW = 1e11;
const EPOCH_MILLIS_BELOW = 1e14;
const EPOCH_MICROS_BELOW = 1e17;

/** STIX timestamps are four-digit years; Date.UTC handles the whole range. */
const MAX_EPOCH_SECONDS = 253402300799; // 9999-12-31T23:59:59Z
const MIN_EPOCH_SECONDS = -62167219200; // 0000-01-01T00:00:00Z

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function pad4(n: number): string {
  if (n >= 1000) return String(n);
  if (n >= 100) return `0${n}`;
  if (n >= 10) return `00${n}`;
  return `000${n}`;
}

/** Formats whole UTC seconds since the epoch plus already-formatted fraction digits as a STIX timestamp. */
function formatEpochSeconds(seconds: number, fractionDigits: string): string | undefined {
  if (seconds > MAX_EPOCH_SECONDS || seconds < MIN_EPOCH_SECONDS) return undefined;
  const date = new Date(seconds * 1000);
  const text =
    `${pad4(date.getUTCFullYear())}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}` +
    `T${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}`;
  return fractionDigits.length > 0 ? `${text}.${fractionDigits}Z` : `${text}Z`;
}

/**
 * Reads an ISO 8601 date-time. Returns the STIX form, or undefined when the text is not a complete, valid
 * date-time (date-only values, hour 24, leap second 60 and out-of-range fields are refused).
 */
function parseIsoTimestamp(text: string): string | undefined {
  const length = text.length;
  if (length < 19 || length > 40) return undefined;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59) {
    return undefined;
  }
  if (second < 0 || second > 59 || day > daysInMonth(year, month)) return undefined;
  const sep = text.charCodeAt(10);
  if (
    text.charCodeAt(4) !== 45 /* - */ ||
    text.charCodeAt(7) !== 45 ||
    (sep !== 84 /* T */ && sep !== 116 /* t */ && sep !== 32) /* space */ ||
    text.charCodeAt(13) !== 58 /* : */ ||
    text.charCodeAt(16) !== 58
  ) {
    return undefined;
  }

  let pos = 19;
  let fractionStart = -1;
  let fractionEnd = -1;
  if (pos < length && (text.charCodeAt(pos) === 46 /* . */ || text.charCodeAt(pos) === 44) /* , */) {
    fractionStart = pos + 1;
    pos = fractionStart;
    while (pos < length) {
      const c = text.charCodeAt(pos);
      if (c < CHAR_0 || c > CHAR_9) break;
      pos++;
    }
    fractionEnd = pos;
    const fractionLength = fractionEnd - fractionStart;
    if (fractionLength < 1 || fractionLength > 9) return undefined;
  }

  let offsetMinutes = 0;
  if (pos < length) {
    const zone = text.charCodeAt(pos);
    if (zone === 90 /* Z */ || zone === 122 /* z */) {
      if (pos + 1 !== length) return undefined;
    } else if (zone === 43 /* + */ || zone === 45 /* - */) {
      const rest = length - pos - 1;
      const offsetHours = digitsAt(text, pos + 1, 2);
      let offsetMins = 0;
      if (rest === 2) {
        offsetMins = 0;
      } else if (rest === 4) {
        offsetMins = digitsAt(text, pos + 3, 2);
      } else if (rest === 5 && text.charCodeAt(pos + 3) === 58) {
        offsetMins = digitsAt(text, pos + 4, 2);
      } else {
        return undefined;
      }
      if (offsetHours < 0 || offsetHours > 23 || offsetMins < 0 || offsetMins > 59) return undefined;
      offsetMinutes = (offsetHours * 60 + offsetMins) * (zone === 45 ? -1 : 1);
    } else {
      return undefined;
    }
  }

  const fraction = fractionStart < 0 ? '' : text.slice(fractionStart, fractionEnd);
  if (offsetMinutes === 0) {
    // Fast path, the common case: the text already holds the UTC fields, so rebuild without Date arithmetic.
    const base = sep === 84 ? text.slice(0, 19) : `${text.slice(0, 10)}T${text.slice(11, 19)}`;
    return fraction.length > 0 ? `${base}.${fraction}Z` : `${base}Z`;
  }
  return formatEpochSeconds(utcSeconds(year, month, day, hour, minute, second, offsetMinutes), fraction);
}

/** Epoch seconds for a calendar date-time in any four-digit year (Date.UTC would map years 0–99 to 1900–1999). */
function utcSeconds(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  offsetMinutes: number,
): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime() / 1000 - offsetMinutes * 60;
}

/**
 * Reads an epoch value written in decimal (`1508174148`, `1508174148030`, `1508174148.030123`, `-5`).
 * The unit is chosen by the magnitude of the integer part; the fraction digits are kept exactly.
 */
function parseEpochText(text: string): string | undefined {
  const length = text.length;
  if (length === 0 || length > 40) return undefined;
  let pos = 0;
  let negative = false;
  if (text.charCodeAt(0) === 45) {
    negative = true;
    pos = 1;
  }
  const intStart = pos;
  while (pos < length) {
    const c = text.charCodeAt(pos);
    if (c < CHAR_0 || c > CHAR_9) break;
    pos++;
  }
  const intEnd = pos;
  if (intEnd === intStart || intEnd - intStart > 20) return undefined;
  let fraction = '';
  if (pos < length) {
    if (text.charCodeAt(pos) !== 46) return undefined;
    const fracStart = pos + 1;
    pos = fracStart;
    while (pos < length) {
      const c = text.charCodeAt(pos);
      if (c < CHAR_0 || c > CHAR_9) return undefined;
      pos++;
    }
    if (pos === fracStart) return undefined;
    fraction = text.slice(fracStart, pos);
  }
  const intDigits = text.slice(intStart, intEnd);
  const magnitude = Number(intDigits);
  // Split the integer into whole seconds and the sub-second digits it carries in its unit.
  let unitDigits: number;
  if (magnitude < EPOCH_SECONDS_BELOW) unitDigits = 0;
  else if (magnitude < EPOCH_MILLIS_BELOW) unitDigits = 3;
  else if (magnitude < EPOCH_MICROS_BELOW) unitDigits = 6;
  else unitDigits = 9;
  const padded = intDigits.length <= unitDigits ? intDigits.padStart(unitDigits + 1, '0') : intDigits;
  const secondsDigits = padded.slice(0, padded.length - unitDigits);
  let subSecond = padded.slice(padded.length - unitDigits) + fraction;
  if (subSecond.length > 9) subSecond = subSecond.slice(0, 9);
  let seconds = Number(secondsDigits);
  if (negative) {
    // -1.25 s is 1.25 s before the epoch: whole second -2 plus 0.75.
    if (/[1-9]/.test(subSecond)) {
      seconds = -seconds - 1;
      subSecond = complementFraction(subSecond);
    } else {
      seconds = -seconds;
    }
  }
  return formatEpochSeconds(seconds, subSecond);
}

/** 1 - 0.d1d2…dn, written with the same number of digits. */
function complementFraction(digits: string): string {
  const scale = 10 ** digits.length;
  return String(scale - Number(digits)).padStart(digits.length, '0');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** C `asctime` / `ctime` text (osquery's `calendarTime`): `Tue Sep 30 17:37:30 2014`, maybe ` UTC` after it. */
const ASCTIME =
  /^(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})(?: UTC)?$/;

/** An asctime text as a STIX timestamp; without a zone it is read as UTC, as zone-less ISO 8601 text is. */
function parseAsctime(text: string): string | undefined {
  const m = ASCTIME.exec(text);
  if (m === null) return undefined;
  const [, month, day, hour, minute, second] = m as unknown as [string, string, string, string, string, string];
  const dd = day.padStart(2, '0');
  return parseIsoTimestamp(`${m[6]}-${pad2(MONTHS.indexOf(month) + 1)}-${dd}T${hour}:${minute}:${second}Z`);
}

/**
 * The last values read and what they gave. One event reads the same time value more than once: a `start` field
 * mapped with to-timestamp (network-traffic:start) is also the event's time candidate, read again when the
 * time is chosen. Reading is a pure function of the value, so a repeated value takes the earlier answer.
 */
const RECENT = 4;
const recentValues: unknown[] = new Array<unknown>(RECENT).fill(undefined);
const recentTimes: (string | undefined)[] = new Array<string | undefined>(RECENT).fill(undefined);
let recentNext = 0;

/**
 * Reads any supported timestamp form (string or number). Returns the STIX timestamp, or undefined when the value
 * is not a usable time.
 */
export function parseTimestamp(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  for (let i = 0; i < RECENT; i++) if (recentValues[i] === value) return recentTimes[i];
  const time = readTimestamp(value);
  const t = typeof value;
  // Only values compared by content: an object read here (never a time) must not be kept alive.
  if (t === 'string' || t === 'number') {
    recentValues[recentNext] = value;
    recentTimes[recentNext] = time;
    recentNext = (recentNext + 1) % RECENT;
  }
  return time;
}

function readTimestamp(value: unknown): string | undefined {
  if (typeof value === 'string') {
    const length = value.length;
    if (length >= 19 && value.charCodeAt(4) === 45) return parseIsoTimestamp(value);
    const c = value.charCodeAt(0);
    // A capital letter first: the day name of asctime text; epoch text starts with a digit or a sign.
    if (c >= 65 && c <= 90) return parseAsctime(value);
    return parseEpochText(value.trim());
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    // String(n) gives the shortest decimal that reads back as n; avoid exponent notation for large integers.
    const text = Math.abs(value) >= 1e21 ? undefined : Number.isInteger(value) ? value.toFixed(0) : String(value);
    if (text === undefined || text.includes('e')) return undefined;
    return parseEpochText(text);
  }
  return undefined;
}

/**
 * Is this exactly a STIX timestamp (`YYYY-MM-DDTHH:MM:SS[.s+]Z`, valid calendar fields)? Used to validate
 * pass-through STIX, which must already be in the STIX form.
 */
export function isStixTimestamp(value: unknown): value is string {
  if (typeof value !== 'string' || value.length < 20 || value.charCodeAt(value.length - 1) !== 90) return false;
  if (value.charCodeAt(10) !== 84) return false;
  if (value.length > 20) {
    if (value.charCodeAt(19) !== 46 || value.length === 21) return false;
    for (let i = 20; i < value.length - 1; i++) {
      const c = value.charCodeAt(i);
      if (c < CHAR_0 || c > CHAR_9) return false;
    }
  }
  const head = value.slice(0, 19);
  // The STIX form allows any number of fraction digits; only the calendar fields need checking.
  return parseIsoTimestamp(`${head}Z`) === `${head}Z`;
}

/**
 * Orders two STIX timestamps in time. Plain string comparison is wrong when fractions differ in length
 * (`…48Z` sorts after `…48.5Z`).
 */
export function compareStixTimestamps(a: string, b: string): number {
  const headA = a.slice(0, 19);
  const headB = b.slice(0, 19);
  if (headA !== headB) return headA < headB ? -1 : 1;
  const fracA = a.length > 20 ? a.slice(20, -1) : '';
  const fracB = b.length > 20 ? b.slice(20, -1) : '';
  const width = Math.max(fracA.length, fracB.length);
  const padA = fracA.padEnd(width, '0');
  const padB = fracB.padEnd(width, '0');
  return padA === padB ? 0 : padA < padB ? -1 : 1;
}
