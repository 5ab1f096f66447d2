/** Events and rules for the pipeline tests, shared with the shell-level tests that compare the shells against it. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadRulesFromPaths } from '../../src/rules/load.js';

export const RULES_DIR = fileURLToPath(new URL('../../rules/', import.meta.url));
export const EXAMPLE_LINES = readFileSync(
  fileURLToPath(new URL('../../examples/events.ndjson', import.meta.url)),
  'utf8',
)
  .trim()
  .split('\n');
export const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/** A STIX 2.0 observed-data with embedded objects: one self-contained event. */
export function observed20(
  n: number,
  at: string,
  objects: Record<string, Record<string, unknown>>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    type: 'observed-data',
    id: `observed-data--${uuid(n)}`,
    created: at,
    modified: at,
    first_observed: at,
    last_observed: at,
    number_observed: 1,
    objects,
    ...extra,
  };
}

/** A STIX 2.1 bundle holding one observed-data per process name, all at `at`. */
export function bundleOf(
  n: number,
  at: string,
  names: string[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const objects: Record<string, unknown>[] = [];
  names.forEach((name, i) => {
    const proc = { type: 'process', spec_version: '2.1', id: `process--${uuid(n * 100 + i + 50)}`, name };
    objects.push(
      {
        type: 'observed-data',
        spec_version: '2.1',
        id: `observed-data--${uuid(n * 100 + i)}`,
        created: at,
        modified: at,
        first_observed: at,
        last_observed: at,
        number_observed: 1,
        object_refs: [proc.id],
        ...extra,
      },
      proc,
    );
  });
  return { type: 'bundle', id: `bundle--${uuid(n * 1000)}`, objects };
}

export const EXAMPLES = loadRulesFromPaths([RULES_DIR]);

/** The README's five events, a STIX bundle (a shell from nginx, then a callback) claiming another tenant. */
export function mixedEvents(): unknown[] {
  const at = '2026-01-01T11:00:00Z';
  const parent = { type: 'process', spec_version: '2.1', id: `process--${uuid(901)}`, name: 'nginx' };
  const shell = {
    type: 'process',
    spec_version: '2.1',
    id: `process--${uuid(902)}`,
    name: 'sh',
    parent_ref: parent.id,
  };
  const bundle = {
    type: 'bundle',
    id: `bundle--${uuid(900)}`,
    objects: [
      {
        type: 'observed-data',
        spec_version: '2.1',
        id: `observed-data--${uuid(903)}`,
        created: at,
        modified: at,
        first_observed: at,
        last_observed: at,
        number_observed: 1,
        object_refs: [shell.id, parent.id],
        x_tenant: 'someone-else',
      },
      shell,
      parent,
    ],
  };
  return [...EXAMPLE_LINES.map((l) => JSON.parse(l) as unknown), bundle];
}
