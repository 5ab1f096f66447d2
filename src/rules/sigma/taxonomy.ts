/**
 * The built-in Sigma taxonomy (the contract is taxonomy-types.ts; the table is taxonomy-table.ts and
 * docs/sigma-taxonomy.md): where a Sigma field of a logsource is in an event the built-in mappings normalised,
 * and which events the logsource selects.
 *
 * Windows has its own table (Sigma's names are the EventData names; the paths hold the values as written) and a
 * raw-field fallback: any other field is read where the windows mapping keeps the EventData fields it does not
 * map, `x-oca-event:x_event_data.'<Name>'`. For the other products Sigma's field names are the source's own,
 * so their tables are read off the built-in mappings: each source field the mapping writes unchanged (or only
 * retyped) to an object the anchor references, at that object's path.
 */
import { parse as parseYaml } from 'yaml';
import { builtInMappingTexts } from '../../normalise/index.js';
import {
  WINDOWS_CATEGORIES,
  WINDOWS_FIELDS,
  WINDOWS_FIELDS_BY_CATEGORY,
  WINDOWS_FIELDS_BY_SERVICE,
  WINDOWS_SERVICE_CHANNELS,
  windowsRawPath,
  type FieldEntry,
} from './taxonomy-table.js';
import type { FieldBinding, FieldValueType, SigmaLogsource, SigmaTaxonomy } from './taxonomy-types.js';

/** A STIX string literal (quotes and backslashes escaped). */
function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

function inList(path: string, values: readonly string[]): string {
  return values.length === 1
    ? `${path} = ${literal(values[0] as string)}`
    : `${path} IN (${values.map(literal).join(', ')})`;
}

function orOf(parts: string[]): string {
  return parts.length === 1 ? (parts[0] as string) : parts.map((p) => `(${p})`).join(' OR ');
}

function andOf(parts: string[]): string {
  return parts.map((p) => (p.includes(' OR ') ? `(${p})` : p)).join(' AND ');
}

function binding(entry: FieldEntry, mapped: boolean): FieldBinding {
  if (typeof entry === 'string') return { paths: [entry], type: 'string', mapped };
  return { paths: entry.paths, type: entry.type ?? 'string', mapped };
}

/** Looks a field up by its exact name, then regardless of case (Sigma rules are not always spelled alike). */
function lookup<T>(table: Readonly<Record<string, T>>, name: string): T | undefined {
  if (Object.hasOwn(table, name)) return table[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(table)) if (key.toLowerCase() === lower) return table[key];
  return undefined;
}

// ---- Windows ----

