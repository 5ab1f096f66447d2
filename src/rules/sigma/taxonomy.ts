/**
 * The built-in Sigma taxonomy: where Sigma fields are in events the built-in mappings normalise.
 *
 * This is the minimal version the Sigma compiler's branch ships so that Sigma rules load end to
 * end: Windows process_creation fields with a STIX path (Sysmon 1 and Security 4688), and for
 * every other field the raw-field fallback. The full table (every Sysmon and Security category,
 * linux, cloud and network logsources) replaces this file.
 */
import type { FieldBinding, SigmaLogsource, SigmaTaxonomy } from './taxonomy-types.js';

/** Windows process_creation fields with a STIX path (mappings/windows.yaml), by Sigma name. */
const PROCESS_CREATION: Readonly<Record<string, string[]>> = {
  CommandLine: ['x-oca-event:process_ref.command_line'],
  ParentCommandLine: ['x-oca-event:parent_process_ref.command_line'],
  CurrentDirectory: ['x-oca-event:process_ref.cwd'],
  IntegrityLevel: ['x-oca-event:process_ref.x_integrity_level'],
  OriginalFileName: ['x-oca-event:process_ref.image_ref.x_original_file_name'],
  Description: ['x-oca-event:process_ref.image_ref.x_description'],
  Product: ['x-oca-event:process_ref.image_ref.x_product'],
  Company: ['x-oca-event:process_ref.image_ref.x_company'],
  LogonId: ['x-oca-event:process_ref.x_logon_id'],
};

const PROCESS_CREATION_CONDITION =
  "(x-oca-event:code = '1' AND x-oca-event:provider = 'Microsoft-Windows-Sysmon') OR x-oca-event:code = '4688'";

/** Products some built-in mapping produces events of. */
const PRODUCTS = new Set(['windows', 'linux', 'aws', 'okta', 'azure', 'zeek', 'suricata']);

/** A field the taxonomy has no path for: the source field as the mapping kept it, unmapped. */
function rawFallback(name: string): FieldBinding {
  return {
    paths: [`x-oca-event:x_unmapped.'${name.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`],
    type: 'string',
    mapped: false,
  };
}

export const builtinSigmaTaxonomy: SigmaTaxonomy = {
  field(logsource: SigmaLogsource, name: string): FieldBinding | undefined {
    if (logsource.product === 'windows' && logsource.category === 'process_creation') {
      const paths = PROCESS_CREATION[name];
      if (paths) return { paths, type: 'string', mapped: true };
    }
    return rawFallback(name);
  },
  condition(logsource: SigmaLogsource): string | undefined {
    if (logsource.product === 'windows' && logsource.category === 'process_creation') return PROCESS_CREATION_CONDITION;
    if (logsource.product === 'windows') return "x-oca-event:module = 'windows'";
    return undefined;
  },
  supports(logsource: SigmaLogsource): boolean {
    return logsource.product !== undefined && PRODUCTS.has(logsource.product);
  },
};
