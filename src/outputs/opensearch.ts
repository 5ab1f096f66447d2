/**
 * The OpenSearch / Elasticsearch output: alerts indexed with `_bulk` into a daily index `<prefix>-YYYY.MM.DD`
 * (the day the alert was raised, `created`, so a redelivered alert lands in the same index), each as a `create`
 * action whose `_id` is the alert id: a redelivered alert is refused with 409, which is success here (it is
 * there already). Items are judged one by one: 429 and 5xx items are retried, the others dead-lettered.
 * Before its first request a sender installs the index template (ALERT_INDEX_TEMPLATE, POST
 * `_index_template/<prefix>`, idempotent) so that every daily index gets the alert mapping.
 * Auth: HTTP basic (username and password from the secret) or AWS SigV4 (Amazon OpenSearch Service, `es`, or
 * Serverless, `aoss`), signed with @smithy/signature-v4.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, Checksum, SourceData } from '@smithy/types';
import { alertObservables } from './observables.js';
import {
  DeliveryError,
  type AlertDocument,
  type AttemptFailures,
  type HttpClient,
  type OutputSender,
} from './types.js';

export interface OpenSearchSettings {
  /** The domain's endpoint, e.g. https://search-alerts-abc.eu-west-1.es.amazonaws.com. */
  endpoint: string;
  /** Daily indices are `<indexPrefix>-YYYY.MM.DD`; `stixflow-alerts` by default. */
  indexPrefix: string;
  auth:
    { kind: 'basic'; username: string; password: string } | { kind: 'sigv4'; region: string; service: 'es' | 'aoss' };
  /** Install the index template before the first request (default); off when an operator manages it. */
  installTemplate: boolean;
  /** Bulk requests are cut at this many bytes (5 MiB by default, below every domain's 10 MiB limit). */
  maxRequestBytes: number;
}

export const DEFAULT_INDEX_PREFIX = 'stixflow-alerts';

/** The index of an alert: by the UTC day it was raised (its first observation when it has no `created`). */
export function alertIndex(prefix: string, alert: AlertDocument): string {
  const day = (typeof alert.created === 'string' ? alert.created : alert.firstObserved).slice(0, 10);
  return `${prefix}-${day.replace(/-/g, '.')}`;
}

/** The document indexed for an alert: the alert document, `@timestamp` and its observables (type and value). */
export function alertSearchDocument(alert: AlertDocument): Record<string, unknown> {
  return {
    ...alert,
    '@timestamp': typeof alert.created === 'string' ? alert.created : alert.lastObserved,
    observables: alertObservables(alert).map((o) => ({ type: o.dataType, value: o.data })),
  };
}

const keyword = { type: 'keyword' };
const date = { type: 'date' };
/**
 * The alert index template (composable, Elasticsearch 7.8+ and OpenSearch 1.0+). Fields are mapped explicitly and
 * `dynamic: false` keeps everything else in `_source` unindexed: the STIX objects and context vary by rule and
 * would otherwise grow the mapping or clash in type across alerts.
 */
export function alertIndexTemplate(prefix: string): Record<string, unknown> {
  return {
    index_patterns: [`${prefix}-*`],
    priority: 100,
    _meta: { description: 'stixflow alert documents (schemas/alert.schema.json), one index a day' },
    template: {
      settings: { number_of_shards: 1 },
      mappings: {
        dynamic: false,
        properties: {
          '@timestamp': date,
          schema: keyword,
          id: keyword,
          ruleId: keyword,
          ruleName: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } },
          title: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } },
          severity: keyword,
          description: { type: 'text' },
          category: keyword,
          ruleType: keyword,
          tags: keyword,
          tenant: keyword,
          groupKey: keyword,
          firstObserved: date,
          lastObserved: date,
          created: date,
          observedDataIds: keyword,
          sourceEventIds: keyword,
          observables: { properties: { type: keyword, value: keyword } },
          objects: { type: 'object', enabled: false },
          context: { type: 'object', enabled: false },
          sighting: { type: 'object', enabled: false },
        },
      },
    },
  };
}

/** node:crypto as the signer's SHA-256 (an HMAC when given a key). */
class NodeSha256 implements Checksum {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    if (this.secret === undefined) return createHash('sha256');
    const key =
      typeof this.secret === 'string'
        ? this.secret
        : Buffer.from(ArrayBuffer.isView(this.secret) ? this.secret.buffer : this.secret);
    return createHmac('sha256', key);
  }
  update(data: Uint8Array | string): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

