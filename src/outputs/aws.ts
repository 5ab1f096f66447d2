/**
 * What the AWS outputs (SNS, S3, Security Hub, OpenSearch signed with SigV4) share: where the clients connect
 * (an endpoint only for emulators and loopback tests; AWS's by default) and how an SDK error becomes a delivery
 * error. The outputs' own retry policy is the only retry: clients are made with one attempt each, so that a
 * batch is not retried twice over and the attempts in a dead letter are the attempts made.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { DeliveryError } from './types.js';

export type AwsService = 'sns' | 's3' | 'securityhub';

export interface AwsOptions {
  /** The region of the clients; the Lambda's (AWS_REGION) when absent. */
  region?: string;
  /** The SDK's default provider chain (the Lambda role) when absent. */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Endpoints by service, for emulators (fauxqs, s3rver) and loopback stand-ins. */
  endpoints?: Partial<Record<AwsService, string>>;
}

/** The client configuration of one service: one attempt, the region and, when given, endpoint and credentials. */
export function clientConfig(aws: AwsOptions, service: AwsService, region?: string) {
  const endpoint = aws.endpoints?.[service];
  return {
    maxAttempts: 1,
    ...((region ?? aws.region) !== undefined ? { region: region ?? aws.region } : {}),
    ...(aws.credentials !== undefined ? { credentials: aws.credentials } : {}),
    ...(endpoint !== undefined ? { endpoint } : {}),
  };
}

interface SdkError {
  name?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/** An SDK error as a delivery error: throttling, 5xx and network errors are retryable, the others are not. */
export function sdkDeliveryError(error: unknown): DeliveryError {
  if (error instanceof DeliveryError) return error;
  const e = (error ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? 'Error';
  const throttled = /thrott|toomany|slowdown|limitexceeded/i.test(name);
  const retryable =
    e.$retryable !== undefined ||
    throttled ||
    e.$fault === 'server' ||
    status === undefined ||
    status === 429 ||
    status >= 500;
  // Without a status the error is the client's own (network, configuration): its message says which.
  const detail = status !== undefined ? ` (HTTP ${status})` : e.message ? `: ${e.message.slice(0, 120)}` : '';
  return new DeliveryError(retryable, `${name}${detail}`);
}
