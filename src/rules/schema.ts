/**
 * JSON Schema (2020-12) of a rule. Published as schemas/rule.schema.json (a test keeps the two
 * identical) so that editors and CI can validate rule files without stixflow.
 */
import { SEVERITIES } from './model.js';

export const RULE_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://stixflow.dev/schemas/rule.schema.json',
  title: 'stixflow detection rule',
  type: 'object',
  required: ['id', 'name', 'severity', 'pattern'],
  additionalProperties: false,
  properties: {
    id: {
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$',
      description: 'Stable unique id (letters, digits, . _ : -).',
    },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: 'string', maxLength: 5000 },
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
    valid_from: { type: 'string' },
    valid_until: { type: 'string' },
    tests: { type: 'array', items: { type: 'object' } },
  },
} as const;
