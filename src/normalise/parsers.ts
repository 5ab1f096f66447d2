/**
 * Text and list fields that hold structure, turned into objects that the mapping then reads field by field
 * (`parse:` in a mapping): JSON text, `key=value` lists (Sysmon `Hashes`), Windows event XML (`<Data Name=…>`, as
 * Sentinel and syslog forwarders ship EventData), and lists of name/value elements (`{"@Name": …, "#text": …}`,
 * as XML-to-JSON converters write EventData). A value a parser cannot read is kept in x_unmapped as it is.
 */
import { isRecord, type JsonRecord } from './fields.js';
import { parseAuditFields } from './reader.js';

export type Parser = (value: unknown) => JsonRecord | undefined;

export type ParseSpec =
  | 'json'
  | 'key-value'
  | 'windows-xml'
  | 'name-value'
  | 'audit'
  | 'auto'
  | { format: 'key-value'; pairs?: string; assign?: string; trim?: boolean };

/**
 * Sets a field read from input, unless its key is empty or one that must never be created from input
 * (`__proto__`, `constructor`, `prototype`). Compared directly rather than asked of a Set: every key here is a new
 * string cut from the text, which a Set lookup had to hash first (a few percent of normalising Sentinel rows).
 */
function put(target: JsonRecord, key: string, value: unknown): void {
  const length = key.length;
  if (length === 0) return;
  if ((length === 9 || length === 11) && (key === '__proto__' || key === 'prototype' || key === 'constructor')) return;
  target[key] = value;
}

const parseJson: Parser = (value) => {
  if (typeof value !== 'string') return isRecord(value) ? value : undefined;
  const first = value.charCodeAt(0);
  if (first !== 123) return undefined; // only objects: a JSON list or scalar has no fields to map
  try {
    const parsed: unknown = JSON.parse(value);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
};

function keyValue(pairs: string, assign: string, trim: boolean): Parser {
  return (value) => {
    if (typeof value !== 'string' || value.indexOf(assign) < 0) return undefined;
    const out: JsonRecord = {};
    for (const part of value.split(pairs)) {
      const cut = part.indexOf(assign);
      if (cut <= 0) continue;
      const key = trim ? part.slice(0, cut).trim() : part.slice(0, cut);
      const item = trim ? part.slice(cut + assign.length).trim() : part.slice(cut + assign.length);
      put(out, key, item);
    }
    return Object.keys(out).length === 0 ? undefined : out;
  };
}

const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeXml(text: string): string {
  if (text.indexOf('&') < 0) return text;
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return ENTITIES[entity] ?? whole;
  });
}

const DATA_ELEMENT = /<Data\s+Name\s*=\s*["']([^"']+)["']\s*(?:\/>|>([\s\S]*?)<\/Data>)/g;
const SYSTEM_BLOCK = /<System>([\s\S]*?)<\/System>/;
const SYSTEM_ELEMENT = /<([A-Za-z]+)((?:\s+[A-Za-z]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(?:\/>|>([^<]*)<\/\1>)/g;
const ATTRIBUTE = /([A-Za-z]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const TEXT_ELEMENT = /<([A-Za-z][A-Za-z0-9_]*)>([^<]*)<\/\1>/g;

/*
 * The global expressions above are run with exec from lastIndex 0 to the end (which sets lastIndex back to 0),
 * not with matchAll: matchAll copies its expression and makes an iterator on every call, and a Windows event
 * runs one loop per System element with attributes. None of them can match an empty string, so each match moves
 * on, as matchAll's would.
 */

/**
 * Windows event XML (a whole `<Event>` or just its `<EventData>`/`<UserData>`): the named Data elements become
 * fields; the System block's elements become `System.<Element>` (text) and `System.<Element>.<Attribute>`.
 */
const parseWindowsXml: Parser = (value) => {
  if (typeof value !== 'string' || value.indexOf('<') < 0) return undefined;
  const out: JsonRecord = {};
  let found = false;
  let m: RegExpExecArray | null;
  DATA_ELEMENT.lastIndex = 0;
  while ((m = DATA_ELEMENT.exec(value)) !== null) {
    put(out, m[1] as string, decodeXml(m[2] ?? ''));
    found = true;
  }
  const system = SYSTEM_BLOCK.exec(value);
  if (system !== null) {
    const fields: JsonRecord = {};
    const block = system[1] as string;
    SYSTEM_ELEMENT.lastIndex = 0;
    while ((m = SYSTEM_ELEMENT.exec(block)) !== null) {
      const name = m[1] as string;
      const attributes = m[2] ?? '';
      if (m[3] !== undefined && m[3].trim() !== '') put(fields, name, decodeXml(m[3]));
      if (attributes.trim() !== '') {
        const attrs: JsonRecord = isRecord(fields[name]) ? (fields[name] as JsonRecord) : {};
        let a: RegExpExecArray | null;
        ATTRIBUTE.lastIndex = 0;
        while ((a = ATTRIBUTE.exec(attributes)) !== null) put(attrs, a[1] as string, decodeXml(a[2] ?? a[3] ?? ''));
        if (fields[name] === undefined) fields[name] = attrs;
      }
    }
    out.System = fields;
    found = true;
  }
  if (!found) {
    // UserData and other elements without Name attributes: <Element>text</Element> pairs.
    TEXT_ELEMENT.lastIndex = 0;
    while ((m = TEXT_ELEMENT.exec(value)) !== null) {
      put(out, m[1] as string, decodeXml(m[2] as string));
      found = true;
    }
  }
  return found ? out : undefined;
};

/** `[{"@Name": "Image", "#text": "C:\\x.exe"}, …]` (or `Name`/`#attributes.Name` and `Value`/`#text`) into a map. */
const parseNameValue: Parser = (value) => {
  const list = isRecord(value) && value.Data !== undefined ? value.Data : value;
  if (!Array.isArray(list)) return isRecord(value) ? value : undefined;
  const out: JsonRecord = {};
  for (const item of list) {
    if (!isRecord(item)) continue;
    const attributes = isRecord(item['#attributes']) ? item['#attributes'] : undefined;
    const name = item['@Name'] ?? item.Name ?? item.name ?? attributes?.Name;
    if (typeof name !== 'string') continue;
    const text = item['#text'] ?? item.Value ?? item.value;
    if (text !== undefined && text !== null) put(out, name, text);
  }
  return Object.keys(out).length === 0 ? undefined : out;
};

/** `type=… audit(…): key=value key="quoted value"` text (audit.log, AUOMS), hex-encoded values decoded. */
const parseAudit: Parser = (value) => {
  if (typeof value !== 'string' || value.indexOf('=') < 0) return undefined;
  const fields = parseAuditFields(value);
  return Object.keys(fields).length === 0 ? undefined : fields;
};

/** Whichever of JSON text, Windows event XML or audit key=value text the value is (syslog forwarders mix them). */
const parseAuto: Parser = (value) => {
  if (typeof value !== 'string') return isRecord(value) ? value : undefined;
  const first = value.trimStart().charCodeAt(0);
  if (first === 123) return parseJson(value.trimStart());
  if (first === 60) return parseWindowsXml(value);
  return parseAudit(value);
};

export function compileParser(spec: ParseSpec): Parser {
  if (spec === 'audit') return parseAudit;
  if (spec === 'auto') return parseAuto;
  if (spec === 'json') return parseJson;
  if (spec === 'windows-xml') return parseWindowsXml;
  if (spec === 'name-value') return parseNameValue;
  if (spec === 'key-value') return keyValue(',', '=', true);
  return keyValue(spec.pairs ?? ',', spec.assign ?? '=', spec.trim ?? true);
}
