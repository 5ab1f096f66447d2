/**
 * Realistic values for properties that a pattern leaves unconstrained (or constrains only
 * loosely): process names, paths, addresses, domains, ports, hashes of the right length. Also
 * the STIX knowledge the generator needs: which object type a `_ref`/`_refs` property points
 * to, and the properties an object of a type normally carries.
 */
import { elementType, modelPropertyType, modelRefTargets } from './model-types.js';
import type { Prng } from './prng.js';

const PROCESS_NAMES = [
  'winword.exe',
  'powershell.exe',
  'cmd.exe',
  'svchost.exe',
  'explorer.exe',
  'rundll32.exe',
  'chrome.exe',
  'bash',
  'sshd',
  'python3',
  'curl',
  'excel.exe',
];
const FILE_NAMES = [
  'report.docx',
  'invoice_2024.pdf',
  'setup.exe',
  'notes.txt',
  'payload.dll',
  'backup.zip',
  'q3-results.xlsx',
  'update.ps1',
  'install.sh',
  'readme.md',
];
const WIN_DIRS = [
  'C:\\Windows\\System32',
  'C:\\Users\\alice\\AppData\\Local\\Temp',
  'C:\\Program Files\\Microsoft Office\\root\\Office16',
  'C:\\Users\\bob\\Downloads',
];
const NIX_DIRS = ['/usr/bin', '/tmp', '/home/alice', '/var/log', '/opt/app/bin'];
const DOMAINS = [
  'example.com',
  'update.contoso.net',
  'cdn.fabrikam.org',
  'mail.example.org',
  'login.microsoftonline.com',
  'files.evil-corp.biz',
  'api.github.com',
];
const USERS = ['alice', 'bob', 'carol', 'dave', 'svc_backup', 'administrator', 'root'];
const PROTOCOLS = ['tcp', 'udp', 'http', 'dns', 'tls', 'ipv4'];
const COMMON_PORTS = [443, 80, 22, 3389, 445, 8080, 53, 25, 8443, 4444];
const WORDS = [
  'alpha',
  'bravo',
  'delta',
  'update',
  'service',
  'client',
  'report',
  'backup',
  'agent',
  'sync',
  'data',
  'host',
];
const REGISTRY_KEYS = [
  'HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Run',
  'HKEY_CURRENT_USER\\Software\\Classes\\ms-settings\\shell\\open\\command',
  'HKEY_LOCAL_MACHINE\\System\\CurrentControlSet\\Services\\updater',
];
const MIME_TYPES = ['application/octet-stream', 'text/plain', 'application/pdf', 'application/x-dosexec'];

/** Hex lengths of the hash algorithms of the STIX vocabulary. */
const HASH_LENGTHS: Record<string, number> = {
  MD5: 32,
  'SHA-1': 40,
  SHA1: 40,
  'RIPEMD-160': 40,
  'SHA-224': 56,
  'SHA-256': 64,
  SHA256: 64,
  'SHA-384': 96,
  'SHA-512': 128,
  'SHA3-224': 56,
  'SHA3-256': 64,
  'SHA3-384': 96,
  'SHA3-512': 128,
  WHIRLPOOL: 128,
  TLSH: 70,
  SSDEEP: 0,
};

/** Hex length of a hash algorithm named in a `hashes.<name>` path, when known. */
export function hashLength(name: string): number | undefined {
  const squashed = name.toUpperCase().replace(/[-_]/g, '');
  for (const [known, length] of Object.entries(HASH_LENGTHS))
    if (known.replace(/-/g, '') === squashed) return length || undefined;
  return undefined;
}

/** What the generator knows about the property a value sits in. */
export interface PropertyContext {
  /** Type of the object holding the property (the root type or an inferred ref target type). */
  objectType: string;
  /** Property names from the object down to the value (list steps omitted). */
  keys: string[];
  /** For a process's command line: the process name, when known. */
  processName?: string;
}

function lastKey(ctx: PropertyContext): string {
  return ctx.keys[ctx.keys.length - 1] ?? '';
}

function randomIPv4(prng: Prng): string {
  const kind = prng.int(0, 3);
  if (kind === 0) return `10.${prng.int(0, 255)}.${prng.int(0, 255)}.${prng.int(1, 254)}`;
  if (kind === 1) return `192.168.${prng.int(0, 255)}.${prng.int(1, 254)}`;
  return `${prng.pick([52, 104, 151, 185, 203, 45])}.${prng.int(0, 255)}.${prng.int(0, 255)}.${prng.int(1, 254)}`;
}

