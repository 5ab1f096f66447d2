/**
 * JSON Schema (2020-12) of a rule. Published as schemas/rule.schema.json (a test keeps the two
 * identical) so that editors and CI can validate rule files without stixflow.
 */
import { SEVERITIES } from './model.js';
import { MAX_EXACT_UP_TO, MAX_RULE_RISK, MAX_TERM_PATHS, RULE_KINDS } from './aggregation.js';

const DURATION = {
  oneOf: [
    { type: 'integer', minimum: 1 },
    { type: 'string', pattern: '^[0-9]+(s|m|h|d)$' },
  ],
} as const;
const PATH_OR_PATHS = {
  oneOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: MAX_TERM_PATHS },
  ],
} as const;

export const RULE_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://stixflow.dev/schemas/rule.schema.json',
  title: 'stixflow detection rule',
  type: 'object',
  required: ['id', 'name', 'severity'],
  // A pattern rule has a `pattern`; an aggregation rule (`kind: threshold` …) a `select`.
  if: { required: ['kind'], properties: { kind: { not: { const: 'pattern' } } } },
  then: { required: ['select'] },
  else: { required: ['pattern'] },
  additionalProperties: false,
  properties: {
    id: {
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$',
      description: 'Stable unique id (letters, digits, . _ : -).',
    },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    description: {
      type: 'string',
      maxLength: 5000,
      description: 'A template, as `title` is: {type:path} placeholders are filled per alert.',
    },
    severity: { enum: [...SEVERITIES] },
    category: { type: 'string', maxLength: 100 },
    type: { type: 'string', maxLength: 100 },
    tags: { type: 'array', items: { type: 'string', maxLength: 100 }, maxItems: 50 },
    // OUTPUTS (#19): where the rule's alerts are delivered, by output name (the stack's outputs); added to the stack's routes.
    outputs: {
      type: 'array',
      items: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
      maxItems: 20,
      uniqueItems: true,
      description:
        "Names of the outputs (configured in the stack) that receive this rule's alerts, besides the stack's routes.",
    },
    pattern: { type: 'string', minLength: 1, description: 'STIX 2.1 pattern.' },
    stix_version: { enum: ['2.0', '2.1'] },
    case_sensitive: {
      oneOf: [
        { type: 'boolean' },
        {
          type: 'object',
          required: ['except'],
          additionalProperties: false,
          properties: {
            except: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, maxItems: 100 },
          },
        },
      ],
      description:
        "String comparisons (=, !=, IN, LIKE, MATCHES) of the pattern and its filters: true (default, the specification's) compares case-sensitively; false folds case (Unicode full case folding); { except: [paths] } folds case only on the listed object paths, e.g. process:name.",
    },
    enabled: { type: 'boolean' },
    group_by: {
      oneOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 5 },
      ],
      description: 'Object paths (type:path) whose values partition correlation state, e.g. process:x_host_id.',
    },
    filters: {
      type: 'array',
      maxItems: 100,
      items: {
        oneOf: [
          { type: 'string', minLength: 1 },
          {
            type: 'object',
            required: ['pattern'],
            additionalProperties: false,
            properties: {
              pattern: { type: 'string', minLength: 1 },
              reason: { type: 'string' },
              expires: {
                type: 'string',
                description: 'ISO 8601 date or date-time after which the filter no longer applies.',
              },
            },
          },
        ],
      },
      description:
        'Exclusions: an event that matches the rule and a filter raises no alert and is counted as filtered.',
    },
    suppress: {
      oneOf: [
        { type: 'integer', minimum: 1 },
        { type: 'string', pattern: '^[0-9]+(s|m|h|d)$' },
      ],
      description:
        'No second alert for the same rule and group key within this period (seconds, or 30s / 10m / 2h / 1d).',
    },
    rate_limit: {
      type: 'object',
      additionalProperties: false,
      required: ['max_alerts'],
      properties: {
        max_alerts: { type: 'integer', minimum: 1 },
        period: {
          oneOf: [
            { type: 'integer', minimum: 1 },
            { type: 'string', pattern: '^[0-9]+(s|m|h|d)$' },
          ],
        },
        throttle_for: {
          oneOf: [
            { type: 'integer', minimum: 1 },
            { type: 'string', pattern: '^[0-9]+(s|m|h|d)$' },
          ],
        },
      },
    },
    scope: {
      type: 'object',
      additionalProperties: false,
      properties: {
        tenants: { type: 'array', items: { type: 'string' } },
        hosts: { type: 'array', items: { type: 'string' } },
      },
      description: 'Where the rule applies; all tenants and hosts by default.',
    },
    // Aggregation rule kinds (docs/rule-kinds.md).
    kind: {
      enum: [...RULE_KINDS],
      description:
        'pattern (default): alert on a STIX pattern; threshold, distinct_count, new_terms, outliers: aggregate the events `select` picks, per group_by; risk: sum the risk of the distinct rules whose alerts `select` picks, per entity.',
    },
    // Risk (#16.5): what an alert of this rule adds to its entity's risk score (risk rules).
    risk: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: MAX_RULE_RISK,
      description:
        "What each alert of this rule adds to its entity's risk, once per rule per window (kind: risk rules sum it).",
    },
    select: {
      type: 'string',
      minLength: 1,
      description: 'Aggregation rules: one STIX observation expression choosing the events aggregated.',
    },
    window: {
      ...DURATION,
      description: 'threshold, distinct_count, risk: the length of a window (event time), e.g. 10m.',
    },
    hop: {
      ...DURATION,
      description:
        'threshold, distinct_count: a window starts every hop (default half the window); divides the window.',
    },
    condition: {
      oneOf: [
        { type: 'number' },
        {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            gt: { type: 'number' },
            gte: { type: 'number' },
            lt: { type: 'number' },
            lte: { type: 'number' },
            eq: { type: 'number' },
          },
        },
      ],
      description:
        'threshold, distinct_count: when a window alerts; a number n means { gte: n }; bounds combine into a range.',
    },
    sum: {
      type: 'string',
      minLength: 1,
      description: 'threshold: compare the sum of this numeric path, not the count.',
    },
    max: { type: 'string', minLength: 1, description: 'threshold: compare the maximum of this numeric path.' },
    distinct: {
      ...PATH_OR_PATHS,
      description: 'distinct_count: the path (or up to three, combined) whose distinct values are counted.',
    },
    exact_up_to: {
      type: 'integer',
      minimum: 1,
      maximum: MAX_EXACT_UP_TO,
      description: 'distinct_count: distinct values counted exactly per hop; past it, a HyperLogLog sketch.',
    },
    terms: {
      ...PATH_OR_PATHS,
      description: 'new_terms: the path (or up to three, combined) whose value alerts when first seen for its group.',
    },
    history: {
      ...DURATION,
      description: 'new_terms: a term is new when not seen within this long before; outliers: the baseline.',
    },
    learning: { ...DURATION, description: 'new_terms: nothing alerts until the group is this old.' },
    bucket: { ...DURATION, description: 'outliers: the length of a bucket (event time), e.g. 1h.' },
    deviation: {
      type: 'number',
      exclusiveMinimum: 0,
      description:
        'outliers: alert above median + this many scaled median absolute deviations of the baseline (default 5).',
    },
    min_buckets: {
      type: 'integer',
      minimum: 1,
      description: 'outliers: baseline buckets needed before anything alerts (default half the history).',
    },
    min_group_events: {
      type: 'integer',
      minimum: 0,
      description: 'new_terms: nothing alerts until the group has seen this many selected events.',
    },
    valid_from: { type: 'string' },
    valid_until: { type: 'string' },
    tests: { type: 'array', items: { type: 'object' } },
    // Alert content (#14.4)
    title: {
      type: 'string',
      minLength: 1,
      maxLength: 500,
      description:
        "The alert's title, a template: {type:path} placeholders are filled from the event that completed the match, e.g. '{process:name} started by {process:parent_ref.name} on {x-oca-asset:hostname}'; a missing value shows as (no type:path); {{ and }} are literal braces. Default: the rule's name. The description is a template too.",
    },
    context: {
      type: 'object',
      maxProperties: 50,
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' },
      additionalProperties: { type: 'string', minLength: 1 },
      description:
        "Named object paths whose values the alert carries in `context` (null when the event has none), e.g. { process_uid: 'process:x_entity_id', command_line: 'x-oca-event:process_ref.command_line', user: 'user-account:user_id' }.",
    },
    severity_overrides: {
      type: 'array',
      maxItems: 20,
      items: {
        type: 'object',
        required: ['when', 'severity'],
        additionalProperties: false,
        properties: {
          when: { type: 'string', minLength: 1 },
          severity: { enum: [...SEVERITIES] },
        },
      },
      description:
        "Severities that depend on the event that completed the match: the first entry whose `when` (a STIX comparison expression, e.g. \"process:command_line LIKE '%-enc%'\", or one bracketed observation expression) holds on it sets the alert's severity; none: the rule's severity.",
    },
  },
  // The top-level keys of a rule file beside `rules:` (a file may hold only these): named lists
  // and macros (#14.2) and shared exceptions (#14.5). Not rule fields: documented here so that
  // one schema describes what a rule file holds.
  $defs: {
    lists: {
      description:
        'Top-level `lists:` of a rule file: named value lists, written $name where a STIX IN list goes (`process:name IN $office_apps`). All strings or all numbers. Shared by every loaded file.',
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
      additionalProperties: {
        oneOf: [
          { $ref: '#/$defs/listValues' },
          {
            type: 'object',
            required: ['values'],
            additionalProperties: false,
            properties: { values: { $ref: '#/$defs/listValues' }, description: { type: 'string' } },
          },
        ],
      },
      examples: [{ office_apps: ['winword.exe', 'excel.exe', 'powerpnt.exe'], admin_ports: [22, 3389] }],
    },
    listValues: {
      oneOf: [
        { type: 'array', minItems: 1, items: { type: 'string' } },
        { type: 'array', minItems: 1, items: { type: 'number' } },
      ],
    },
    macros: {
      description:
        "Top-level `macros:` of a rule file: named comparison expressions (what goes inside [ ]), written [$name] or [$name('arg') AND …] in a pattern, a filter or another macro; expanded at load into standard STIX (`stixflow validate --expand` prints it). A parameter is written $param in the expression; an argument is a STIX constant, a (…) set or a $list.",
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
      additionalProperties: {
        oneOf: [
          { type: 'string', minLength: 1 },
          {
            type: 'object',
            required: ['expression'],
            additionalProperties: false,
            properties: {
              expression: { type: 'string', minLength: 1 },
              params: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' } },
              description: { type: 'string' },
            },
          },
        ],
      },
      examples: [
        {
          word_launching_powershell:
            "process:parent_ref.name IN $office_apps AND process:name IN ('powershell.exe', 'pwsh.exe')",
          child_of: { params: ['parent'], expression: 'process:parent_ref.name = $parent' },
        },
      ],
    },
    exceptions: {
      description:
        'Top-level `exceptions:` of a rule file: shared allowlists. An event that matches a rule selected by `applies_to` and the exception raises no alert and is counted as filtered for that rule (as its own filters are), until `expires`.',
      type: 'array',
      items: { $ref: '#/$defs/exception' },
      examples: [
        [
          {
            id: 'ansible-on-config-hosts',
            pattern: "[process:name IN $config_tools AND process:x_host_id IN ('cfg-1', 'cfg-2')]",
            applies_to: { tags: ['attack.execution'], categories: ['execution'], rules: ['word-*'] },
            reason: 'configuration management runs here',
            expires: '2027-03-31',
          },
        ],
      ],
    },
    exception: {
      type: 'object',
      required: ['id', 'pattern', 'applies_to', 'reason', 'expires'],
      additionalProperties: false,
      properties: {
        id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' },
        pattern: {
          type: 'string',
          minLength: 1,
          description: 'STIX pattern (lists and macros allowed); compared as each rule it applies to compares.',
        },
        applies_to: {
          oneOf: [
            { const: 'all' },
            {
              type: 'object',
              additionalProperties: false,
              minProperties: 1,
              properties: {
                tags: { type: 'array', items: { type: 'string' }, minItems: 1 },
                categories: { type: 'array', items: { type: 'string' }, minItems: 1 },
                rules: {
                  type: 'array',
                  items: { type: 'string', minLength: 1 },
                  minItems: 1,
                  description: 'Rule ids; * matches any run of characters, ? one character.',
                },
              },
            },
          ],
          description: '`all`, or the rules with any of these tags, categories or ids (a rule any selector picks).',
        },
        reason: { type: 'string', minLength: 1 },
        expires: {
          type: 'string',
          description: 'ISO 8601 date or date-time; from then on the exception no longer applies (and is a warning).',
        },
        description: { type: 'string' },
      },
    },
  },
} as const;
