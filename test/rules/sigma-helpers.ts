/**
 * What the Sigma tests share: a small taxonomy (a real implementation of the SigmaTaxonomy
 * contract, a table for windows process_creation and a keyword text), Sigma rule text, and
 * STIX 2.1 bundles of one normalised process event to match the compiled patterns against.
 */
import type { Diagnostic } from '../../src/errors.js';
import { loadRules, type LoadResult } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/model.js';
import type { FieldBinding, SigmaLogsource, SigmaTaxonomy } from '../../src/rules/sigma/taxonomy-types.js';

const FIELDS: Record<string, FieldBinding> = {
  CommandLine: { paths: ['x-oca-event:process_ref.command_line'], type: 'string', mapped: true },
  ParentCommandLine: { paths: ['x-oca-event:parent_process_ref.command_line'], type: 'string', mapped: true },
  // Two places: a comparison holds on either.
  Image: {
    paths: ['x-oca-event:process_ref.x_image', 'x-oca-event:process_ref.image_ref.x_path'],
    type: 'string',
    mapped: true,
  },
  ProcessId: { paths: ['x-oca-event:process_ref.pid'], type: 'integer', mapped: true },
  SourceIp: { paths: ['x-oca-event:network_ref.src_ref.value'], type: 'string', mapped: true },
  Elevated: { paths: ['x-oca-event:process_ref.x_elevated'], type: 'boolean', mapped: true },
};

export const testTaxonomy: SigmaTaxonomy = {
  field(logsource: SigmaLogsource, name: string): FieldBinding | undefined {
    if (logsource.category === 'process_creation' && FIELDS[name]) return FIELDS[name];
    if (name === 'NoSuchField') return undefined;
    return { paths: [`x-oca-event:x_raw.'${name}'`], type: 'string', mapped: false };
  },
  condition(logsource: SigmaLogsource): string | undefined {
    return logsource.category === 'process_creation' ? "x-oca-event:code = '1'" : undefined;
  },
  supports(logsource: SigmaLogsource): boolean {
    return logsource.product === 'windows' || logsource.product === 'linux';
  },
  keywords(logsource: SigmaLogsource): FieldBinding | undefined {
    return logsource.product === 'linux'
      ? { paths: ['x-oca-event:x_message'], type: 'string', mapped: true }
      : undefined;
  },
};

/** A Sigma rule for windows process_creation with this detection (YAML lines, indented by 4). */
export function sigmaRule(detection: string, extra = ''): string {
  return [
    'title: Test rule',
    'id: 00000000-0000-4000-8000-000000000001',
    'status: test',
    'logsource:',
    '    category: process_creation',
    '    product: windows',
    'detection:',
    detection.replace(/^/gm, '    '),
    'level: medium',
    extra,
  ].join('\n');
}

export function load(text: string, file = 'rules/sigma.yml'): LoadResult {
  return loadRules([{ file, text }], { sigmaTaxonomy: testTaxonomy });
}

/** The one rule the text compiles to; fails the test with the diagnostics otherwise. */
export function compileOne(text: string): Rule {
  const { rules, diagnostics } = load(text);
  if (rules.length !== 1) throw new Error(`expected one rule: ${JSON.stringify(diagnostics)}`);
  return rules[0] as Rule;
}

export function errors(text: string): Diagnostic[] {
  return load(text).diagnostics.filter((d) => d.severity === 'error');
}

export interface ProcessEvent {
  code?: string;
  command_line?: string;
  parent_command_line?: string;
  x_image?: string;
  image_path?: string;
  pid?: number;
  x_elevated?: boolean;
  src_ip?: string;
  x_message?: string;
  x_raw?: Record<string, unknown>;
}

/** A STIX 2.1 bundle of one normalised event: the x-oca-event anchor and the objects it refers to. */
export function bundle(event: ProcessEvent): unknown {
  const objects: Record<string, unknown>[] = [];
  const anchor: Record<string, unknown> = {
    type: 'x-oca-event',
    spec_version: '2.1',
    id: 'x-oca-event--00000000-0000-4000-8000-000000000010',
    code: event.code ?? '1',
  };
  if (event.x_message !== undefined) anchor.x_message = event.x_message;
  if (event.x_raw !== undefined) anchor.x_raw = event.x_raw;
  const process: Record<string, unknown> = {
    type: 'process',
    spec_version: '2.1',
    id: 'process--00000000-0000-4000-8000-000000000011',
  };
  for (const key of ['command_line', 'x_image', 'pid', 'x_elevated'] as const)
    if (event[key] !== undefined) process[key] = event[key];
  if (event.image_path !== undefined) {
    process.image_ref = 'file--00000000-0000-4000-8000-000000000013';
    objects.push({ type: 'file', spec_version: '2.1', id: process.image_ref, x_path: event.image_path });
  }
  anchor.process_ref = process.id;
  objects.push(process);
  if (event.parent_command_line !== undefined) {
    anchor.parent_process_ref = 'process--00000000-0000-4000-8000-000000000012';
    objects.push({
      type: 'process',
      spec_version: '2.1',
      id: anchor.parent_process_ref,
      command_line: event.parent_command_line,
    });
  }
  if (event.src_ip !== undefined) {
    anchor.network_ref = 'network-traffic--00000000-0000-4000-8000-000000000014';
    objects.push(
      {
        type: 'ipv4-addr',
        spec_version: '2.1',
        id: 'ipv4-addr--00000000-0000-4000-8000-000000000015',
        value: event.src_ip,
      },
      {
        type: 'network-traffic',
        spec_version: '2.1',
        id: anchor.network_ref,
        src_ref: 'ipv4-addr--00000000-0000-4000-8000-000000000015',
        protocols: ['tcp'],
      },
    );
  }
  objects.push(anchor);
  const observed = {
    type: 'observed-data',
    spec_version: '2.1',
    id: 'observed-data--00000000-0000-4000-8000-000000000001',
    created: '2026-11-30T08:00:00.000Z',
    modified: '2026-11-30T08:00:00.000Z',
    first_observed: '2026-11-30T08:00:00.000Z',
    last_observed: '2026-11-30T08:00:00.000Z',
    number_observed: 1,
    object_refs: objects.map((o) => o.id),
  };
  return { type: 'bundle', id: 'bundle--00000000-0000-4000-8000-000000000001', objects: [observed, ...objects] };
}

/** Does the rule's compiled pattern match the event? */
export function matches(rule: Rule, event: ProcessEvent): boolean {
  return rule.pattern.match(bundle(event)).matched;
}