function randomIPv6(prng: Prng): string {
  return `2001:db8:${prng.int(0, 0xffff).toString(16)}::${prng.int(1, 0xffff).toString(16)}`;
}

function randomMac(prng: Prng): string {
  return Array.from({ length: 6 }, () => prng.int(0, 255).toString(16).padStart(2, '0')).join(':');
}

function randomTimestampNear(prng: Prng, baseMicros: number): number {
  return baseMicros - prng.int(0, 86_400) * 1_000_000;
}

function path(prng: Prng, windows: boolean): string {
  return windows
    ? `${prng.pick(WIN_DIRS)}\\${prng.pick(FILE_NAMES)}`
    : `${prng.pick(NIX_DIRS)}/${prng.pick(FILE_NAMES)}`;
}

function commandLine(prng: Prng, given?: string): string {
  const name = given ?? prng.pick(PROCESS_NAMES);
  const args: Record<string, string[]> = {
    'powershell.exe': ['-NoProfile -ExecutionPolicy Bypass -File update.ps1', '-enc SQBFAFgA', '-Command Get-Process'],
    'cmd.exe': ['/c whoami', '/c dir C:\\Users', '/c ipconfig /all'],
    bash: ['-c "id"', '-lc "uname -a"'],
    curl: ['-s https://example.com/install.sh', '-O https://cdn.fabrikam.org/a.bin'],
  };
  return `${name} ${prng.pick(args[name] ?? ['--help', '-v', '/q'])}`;
}

/** Kinds of values a property normally holds: from the STIX model, or else from its name. */
export type ValueKind = 'string' | 'int' | 'float' | 'bool' | 'timestamp' | 'bytes';

/** The kind the STIX model gives the property (a list's elements for a list), when it knows it. */
function modelKind(ctx: PropertyContext): ValueKind | undefined {
  const type = modelPropertyType(ctx.objectType, ctx.keys);
  if (type === undefined) return undefined;
  switch (elementType(type).kind) {
    case 'string':
      return 'string';
    case 'integer':
      return 'int';
    case 'float':
      return 'float';
    case 'boolean':
      return 'bool';
    case 'timestamp':
      return 'timestamp';
    default:
      // hex and binary values are decided by the _hex/_bin suffix their names carry.
      return undefined;
  }
}

export function kindOf(ctx: PropertyContext): ValueKind {
  const key = lastKey(ctx);
  if (/_(hex|bin)$/.test(key)) return 'bytes';
  const modelled = modelKind(ctx);
  if (modelled !== undefined) return modelled;
  if (
    /^(is_|has_)/.test(key) ||
    [
      'is_active',
      'is_hidden',
      'is_multipart',
      'is_self_signed',
      'is_service_account',
      'is_privileged',
      'can_escalate_privs',
      'is_disabled',
    ].includes(key)
  )
    return 'bool';
  if (
    /(_time|_date)$/.test(key) ||
    [
      'created',
      'modified',
      'ctime',
      'mtime',
      'atime',
      'start',
      'end',
      'date',
      'validity_not_before',
      'validity_not_after',
    ].includes(key)
  )
    return 'timestamp';
  if (
    /(port|pid|size|count|number|_bytes|_packets|entropy|_len|length|rir|asn)$/.test(key) ||
    ['number_of_subkeys', 'src_byte_count', 'dst_byte_count'].includes(key)
  )
    return 'int';
  return 'string';
}

