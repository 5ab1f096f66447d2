/** Decoding and checking of pattern literals and of the data values they are compared with. */
import { digitsAt } from '../util/digits.js';

/** STIX timestamp: `YYYY-MM-DDTHH:MM:SS[.s+]Z`, upper-case `T` and `Z`, fields range-checked. */
const STIX_TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z$/;

/**
 * Parses a STIX timestamp to microseconds since the epoch, or returns undefined when the text is
 * not one. Precision beyond microseconds is truncated (the reference keeps microseconds too).
 * Day-of-month is range-checked (01–31) but not against the month, as the STIX grammar does.
 */
export function parseStixTimestamp(text: string): number | undefined {
  // Hot path (two per event): the usual shape is read digit by digit, without a regex match
  // object; anything unusual falls through to the full check below.
  const fast = parseCommonTimestamp(text);
  if (fast !== undefined) return fast;
  const m = STIX_TIMESTAMP.exec(text);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const fraction = m[7] ?? '';
  const micros = fraction ? Number((fraction + '000000').slice(0, 6)) : 0;
  // Date.UTC rolls an impossible day (Feb 30) over into the next month, which is what a
  // lenient reader does; leap second 60 rolls into the next minute.
  // Date.UTC reads years 0–99 as 1900–1999; shift by 400 years (exactly 146097 days, a whole
  // Gregorian cycle) and back, so that four-digit years below 100 keep their value.
  const millis =
    year < 100
      ? Date.UTC(year + 400, month - 1, day, hour, minute, second) - 146_097 * 86_400_000
      : Date.UTC(year, month - 1, day, hour, minute, second);
  return millis * 1000 + micros;
}

/** YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z with year ≥ 1970 and valid fields; undefined for anything else. */
function parseCommonTimestamp(text: string): number | undefined {
  const n = text.length;
  if (n < 20 || n > 30 || text.charCodeAt(n - 1) !== 90 /* Z */) return undefined;
  if (text[4] !== '-' || text[7] !== '-' || text[10] !== 'T' || text[13] !== ':' || text[16] !== ':') return undefined;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  const hour = digitsAt(text, 11, 2);
  const minute = digitsAt(text, 14, 2);
  const second = digitsAt(text, 17, 2);
  if (
    year < 1970 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > 31 ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    second < 0 ||
    second > 60
  )
    return undefined;
  let micros = 0;
  if (n > 20) {
    if (text[19] !== '.' || n === 21) return undefined;
    const fractionDigits = n - 21;
    const fraction = digitsAt(text, 20, fractionDigits);
    if (fraction < 0) return undefined;
    micros =
      fractionDigits <= 6 ? fraction * 10 ** (6 - fractionDigits) : Math.floor(fraction / 10 ** (fractionDigits - 6));
  } else if (n !== 20) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second) * 1000 + micros;
}

/** Formats microseconds since the epoch as a STIX timestamp (fraction only when non-zero). */
export function formatStixTimestamp(micros: number): string {
  // The same instant is formatted several times in a row (an alert's first and last observed
  // of a one-event match, the events of one batch): the last answer is kept.
  if (micros === lastFormatted.micros) return lastFormatted.text;
  const seconds = Math.floor(micros / 1_000_000);
  let fraction = micros - seconds * 1_000_000; // 0 … 999,999 microseconds
  let text = civilSecond(seconds);
  if (fraction > 0) {
    let digits = 6;
    while (fraction % 10 === 0) {
      fraction /= 10;
      digits--;
    }
    text += '.' + String(fraction).padStart(digits, '0');
  }
  text += 'Z';
  lastFormatted.micros = micros;
  lastFormatted.text = text;
  return text;
}

const lastFormatted = { micros: NaN, text: '' };

const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'));

/**
 * `YYYY-MM-DDTHH:MM:SS` of a second since the epoch, by the days-to-civil-date arithmetic of
 * the proleptic Gregorian calendar (H. Hinnant's `civil_from_days`): a Date and its ISO text
 * cost more than the rest of an alert's timestamps. Years outside 0000–9999 go through Date.
 */
function civilSecond(seconds: number): string {
  const days = Math.floor(seconds / 86400);
  const inDay = seconds - days * 86400;
  const z = days + 719468; // days since 0000-03-01
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) return new Date(seconds * 1000).toISOString().slice(0, -5);
  const hour = Math.floor(inDay / 3600);
  const minute = Math.floor((inDay - hour * 3600) / 60);
  const second = inDay - hour * 3600 - minute * 60;
  const t = TWO_DIGITS;
  return `${t[Math.floor(year / 100)]}${t[year % 100]}-${t[month]}-${t[day]}T${t[hour]}:${t[minute]}:${t[second]}`;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes strict base64 (padding required), or undefined when malformed. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** Decodes hex pairs, or undefined when malformed. */
export function decodeHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

export function encodeHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/**
 * A string as bytes for comparison with binary data: every code point must be below 256
 * (STIX 2.1, 9.4: otherwise the comparison is false). Returns undefined when it is not.
 */
export function latin1Bytes(text: string): Uint8Array | undefined {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 255) return undefined;
    out[i] = c;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function bytesCompare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Bytes as a latin-1 string, so that a linear-time string regex engine can search binary data. */
export function bytesToLatin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}
