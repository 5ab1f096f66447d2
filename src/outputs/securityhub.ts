/**
 * The AWS Security Hub output: each alert is an ASFF finding (AWS Security Finding Format, SchemaVersion
 * 2018-10-08) imported with BatchImportFindings (at most 100 findings a request) under the account's custom
 * integration, ProductArn `arn:aws:securityhub:<region>:<account>:product/<account>/default`. The finding Id is the
 * alert id, so a re-imported alert updates its finding instead of adding one. Types come from the alert's ATT&CK
 * tags (TTPs/<tactic>/<technique>), Severity.Label from its severity, Resources from its STIX objects.
 */
import {
  BatchImportFindingsCommand,
  type AwsSecurityFinding,
  type SecurityHubClient,
} from '@aws-sdk/client-securityhub';
import { sdkDeliveryError } from './aws.js';
import { cut } from './formats.js';
import { alertObservables } from './observables.js';
import { DeliveryError, type AlertDocument, type AttemptFailures, type OutputSender } from './types.js';

export const SECURITY_HUB_MAX_FINDINGS = 100;

export interface SecurityHubSettings {
  region: string;
  accountId: string;
  /** The partition of the ARNs (`aws`, `aws-cn`, `aws-us-gov`); `aws` by default. */
  partition: string;
}

export function customProductArn(settings: SecurityHubSettings): string {
  return `arn:${settings.partition}:securityhub:${settings.region}:${settings.accountId}:product/${settings.accountId}/default`;
}

const SEVERITY_LABEL: Record<AlertDocument['severity'], 'INFORMATIONAL' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL'> = {
  informational: 'INFORMATIONAL',
  low: 'LOW',
  medium: 'MEDIUM',
  high: 'HIGH',
  critical: 'CRITICAL',
};

/**
 * ATT&CK tactics (Sigma tags `attack.<tactic>`) as ASFF type categories: the TTPs namespace has ten of them,
 * exfiltration and impact are Effects.
 */
const TACTIC_TYPE: Record<string, string> = {
  reconnaissance: 'TTPs/Discovery',
  initial_access: 'TTPs/Initial Access',
  execution: 'TTPs/Execution',
  persistence: 'TTPs/Persistence',
  privilege_escalation: 'TTPs/Privilege Escalation',
  defense_evasion: 'TTPs/Defense Evasion',
  credential_access: 'TTPs/Credential Access',
  discovery: 'TTPs/Discovery',
  lateral_movement: 'TTPs/Lateral Movement',
  collection: 'TTPs/Collection',
  command_and_control: 'TTPs/Command and Control',
  exfiltration: 'Effects/Data Exfiltration',
  impact: 'Effects',
};

/** Finding types from the alert's ATT&CK tags: a tactic with each technique as classifier; at most 50. */
export function findingTypes(tags: readonly string[]): string[] {
  const tactics: string[] = [];
  const techniques: string[] = [];
  for (const tag of tags) {
    const name = tag.toLowerCase().replace(/^attack\./, '');
    if (!tag.toLowerCase().startsWith('attack.')) continue;
    const type = TACTIC_TYPE[name.replace(/-/g, '_')];
    if (type !== undefined && !tactics.includes(type)) tactics.push(type);
    else if (/^t\d{4}(\.\d{3})?$/.test(name)) techniques.push(name.toUpperCase());
  }
  const types = new Set<string>();
  for (const tactic of tactics) {
    if (techniques.length === 0 || !tactic.startsWith('TTPs/')) types.add(tactic);
    for (const technique of tactic.startsWith('TTPs/') ? techniques : []) types.add(`${tactic}/${technique}`);
  }
  // A technique without its tactic still says the finding is about tactics, techniques and procedures.
  if (types.size === 0) types.add(techniques.length > 0 ? 'TTPs' : 'Unusual Behaviors');
  return [...types].slice(0, 50);
}

/** ARNs of the resource types Security Hub knows; any other value is an `Other` resource. */
function arnResourceType(arn: string): string | undefined {
  const [, , service, , , resource = ''] = arn.split(':');
  if (service === 'iam' && resource.startsWith('user/')) return 'AwsIamUser';
  if (service === 'iam' && resource.startsWith('role/')) return 'AwsIamRole';
  if (service === 's3' && !resource.includes('/')) return 'AwsS3Bucket';
  if (service === 's3') return 'AwsS3Object';
  if (service === 'ec2' && resource.startsWith('instance/')) return 'AwsEc2Instance';
  if (service === 'lambda') return 'AwsLambdaFunction';
  return undefined;
}

