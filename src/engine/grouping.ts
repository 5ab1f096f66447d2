/** Group keys: the values of a rule's group_by paths in an event, joined into one key. */
import { createHash } from 'node:crypto';
import type { ObjectPath } from '../pattern/ast.js';
import { compilePath } from '../pattern/evaluate.js';
import type { PreparedObservation } from '../pattern/observation.js';

export type GroupKeyFunction = (observation: PreparedObservation) => string;

/**
 * A group_by path with no value in an event: `null` in the key (a found value is never null),
 * so such events still correlate (and are visible) in a group of their own, apart from any
 * event whose value is the text "null" or "∅".
 */
export const MISSING_GROUP_VALUE = null;

/**
 * Values longer than this (UTF-16 code units) stand in the key as a readable prefix and their
 * SHA-256, so that a key, and every alert that carries it, stays small whatever the event holds.
 */
export const MAX_GROUP_VALUE_CHARS = 1024;

/**
 * One value in a group key. The encoding is typed, so it is injective: strings are JSON
 * strings, numbers and booleans JSON literals (1 is not "1", true is not "true"), a missing
 * value null; what JSON cannot write (a non-finite number) and long strings are objects, which
 * no found value is.
 */
function encodeGroupValue(value: string | number | boolean | undefined): unknown {
  if (value === undefined) return MISSING_GROUP_VALUE;
  if (typeof value === 'number' && !Number.isFinite(value)) return { number: String(value) };
  if (typeof value === 'string' && value.length > MAX_GROUP_VALUE_CHARS) {
    const end = value.charCodeAt(63) >= 0xd800 && value.charCodeAt(63) <= 0xdbff ? 63 : 64;
    // Hashed as JSON text, which escapes lone surrogates, so that no two strings hash the same input.
    return {
      prefix: value.slice(0, end),
      length: value.length,
      sha256: createHash('sha256').update(JSON.stringify(value)).digest('base64url'),
    };
  }
  return value;
}

export function compileGroupKey(paths: ObjectPath[]): GroupKeyFunction {
  if (paths.length === 0) return () => '';
  const readers = paths.map((path) => {
    const walk = compilePath(path.steps);
    return (observation: PreparedObservation): unknown => {
      let found: string | number | boolean | undefined;
      for (const root of observation.objectsOfType(path.objectType) ?? []) {
        walk(root.object, observation, (v) => {
          if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
            found = v;
            return true;
          }
          return false;
        });
        if (found !== undefined) break;
      }
      return encodeGroupValue(found);
    };
  });
  return (observation) => JSON.stringify(readers.map((read) => read(observation)));
}
