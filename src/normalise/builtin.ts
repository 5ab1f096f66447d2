/**
 * The built-in mappings, written in the mapping language under `mappings/` and loaded once per process.
 * Order matters: the first mapping whose `detect` holds is used, so STIX pass-through comes first and the loose
 * flat key-value family last.
 */
import { lazyMapping, setMappingSchemaText } from './loader.js';
import { readResource } from './resources.js';
import type { Mapping } from './types.js';

export const BUILT_IN_MAPPING_FILES = [
  'stix.yaml',
  'windows.yaml',
  'aws-cloudtrail.yaml',
  'aws-vpcflow.yaml',
  'aws-guardduty.yaml',
  'zeek.yaml',
  'suricata.yaml',
  'okta.yaml',
  'entra-id.yaml',
  'linux-auditd.yaml',
  'osquery.yaml',
  'ocsf.yaml',
  'crowdstrike-fdr.yaml',
  'sentinel-syslog.yaml',
  'ecs.yaml',
  'flat.yaml',
] as const;

let texts: Record<string, string> | undefined;
let mappings: Mapping[] | undefined;

/**
 * The built-in mapping texts by file name. A bundler that cannot ship the `mappings/` directory can inline
 * these with `setBuiltInMappingTexts` instead.
 */
export function builtInMappingTexts(): Record<string, string> {
  if (texts === undefined) {
    const loaded: Record<string, string> = {};
    for (const file of BUILT_IN_MAPPING_FILES) loaded[file] = readResource(`mappings/${file}`);
    texts = loaded;
  }
  return texts;
}

/**
 * Supplies the built-in mapping texts and the mapping schema text (e.g. inlined by a bundler) instead of reading
 * `mappings/` and `schemas/` next to the code.
 */
export function setBuiltInMappingTexts(
  inlined: Record<(typeof BUILT_IN_MAPPING_FILES)[number], string>,
  schema?: string,
): void {
  texts = { ...inlined };
  mappings = undefined;
  if (schema !== undefined) setMappingSchemaText(schema);
}

/**
 * The built-in mappings, loaded once and shared. Each is read only as far as detection needs
 * (its name and `detect`) until an event is normalised with it: a process that sees Windows
 * events compiles the Windows mapping and none of the other fifteen (a cold start's saving).
 */
export function builtInMappings(): Mapping[] {
  if (mappings === undefined) {
    const source = builtInMappingTexts();
    mappings = BUILT_IN_MAPPING_FILES.map((file) => lazyMapping(source[file] as string, `mappings/${file}`));
  }
  return [...mappings];
}