/** Resources of a finding (1 to 32): the ARNs and observables of the alert's objects, else the tenant. */
export function findingResources(alert: AlertDocument, settings: SecurityHubSettings): AwsSecurityFinding['Resources'] {
  const resources: NonNullable<AwsSecurityFinding['Resources']> = [];
  const seen = new Set<string>();
  const add = (type: string, id: string, details?: Record<string, string>) => {
    if (seen.has(id) || resources.length >= 32) return;
    seen.add(id);
    resources.push({
      Type: type,
      Id: cut(id, 512),
      Partition: settings.partition as 'aws',
      Region: settings.region,
      ...(details ? { Details: { Other: details } } : {}),
    });
  };
  const objects = Array.isArray(alert.objects) ? alert.objects : [];
  for (const object of objects)
    for (const value of Object.values(object ?? {}))
      if (typeof value === 'string' && value.startsWith('arn:')) {
        const type = arnResourceType(value);
        add(type ?? 'Other', value);
      }
  for (const o of alertObservables(alert))
    add('Other', `${o.dataType}:${o.data}`, { observableType: o.dataType, value: cut(o.data, 1024), from: o.source });
  if (resources.length === 0) add('Other', `stixflow:tenant/${alert.tenant}`, { tenant: alert.tenant });
  return resources;
}

export function asffFinding(alert: AlertDocument, settings: SecurityHubSettings): AwsSecurityFinding {
  const created = typeof alert.created === 'string' ? alert.created : alert.lastObserved;
  return {
    SchemaVersion: '2018-10-08',
    Id: alert.id,
    ProductArn: customProductArn(settings),
    ProductName: 'stixflow',
    CompanyName: 'stixflow',
    GeneratorId: `stixflow/${alert.ruleId}`,
    AwsAccountId: settings.accountId,
    Region: settings.region,
    Types: findingTypes(alert.tags),
    FirstObservedAt: alert.firstObserved,
    LastObservedAt: alert.lastObserved,
    CreatedAt: created,
    UpdatedAt: created,
    Severity: { Label: SEVERITY_LABEL[alert.severity], Original: alert.severity },
    Title: cut(alert.title ?? alert.ruleName, 256),
    Description: cut(alert.description !== '' ? alert.description : alert.ruleName, 1024),
    Resources: findingResources(alert, settings),
    ProductFields: {
      'stixflow/ruleId': alert.ruleId,
      'stixflow/tenant': alert.tenant,
      'stixflow/alertId': alert.id,
      ...(alert.groupKey !== '' ? { 'stixflow/groupKey': cut(alert.groupKey, 1024) } : {}),
    },
    RecordState: 'ACTIVE',
    Workflow: { Status: 'NEW' },
  };
}

export class SecurityHubSender implements OutputSender {
  constructor(
    private readonly client: SecurityHubClient,
    private readonly settings: SecurityHubSettings,
  ) {}

  async send(alerts: readonly AlertDocument[]): Promise<AttemptFailures> {
    const failures: AttemptFailures = new Map();
    const chunks: AlertDocument[][] = [];
    for (let i = 0; i < alerts.length; i += SECURITY_HUB_MAX_FINDINGS)
      chunks.push(alerts.slice(i, i + SECURITY_HUB_MAX_FINDINGS));
    await Promise.all(
      chunks.map(async (chunk) => {
        try {
          const response = await this.client.send(
            new BatchImportFindingsCommand({ Findings: chunk.map((a) => asffFinding(a, this.settings)) }),
          );
          for (const failed of response.FailedFindings ?? []) {
            if (failed.Id === undefined) continue;
            // An invalid finding stays invalid; an internal failure may pass next time.
            const retryable = /internal|unavailable|thrott|limit/i.test(failed.ErrorCode ?? '');
            failures.set(failed.Id, new DeliveryError(retryable, `Security Hub ${failed.ErrorCode ?? 'failure'}`));
          }
        } catch (error) {
          const failure = sdkDeliveryError(error);
          for (const alert of chunk) failures.set(alert.id, failure);
        }
      }),
    );
    return failures;
  }
}
