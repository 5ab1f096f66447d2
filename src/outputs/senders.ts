/**
 * The sender of each output kind, made from the output's settings (its `settings` with its secret's JSON value on
 * top); a setting missing or unusable throws here, naming it, before anything is sent.
 */
import { SecurityHubClient } from '@aws-sdk/client-securityhub';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { clientConfig, type AwsOptions } from './aws.js';
import { alreadyDelivered, httpFormatter, type HttpFormatter, type HttpOutputKind } from './formats.js';
import { DEFAULT_INDEX_PREFIX, OpenSearchSender, sigV4Signer, type OpenSearchSettings } from './opensearch.js';
import { S3ArchiveSender } from './s3-archive.js';
import { SecurityHubSender } from './securityhub.js';
import { SnsSender } from './sns.js';
import {
  DeliveryError,
  type AlertDocument,
  type AttemptFailures,
  type HttpClient,
  type OutputKind,
  type OutputSender,
} from './types.js';

/** HTTP receivers that take one alert a request (webhook, Slack, PagerDuty, TheHive): the alerts side by side. */
export class HttpSender implements OutputSender {
  constructor(
    private readonly kind: HttpOutputKind,
    private readonly format: HttpFormatter,
    private readonly http: HttpClient,
    private readonly now: () => number,
  ) {}

  async send(alerts: readonly AlertDocument[]): Promise<AttemptFailures> {
    const failures: AttemptFailures = new Map();
    await Promise.all(
      alerts.map(async (alert) => {
        let failure: DeliveryError | undefined;
        try {
          const response = await this.http.post(this.format(alert, this.now() / 1000));
          failure = alreadyDelivered(this.kind, response.status, response.body)
            ? undefined
            : httpStatusError(response.status, response.body);
        } catch (error) {
          failure = new DeliveryError(true, `network: ${error instanceof Error ? error.name : 'error'}`);
        }
        if (failure) failures.set(alert.id, failure);
      }),
    );
    return failures;
  }
}

/** A status that is not 2xx as a delivery error: 429, 408 and 5xx may pass next time. */
export function httpStatusError(status: number, body: string): DeliveryError | undefined {
  if (status >= 200 && status < 300) return undefined;
  const retryable = status === 429 || status === 408 || status >= 500;
  return new DeliveryError(retryable, `HTTP ${status}${body ? ` (${body.slice(0, 100).replace(/\s+/g, ' ')})` : ''}`);
}

export interface SenderContext {
  http: HttpClient;
  now: () => number;
  aws: AwsOptions;
  /** The region outputs deliver in when their settings name none: the Lambda's. */
  region: string | undefined;
}

function settingReader(kind: OutputKind, s: Record<string, unknown>) {
  const need = (key: string): string => {
    const value = s[key];
    if (typeof value !== 'string' || value === '') throw new Error(`the ${kind} output's settings have no "${key}"`);
    return value;
  };
  const optional = (key: string): string | undefined => (typeof s[key] === 'string' ? (s[key] as string) : undefined);
  return { need, optional };
}

export function senderFor(kind: OutputKind, settings: Record<string, unknown>, context: SenderContext): OutputSender {
  const { need, optional } = settingReader(kind, settings);
  const region = () => {
    const value = optional('region') ?? context.region;
    if (value === undefined) throw new Error(`the ${kind} output's settings have no "region" (nor has AWS_REGION)`);
    return value;
  };
  switch (kind) {
    case 'webhook':
    case 'slack':
    case 'pagerduty':
    case 'thehive':
      return new HttpSender(kind, httpFormatter(kind, settings), context.http, context.now);
    case 'sns': {
      const topicArn = need('topicArn');
      return new SnsSender(new SNSClient(clientConfig(context.aws, 'sns', topicArn.split(':')[3])), { topicArn });
    }
    case 's3':
      return new S3ArchiveSender(
        new S3Client({
          ...clientConfig(context.aws, 's3', optional('region') ?? context.region),
          forcePathStyle: context.aws.endpoints?.s3 !== undefined,
        }),
        {
          bucket: need('bucket'),
          prefix: optional('prefix') ?? '',
        },
      );
    case 'securityhub': {
      const r = region();
      return new SecurityHubSender(new SecurityHubClient(clientConfig(context.aws, 'securityhub', r)), {
        region: r,
        accountId: need('accountId'),
        partition: optional('partition') ?? 'aws',
      });
    }
    case 'opensearch': {
      const authKind = optional('auth') ?? 'sigv4';
      let auth: OpenSearchSettings['auth'];
      if (authKind === 'basic') auth = { kind: 'basic', username: need('username'), password: need('password') };
      else if (authKind === 'sigv4') {
        const service = optional('service') ?? 'es';
        if (service !== 'es' && service !== 'aoss')
          throw new Error(`the opensearch output's "service" must be es or aoss`);
        auth = { kind: 'sigv4', region: region(), service };
      } else throw new Error(`the opensearch output's "auth" must be basic or sigv4`);
      const indexPrefix = optional('indexPrefix') ?? DEFAULT_INDEX_PREFIX;
      if (!/^[a-z0-9][a-z0-9._-]*$/.test(indexPrefix))
        throw new Error(`the opensearch output's "indexPrefix" must be lowercase letters, digits, . _ -`);
      const maxRequestBytes = typeof settings.maxRequestBytes === 'number' ? settings.maxRequestBytes : 5 * 1024 * 1024;
      const options: OpenSearchSettings = {
        endpoint: need('endpoint'),
        indexPrefix,
        auth,
        installTemplate: settings.installTemplate !== false,
        maxRequestBytes,
      };
      const signer =
        auth.kind === 'sigv4'
          ? sigV4Signer(auth.region, auth.service, context.aws.credentials ?? defaultProvider())
          : undefined;
      return new OpenSearchSender(options, context.http, signer);
    }
  }
}
