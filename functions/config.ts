/**
 * Environment configuration of the Lambda functions, read and validated once per container.
 * Every problem is reported at once, by variable name, so a misconfigured deployment fails at
 * init with a message that says what to fix.
 */
import { resolve } from 'node:path';
import { StixflowError } from '../src/errors.js';
import { DEFAULT_RULES_ADMIN_SCOPE } from '../src/util/scopes.js';

export class ConfigError extends StixflowError {
  constructor(problems: string[], options?: ErrorOptions) {
    super('config', `stixflow: invalid function configuration:\n  - ${problems.join('\n  - ')}`, [], options);
  }
}

/** Which function the configuration is for: the rules API sends no alerts, so it needs no alert queue. */
export type FunctionRole = 'ingest' | 'rules-api' | 'alerts-api';

/** How an IAM-authenticated caller maps to a tenant. */
export type IamTenantSource = 'account' | 'role';

export interface RuntimeConfig {
  role: FunctionRole;
  /** DynamoDB state table (correlation state, counters, rule overrides). */
  tableName: string;
  /** Alert queue URL (ingest functions only). */
  alertQueueUrl: string | undefined;
  /** Absolute path of the rules directory shipped with the bundle. */
  rulesDir: string;
  /** Tenant of SQS messages without a `tenant` message attribute. */
  defaultTenant: string;
  /** Largest accepted HTTP body, in bytes after base64 decoding. */
  maxBodyBytes: number;
  latenessSeconds: number | undefined;
  maxPartialsPerGroup: number | undefined;
  /** Rule overrides are re-read at most this often. */
  overridesRefreshSeconds: number;
  /**
   * The rule store's version is read at most this often (#17); its rules only when it moved.
   * RULE_STORE_REFRESH_SECONDS, default 60; the local stack uses 0 (every event).
   */
  ruleStoreRefreshSeconds: number;
  /** The alert table (#17): alerts kept for triage; ALERT_TABLE_NAME, none when the console's alerts are off. */
  alertTableName: string | undefined;
  /** Days an alert is kept in the alert table; ALERT_RETENTION_DAYS, default 90. */
  alertRetentionDays: number;
  iamTenantSource: IamTenantSource;
  /**
   * Scope a token caller (JWT or Lambda authoriser) needs to change rules (PATCH /rules/{id}):
   * an override applies to every tenant. Under JWT API Gateway checks it on the route, the rules
   * API again; IAM callers are authorised by the IAM policy on the route instead.
   * RULES_ADMIN_SCOPE, default `stixflow/rules.admin`.
   */
  rulesAdminScope: string;
  /** Directory holding the built-in mappings (stix.yaml, ecs.yaml, flat.yaml) when they are not beside the code. */
  mappingsDir: string | undefined;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
export const DEFAULT_OVERRIDES_REFRESH_SECONDS = 60;
export const DEFAULT_RULE_STORE_REFRESH_SECONDS = 60;
export const DEFAULT_ALERT_RETENTION_DAYS = 90;
export const DEFAULT_TENANT = 'default';
export { DEFAULT_RULES_ADMIN_SCOPE };

/** Tenants are key material in the state table: printable, bounded, never empty. */
export function isValidTenant(tenant: string): boolean {
  // eslint-disable-next-line no-control-regex
  return tenant.length > 0 && tenant.length <= 256 && !/[\u0000-\u001f\u007f]/.test(tenant);
}

export function readConfig(env: Record<string, string | undefined>, role: FunctionRole): RuntimeConfig {
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) {
      problems.push(`${name} is required`);
      return '';
    }
    return value;
  };
  const integer = (name: string, min: number, max: number): number | undefined => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return undefined;
    }
    return value;
  };
  // Relative paths are relative to the function's code root (/var/task on Lambda).
  const root = env.LAMBDA_TASK_ROOT ?? process.cwd();
  const pathOf = (value: string): string => resolve(root, value);

  const tableName = required('TABLE_NAME');
  const alertQueueUrl = role === 'ingest' ? required('ALERT_QUEUE_URL') : env.ALERT_QUEUE_URL?.trim() || undefined;
  const rulesDir = required('RULES_DIR');
  const defaultTenant = env.DEFAULT_TENANT?.trim() || DEFAULT_TENANT;
  if (!isValidTenant(defaultTenant)) problems.push('DEFAULT_TENANT must be 1-256 printable characters');
  const iamTenantSource = (env.IAM_TENANT_SOURCE?.trim() || 'account') as IamTenantSource;
  if (iamTenantSource !== 'account' && iamTenantSource !== 'role')
    problems.push(`IAM_TENANT_SOURCE must be "account" or "role", got ${JSON.stringify(iamTenantSource)}`);
  const config: RuntimeConfig = {
    role,
    tableName,
    alertQueueUrl,
    rulesDir: rulesDir ? pathOf(rulesDir) : '',
    defaultTenant,
    maxBodyBytes: integer('MAX_BODY_BYTES', 1, 10 * 1024 * 1024) ?? DEFAULT_MAX_BODY_BYTES,
    latenessSeconds: integer('LATENESS_SECONDS', 0, 7 * 86_400),
    maxPartialsPerGroup: integer('MAX_PARTIALS_PER_GROUP', 1, 10_000),
    overridesRefreshSeconds: integer('RULE_OVERRIDES_REFRESH_SECONDS', 0, 3600) ?? DEFAULT_OVERRIDES_REFRESH_SECONDS,
    ruleStoreRefreshSeconds: integer('RULE_STORE_REFRESH_SECONDS', 0, 3600) ?? DEFAULT_RULE_STORE_REFRESH_SECONDS,
    alertTableName: env.ALERT_TABLE_NAME?.trim() || undefined,
    alertRetentionDays: integer('ALERT_RETENTION_DAYS', 1, 3650) ?? DEFAULT_ALERT_RETENTION_DAYS,
    iamTenantSource,
    rulesAdminScope: env.RULES_ADMIN_SCOPE?.trim() || DEFAULT_RULES_ADMIN_SCOPE,
    mappingsDir: env.MAPPINGS_DIR?.trim() ? pathOf(env.MAPPINGS_DIR.trim()) : undefined,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