/** A realistic value for a property (string, number, boolean), for the kind its name suggests. */
export function realisticValue(ctx: PropertyContext, prng: Prng, baseMicros: number): string | number | boolean {
  const key = lastKey(ctx);
  const parent = ctx.keys[ctx.keys.length - 2];
  const t = ctx.objectType;
  if (parent === 'hashes') return prng.hex(hashLength(key) ?? 64);
  const kind = kindOf(ctx);
  if (kind === 'bool') return prng.chance(0.5);
  if (kind === 'timestamp') return formatMicros(randomTimestampNear(prng, baseMicros));
  if (kind === 'int') {
    if (key === 'dst_port') return prng.pick(COMMON_PORTS);
    if (key.endsWith('port')) return prng.int(1024, 65535);
    if (key === 'pid') return prng.int(300, 65000);
    if (key === 'entropy') return Math.round(prng.next() * 800) / 100;
    if (key === 'number' || key === 'asn') return prng.int(1000, 65000);
    if (key === 'severity') return prng.int(1, 10);
    return prng.int(1, 500_000);
  }
  if (kind === 'float') return Math.round(prng.next() * 1000) / 100;
  if (key === 'hostname') return `${prng.pick(['web', 'fin-ws', 'dc', 'build'])}-${prng.int(1, 40)}`;
  if (key === 'value') {
    if (t === 'ipv4-addr') return randomIPv4(prng);
    if (t === 'ipv6-addr') return randomIPv6(prng);
    if (t === 'domain-name') return prng.pick(DOMAINS);
    if (t === 'email-addr') return `${prng.pick(USERS)}@${prng.pick(DOMAINS)}`;
    if (t === 'url') return `https://${prng.pick(DOMAINS)}/${prng.pick(WORDS)}/${prng.pick(FILE_NAMES)}`;
    if (t === 'mac-addr') return randomMac(prng);
    if (t === 'autonomous-system') return prng.int(1000, 65000);
  }
  if (key === 'name') {
    if (t === 'process') return prng.pick(PROCESS_NAMES);
    if (t === 'file') return prng.pick(FILE_NAMES);
    if (t === 'autonomous-system') return `${prng.pick(['CONTOSO', 'FABRIKAM', 'EXAMPLE'])}-AS`;
    if (t === 'software') return prng.pick(['Microsoft Word', 'OpenSSH', 'Google Chrome']);
    return prng.pick(WORDS);
  }
  if (key === 'command_line') return commandLine(prng, ctx.processName);
  if (key === 'cwd' || key === 'path') return prng.chance(0.5) ? prng.pick(WIN_DIRS) : prng.pick(NIX_DIRS);
  if (key === 'key' && t === 'windows-registry-key') return prng.pick(REGISTRY_KEYS);
  if (key === 'protocols') return prng.pick(PROTOCOLS);
  if (key === 'category' && t === 'x-oca-event')
    return prng.pick(['process', 'network', 'file', 'authentication', 'registry']);
  if (key === 'user_id') return String(prng.int(1000, 1999));
  if (key === 'account_login' || key === 'user' || key === 'username') return prng.pick(USERS);
  if (key === 'display_name')
    return `${prng.pick(['Alice', 'Bob', 'Carol', 'Dave'])} ${prng.pick(['Smith', 'Jones', 'Lee'])}`;
  if (key === 'mime_type') return prng.pick(MIME_TYPES);
  if (key === 'subject') return `${prng.pick(['Invoice', 'Meeting', 'Urgent', 'Re:'])} ${prng.pick(WORDS)}`;
  if (key === 'account_type') return prng.pick(['windows-local', 'unix', 'windows-domain']);
  if (key.endsWith('path') || key.endsWith('file') || key === 'image') return path(prng, prng.chance(0.5));
  if (key.endsWith('domain') || key.endsWith('host')) return prng.pick(DOMAINS);
  if (key.endsWith('_addr') || key === 'ip' || key.endsWith('_ip')) return randomIPv4(prng);
  if (key === 'url' || key.endsWith('_url')) return `https://${prng.pick(DOMAINS)}/${prng.pick(WORDS)}`;
  return `${prng.pick(WORDS)}-${prng.int(1, 99)}`;
}

/** Random text with the character style of a property, for filling LIKE `%` and regex gaps. */
export function fillerText(ctx: PropertyContext, prng: Prng): string {
  const key = lastKey(ctx);
  if (ctx.keys[ctx.keys.length - 2] === 'hashes') return prng.hex(prng.int(4, 12));
  if (key === 'command_line') return prng.pick([' -NoProfile ', ' /c ', ' --verbose ', ' -s ', ' ']);
  if (key.endsWith('path') || key === 'cwd')
    return prng.pick(['Users\\alice', 'tmp', 'Windows\\Temp', 'home/bob', 'opt']);
  if (key === 'value' && ctx.objectType === 'domain-name') return prng.pick(['mail', 'cdn', 'update', 'login']);
  if (key === 'value' && ctx.objectType === 'email-addr') return prng.pick(USERS);
  return prng.pick(WORDS);
}

