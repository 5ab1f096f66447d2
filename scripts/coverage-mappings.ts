/**
 * How well the built-in mappings cope with real telemetry: per file of a folder of real public events (by default
 * `../shared/realworld/events`, see its README), the events accepted with no mapping or source given, and the share
 * of their security-relevant fields (process, parent, user, host, file, hashes, registry, network 5-tuple, DNS, URL,
 * HTTP, cloud API action, principal, outcome) that land in STIX or OCA properties rather than `x_unmapped`.
 *
 * It measures, it does not judge: the exit status is 0 unless it cannot run.
 *
 *   npm run coverage:mappings [-- <events-dir> [--sigma <sigma-regression-dir>] [--show-unmapped N]]
 */
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createNormaliser } from '../src/normalise/index.js';
import { readDocuments } from '../src/normalise/reader.js';
import { eventRecords } from '../src/normalise/envelopes.js';
import type { ObservedEvent } from '../src/stix/types.js';

/**
 * Security-relevant source fields, recognised by their (last) name with case and punctuation removed. The list is
 * fixed here, independently of what the mappings map, so that the figure cannot be improved by declaring less.
 */
const RELEVANT_NAMES = new RegExp(
  '^(' +
    [
      // process and parent
      'image|parentimage|sourceimage|targetimage|imageloaded|commandline|parentcommandline|cmdline|cmd|processcommandline',
      'processid|parentprocessid|sourceprocessid|targetprocessid|newprocessid|pid|ppid|processname|newprocessname',
      'parentprocessname|exe|executable|comm|proctitle|originalfilename|currentdirectory|cwd|processguid',
      'parentprocessguid|sourceprocessguid|targetprocessguid|scriptblocktext|servicefilename|imagepath|args|argv',
      // user and principal
      'user|username|targetusername|subjectusername|accountname|targetuser|userid|usersid|userprincipalname',
      'targetusersid|subjectusersid|targetdomainname|subjectdomainname|auid|uid|euid|alternateid|principalid',
      'samaccountname|membername|membersid|parentuser|logontype|arn|accesskeyid|invokedby|actor',
      // host
      'computer|computername|hostname|hostidentifier|workstationname|workstation|devicename',
      // file and hashes
      'targetfilename|filename|filepath|objectname|sharename|relativetargetname|sharelocalpath',
      'hashes|hash|md5|sha1|sha256|sha512|imphash',
      // registry
      'targetobject|details|registrykey|objectvaluename',
      // network 5-tuple
      'srcip|destip|dstip|sourceip|destinationip|sourceaddress|destaddress|destinationaddress|srcaddr|dstaddr',
      'sourceipaddress|calleripaddress|ipaddress|clientip|remoteip|srcport|dstport|destport|sourceport',
      'destinationport|origh|origp|resph|respp|idorigh|idorigp|idresph|idrespp|proto|protocol|transport',
      'ipaddr|addr|saddr|daddr|sport|dport|direction|flowdirection|pktsrcaddr|pktdstaddr',
      // DNS, URL, HTTP, TLS
      'query|queryname|queryresults|answers|rrname|rdata|qtypename|rrtype|url|uri|httpmethod|method|useragent',
      'httpuseragent|statuscode|status|referrer|referer|servername|sni',
      // cloud API action, event action and outcome
      'eventname|eventsource|operationname|eventtype|eventid|activitydisplayname|awsregion|recipientaccountid',
      'outcome|result|resulttype|resultsignature|errorcode|success|action',
    ].join('|') +
    ')$',
);

/** Generic names that are relevant below an object that names a principal (`process.name`, `user.id`). */
const GENERIC_NAMES = /^(name|id|uid|pid|path|ip|port|address|value|domain|type|executable|hostname|email|login)$/;
const PRINCIPAL_PARENTS =
  /^(process|parent|parentprocess|user|useridentity|file|host|source|destination|src|dst|srcendpoint|dstendpoint|client|server|target|actor|image|service|registry|question|dns|url|http|device|endpoint|sessionissuer|initiatedby|account)$/;

const normaliseName = (segment: string): string => segment.toLowerCase().replace(/[^a-z0-9]/g, '');

export function isRelevant(path: string): boolean {
  const segments = path.split('.');
  const last = normaliseName(segments[segments.length - 1] ?? '');
  if (RELEVANT_NAMES.test(last)) return true;
  if (!GENERIC_NAMES.test(last)) return false;
  const parent = normaliseName(segments[segments.length - 2] ?? '');
  return PRINCIPAL_PARENTS.test(parent);
}

/** Placeholders that carry no information: not counted as fields. */
const EMPTY_VALUES = new Set(['', '-', 'N/A', 'n/a', '(null)', 'null', '?']);

/** Dotted leaf paths of a value (array elements share their array's path). */
function leaves(value: unknown, path: string, out: Set<string>): void {
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v !== 'object' || v === null)) {
      if (value.length > 0 && path !== '') out.add(path);
      return;
    }
    for (const item of value) leaves(item, path, out);
    return;
  }
  if (typeof value === 'object') {
    for (const [key, item] of Object.entries(value as Record<string, unknown>))
      leaves(item, path === '' ? key : `${path}.${key}`, out);
    return;
  }
  if (typeof value === 'string' && EMPTY_VALUES.has(value.trim())) return;
  if (path !== '') out.add(path);
}

interface Row {
  file: string;
  events: number;
  accepted: number;
  relevant: number;
  landed: number;
  mappings: Map<string, number>;
  rejections: Map<string, number>;
  unmapped: Map<string, number>;
}

function newRow(file: string): Row {
  return {
    file,
    events: 0,
    accepted: 0,
    relevant: 0,
    landed: 0,
    mappings: new Map(),
    rejections: new Map(),
    unmapped: new Map(),
  };
}

