/**
 * Fixtures for the channel handlers (S3, Kinesis, EventBridge, CloudWatch Logs), written from the formats' AWS
 * documentation: CloudTrail records, VPC Flow Log lines, S3 event notifications; and a rules directory whose rules
 * fire on them.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CLOUD_RULES = `rules:
  - id: ct-console-login
    name: Console sign-in
    description: Someone signed in to the AWS console.
    severity: medium
    tags: [attack.t1078]
    pattern: "[x-oca-event:action = 'ConsoleLogin']"
  - id: ct-create-access-key
    name: Access key created
    description: An IAM access key was created.
    severity: high
    tags: [attack.t1098.001]
    pattern: "[x-oca-event:action = 'CreateAccessKey']"
  - id: ssh-inbound
    name: Inbound SSH flow
    description: A flow to port 22.
    severity: low
    pattern: "[network-traffic:dst_port = 22]"
  - id: guardduty-ssh-brute-force
    name: GuardDuty SSH brute force
    description: GuardDuty reported SSH brute force against an instance.
    severity: high
    pattern: "[x-oca-event:module = 'guardduty']"
`;

/** A rules directory holding CLOUD_RULES (one per test file is enough: rules are read once per runtime). */
export function cloudRulesDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stixflow-channel-rules-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cloud.yaml'), CLOUD_RULES);
  return dir;
}

/** A CloudTrail record (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html). */
export function cloudTrailRecord(
  i: number,
  eventName = i % 10 === 0 ? 'CreateAccessKey' : 'GetObject',
): Record<string, unknown> {
  const second = String(i % 60).padStart(2, '0');
  const minute = String(Math.floor(i / 60) % 60).padStart(2, '0');
  return {
    eventVersion: '1.09',
    userIdentity: {
      type: 'IAMUser',
      principalId: 'AIDAEXAMPLEPRINCIPAL1',
      arn: 'arn:aws:iam::444455556666:user/ops-bot',
      accountId: '444455556666',
      accessKeyId: 'AKIAEXAMPLEKEY000001',
      userName: 'ops-bot',
    },
    eventTime: `2024-06-02T11:${minute}:${second}Z`,
    eventSource: eventName === 'CreateAccessKey' ? 'iam.amazonaws.com' : 's3.amazonaws.com',
    eventName,
    awsRegion: 'us-east-1',
    sourceIPAddress: '203.0.113.77',
    userAgent: 'aws-cli/2.15.0 Python/3.11.6',
    requestParameters:
      eventName === 'CreateAccessKey' ? { userName: `user-${i}` } : { bucketName: 'data', key: `k-${i}` },
    responseElements: null,
    requestID: `req-${i}`,
    eventID: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    readOnly: eventName !== 'CreateAccessKey',
    eventType: 'AwsApiCall',
    managementEvent: eventName === 'CreateAccessKey',
    recipientAccountId: '444455556666',
  };
}

/** A CloudTrail log file as S3 delivery writes it: one line, `{"Records": [...]}`. */
export function cloudTrailFile(count: number, from = 0): string {
  return JSON.stringify({ Records: Array.from({ length: count }, (_, i) => cloudTrailRecord(from + i)) });
}

export const VPC_FLOW_HEADER =
  'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status';

/** A VPC Flow Logs v2 default-format line (https://docs.aws.amazon.com/vpc/latest/userguide/flow-log-records.html). */
export function vpcFlowLine(i: number, dstPort = i % 5 === 0 ? 22 : 443): string {
  return `2 444455556666 eni-0a1b2c3d4e5f60718 198.51.100.${i % 250} 10.1.2.3 ${40000 + i} ${dstPort} 6 3 180 ${1717327200 + i} ${1717327260 + i} REJECT OK`;
}

/** An S3 event notification as S3 sends it to SQS (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html). */
export function s3Notification(objects: { bucket: string; key: string; versionId?: string; size?: number }[]): string {
  return JSON.stringify({
    Records: objects.map((o, i) => ({
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: 'us-east-1',
      eventTime: '2024-06-02T12:00:00.000Z',
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'AWS:AROAEXAMPLE:cloudtrail' },
      requestParameters: { sourceIPAddress: '192.0.2.10' },
      responseElements: { 'x-amz-request-id': `C3D13FE58DE4C81${i}`, 'x-amz-id-2': 'FMyUVURIY8' },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'stixflow-ingest',
        bucket: {
          name: o.bucket,
          ownerIdentity: { principalId: 'A3NL1KOZZKExample' },
          arn: `arn:aws:s3:::${o.bucket}`,
        },
        object: {
          // Keys are URL-encoded in notifications, spaces as '+'.
          key: encodeURIComponent(o.key).replace(/%2F/g, '/').replace(/%20/g, '+'),
          size: o.size ?? 1024,
          eTag: 'd41d8cd98f00b204e9800998ecf8427e',
          ...(o.versionId ? { versionId: o.versionId } : {}),
          sequencer: `0055AED6DCD90281E${i}`,
        },
      },
    })),
  });
}
