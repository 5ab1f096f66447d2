/**
 * DynamoDB's item size rule, so both stores refuse the same values: the sum over attributes of
 * the UTF-8 length of the name plus the size of the value. Strings count their UTF-8 bytes;
 * numbers count about one byte per two significant digits plus one (at most 21).
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import {
  DEFLATED_VALUE_ATTRIBUTE,
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

/** Size in bytes of a state item as stored: pk, sk, v, val (or z: the value deflated) and ttl. */
export function stateItemBytes(key: TableKey, version: number, value: string | StoredValue, expiresAt: number): number {
  const stored = typeof value === 'string' ? { text: value } : value;
  return (
    utf8(PARTITION_KEY) +
    utf8(key.pk) +
    utf8(SORT_KEY) +
    utf8(key.sk) +
    utf8(VERSION_ATTRIBUTE) +
    dynamoNumberBytes(version) +
    ('text' in stored
      ? utf8(VALUE_ATTRIBUTE) + utf8(stored.text)
      : utf8(DEFLATED_VALUE_ATTRIBUTE) + stored.deflated.byteLength) +
    utf8(TTL_ATTRIBUTE) +
    dynamoNumberBytes(expiresAt)
  );
}

/**
 * Values longer than this are stored deflated: a group item holds the partial matches of every
 * rule of its group, whose ids and timestamps repeat, and DynamoDB bills writes per KiB.
 */
export const COMPRESS_ABOVE_CHARS = 512;

/** A value as an item holds it: text, or deflated bytes. */
export type StoredValue = { text: string } | { deflated: Uint8Array };

export function packValue(value: string): StoredValue {
  if (value.length <= COMPRESS_ABOVE_CHARS) return { text: value };
  // Level 6 (zlib's default) costs about twice level 1's time for a tenth fewer bytes; writes are billed per KiB.
  return { deflated: deflateRawSync(Buffer.from(value, 'utf8')) };
}

export function unpackValue(stored: StoredValue): string {
  return 'text' in stored ? stored.text : inflateRawSync(stored.deflated).toString('utf8');
}

/** DynamoDB's capacity units: a write costs one per KiB of the item (rounded up). */
export function writeUnits(itemBytes: number): number {
  return Math.max(1, Math.ceil(itemBytes / 1024));
}

/** A strongly consistent read costs one per 4 KiB of each item (rounded up), an absent key one. */
export function readUnits(itemBytes: number): number {
  return Math.max(1, Math.ceil(itemBytes / 4096));
}