const bump = (map: Map<string, number>, key: string): void => {
  map.set(key, (map.get(key) ?? 0) + 1);
};

const normaliser = createNormaliser();
/** As the pipeline does: records that carry no time at all (time.received mappings) take the time they were read. */
const receivedAt = new Date().toISOString();

function measureRecord(record: unknown, row: Row): void {
  row.events++;
  const consumed: string[] = [];
  const result = normaliser.normalise(record, row.events - 1, { consumed, receivedAt });
  if (!result.ok) {
    bump(row.rejections, `${result.diagnostic.code}: ${result.diagnostic.message.slice(0, 110)}`);
    return;
  }
  row.accepted++;
  bump(row.mappings, result.mapping);
  if (result.mapping === 'stix') return; // already STIX: nothing to map
  const consumedSet = new Set(consumed);
  const raw = new Set<string>();
  leaves(record, '', raw);
  const unmapped = new Set<string>();
  for (const event of result.events as ObservedEvent[]) {
    for (const [key, value] of Object.entries(event.observedData.x_unmapped ?? {})) leaves(value, key, unmapped);
  }
  const fields = new Set<string>();
  for (const path of raw) {
    // A text field parsed by the mapping (key=value lists, JSON or XML text) is represented by its parts.
    let parsed = false;
    for (const c of consumedSet) if (c.startsWith(`${path}.`)) parsed = true;
    for (const u of unmapped) if (u.startsWith(`${path}.`)) parsed = true;
    if (!parsed) fields.add(path);
  }
  for (const path of consumedSet) fields.add(path);
  for (const path of unmapped) fields.add(path);
  for (const path of fields) {
    if (!isRelevant(path)) continue;
    row.relevant++;
    if (consumedSet.has(path)) row.landed++;
    else bump(row.unmapped, path);
  }
}

function measureText(file: string, text: string, row: Row): void {
  for (const doc of readDocuments(text)) {
    if (!doc.ok) {
      row.events++;
      bump(row.rejections, `unreadable: ${doc.message.slice(0, 80)}`);
      continue;
    }
    const values = Array.isArray(doc.value) ? doc.value : [doc.value];
    for (const value of values) for (const record of eventRecords(value)) measureRecord(record, row);
  }
  void file;
}

const pct = (part: number, whole: number): string => (whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`);

function main(argv: string[]): number {
  let dir = '../shared/realworld/events';
  let sigmaDir: string | undefined = '../shared/sigma/regression';
  let showUnmapped = 0;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--sigma') sigmaDir = argv[++i];
    else if (arg === '--no-sigma') sigmaDir = undefined;
    else if (arg === '--show-unmapped') showUnmapped = Number(argv[++i] ?? '10');
    else dir = arg;
  }
  if (!existsSync(dir)) {
    console.error(`coverage: no ${dir}: nothing to measure`);
    return 0;
  }
  const rows: Row[] = [];
  for (const file of readdirSync(dir).sort()) {
    const path = join(dir, file);
    if (!statSync(path).isFile()) continue;
    const row = newRow(file);
    measureText(file, readFileSync(path, 'utf8'), row);
    rows.push(row);
  }
  if (sigmaDir !== undefined && existsSync(sigmaDir)) {
    const row = newRow(`sigma-regression/*/events.json (evtx dump)`);
    for (const dirent of readdirSync(sigmaDir).sort()) {
      const path = join(sigmaDir, dirent, 'events.json');
      if (existsSync(path)) measureText(basename(path), readFileSync(path, 'utf8'), row);
    }
    rows.push(row);
  }

  const header = ['file', 'events', 'accepted', 'acc%', 'sec.fields', 'landed%', 'mappings'];
  const lines: string[][] = [header];
  const total = newRow('TOTAL');
  for (const row of rows) {
    lines.push([
      row.file,
      String(row.events),
      String(row.accepted),
      pct(row.accepted, row.events),
      String(row.relevant),
      pct(row.landed, row.relevant),
      [...row.mappings]
        .sort((a, b) => b[1] - a[1])
        .map(([m, n]) => `${m}:${n}`)
        .join(' '),
    ]);
    total.events += row.events;
    total.accepted += row.accepted;
    total.relevant += row.relevant;
    total.landed += row.landed;
  }
  lines.push([
    'TOTAL',
    String(total.events),
    String(total.accepted),
    pct(total.accepted, total.events),
    String(total.relevant),
    pct(total.landed, total.relevant),
    '',
  ]);
  const widths = header.map((_, c) => Math.max(...lines.map((l) => (l[c] ?? '').length)));
  const render = (l: string[]): string =>
    l
      .map((cell, c) => (c === 0 || c === l.length - 1 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  ')
      .trimEnd();
  console.log(`mapping coverage of ${dir}${sigmaDir !== undefined && existsSync(sigmaDir) ? ` and ${sigmaDir}` : ''}`);
  lines.forEach((l, i) => {
    if (i === lines.length - 1) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    console.log(render(l));
  });
  for (const row of rows) {
    if (row.rejections.size === 0 && (showUnmapped === 0 || row.unmapped.size === 0)) continue;
    console.log(`\n${row.file}`);
    for (const [reason, n] of [...row.rejections].sort((a, b) => b[1] - a[1]).slice(0, 5))
      console.log(`  rejected ${n}x ${reason}`);
    if (showUnmapped > 0) {
      const top = [...row.unmapped].sort((a, b) => b[1] - a[1]).slice(0, showUnmapped);
      if (top.length > 0) console.log(`  unmapped: ${top.map(([p, n]) => `${p} (${n})`).join(', ')}`);
    }
  }
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  console.error(`coverage: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
}
