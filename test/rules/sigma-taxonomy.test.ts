/**
 * The Sigma taxonomy's promise: a Sigma rule matches the normalised events it matches on the raw log. For every
 * Windows fixture and every EventData field in it, the field's paths (with its logsource's condition ANDed in)
 * find the raw value through the real pattern compiler and matcher, case-insensitively as Sigma compiles.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { builtInMappingTexts, createNormaliser, toBundle } from '../../src/normalise/index.js';
import { readDocuments } from '../../src/normalise/reader.js';
import { checkPattern, compilePattern } from '../../src/pattern/compile.js';
import { builtinSigmaTaxonomy as taxonomy } from '../../src/rules/sigma/taxonomy.js';
import { WINDOWS_CATEGORIES, WINDOWS_FIELDS, WINDOWS_SERVICE_CHANNELS } from '../../src/rules/sigma/taxonomy-table.js';
import type { FieldBinding, SigmaLogsource } from '../../src/rules/sigma/taxonomy-types.js';
import type { ObservedEvent } from '../../src/stix/types.js';
import { loadRules } from '../../src/rules/load.js';

const FIXTURES = new URL('../fixtures/windows/', import.meta.url);
const normaliser = createNormaliser({});
/** The windows mapping's null placeholders: dropped as "no value", as a rule on the raw log should treat them too. */
const NULL_VALUES = new Set(['-', '', 'N/A', '%%1793', 'NULL SID']);

type Json = Record<string, unknown>;

interface Fixture {
  file: string;
  channel: string;
  eventId: number;
  data: Json;
  event: ObservedEvent;
}

