/**
 * The observables of an alert: the values of its STIX Cyber-observable Objects (`objects`, the completing
 * event's objects that satisfied the pattern) under the data types case tools use. The names are TheHive's
 * default observable types (ip, domain, fqdn, hostname, url, hash, filename, mail, mail-subject, user-agent,
 * registry, autonomous-system, uri_path, other); Security Hub's Resources and the OpenSearch document use the
 * same list.
 */
import type { AlertDocument } from './types.js';

export type ObservableType =
  | 'ip'
  | 'domain'
  | 'fqdn'
  | 'hostname'
  | 'url'
  | 'uri_path'
  | 'hash'
  | 'filename'
  | 'mail'
  | 'mail-subject'
  | 'user-agent'
  | 'registry'
  | 'autonomous-system'
  | 'other';

export interface Observable {
  dataType: ObservableType;
  data: string;
  /** The STIX object and property it came from, e.g. `ipv4-addr:value`. */
  source: string;
}

type StixObject = Record<string, unknown>;

const text = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== ''
    ? value.trim()
    : typeof value === 'number' && Number.isFinite(value)
      ? String(value)
      : undefined;

/** A host name with a dot is a fully qualified domain name; one without is a bare host name. */
const hostType = (name: string): ObservableType => (name.includes('.') ? 'fqdn' : 'hostname');

/** The User-Agent of an HTTP request extension (header names are case-insensitive). */
function userAgentOf(object: StixObject): string | undefined {
  const extensions = object.extensions as Record<string, unknown> | undefined;
  const http = extensions?.['http-request-ext'] as { request_header?: Record<string, unknown> } | undefined;
  for (const [name, value] of Object.entries(http?.request_header ?? {}))
    if (name.toLowerCase() === 'user-agent') return text(value);
  return text(object.x_user_agent);
}

function observablesOfObject(object: StixObject): Observable[] {
  const type = String(object.type);
  const found: Observable[] = [];
  const add = (dataType: ObservableType, property: string, value: unknown) => {
    const data = text(value);
    if (data !== undefined) found.push({ dataType, data, source: `${type}:${property}` });
  };
  switch (type) {
    case 'ipv4-addr':
    case 'ipv6-addr':
      add('ip', 'value', object.value);
      break;
    case 'domain-name':
      add('domain', 'value', object.value);
      break;
    case 'url':
      add('url', 'value', object.value);
      break;
    case 'email-addr':
      add('mail', 'value', object.value);
      break;
    case 'email-message':
      add('mail-subject', 'subject', object.subject);
      break;
    case 'file':
      add('filename', 'name', object.name);
      for (const [algorithm, value] of Object.entries((object.hashes as Record<string, unknown>) ?? {}))
        add('hash', `hashes.${algorithm}`, value);
      break;
    case 'artifact':
      for (const [algorithm, value] of Object.entries((object.hashes as Record<string, unknown>) ?? {}))
        add('hash', `hashes.${algorithm}`, value);
      add('url', 'url', object.url);
      break;
    case 'autonomous-system':
      add('autonomous-system', 'number', object.number);
      break;
    case 'windows-registry-key':
      add('registry', 'key', object.key);
      break;
    case 'network-traffic': {
      add('user-agent', 'x_user_agent', userAgentOf(object));
      const extensions = object.extensions as Record<string, unknown> | undefined;
      const http = extensions?.['http-request-ext'] as { request_value?: unknown } | undefined;
      add('uri_path', 'extensions.http-request-ext.request_value', http?.request_value);
      break;
    }
    case 'user-account':
      add('other', 'account_login', object.account_login ?? object.user_id);
      break;
    case 'x-oca-asset': {
      const hostname = text(object.hostname);
      if (hostname !== undefined) add(hostType(hostname), 'hostname', hostname);
      break;
    }
    default:
      break;
  }
  return found;
}

/**
 * The observables of an alert's objects, each (type, value) once, in the objects' order. Values cut by the alert's
 * bounds (`…[truncated by stixflow`) are left out: a cut value would match nothing in a case tool.
 */
export function alertObservables(alert: Pick<AlertDocument, 'objects'>): Observable[] {
  const objects: StixObject[] = Array.isArray(alert.objects) ? alert.objects : [];
  const seen = new Set<string>();
  const result: Observable[] = [];
  for (const object of objects) {
    if (typeof object !== 'object' || object === null) continue;
    for (const o of observablesOfObject(object)) {
      const key = `${o.dataType}\u0000${o.data}`;
      if (seen.has(key) || o.data.includes('[truncated by stixflow')) continue;
      seen.add(key);
      result.push(o);
    }
  }
  return result;
}
