/**
 * DynamoDB's item size rule, so both stores refuse the same values: the sum over attributes of
 * the UTF-8 length of the name plus the size of the value. Strings count their UTF-8 bytes;
 * numbers count about one byte per two significant digits plus one (at most 21).
 */
import {
  PARTITION_KEY,
  SORT_KEY,
  TTL_ATTRIBUTE,
  VALUE_ATTRIBUTE,
  VERSION_ATTRIBUTE,
  type TableKey,
} from './table-schema.js';

export function dynamoNumberBytes(n: number): number {
  const digits = String(Math.abs(n)).replace(/e.*$/i, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.min(21, Math.ceil(Math.max(digits.length, 1) / 2) + 1);
}

function utf8(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Size in bytes of a state item as stored: pk, sk, v, val and ttl. */
export function stateItemBytes(key: TableKey, version: number, value: string, expiresAt: number): number {
  return (
    utf8(PARTITION_KEY) +
    utf8(key.pk) +
    utf8(SORT_KEY) +
    utf8(key.sk) +
    utf8(VERSION_ATTRIBUTE) +
    dynamoNumberBytes(version) +
    utf8(VALUE_ATTRIBUTE) +
    utf8(value) +
    utf8(TTL_ATTRIBUTE) +
    dynamoNumberBytes(expiresAt)
  );
}