function windowsField(logsource: SigmaLogsource, name: string): FieldBinding | undefined {
  const { category, service } = logsource;
  const tables: Readonly<Record<string, FieldEntry>>[] = [];
  if (category !== undefined && WINDOWS_FIELDS_BY_CATEGORY[category] !== undefined)
    tables.push(WINDOWS_FIELDS_BY_CATEGORY[category]);
  if (service !== undefined && WINDOWS_FIELDS_BY_SERVICE[service] !== undefined)
    tables.push(WINDOWS_FIELDS_BY_SERVICE[service]);
  tables.push(WINDOWS_FIELDS);
  for (const table of tables) {
    const entry = lookup(table, name);
    if (entry !== undefined) return binding(entry, true);
  }
  // The raw-field fallback: the EventData field as written. A name no dictionary key could be is no field.
  if (name.length === 0 || /['\\]/.test(name)) return undefined;
  return { paths: [windowsRawPath(name)], type: 'string', mapped: false };
}

function windowsCondition(logsource: SigmaLogsource): string | undefined {
  const parts: string[] = [];
  if (logsource.category !== undefined) {
    const selections = WINDOWS_CATEGORIES[logsource.category];
    if (selections === undefined) return undefined;
    parts.push(
      orOf(
        selections.map((selection) => {
          const terms = [
            `x-oca-event:x_channel = ${literal(selection.channel)}`,
            inList(
              'x-oca-event:code',
              selection.codes.map((code) => String(code)),
            ),
          ];
          for (const [property, values] of Object.entries(selection.where ?? {}))
            terms.push(inList(`x-oca-event:${property}`, values));
          return terms.join(' AND ');
        }),
      ),
    );
  }
  if (logsource.service !== undefined) {
    const channels = WINDOWS_SERVICE_CHANNELS[logsource.service];
    if (channels === undefined) return undefined;
    parts.push(inList('x-oca-event:x_channel', channels));
  }
  if (parts.length === 0) parts.push("x-oca-event:module = 'windows'");
  return andOf(parts);
}

function windowsSupports(logsource: SigmaLogsource): boolean {
  const { category, service } = logsource;
  if (category !== undefined && WINDOWS_CATEGORIES[category] === undefined) return false;
  if (service !== undefined && WINDOWS_SERVICE_CHANNELS[service] === undefined) return false;
  return true;
}

// ---- Products whose fields are their source's own: tables read off the built-in mappings ----

type FieldTable = Readonly<Record<string, FieldEntry>>;

interface MappingRule {
  target: string;
  transform?: unknown;
}

/** Transforms that keep the value as the source wrote it (or retype it, which the compiler matches). */
const KEEPING: Readonly<Record<string, FieldValueType | 'same'>> = {
  'to-string': 'string',
  'to-int': 'integer',
  'to-port': 'integer',
  'to-bool': 'boolean',
  'ip-to-sco-type': 'same',
  // Comparisons are case-insensitive, so a case change loses nothing a rule can see.
  lowercase: 'same',
  uppercase: 'same',
};

/** The value's type after the rule's transforms, or undefined when a transform changes what it says. */
function keptType(transform: unknown): FieldValueType | undefined {
  const list = transform === undefined ? [] : Array.isArray(transform) ? transform : [transform];
  let type: FieldValueType = 'string';
  for (const step of list) {
    const effect = typeof step === 'string' ? KEEPING[step] : undefined;
    if (effect === undefined) return undefined;
    if (effect !== 'same') type = effect;
  }
  return type;
}

/** `user-account#target:x_arn` → `x-oca-event:x_target_user_ref.x_arn`, through the mapping's anchor. */
function anchoredPath(target: string, anchorByObject: ReadonlyMap<string, string>): string | undefined {
  const colon = target.indexOf(':');
  const root = target.slice(0, colon);
  const rest = target.slice(colon + 1);
  if (root === 'x-oca-event') return target;
  const reference = anchorByObject.get(root);
  return reference === undefined ? undefined : `x-oca-event:${reference}.${rest}`;
}

const derivedTables = new Map<string, FieldTable>();

/** The Sigma field table of a built-in mapping: its source fields, at the anchored paths they are written to. */
export function mappingFieldTable(mappingName: string): FieldTable {
  const known = derivedTables.get(mappingName);
  if (known !== undefined) return known;
  const text = builtInMappingTexts()[`${mappingName}.yaml`];
  if (text === undefined) throw new Error(`sigma taxonomy: no built-in mapping ${mappingName}`);
  const definition = parseYaml(text) as {
    anchor?: Record<string, string>;
    fields?: Record<string, string | MappingRule | (string | MappingRule)[]>;
  };
  const anchorByObject = new Map<string, string>();
  for (const [reference, objectKey] of Object.entries(definition.anchor ?? {})) {
    if (!objectKey.includes(':')) anchorByObject.set(objectKey, reference);
  }
  const table: Record<string, FieldEntry> = {};
  for (const [field, rules] of Object.entries(definition.fields ?? {})) {
    const paths: string[] = [];
    let fieldType: FieldValueType | undefined;
    for (const rule of Array.isArray(rules) ? rules : [rules]) {
      const { target, transform } = typeof rule === 'string' ? { target: rule, transform: undefined } : rule;
      const type = keptType(transform);
      if (type === undefined || (fieldType !== undefined && type !== fieldType)) continue;
      let path = anchoredPath(target, anchorByObject);
      if (path === undefined) continue;
      // auditd's EXECVE.aN arguments are appended in order: argument N is element N.
      const argument = /^EXECVE\.a(\d+)$/.exec(field);
      if (argument !== null && path.endsWith('[*]')) path = `${path.slice(0, -3)}[${argument[1]}]`;
      fieldType = type;
      if (!paths.includes(path)) paths.push(path);
    }
    if (fieldType === undefined || paths.length === 0) continue;
    table[field] = { paths, type: fieldType };
    if (field.startsWith('EXECVE.')) table[field.slice('EXECVE.'.length)] = table[field] as FieldEntry;
  }
  derivedTables.set(mappingName, table);
  return table;
}

/** Sysmon for Linux names (Sigma's linux process_creation, network_connection, file_event). */
const LINUX_SYSMON_FIELDS: FieldTable = {
  // Sysmon for Linux writes the image path on the image file; auditd its exe on the process.
  Image: { paths: ['x-oca-event:process_ref.image_ref.x_path', 'x-oca-event:process_ref.x_exe'] },
  CommandLine: 'x-oca-event:process_ref.command_line',
  CurrentDirectory: 'x-oca-event:process_ref.cwd',
  ProcessId: { paths: ['x-oca-event:process_ref.pid'], type: 'integer' },
  ProcessGuid: 'x-oca-event:process_ref.x_entity_id',
  LogonId: 'x-oca-event:process_ref.x_logon_id',
  User: 'x-oca-event:user_ref.account_login',
  ParentImage: 'x-oca-event:parent_process_ref.image_ref.x_path',
  ParentCommandLine: 'x-oca-event:parent_process_ref.command_line',
  ParentProcessId: { paths: ['x-oca-event:parent_process_ref.pid'], type: 'integer' },
  ParentProcessGuid: 'x-oca-event:parent_process_ref.x_entity_id',
  ParentUser: 'x-oca-event:parent_process_ref.x_user',
  TargetFilename: 'x-oca-event:file_ref.x_path',
};

/** A non-Windows logsource: the mappings whose fields it reads, and what it selects. */
interface ProductSource {
  mappings: readonly string[];
  condition: string;
  /** Fields named otherwise than by a mapping's source fields, looked up first. */
  fields?: FieldTable;
  /** Whether a field not found is also looked up below `properties` (Azure's Log Analytics column names). */
  propertiesColumns?: boolean;
  /**
   * Sigma names that stand for source fields of another name (SigmaHQ's rules and pySigma's backends use them):
   * the field reads every path of the source fields it names, through the mappings.
   */
  aliases?: Readonly<Record<string, readonly string[]>>;
  /**
   * Nested source fields below these prefixes that no mapping names are read where the mapping's `raw_fields`
   * (with `full_names`) copies them, by their whole path: `requestParameters.attribute` in a CloudTrail record.
   * A name that is only an object (`requestParameters`) stays unknown: it is not copied as a whole.
   */
  rawPrefixes?: readonly string[];
}

/** CloudTrail's nested request and response documents (mappings/aws-cloudtrail.yaml raw_fields). */
const CLOUDTRAIL_RAW_PREFIXES = [
  'requestParameters.',
  'responseElements.',
  'additionalEventData.',
  'serviceEventDetails.',
];

/** auditd events are grouped from their records: `type` is any record's type, as the records list says. */
const AUDITD_FIELDS: FieldTable = {
  type: { paths: ['x-oca-event:x_record_types[*]', 'x-oca-event:action'] },
};

/**
 * Names SigmaHQ's Azure rules use for the Entra ID records' fields: `properties.message` is the activity (pySigma's
 * Azure pipelines read it as the activity display name), `Status` the Log Analytics column holding the result and,
 * for sign-ins, the failure reason and details (`MFA denied; …`).
 */
const ENTRA_SIGN_IN_ALIASES: Readonly<Record<string, readonly string[]>> = {
  'properties.message': ['properties.activityDisplayName', 'operationName'],
  Status: ['properties.result', 'properties.status.failureReason', 'properties.status.additionalDetails'],
};
const ENTRA_AUDIT_ALIASES: Readonly<Record<string, readonly string[]>> = {
  'properties.message': ['properties.activityDisplayName', 'operationName'],
  Status: ['properties.result'],
};

/**
 * The W3C extended log names Sigma's web and proxy rules use (`c-uri`, `c-useragent`, `cs-method`, …), as Sigma's
 * Zeek configuration reads them on Zeek's http log.
 */
const ZEEK_HTTP_ALIASES: Readonly<Record<string, readonly string[]>> = {
  'c-uri': ['uri'],
  'c-uri-query': ['uri'],
  'c-useragent': ['user_agent'],
  'cs-method': ['method'],
  'cs-referrer': ['referrer'],
  'cs-version': ['version'],
  'sc-status': ['status_code'],
  'cs-host': ['host'],
  'r-dns': ['host'],
};

const ZEEK_LOGS = [
  'conn',
  'dns',
  'http',
  'ssl',
  'files',
  'x509',
  'notice',
  'weird',
  'smb_files',
  'smb_mapping',
  'dce_rpc',
  'kerberos',
  'ntlm',
  'rdp',
  'ssh',
  'smtp',
  'ftp',
  'dhcp',
  'software',
  'tunnel',
];

const ENTRA_SIGN_IN_CATEGORIES = [
  'SignInLogs',
  'NonInteractiveUserSignInLogs',
  'ServicePrincipalSignInLogs',
  'ManagedIdentitySignInLogs',
];

function productSource(logsource: SigmaLogsource): ProductSource | undefined {
  const { product, category, service } = logsource;
  switch (product) {
    case 'aws':
      return service === 'cloudtrail' && category === undefined
        ? {
            mappings: ['aws-cloudtrail'],
            condition: "x-oca-event:module = 'cloudtrail'",
            rawPrefixes: CLOUDTRAIL_RAW_PREFIXES,
          }
        : undefined;
    case 'okta':
      return (service === undefined || service === 'okta') && category === undefined
        ? { mappings: ['okta'], condition: "x-oca-event:module = 'okta'", rawPrefixes: ['debugContext.debugData.'] }
        : undefined;
    case 'azure':
      if (category !== undefined) return undefined;
      if (service === 'signinlogs')
        return {
          mappings: ['entra-id'],
          condition: `x-oca-event:module = 'entra-id' AND ${inList('x-oca-event:category[*]', ENTRA_SIGN_IN_CATEGORIES)}`,
          propertiesColumns: true,
          aliases: ENTRA_SIGN_IN_ALIASES,
        };
      if (service === 'auditlogs')
        return {
          mappings: ['entra-id'],
          condition: "x-oca-event:module = 'entra-id' AND x-oca-event:category[*] = 'AuditLogs'",
          propertiesColumns: true,
          aliases: ENTRA_AUDIT_ALIASES,
        };
      return undefined;
    case 'zeek':
      if (category !== undefined || service === undefined || !ZEEK_LOGS.includes(service)) return undefined;
      return {
        mappings: ['zeek'],
        condition: `x-oca-event:module = 'zeek' AND x-oca-event:action = ${literal(service)}`,
        ...(service === 'http' ? { aliases: ZEEK_HTTP_ALIASES } : {}),
      };
    case 'suricata':
      if (category !== undefined) return undefined;
      return {
        mappings: ['suricata'],
        condition:
          service === undefined
            ? "x-oca-event:module = 'suricata'"
            : `x-oca-event:module = 'suricata' AND x-oca-event:action = ${literal(service)}`,
      };
    case 'linux':
      if (service === 'auditd' && category === undefined)
        return { mappings: ['linux-auditd'], condition: "x-oca-event:module = 'auditd'", fields: AUDITD_FIELDS };
      if (service !== undefined) return undefined;
      if (category === 'process_creation')
        return {
          mappings: ['sentinel-syslog', 'linux-auditd'],
          condition:
            "((x-oca-event:module = 'auditd' AND x-oca-event:x_record_types[*] = 'EXECVE') OR (x-oca-event:module = 'syslog' AND x-oca-event:code = '1'))",
          fields: LINUX_SYSMON_FIELDS,
        };
      if (category === 'network_connection' || category === 'file_event')
        return {
          mappings: ['sentinel-syslog'],
          condition: `x-oca-event:module = 'syslog' AND x-oca-event:code = '${category === 'network_connection' ? 3 : 11}'`,
          fields: LINUX_SYSMON_FIELDS,
        };
      return undefined;
    default:
      return undefined;
  }
}

function productField(source: ProductSource, name: string): FieldBinding | undefined {
  const tables = [...(source.fields === undefined ? [] : [source.fields]), ...source.mappings.map(mappingFieldTable)];
  for (const table of tables) {
    const entry = lookup(table, name);
    if (entry !== undefined) return binding(entry, true);
  }
  const aliased = source.aliases === undefined ? undefined : lookup(source.aliases, name);
  if (aliased !== undefined) return aliasBinding(source, aliased);
  if (source.rawPrefixes?.some((prefix) => name.length > prefix.length && name.startsWith(prefix)))
    return nestedRawField(name);
  // Sigma's Azure rules also name the columns of the Log Analytics tables (SigninLogs, AuditLogs):
  // `AuthenticationRequirement`, `ActivityDisplayName`, `DeviceDetail.trusttype` are the diagnostic-settings
  // record's `properties.authenticationRequirement`, … (the lookup ignores case).
  if (source.propertiesColumns === true && !name.startsWith('properties.'))
    return productField({ ...source, propertiesColumns: false }, `properties.${name}`);
  return undefined;
}

/** The paths of every source field an alias names (one type: the first found sets it). */
function aliasBinding(source: ProductSource, fields: readonly string[]): FieldBinding | undefined {
  const paths: string[] = [];
  let type: FieldValueType | undefined;
  for (const field of fields) {
    const found = productField({ ...source, aliases: undefined, propertiesColumns: false }, field);
    if (found === undefined || (type !== undefined && found.type !== type)) continue;
    type = found.type;
    for (const path of found.paths) if (!paths.includes(path)) paths.push(path);
  }
  return type === undefined ? undefined : { paths, type, mapped: true };
}

// ---- Logsources no built-in mapping produces: events whose mapping declares them ----

/**
 * Where a mapping's `sigma_logsource` puts the Sigma logsource its events are (lower-cased): a dictionary on the
 * anchor, keyed `product`, `category`, `service` (src/normalise/compiler.ts).
 */
export const DECLARED_LOGSOURCE_PROPERTY = 'x-oca-event:x_sigma_logsource';

/** Where mappings put the event's text (a rendered message, a log line), which keyword selections search. */
const MESSAGE_PROPERTY = 'x-oca-event:x_message';

/** Where a mapping's `raw_fields` copies the source fields it does not map, by name. */
const RAW_FIELDS_PROPERTY = 'x-oca-event:x_event_data';

/**
 * A rule of a logsource no built-in mapping produces selects the events whose mapping declares each key the rule
 * names (a rule naming only `product: macos` takes every macOS event, as in Sigma). Events of another product
 * never carry that declaration, so such a rule cannot fire on them. A logsource naming nothing selects nothing.
 */
function declaredCondition(logsource: SigmaLogsource): string | undefined {
  const terms = (['product', 'category', 'service'] as const).flatMap((key) => {
    const value = logsource[key];
    return value === undefined ? [] : [`${DECLARED_LOGSOURCE_PROPERTY}.${key} = ${literal(value)}`];
  });
  return terms.length === 0 ? undefined : terms.join(' AND ');
}

/**
 * A nested field copied by its whole path: one value, or a list of the values of a list of objects (`[*]` reads
 * each of them).
 */
function nestedRawField(name: string): FieldBinding | undefined {
  if (/['\\]/.test(name)) return undefined;
  const path = `${RAW_FIELDS_PROPERTY}.'${name}'`;
  return { paths: [path, `${path}[*]`], type: 'string', mapped: false };
}

/** The declaring mapping's fields are the source's own, read where its `raw_fields` copies them. */
function declaredField(name: string): FieldBinding | undefined {
  if (name.length === 0 || /['\\]/.test(name)) return undefined;
  return { paths: [`${RAW_FIELDS_PROPERTY}.'${name}'`], type: 'string', mapped: false };
}

function builtinSupports(logsource: SigmaLogsource): boolean {
  if (logsource.product === 'windows') return windowsSupports(logsource);
  return productSource(logsource) !== undefined;
}

export const builtinSigmaTaxonomy: SigmaTaxonomy = {
  field(logsource, name) {
    if (!builtinSupports(logsource))
      return declaredCondition(logsource) === undefined ? undefined : declaredField(name);
    if (logsource.product === 'windows') return windowsField(logsource, name);
    const source = productSource(logsource);
    return source === undefined ? undefined : productField(source, name);
  },
  condition(logsource) {
    if (!builtinSupports(logsource)) return declaredCondition(logsource);
    if (logsource.product === 'windows') return windowsCondition(logsource);
    return productSource(logsource)?.condition;
  },
  supports: builtinSupports,
  keywords(logsource) {
    // Keywords search the event's text: Windows' rendered message (Winlogbeat's `message`) and the unnamed
    // `Data` texts of classic events (MSExchange Management's cmdlet lines), and the log line or message a
    // declaring mapping writes to x_message. The other built-in products' events carry no such text.
    if (logsource.product === 'windows' && builtinSupports(logsource))
      return { paths: [MESSAGE_PROPERTY, `${RAW_FIELDS_PROPERTY}.'Data'[*]`], type: 'string', mapped: true };
    if (!builtinSupports(logsource) && declaredCondition(logsource) !== undefined)
      return { paths: [MESSAGE_PROPERTY], type: 'string', mapped: true };
    return undefined;
  },
  declares(logsource) {
    return !builtinSupports(logsource) && declaredCondition(logsource) !== undefined;
  },
};