/** STIX 2.1 reference properties and the object types they point to (the first is the default). */
const REF_TARGETS: Record<string, string[]> = {
  src_ref: ['ipv4-addr', 'ipv6-addr', 'mac-addr', 'domain-name'],
  dst_ref: ['ipv4-addr', 'ipv6-addr', 'mac-addr', 'domain-name'],
  src_payload_ref: ['artifact'],
  dst_payload_ref: ['artifact'],
  encapsulates_refs: ['network-traffic'],
  encapsulated_by_ref: ['network-traffic'],
  from_ref: ['email-addr'],
  sender_ref: ['email-addr'],
  to_refs: ['email-addr'],
  cc_refs: ['email-addr'],
  bcc_refs: ['email-addr'],
  raw_email_ref: ['artifact'],
  body_raw_ref: ['artifact', 'file'],
  belongs_to_ref: ['user-account'],
  belongs_to_refs: ['autonomous-system'],
  parent_directory_ref: ['directory'],
  content_ref: ['artifact'],
  contains_refs: ['file', 'directory'],
  resolves_to_refs: ['ipv4-addr', 'ipv6-addr', 'domain-name', 'mac-addr'],
  opened_connection_refs: ['network-traffic'],
  creator_user_ref: ['user-account'],
  image_ref: ['file'],
  parent_ref: ['process'],
  child_refs: ['process'],
  service_dll_refs: ['file'],
  message_body_data_ref: ['artifact'],
  sample_ref: ['file', 'artifact'],
  host_vm_ref: ['software'],
  operating_system_ref: ['software'],
  installed_software_refs: ['software'],
};

/**
 * The type of the object a reference property points to: from the property name, refined by a
 * value constraint on the target (`network-traffic:dst_ref.value = '2001:db8::1'` → ipv6-addr).
 */
export function refTargetType(
  property: string,
  sampleValue: unknown,
  subKeys: string[],
  holder?: { objectType: string; keys: readonly string[] },
): string {
  // The model's targets for the holding object's property (x-oca-event:host_ref → x-oca-asset);
  // names alone for custom objects and properties.
  const modelled = holder ? modelRefTargets(holder.objectType, holder.keys) : undefined;
  const known = modelled ?? REF_TARGETS[property];
  const sampled = typeof sampleValue === 'string' ? sampledTargetType(sampleValue, known) : undefined;
  if (sampled !== undefined && (modelled === undefined || modelled.includes(sampled))) return sampled;
  if (known) return known[0] as string;
  return guessedTargetType(property, subKeys);
}

/** The target type a constant on the target's `value` tells (an IPv6 address, an e-mail address…). */
function sampledTargetType(sampleValue: string, known: readonly string[] | undefined): string | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}(\/\d+)?$/.test(sampleValue)) return 'ipv4-addr';
  if (
    (/^[0-9a-fA-F:]*:[0-9a-fA-F:.]*(\/\d+)?$/.test(sampleValue) && sampleValue.includes('::')) ||
    /^([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}$/.test(sampleValue)
  ) {
    return /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(sampleValue) ? 'mac-addr' : 'ipv6-addr';
  }
  if (/^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$/i.test(sampleValue)) return 'mac-addr';
  if (/^[^@\s]+@[^@\s]+$/.test(sampleValue) && (!known || known.includes('email-addr'))) return 'email-addr';
  if (known?.includes('domain-name') && /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(sampleValue)) return 'domain-name';
  return undefined;
}

/** A target type from the property's name and the target's properties, for references the model does not know. */
function guessedTargetType(property: string, subKeys: string[]): string {
  if (/user/.test(property)) return 'user-account';
  if (/(image|file|dll)/.test(property)) return 'file';
  if (/dir/.test(property)) return 'directory';
  if (/(process|parent|child)/.test(property)) return 'process';
  if (/(addr|ip)/.test(property)) return 'ipv4-addr';
  const first = subKeys[0];
  if (first === 'pid' || first === 'command_line') return 'process';
  if (first === 'hashes' || first === 'size') return 'file';
  if (first === 'user_id' || first === 'account_login') return 'user-account';
  return 'artifact';
}

/** Properties an object of the type normally carries, added when the pattern does not mention them. */
export function decorations(type: string): string[][] {
  switch (type) {
    case 'process':
      return [['name'], ['pid'], ['command_line']];
    case 'file':
      return [['name'], ['size']];
    case 'directory':
      return [['path']];
    case 'ipv4-addr':
    case 'ipv6-addr':
    case 'domain-name':
    case 'email-addr':
    case 'url':
    case 'mac-addr':
      return [['value']];
    case 'network-traffic':
      return [['protocols'], ['dst_port']];
    case 'user-account':
      return [['user_id'], ['account_login']];
    case 'windows-registry-key':
      return [['key']];
    case 'autonomous-system':
      return [['number']];
    case 'software':
      return [['name']];
    case 'x-oca-asset':
      return [['hostname']];
    case 'artifact':
      return [['mime_type']];
    default:
      return [];
  }
}

export function formatMicros(micros: number): string {
  const millis = Math.floor(micros / 1000);
  const iso = new Date(millis).toISOString();
  const rest = micros - millis * 1000;
  const fraction = (iso.slice(20, 23) + String(rest).padStart(3, '0')).replace(/0+$/, '');
  return iso.slice(0, 19) + (fraction ? '.' + fraction : '') + 'Z';
}