export function sigV4Signer(
  region: string,
  service: string,
  credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider,
  /** Sign the payload's hash in x-amz-content-sha256 (OpenSearch Serverless requires it). */
  applyChecksum = true,
): SignatureV4 {
  return new SignatureV4({ region, service, credentials, sha256: NodeSha256, applyChecksum });
}

interface BulkItem {
  status?: number;
  error?: { type?: string; reason?: string };
}

export class OpenSearchSender implements OutputSender {
  private templateInstalled = false;
  private readonly endpoint: URL;

  constructor(
    private readonly settings: OpenSearchSettings,
    private readonly http: HttpClient,
    private readonly signer?: SignatureV4,
  ) {
    this.endpoint = new URL(settings.endpoint);
  }

  /** Headers for a POST of `body` to `path`: basic auth, or the SigV4 signature of the request. */
  private async headers(path: string, body: string, contentType: string): Promise<Record<string, string>> {
    const auth = this.settings.auth;
    if (auth.kind === 'basic')
      return {
        'content-type': contentType,
        authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`,
      };
    const signed = await this.signer!.sign({
      method: 'POST',
      protocol: this.endpoint.protocol,
      hostname: this.endpoint.hostname,
      ...(this.endpoint.port !== '' ? { port: Number(this.endpoint.port) } : {}),
      path,
      query: {},
      // fetch sends Host from the URL, the same value.
      headers: { host: this.endpoint.host, 'content-type': contentType },
      body,
    });
    const { host: _host, ...headers } = signed.headers;
    return headers;
  }

  private async post(path: string, body: string, contentType: string) {
    const url = new URL(path, this.endpoint).toString();
    return this.http.post({ url, headers: await this.headers(path, body, contentType), body });
  }

  private async installTemplate(): Promise<void> {
    const prefix = this.settings.indexPrefix;
    const response = await this.post(
      `/_index_template/${encodeURIComponent(prefix)}`,
      JSON.stringify(alertIndexTemplate(prefix)),
      'application/json',
    );
    if (response.status < 200 || response.status >= 300)
      throw statusError('index template not installed', response.status);
    this.templateInstalled = true;
  }

  async send(alerts: readonly AlertDocument[]): Promise<AttemptFailures> {
    if (this.settings.installTemplate && !this.templateInstalled) await this.installTemplate();
    const failures: AttemptFailures = new Map();
    for (const chunk of this.chunks(alerts)) {
      const body = chunk.map((c) => c.lines).join('');
      const response = await this.post('/_bulk', body, 'application/x-ndjson');
      if (response.status < 200 || response.status >= 300) {
        const failure = statusError('bulk request', response.status);
        for (const c of chunk) failures.set(c.alert.id, failure);
        continue;
      }
      let items: Record<string, BulkItem>[] = [];
      try {
        items = (JSON.parse(response.body) as { items?: Record<string, BulkItem>[] }).items ?? [];
      } catch {
        // judged below: no item, no success
      }
      chunk.forEach((c, i) => {
        const item = items[i]?.create;
        const status = item?.status;
        if (status === undefined) {
          failures.set(c.alert.id, new DeliveryError(true, 'bulk response lists no item for the alert'));
        } else if ((status >= 200 && status < 300) || status === 409) {
          // 409: a document with this _id exists, the alert was indexed before.
          failures.delete(c.alert.id);
        } else {
          failures.set(
            c.alert.id,
            new DeliveryError(
              status === 429 || status >= 500,
              `bulk item HTTP ${status}${item?.error?.type ? ` (${item.error.type})` : ''}`,
            ),
          );
        }
      });
    }
    return failures;
  }

  /** The action and document lines of each alert, in requests of at most maxRequestBytes. */
  private chunks(alerts: readonly AlertDocument[]): { alert: AlertDocument; lines: string }[][] {
    const chunks: { alert: AlertDocument; lines: string }[][] = [];
    let current: { alert: AlertDocument; lines: string }[] = [];
    let bytes = 0;
    for (const alert of alerts) {
      const action = { create: { _index: alertIndex(this.settings.indexPrefix, alert), _id: alert.id } };
      const lines = `${JSON.stringify(action)}\n${JSON.stringify(alertSearchDocument(alert))}\n`;
      const size = Buffer.byteLength(lines, 'utf8');
      if (current.length > 0 && bytes + size > this.settings.maxRequestBytes) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push({ alert, lines });
      bytes += size;
    }
    if (current.length > 0) chunks.push(current);
    return chunks;
  }
}

function statusError(what: string, status: number): DeliveryError {
  return new DeliveryError(status === 429 || status === 408 || status >= 500, `${what}: HTTP ${status}`);
}
