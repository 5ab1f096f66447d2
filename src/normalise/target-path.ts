/**
 * Parser for mapping target paths: `<sco-type>[#label]:<property>(.<property>)*`, where a property is a name or a
 * single-quoted key (`hashes.'SHA-256'`) and may end in `[*]` (append to a list) or `[n]` (list slot n).
 * This is the STIX object path syntax of patterns, plus `#label` to tell apart two objects of the same type in one
 * event (for example `domain-name#url:value` beside `domain-name:value`).
 */
import { StixflowBaseError } from '../errors.js';

export interface PathSegment {
  name: string;
  /** Undefined: plain property; '*': append to a list; number: that slot of a list. */
  index?: '*' | number;
}

export interface TargetPath {
  /** The SCO type of the root object. */
  rootType: string;
  /** `type` or `type#label`: names the root object instance. */
  rootKey: string;
  /** `type[*]:` — one root object per element of the source list being mapped. */
  perElement: boolean;
  segments: PathSegment[];
}

export class TargetPathError extends StixflowBaseError {}

const TYPE_PATTERN = /^[a-z0-9][a-z0-9-]*$/;
const LABEL_PATTERN = /^[a-z0-9_-]+$/;
const NAME_CHAR = /[A-Za-z0-9_-]/;

export function parseTargetPath(text: string): TargetPath {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new TargetPathError(`target "${text}" must look like "<sco-type>:<property>"`);
  const perElement = text.slice(0, colon).endsWith('[*]');
  const root = perElement ? text.slice(0, colon - 3) : text.slice(0, colon);
  const hashAt = root.indexOf('#');
  const rootType = hashAt < 0 ? root : root.slice(0, hashAt);
  if (!TYPE_PATTERN.test(rootType)) throw new TargetPathError(`"${rootType}" is not a valid SCO type name`);
  if (hashAt >= 0 && !LABEL_PATTERN.test(root.slice(hashAt + 1))) {
    throw new TargetPathError(`"${root.slice(hashAt + 1)}" is not a valid object label (use a-z, 0-9, _ and -)`);
  }
  const segments: PathSegment[] = [];
  let pos = colon + 1;
  const end = text.length;
  for (;;) {
    let name = '';
    if (text[pos] === "'") {
      const close = text.indexOf("'", pos + 1);
      if (close < 0) throw new TargetPathError(`unterminated quoted property in "${text}"`);
      name = text.slice(pos + 1, close);
      if (name.length === 0) throw new TargetPathError(`empty quoted property in "${text}"`);
      pos = close + 1;
    } else {
      const start = pos;
      while (pos < end && NAME_CHAR.test(text[pos] as string)) pos++;
      name = text.slice(start, pos);
      if (name.length === 0) throw new TargetPathError(`expected a property name at column ${pos + 1} of "${text}"`);
    }
    const segment: PathSegment = { name };
    if (text[pos] === '[') {
      const close = text.indexOf(']', pos);
      if (close < 0) throw new TargetPathError(`unterminated [ in "${text}"`);
      const inner = text.slice(pos + 1, close);
      if (inner === '*') segment.index = '*';
      else if (/^(0|[1-9][0-9]{0,3})$/.test(inner)) segment.index = Number(inner);
      else throw new TargetPathError(`list index must be * or a number, not "${inner}" in "${text}"`);
      pos = close + 1;
    }
    segments.push(segment);
    if (pos === end) break;
    if (text[pos] !== '.') throw new TargetPathError(`unexpected "${text[pos]}" at column ${pos + 1} of "${text}"`);
    pos++;
  }
  return { rootType, rootKey: perElement ? `${root}[*]` : root, perElement, segments };
}