function record(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

/** The fixtures whose EventData is a named object: evtx dump (Event.EventData) and Winlogbeat (winlog.event_data). */
function fixtures(): Fixture[] {
  const found: Fixture[] = [];
  for (const file of readdirSync(FIXTURES).sort()) {
    for (const doc of readDocuments(readFileSync(new URL(file, FIXTURES), 'utf8'))) {
      if (!doc.ok) throw new Error(`${file}: ${doc.message}`);
      const raw = doc.value as Json;
      const evtx = record(raw.Event);
      const winlog = record(raw.winlog);
      const system = record(evtx?.System);
      const channel = (system?.Channel ?? winlog?.channel) as string | undefined;
      const eventId = Number(system?.EventID ?? winlog?.event_id);
      const data = record(evtx?.EventData) ?? record(winlog?.event_data);
      if (channel === undefined || data === undefined) continue;
      const result = normaliser.normalise(raw, 0);
      if (!result.ok) throw new Error(`${file}: ${result.diagnostic.message}`);
      found.push({ file, channel, eventId, data, event: result.events[0] as ObservedEvent });
    }
  }
  return found;
}

/** The logsources an event belongs to: its service (by channel) and every generic category it is logged as. */
function logsourcesOf(fixture: Fixture): SigmaLogsource[] {
  const sources: SigmaLogsource[] = [{ product: 'windows' }];
  for (const [service, channels] of Object.entries(WINDOWS_SERVICE_CHANNELS))
    if (channels.includes(fixture.channel)) sources.push({ product: 'windows', service });
  for (const [category, selections] of Object.entries(WINDOWS_CATEGORIES)) {
    const selection = selections.find((s) => s.channel === fixture.channel && s.codes.includes(fixture.eventId));
    if (selection === undefined) continue;
    // Sysmon 12 is split by EventType; the test's events name theirs.
    const eventType = fixture.data.EventType as string | undefined;
    const operation = fixture.data.OperationType as string | undefined;
    const where = selection.where ?? {};
    if (where.x_event_type !== undefined && !where.x_event_type.includes(eventType ?? '')) continue;
    if (where.x_operation_type !== undefined && !where.x_operation_type.includes(operation ?? '')) continue;
    if (where.x_object_type !== undefined && !where.x_object_type.includes(String(fixture.data.ObjectType))) continue;
    sources.push({ product: 'windows', category });
  }
  return sources;
}

/**
 * Security 4688's ProcessId is the creator; Sigma's generic process_creation means the new process by it (the
 * equivalence test below reads 4688's NewProcessId for it). Only Security rules mean the raw field.
 */
function meansOtherwise(fixture: Fixture, logsource: SigmaLogsource, name: string): boolean {
  return name === 'ProcessId' && fixture.channel === 'Security' && logsource.service !== 'security';
}

function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The comparison a Sigma compiler writes for `field: value`: the value in the binding's type, on any path. */
function comparison(binding: FieldBinding, value: unknown): string {
  const constant =
    binding.type === 'integer'
      ? String(Number(value))
      : binding.type === 'boolean'
        ? String(String(value).toLowerCase() === 'true')
        : literal(String(value));
  const terms = binding.paths.map((path) => `${path} = ${constant}`);
  return terms.length === 1 ? (terms[0] as string) : `(${terms.join(' OR ')})`;
}

function pattern(logsource: SigmaLogsource, test: string): string {
  const condition = taxonomy.condition(logsource);
  return condition === undefined ? `[${test}]` : `[(${condition}) AND ${test}]`;
}

/** The type checker's complaints about a pattern (none: it compiles, and every path is a known or x_ one). */
function complaints(text: string): string[] {
  return checkPattern(text).diagnostics.map((d) => `${d.code}: ${d.message}`);
}

function fires(text: string, event: ObservedEvent): boolean {
  return compilePattern(text, { caseInsensitive: true }).match(toBundle(event)).matched;
}

/** Whether the one Sigma rule of `text` (which must load without error) fires on the raw event, normalised. */
function sigmaRuleFires(file: string, text: string, raw: unknown): boolean {
  const loaded = loadRules([{ file, text }]);
  expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const rule = loaded.rules[0];
  if (rule?.patternText === undefined) throw new Error('no pattern');
  const result = normaliser.normalise(raw, 0);
  if (!result.ok) throw new Error(result.diagnostic.message);
  return fires(rule.patternText, result.events[0] as ObservedEvent);
}

/** The values of an EventData field a rule can compare: a scalar, or each element of a list of texts. */
function values(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return [value];
}

const all = fixtures();

describe('Sigma taxonomy: every EventData field of every Windows fixture is found as written', () => {
  it('has fixtures for the categories it names', () => {
    const covered = new Set(all.flatMap((f) => logsourcesOf(f).map((l) => l.category ?? l.service ?? '')));
    for (const category of [
      'process_creation',
      'network_connection',
      'image_load',
      'driver_load',
      'create_remote_thread',
      'process_access',
      'file_event',
      'file_delete',
      'file_access',
      'registry_add',
      'registry_set',
      'registry_rename',
      'registry_event',
      'pipe_created',
      'dns_query',
      'ps_script',
      'ps_classic_start',
      'security',
      'system',
      'sysmon',
      'taskscheduler',
      'windefend',
    ])
      expect(covered, category).toContain(category);
  });

  for (const fixture of all) {
    it(`${fixture.file}: each field's taxonomy paths hold its raw value, under each logsource the event belongs to`, () => {
      const misses: string[] = [];
      let checked = 0;
      for (const logsource of logsourcesOf(fixture)) {
        expect(taxonomy.supports(logsource)).toBe(true);
        for (const [name, value] of Object.entries(fixture.data)) {
          if (value === null || (typeof value === 'string' && NULL_VALUES.has(value))) continue;
          if (meansOtherwise(fixture, logsource, name)) continue;
          const binding = taxonomy.field(logsource, name);
          if (binding === undefined) {
            misses.push(`${JSON.stringify(logsource)} ${name}: no binding`);
            continue;
          }
          for (const one of values(value)) {
            const text = pattern(logsource, comparison(binding, one));
            expect(complaints(text), text).toEqual([]);
            checked++;
            if (!fires(text, fixture.event)) misses.push(`${JSON.stringify(logsource)} ${name}: ${text}`);
            // The check can fail: another value of the field is not found.
            if (
              binding.type === 'string' &&
              fires(pattern(logsource, comparison(binding, `${String(one)}~`)), fixture.event)
            )
              misses.push(`${JSON.stringify(logsource)} ${name}: also matches another value`);
          }
        }
      }
      expect(misses.join('\n')).toBe('');
      expect(checked).toBeGreaterThan(0);
    });
  }

  it('reads a field the taxonomy does not name where the mapping kept it (the raw-field fallback)', () => {
    const defender = all.find((f) => f.file === 'defender-1116-evtx.json') as Fixture;
    const logsource = { product: 'windows', service: 'windefend' };
    const threat = taxonomy.field(logsource, 'Threat Name');
    expect(threat).toEqual({ paths: ["x-oca-event:x_event_data.'Threat Name'"], type: 'string', mapped: false });
    expect(
      fires(pattern(logsource, "x-oca-event:x_event_data.'Threat Name' LIKE 'hacktool:%mimikatz%'"), defender.event),
    ).toBe(true);
    // Sigma spells Defender's spaced names without the spaces: the mapping keeps them so too.
    const threatName = taxonomy.field(logsource, 'ThreatName') as FieldBinding;
    expect(fires(pattern(logsource, comparison(threatName, 'HackTool:Win32/Mimikatz.D')), defender.event)).toBe(true);
    const processName = taxonomy.field(logsource, 'ProcessName') as FieldBinding;
    expect(fires(pattern(logsource, comparison(processName, 'C:\\Windows\\explorer.exe')), defender.event)).toBe(true);
    // Numbers are kept as text, as the event log writes them.
    expect(fires(pattern(logsource, "x-oca-event:x_event_data.'Severity ID' = '5'"), defender.event)).toBe(true);
    expect(taxonomy.field(logsource, "it's")).toBeUndefined();
  });
});

describe('Sigma taxonomy: logsource conditions select exactly their events', () => {
  const byFile = (file: string): ObservedEvent => (all.find((f) => f.file === file) as Fixture).event;
  const selects = (logsource: SigmaLogsource, file: string): boolean =>
    fires(`[${taxonomy.condition(logsource) as string}]`, byFile(file));

  it('process_creation is Sysmon 1 or Security 4688, nothing else', () => {
    const logsource = { product: 'windows', category: 'process_creation' };
    expect(selects(logsource, 'sysmon-1-evtx.json')).toBe(true);
    expect(selects(logsource, 'sysmon-1-winlogbeat.json')).toBe(true);
    expect(selects(logsource, 'security-4688-evtx.json')).toBe(true);
    for (const file of [
      'sysmon-3-evtx.json',
      'sysmon-11-evtx.json',
      'security-4624-evtx.json',
      'powershell-4104-evtx.json',
    ])
      expect(selects(logsource, file), file).toBe(false);
  });

  it('splits Sysmon 12 by EventType and the registry categories by event id', () => {
    expect(selects({ product: 'windows', category: 'registry_add' }, 'sysmon-12-evtx.json')).toBe(true);
    expect(selects({ product: 'windows', category: 'registry_delete' }, 'sysmon-12-evtx.json')).toBe(false);
    expect(selects({ product: 'windows', category: 'registry_set' }, 'sysmon-13-evtx.json')).toBe(true);
    expect(selects({ product: 'windows', category: 'registry_set' }, 'sysmon-12-evtx.json')).toBe(false);
    expect(selects({ product: 'windows', category: 'registry_set' }, 'security-4657-evtx.json')).toBe(true);
    for (const file of ['sysmon-12-evtx.json', 'sysmon-13-evtx.json', 'sysmon-14-evtx.json'])
      expect(selects({ product: 'windows', category: 'registry_event' }, file), file).toBe(true);
  });

  it('services select their channel; a category and a service together select both', () => {
    expect(selects({ product: 'windows', service: 'security' }, 'security-4624-evtx.json')).toBe(true);
    expect(selects({ product: 'windows', service: 'security' }, 'sysmon-1-evtx.json')).toBe(false);
    expect(selects({ product: 'windows', service: 'system' }, 'system-7045-evtx.json')).toBe(true);
    expect(selects({ product: 'windows', service: 'sysmon' }, 'sysmon-22-evtx.json')).toBe(true);
    expect(selects({ product: 'windows', category: 'process_creation', service: 'sysmon' }, 'sysmon-1-evtx.json')).toBe(
      true,
    );
    expect(
      selects({ product: 'windows', category: 'process_creation', service: 'sysmon' }, 'security-4688-evtx.json'),
    ).toBe(false);
  });

  it('does not support what no built-in mapping produces', () => {
    expect(taxonomy.supports({ product: 'windows', category: 'webserver' })).toBe(false);
    expect(taxonomy.supports({ product: 'windows', service: 'no-such-channel' })).toBe(false);
    expect(taxonomy.supports({ product: 'macos', category: 'process_creation' })).toBe(false);
    expect(taxonomy.supports({})).toBe(false);
  });

  it("reads Azure's Log Analytics column names as the diagnostic record's properties", () => {
    const signIns = { product: 'azure', service: 'signinlogs' };
    expect(taxonomy.field(signIns, 'AuthenticationRequirement')).toEqual(
      taxonomy.field(signIns, 'properties.authenticationRequirement'),
    );
    expect(taxonomy.field(signIns, 'AuthenticationRequirement')?.paths).toEqual([
      'x-oca-event:x_authentication_requirement',
    ]);
    expect(taxonomy.field({ product: 'azure', service: 'auditlogs' }, 'NoSuchColumn')).toBeUndefined();
  });

  it('runs those on the events whose mapping declares the logsource, reading their raw fields', () => {
    const macos = { product: 'macos', category: 'process_creation' };
    expect(taxonomy.declares?.(macos)).toBe(true);
    expect(taxonomy.field(macos, 'Image')).toEqual({
      paths: ["x-oca-event:x_event_data.'Image'"],
      type: 'string',
      mapped: false,
    });
    expect(taxonomy.condition(macos)).toBe(
      "x-oca-event:x_sigma_logsource.product = 'macos' AND x-oca-event:x_sigma_logsource.category = 'process_creation'",
    );
    // Only the keys the rule names: a category-only rule takes that category of every declaring product.
    expect(taxonomy.condition({ category: 'webserver' })).toBe("x-oca-event:x_sigma_logsource.category = 'webserver'");
    expect(taxonomy.condition({ product: 'windows', service: 'no-such-channel' })).toBe(
      "x-oca-event:x_sigma_logsource.product = 'windows' AND x-oca-event:x_sigma_logsource.service = 'no-such-channel'",
    );
    // A logsource naming nothing, and what the built-in mappings produce, are not declared ones.
    expect(taxonomy.declares?.({})).toBe(false);
    expect(taxonomy.condition({})).toBeUndefined();
    expect(taxonomy.field({}, 'Image')).toBeUndefined();
    expect(taxonomy.declares?.({ product: 'windows', category: 'process_creation' })).toBe(false);
  });
});

describe("Sigma taxonomy: process_creation's Sysmon names read Security 4688 too", () => {
  it('Image, ParentImage, CommandLine and ProcessId find 4688 NewProcessName, ParentProcessName, CommandLine, NewProcessId', () => {
    const fixture = all.find((f) => f.file === 'security-4688-evtx.json') as Fixture;
    const logsource = { product: 'windows', category: 'process_creation' };
    for (const [sigma, source] of [
      ['Image', 'NewProcessName'],
      ['ParentImage', 'ParentProcessName'],
      ['CommandLine', 'CommandLine'],
      ['ProcessId', 'NewProcessId'],
      ['IntegrityLevel', 'MandatoryLabel'],
    ] as const) {
      const binding = taxonomy.field(logsource, sigma) as FieldBinding;
      expect(fires(pattern(logsource, comparison(binding, fixture.data[source])), fixture.event), sigma).toBe(true);
    }
    // Sigma's endswith on the full image: the compiler's LIKE on the path the taxonomy gives.
    expect(
      fires(pattern(logsource, "x-oca-event:process_ref.image_ref.x_path LIKE '%\\\\m64.exe'"), fixture.event),
    ).toBe(true);
  });

  it('every path of the Windows table passes the type checker', () => {
    for (const [name, entry] of Object.entries(WINDOWS_FIELDS)) {
      const paths = typeof entry === 'string' ? [entry] : entry.paths;
      for (const path of paths) expect(complaints(`[EXISTS ${path}]`), name).toEqual([]);
    }
  });
});

describe('Sigma taxonomy: products whose fields are their source fields', () => {
  /** Every dotted field of a record with a scalar value. */
  function leaves(value: unknown, prefix = ''): [string, unknown][] {
    const object = record(value);
    if (object === undefined) return prefix === '' ? [] : [[prefix.slice(0, -1), value]];
    return Object.entries(object).flatMap(([key, inner]) =>
      Array.isArray(inner) ? [] : leaves(inner, `${prefix}${key}.`),
    );
  }

  for (const [source, file, logsource] of [
    ['aws-cloudtrail', 'records.json', { product: 'aws', service: 'cloudtrail' }],
    ['okta', 'system-log.json', { product: 'okta', service: 'okta' }],
    ['entra-id', 'sign-in.json', { product: 'azure', service: 'signinlogs' }],
  ] as const) {
    it(`${source}: each source field the taxonomy binds is found as written, under the logsource's condition`, () => {
      const records = readDocuments(readFileSync(new URL(`../fixtures/${source}/${file}`, import.meta.url), 'utf8'))
        .flatMap((doc) => (doc.ok ? [doc.value] : []))
        .flatMap((value) => {
          const records = record(value)?.Records;
          return Array.isArray(records) ? records : [value];
        });
      const definition = parseYaml(builtInMappingTexts()[`${source}.yaml`] as string) as { null_values?: string[] };
      const nullValues = new Set(definition.null_values ?? []);
      let checked = 0;
      const misses: string[] = [];
      for (const raw of records) {
        const result = normaliser.normalise(raw, 0);
        // Acceptance is the mapping tests' concern; a record it rejects has no fields to find.
        if (!result.ok) continue;
        const event = result.events[0] as ObservedEvent;
        expect(fires(`[${taxonomy.condition(logsource) as string}]`, event)).toBe(true);
        for (const [name, value] of leaves(raw)) {
          // The mapping's "no value" placeholders are absent; fractional numbers have no Sigma type to compare as.
          if (value === null || (typeof value === 'string' && nullValues.has(value))) continue;
          if (typeof value === 'number' && !Number.isInteger(value)) continue;
          const binding = taxonomy.field(logsource, name);
          if (binding === undefined) continue;
          checked++;
          const text = pattern(logsource, comparison(binding, value));
          if (!fires(text, event)) misses.push(`${name}: ${text}`);
        }
      }
      expect(misses.join('\n')).toBe('');
      expect(checked).toBeGreaterThan(5);
    });
  }

  it('cloudtrail: nested request and response fields no mapping names are read by their whole path', () => {
    const record = (requestParameters: Json): Json => ({
      eventVersion: '1.08',
      eventTime: '2026-03-01T08:00:00Z',
      eventSource: 'ecs.amazonaws.com',
      eventName: 'RegisterTaskDefinition',
      eventID: '3f1c7a52-0000-4000-8000-000000000001',
      awsRegion: 'eu-west-1',
      sourceIPAddress: '198.51.100.7',
      userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice' },
      requestParameters,
    });
    const sigma = (detection: string): string =>
      `title: t\nid: 5d0e8b2a-0000-4000-8000-000000000001\nlogsource: { product: aws, service: cloudtrail }\n` +
      `detection:\n  selection:\n    eventSource: ecs.amazonaws.com\n${detection}\n  condition: selection\nlevel: high\n`;
    const run = (detection: string, raw: Json): boolean => {
      return sigmaRuleFires('nested.yml', sigma(detection), raw);
    };
    const credentials = {
      family: 'web',
      containerDefinitions: [
        { name: 'app', command: ['sh', '-c', 'curl 169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'] },
        { name: 'sidecar', command: ['echo', 'ready'] },
      ],
    };
    const command =
      "    requestParameters.containerDefinitions.command|contains: '$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'";
    expect(run(command, record(credentials))).toBe(true);
    expect(run(command, record({ family: 'web', containerDefinitions: [{ command: ['echo'] }] }))).toBe(false);
    // A boolean as Sigma writes it, against the value as the record holds it.
    expect(run('    requestParameters.enable: false', record({ detectorId: 'd1', enable: false }))).toBe(true);
    expect(run('    requestParameters.enable: false', record({ detectorId: 'd1', enable: true }))).toBe(false);
    // A field naming a whole document is not copied as a whole: reported, not silently never matching.
    const whole = loadRules([{ file: 'whole.yml', text: sigma("    requestParameters|contains: 'Suspended'") }]);
    expect(whole.rules).toEqual([]);
    expect(whole.diagnostics.map((d) => d.code)).toContain('sigma-unknown-field');
  });

  it('names a field of an anchored object by its anchored path, and knows no field the mapping does not write', () => {
    const cloudtrail = { product: 'aws', service: 'cloudtrail' };
    expect(taxonomy.field(cloudtrail, 'userIdentity.arn')).toEqual({
      paths: ['x-oca-event:user_ref.x_arn'],
      type: 'string',
      mapped: true,
    });
    expect(taxonomy.field(cloudtrail, 'readOnly')?.type).toBe('boolean');
    expect(taxonomy.field(cloudtrail, 'no.such.field')).toBeUndefined();
    expect(taxonomy.field({ product: 'linux', service: 'auditd' }, 'a1')?.paths).toEqual([
      'x-oca-event:process_ref.x_args[1]',
    ]);
    expect(taxonomy.field({ product: 'linux', category: 'process_creation' }, 'Image')?.paths).toContain(
      'x-oca-event:process_ref.x_exe',
    );
  });
});

describe('Sigma taxonomy: the names Sigma rules use for fields the sources name otherwise', () => {
  /** Whether a Sigma rule (built-in taxonomy) raises on the raw event, through the real normaliser. */
  function raises(logsource: string, selection: string, raw: unknown): boolean {
    const text = [
      'title: Taxonomy alias',
      'id: 5d1c7e2a-3b4f-4a6d-8e9f-0a1b2c3d4e5f',
      `logsource: ${logsource}`,
      'detection:',
      '  selection:',
      selection.replace(/^/gm, '    '),
      '  condition: selection',
    ].join('\n');
    return sigmaRuleFires('alias.yml', text, raw);
  }
  const signIn = (status: Json, activity = 'Sign-in activity'): Json => ({
    time: '2026-03-01T08:00:00Z',
    operationName: 'Sign-in activity',
    category: 'SignInLogs',
    tenantId: 'tenant-1',
    properties: { id: 'sign-in-1', activityDisplayName: activity, userPrincipalName: 'kim@example.org', status },
  });

  it("azure: Status is the result and the sign-in's failure reason and details; properties.message the activity", () => {
    const denied = signIn({ errorCode: 500121, additionalDetails: 'MFA denied; user declined the authentication' });
    const source = '{ product: azure, service: signinlogs }';
    expect(raises(source, "Status|contains: 'mfa denied'", denied)).toBe(true);
    expect(raises(source, "Status|contains: 'MFA denied'", signIn({ errorCode: 0 }))).toBe(false);
    expect(raises(source, "properties.message: 'Sign-in activity'", denied)).toBe(true);
    expect(raises(source, "properties.message: 'Add user'", denied)).toBe(false);
    // The Log Analytics column DeviceDetail reads the record's properties.deviceDetail.
    const device = (detail: Json): Json => {
      const event = signIn({ errorCode: 0 });
      (event.properties as Json).deviceDetail = detail;
      return event;
    };
    const compliant = device({ operatingSystem: 'Windows', isCompliant: true, trustType: 'Azure AD joined' });
    expect(raises(source, "DeviceDetail.isCompliant: 'false'", compliant)).toBe(false);
    expect(raises(source, "DeviceDetail.isCompliant: 'false'", device({ isCompliant: false }))).toBe(true);
    expect(raises(source, "DeviceDetail.trusttype: 'azure ad joined'", compliant)).toBe(true);
  });

  it('auditd: name and nametype are any PATH record of the event, type any record type', () => {
    // The fixture's first audit event: SYSCALL, EXECVE, CWD, two PATH records (curl and the loader), PROCTITLE.
    const [first] = readDocuments(readFileSync(new URL('../fixtures/linux-auditd/audit.log', import.meta.url), 'utf8'));
    if (first === undefined || !first.ok) throw new Error('no audit event');
    const normalised = normaliser.normalise(first.value, 0);
    if (!normalised.ok) throw new Error(normalised.diagnostic.message);
    const event = normalised.events[0] as ObservedEvent;
    const auditd = (selection: string): boolean => {
      const text = [
        'title: auditd names',
        'id: 6d1c7e2a-3b4f-4a6d-8e9f-0a1b2c3d4e5f',
        'logsource: { product: linux, service: auditd }',
        'detection:',
        '  selection:',
        selection.replace(/^/gm, '    '),
        '  condition: selection',
      ].join('\n');
      const rule = loadRules([{ file: 'auditd.yml', text }]).rules[0];
      if (rule?.patternText === undefined) throw new Error('no pattern');
      return fires(rule.patternText, event);
    };
    expect(auditd("type: PATH\nname|endswith: '/ld-linux-x86-64.so.2'\nnametype: NORMAL")).toBe(true);
    expect(auditd("type: PATH\nname: '/etc/shadow'")).toBe(false);
    expect(auditd("type: SERVICE_STOP\nname|endswith: '/curl'")).toBe(false);
  });

  it('okta: target.displayName (and the other target fields) hold when one target has it; behaviors', () => {
    const event = {
      uuid: 'c0ffee00-0000-4000-8000-000000000001',
      published: '2026-03-01T08:00:00.000Z',
      eventType: 'policy.evaluate_sign_on',
      version: '0',
      actor: { id: '00u1', type: 'User', alternateId: 'kim@example.org', displayName: 'Kim' },
      target: [
        { id: '0oa1', type: 'AppInstance', alternateId: 'Okta Admin Console', displayName: 'Okta Admin Console' },
        { id: '0oa2', type: 'Rule', alternateId: 'unknown', displayName: 'Catch-all Rule' },
      ],
      debugContext: { debugData: { behaviors: '{New Geo-Location=POSITIVE, New Device=NEGATIVE}' } },
    };
    const source = '{ product: okta, service: okta }';
    expect(raises(source, "target.displayName: 'Okta Admin Console'", event)).toBe(true);
    expect(raises(source, "target.displayName: 'catch-all rule'\ntarget.type: AppInstance", event)).toBe(true);
    expect(raises(source, "target.displayName: 'Salesforce'", event)).toBe(false);
    expect(raises(source, "debugContext.debugData.behaviors|contains: 'New Geo-Location=POSITIVE'", event)).toBe(true);
    expect(raises(source, "debugContext.debugData.behaviors|contains: 'New Device=POSITIVE'", event)).toBe(false);
  });

  it("zeek: the http log's Host and header names, the x509 certificate, the dns Z bit", () => {
    const http = {
      _path: 'http',
      ts: '2026-03-01T08:00:00.000000Z',
      uid: 'Cz1',
      'id.orig_h': '10.0.0.5',
      'id.orig_p': 50000,
      'id.resp_h': '192.0.2.9',
      'id.resp_p': 5985,
      method: 'POST',
      host: 'files.example.bid',
      uri: '/wsman',
      status_code: 200,
      client_header_names: ['HOST', 'CONTENT-TYPE'],
    };
    const zeekHttp = '{ product: zeek, service: http }';
    expect(raises(zeekHttp, "host|endswith: '.bid'\nuri: /wsman", http)).toBe(true);
    expect(raises(zeekHttp, "host|endswith: '.cf'", http)).toBe(false);
    expect(raises(zeekHttp, "client_header_names|contains: 'content-type'", http)).toBe(true);
    expect(raises(zeekHttp, "client_header_names|contains: 'AUTHORIZATION'", http)).toBe(false);
    const x509 = { _path: 'x509', ts: '2026-03-01T08:00:00Z', fuid: 'F1', 'certificate.serial': '8BB00EE' };
    expect(raises('{ product: zeek, service: x509 }', 'certificate.serial: 8BB00EE', x509)).toBe(true);
    expect(raises('{ product: zeek, service: x509 }', 'certificate.serial: 01', x509)).toBe(false);
    const dns = { _path: 'dns', ts: '2026-03-01T08:00:00Z', uid: 'Cz2', query: 'a.example.org', Z: 1 };
    expect(raises('{ product: zeek, service: dns }', 'Z: 1', dns)).toBe(true);
    expect(raises('{ product: zeek, service: dns }', 'Z: 0', dns)).toBe(false);
  });

  it("zeek http: the W3C names of Sigma's web rules read the http log's fields", () => {
    const source = { product: 'zeek', service: 'http' };
    expect(taxonomy.field(source, 'c-uri')?.paths).toEqual(taxonomy.field(source, 'uri')?.paths);
    expect(taxonomy.field(source, 'c-useragent')?.paths).toEqual(taxonomy.field(source, 'user_agent')?.paths);
    expect(taxonomy.field({ product: 'zeek', service: 'dns' }, 'c-uri')).toBeUndefined();
  });
});

describe('docs/sigma-taxonomy.md', () => {
  it('lists every field of the Windows table', () => {
    const doc = readFileSync(new URL('../../docs/sigma-taxonomy.md', import.meta.url), 'utf8');
    for (const name of Object.keys(WINDOWS_FIELDS)) expect(doc, name).toContain(`| \`${name}\` |`);
  });
});
