/**
 * Loopback HTTP receivers standing in for the outputs' services. Each checks what it is sent against the
 * receiver's published format and answers as the service does; each can be told to fail the next requests.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sigV4Signer } from '../../src/outputs/opensearch.js';

export interface Received {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: Record<string, unknown>;
  /** Problems the receiver found with the request (empty: the request is as the format asks). */
  problems: string[];
}

export interface Receiver {
  url: string;
  received: Received[];
  /** Answer the next `count` requests with this status. */
  failNext(count: number, status: number): void;
  close(): Promise<void>;
}

type Check = (request: {
  headers: Received['headers'];
  body: string;
  json: Record<string, unknown>;
}) => string[] | Promise<string[]>;
type Answer = { status: number; body: string };

/**
 * A loopback receiver: `check` lists the problems of a request (answered 400), `ok` answers the others, a fixed
 * answer or one computed from the request (a bulk response, a duplicate refused). `ndjson` bodies are not JSON.
 */
export async function receiver(
  check: Check,
  ok: Answer | ((request: Received) => Answer),
  format: 'json' | 'ndjson' = 'json',
): Promise<Receiver> {
  const received: Received[] = [];
  let failures: { count: number; status: number } = { count: 0, status: 500 };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', async () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, unknown> = {};
      const problems: string[] = [];
      const contentType = String(request.headers['content-type'] ?? '');
      if (format === 'json' || contentType.startsWith('application/json')) {
        try {
          json = JSON.parse(body) as Record<string, unknown>;
        } catch {
          problems.push('body is not JSON');
        }
        if (!contentType.startsWith('application/json')) problems.push('content-type is not application/json');
      } else if (!contentType.startsWith('application/x-ndjson'))
        problems.push('content-type is not application/x-ndjson');
      const path = request.url ?? '/';
      problems.push(
        ...(await check({ headers: { ...request.headers, ':method': request.method, ':path': path }, body, json })),
      );
      const entry = { path, headers: request.headers, body, json, problems };
      received.push(entry);
      if (failures.count > 0) {
        failures.count--;
        response.writeHead(failures.status, { 'content-type': 'text/plain' }).end('unavailable');
        return;
      }
      if (problems.length > 0) {
        response.writeHead(400, { 'content-type': 'text/plain' }).end(problems.join('; '));
        return;
      }
      const answer = typeof ok === 'function' ? ok(entry) : ok;
      response.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    failNext: (count, status) => (failures = { count, status }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A webhook receiver that verifies the stixflow signature with the shared key, as docs/outputs.md tells receivers. */
export function webhookReceiver(signingKey: string): Promise<Receiver> {
  return receiver(
    ({ headers, body, json }) => {
      const problems: string[] = [];
      const timestamp = String(headers['x-stixflow-timestamp'] ?? '');
      const signature = String(headers['x-stixflow-signature'] ?? '');
      const expected = `sha256=${createHmac('sha256', signingKey).update(`${timestamp}.${body}`).digest('hex')}`;
      if (signature.length !== expected.length || !timingSafeEqual(Buffer.from(signature), Buffer.from(expected)))
        problems.push('signature does not verify');
      if (!/^\d+$/.test(timestamp)) problems.push('no timestamp');
      if (headers['x-stixflow-alert-id'] !== json.id) problems.push('x-stixflow-alert-id is not the alert id');
      if (json.schema !== 'stixflow.alert/1') problems.push('body is not an alert document');
      return problems;
    },
    { status: 200, body: '{}' },
  );
}

/** Slack incoming webhooks: `text` (required as the fallback), Block Kit blocks within Slack's limits; answers "ok". */
export function slackReceiver(): Promise<Receiver> {
  return receiver(
    ({ json }) => {
      const problems: string[] = [];
      if (typeof json.text !== 'string' || json.text === '') problems.push('no text');
      const blocks = json.blocks as
        { type: string; text?: { type: string; text: string }; fields?: unknown[] }[] | undefined;
      if (!Array.isArray(blocks) || blocks.length > 50) problems.push('blocks missing or more than 50');
      for (const block of blocks ?? []) {
        if (!['header', 'section', 'context', 'divider'].includes(block.type))
          problems.push(`unknown block ${block.type}`);
        if (block.type === 'header' && (block.text?.type !== 'plain_text' || block.text.text.length > 150))
          problems.push('header text must be plain_text of at most 150 characters');
        if (block.fields && block.fields.length > 10) problems.push('more than 10 fields in a section');
      }
      return problems;
    },
    { status: 200, body: 'ok' },
  );
}

/** PagerDuty Events API v2: routing_key, event_action, payload.summary/source/severity; answers 202 with the dedup key. */
export function pagerDutyReceiver(): Promise<Receiver> {
  const r = receiver(
    ({ json }) => {
      const problems: string[] = [];
      if (typeof json.routing_key !== 'string' || json.routing_key.length !== 32)
        problems.push('routing_key must be 32 characters');
      if (!['trigger', 'acknowledge', 'resolve'].includes(json.event_action as string))
        problems.push('bad event_action');
      const payload = json.payload as Record<string, unknown> | undefined;
      if (typeof payload?.summary !== 'string' || payload.summary.length > 1024) problems.push('payload.summary');
      if (typeof payload?.source !== 'string') problems.push('payload.source');
      if (!['critical', 'error', 'warning', 'info'].includes(payload?.severity as string))
        problems.push('payload.severity');
      if (typeof json.dedup_key !== 'string' || json.dedup_key.length > 255) problems.push('dedup_key');
      return problems;
    },
    { status: 202, body: '{"status":"success","message":"Event processed"}' },
  );
  return r;
}

/** The origin (scheme, host, port) of a receiver, for the outputs configured by base URL or endpoint. */
export const originOf = (r: Receiver): string => new URL(r.url).origin;

const THEHIVE_OBSERVABLE_TYPES = new Set([
  'autonomous-system',
  'domain',
  'file',
  'filename',
  'fqdn',
  'hash',
  'hostname',
  'ip',
  'mail',
  'mail-subject',
  'other',
  'regexp',
  'registry',
  'uri_path',
  'url',
  'user-agent',
]);

/**
 * TheHive 5 POST /api/v1/alert (InputAlert): type, source, sourceRef, title, description required; severity 1-4,
 * TLP 0-4, PAP 0-3, date in epoch milliseconds, tags and observables ({dataType, data}, one of TheHive's default
 * types, no two alike). (type, source, sourceRef) is unique: a second alert with them is refused with 400 as
 * TheHive does; a new one is answered 201 with the created alert.
 */
export function theHiveReceiver(apiKey: string): Promise<Receiver & { alerts: Map<string, Record<string, unknown>> }> {
  const alerts = new Map<string, Record<string, unknown>>();
  const keyOf = (json: Record<string, unknown>) =>
    `${String(json.type)}|${String(json.source)}|${String(json.sourceRef)}`;
  return receiver(
    ({ headers, json }) => {
      const problems: string[] = [];
      if (headers[':method'] !== 'POST' || !String(headers[':path']).endsWith('/api/v1/alert'))
        problems.push(`not POST /api/v1/alert: ${String(headers[':method'])} ${String(headers[':path'])}`);
      if (headers.authorization !== `Bearer ${apiKey}`) problems.push('no Bearer API key');
      for (const field of ['type', 'source', 'sourceRef', 'title', 'description'])
        if (typeof json[field] !== 'string' || json[field] === '') problems.push(`${field} missing`);
      if (![1, 2, 3, 4].includes(json.severity as number)) problems.push('severity must be 1-4');
      if (!Number.isInteger(json.date)) problems.push('date must be epoch milliseconds');
      if (![0, 1, 2, 3, 4].includes(json.tlp as number)) problems.push('tlp must be 0-4');
      if (![0, 1, 2, 3].includes(json.pap as number)) problems.push('pap must be 0-3');
      if (!Array.isArray(json.tags) || json.tags.some((t) => typeof t !== 'string')) problems.push('tags');
      const seen = new Set<string>();
      for (const o of (json.observables as { dataType?: string; data?: unknown }[] | undefined) ?? []) {
        if (!THEHIVE_OBSERVABLE_TYPES.has(o.dataType ?? '')) problems.push(`observable type ${o.dataType}`);
        if (typeof o.data !== 'string' || o.data === '') problems.push('observable without data');
        if (seen.has(`${o.dataType}|${String(o.data)}`)) problems.push(`observable ${String(o.data)} twice`);
        seen.add(`${o.dataType}|${String(o.data)}`);
      }
      return problems;
    },
    (request) => {
      const key = keyOf(request.json);
      if (alerts.has(key))
        return {
          status: 400,
          body: JSON.stringify({ type: 'CreateError', message: `Alert ${key} already exists` }),
        };
      alerts.set(key, request.json);
      return { status: 201, body: JSON.stringify({ _id: `~${alerts.size}`, _type: 'Alert', ...request.json }) };
    },
  ).then((r) => Object.assign(r, { alerts }));
}

/**
 * Verifies an AWS SigV4 Authorization header by signing the received request again with the same secret and
 * date (the shape: algorithm, credential scope, signed headers including host, x-amz-date, payload hash).
 */
export async function sigV4Problems(
  headers: Received['headers'],
  body: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  service: string,
  region: string,
): Promise<string[]> {
  const authorization = String(headers.authorization ?? '');
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
      authorization,
    );
  if (!match) return [`Authorization is not SigV4: ${authorization.slice(0, 40)}`];
  const [, accessKeyId, day, scopeRegion, scopeService, signedHeaders] = match;
  const problems: string[] = [];
  if (accessKeyId !== credentials.accessKeyId) problems.push('wrong access key');
  if (scopeRegion !== region || scopeService !== service) problems.push(`scope ${scopeRegion}/${scopeService}`);
  const amzDate = String(headers['x-amz-date'] ?? '');
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || !amzDate.startsWith(day!)) problems.push('x-amz-date');
  const names = signedHeaders!.split(';');
  if (!names.includes('host') || !names.includes('x-amz-date')) problems.push('host and x-amz-date not signed');
  const payloadHash = headers['x-amz-content-sha256'];
  if (payloadHash !== undefined && payloadHash !== createHash('sha256').update(body).digest('hex'))
    problems.push('x-amz-content-sha256 is not the hash of the body');
  // The signer stixflow uses: what it signs, it verifies; the checks above pin the shape AWS asks for.
  const signer = sigV4Signer(region, service, credentials, payloadHash !== undefined);
  const host = String(headers.host);
  const [hostname, port] = host.split(':');
  const url = new URL(String(headers[':path']), `http://${host}`);
  const resigned = await signer.sign(
    {
      method: String(headers[':method']),
      protocol: 'http:',
      hostname: hostname!,
      ...(port ? { port: Number(port) } : {}),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: Object.fromEntries(names.filter((n) => n !== 'x-amz-date').map((n) => [n, String(headers[n] ?? '')])),
      body,
    },
    {
      signingDate: new Date(
        `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
      ),
    },
  );
  if (resigned.headers.authorization !== authorization) problems.push('signature does not verify');
  return problems;
}

export type Auth =
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'sigv4'; credentials: { accessKeyId: string; secretAccessKey: string }; service: string; region: string };

async function authProblems(auth: Auth, headers: Received['headers'], body: string): Promise<string[]> {
  if (auth.kind === 'sigv4') return sigV4Problems(headers, body, auth.credentials, auth.service, auth.region);
  const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  return headers.authorization === expected ? [] : ['basic credentials do not match'];
}

export interface BulkReceiver extends Receiver {
  /** Indexed documents by index, then _id. */
  indices: Map<string, Map<string, Record<string, unknown>>>;
  templates: Map<string, Record<string, unknown>>;
  /** Answer the items of these ids with this status, once each (then index them as usual). */
  failItems(ids: string[], status: number): void;
}

/**
 * An OpenSearch / Elasticsearch stand-in: POST /_index_template/<name> (a composable template with index_patterns
 * and mappings) and POST /_bulk (NDJSON: an action line and a document line each, ending in a newline), answered as
 * the cluster does: `errors` and one item per action, 201 created, 409 version_conflict_engine_exception when the
 * _id is in the index already.
 */
export async function bulkReceiver(auth: Auth, indexPrefix: string): Promise<BulkReceiver> {
  const indices = new Map<string, Map<string, Record<string, unknown>>>();
  const templates = new Map<string, Record<string, unknown>>();
  const failing = new Map<string, number>();
  const index = new RegExp(`^${indexPrefix.replace(/[.]/g, '\\.')}-\\d{4}\\.\\d{2}\\.\\d{2}$`);
  const r = await receiver(
    async ({ headers, body, json }) => {
      const problems = await authProblems(auth, headers, body);
      const path = String(headers[':path']);
      if (headers[':method'] !== 'POST') problems.push('not a POST');
      if (path.startsWith('/_index_template/')) {
        const mappings = (json.template as { mappings?: { properties?: object } } | undefined)?.mappings;
        if (!Array.isArray(json.index_patterns) || typeof mappings?.properties !== 'object')
          problems.push('template without index_patterns or mappings');
        return problems;
      }
      if (path !== '/_bulk') return [...problems, `unexpected path ${path}`];
      if (!body.endsWith('\n')) problems.push('bulk body must end with a newline');
      const lines = body.split('\n').slice(0, -1);
      if (lines.length % 2 !== 0) problems.push('an action without its document');
      for (let i = 0; i + 1 < lines.length; i += 2) {
        let action: { create?: { _index?: string; _id?: string } };
        let doc: Record<string, unknown>;
        try {
          action = JSON.parse(lines[i]!) as typeof action;
          doc = JSON.parse(lines[i + 1]!) as Record<string, unknown>;
        } catch {
          problems.push(`line ${i + 1} is not JSON`);
          continue;
        }
        if (!action.create) problems.push(`line ${i + 1} is not a create action`);
        if (!index.test(action.create?._index ?? '')) problems.push(`index ${action.create?._index} is not daily`);
        if (action.create?._id !== doc.id) problems.push('_id is not the alert id');
        if (typeof doc['@timestamp'] !== 'string') problems.push('no @timestamp');
      }
      return problems;
    },
    (request) => {
      if (request.path.startsWith('/_index_template/')) {
        templates.set(decodeURIComponent(request.path.slice('/_index_template/'.length)), request.json);
        return { status: 200, body: '{"acknowledged":true}' };
      }
      const lines = request.body.split('\n').slice(0, -1);
      const items: unknown[] = [];
      for (let i = 0; i + 1 < lines.length; i += 2) {
        const { create } = JSON.parse(lines[i]!) as { create: { _index: string; _id: string } };
        const fail = failing.get(create._id);
        if (fail !== undefined) {
          failing.delete(create._id);
          items.push({ create: { ...create, status: fail, error: { type: 'es_rejected_execution_exception' } } });
          continue;
        }
        const docs = indices.get(create._index) ?? new Map<string, Record<string, unknown>>();
        indices.set(create._index, docs);
        if (docs.has(create._id)) {
          items.push({ create: { ...create, status: 409, error: { type: 'version_conflict_engine_exception' } } });
          continue;
        }
        docs.set(create._id, JSON.parse(lines[i + 1]!) as Record<string, unknown>);
        items.push({ create: { ...create, _version: 1, result: 'created', status: 201 } });
      }
      const errors = items.some((i) => (i as { create: { status: number } }).create.status >= 300);
      return { status: 200, body: JSON.stringify({ took: 3, errors, items }) };
    },
    'ndjson',
  );
  return Object.assign(r, {
    indices,
    templates,
    failItems: (ids: string[], status: number) => ids.forEach((id) => failing.set(id, status)),
  });
}

const ASFF_NAMESPACES = [
  'Software and Configuration Checks',
  'TTPs',
  'Effects',
  'Unusual Behaviors',
  'Sensitive Data Identifications',
];
const ASFF_REQUIRED = [
  'SchemaVersion',
  'Id',
  'ProductArn',
  'GeneratorId',
  'AwsAccountId',
  'CreatedAt',
  'UpdatedAt',
  'Severity',
  'Title',
  'Description',
  'Resources',
];

/**
 * The Security Hub endpoint for BatchImportFindings (POST /findings/import, REST-JSON, SigV4 for securityhub):
 * 1 to 100 findings with every required ASFF field, Types as namespace/category/classifier in a known namespace,
 * Severity.Label, 1 to 32 Resources with Type and Id, a custom-integration ProductArn in the finding's account. Keeps
 * findings by ProductArn and Id (a re-import updates).
 */
export async function securityHubReceiver(
  credentials: { accessKeyId: string; secretAccessKey: string },
  region: string,
): Promise<Receiver & { findings: Map<string, Record<string, unknown>> }> {
  const findings = new Map<string, Record<string, unknown>>();
  const r = await receiver(
    async ({ headers, body, json }) => {
      const problems = await sigV4Problems(headers, body, credentials, 'securityhub', region);
      if (headers[':method'] !== 'POST' || headers[':path'] !== '/findings/import')
        problems.push('not /findings/import');
      const list = json.Findings as Record<string, unknown>[] | undefined;
      if (!Array.isArray(list) || list.length < 1 || list.length > 100) return [...problems, '1 to 100 Findings'];
      for (const f of list) {
        for (const field of ASFF_REQUIRED) if (f[field] === undefined) problems.push(`${String(f.Id)}: no ${field}`);
        if (f.SchemaVersion !== '2018-10-08') problems.push('SchemaVersion');
        const arn = `arn:aws:securityhub:${region}:${String(f.AwsAccountId)}:product/${String(f.AwsAccountId)}/default`;
        if (f.ProductArn !== arn) problems.push(`ProductArn ${String(f.ProductArn)}`);
        const types = f.Types as string[] | undefined;
        if (!Array.isArray(types) || types.length === 0 || types.length > 50) problems.push('Types');
        for (const t of types ?? [])
          if (!ASFF_NAMESPACES.includes(t.split('/')[0]!) || t.split('/').length > 3) problems.push(`type ${t}`);
        const label = (f.Severity as { Label?: string } | undefined)?.Label;
        if (!['INFORMATIONAL', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL'].includes(label ?? ''))
          problems.push('Severity.Label');
        const resources = f.Resources as { Type?: string; Id?: string }[] | undefined;
        if (!Array.isArray(resources) || resources.length < 1 || resources.length > 32) problems.push('Resources');
        for (const res of resources ?? []) if (!res.Type || !res.Id) problems.push('a Resource without Type or Id');
        if (String(f.Title).length > 256 || String(f.Description).length > 1024)
          problems.push('Title or Description too long');
        for (const d of ['CreatedAt', 'UpdatedAt', 'FirstObservedAt', 'LastObservedAt'])
          if (f[d] !== undefined && Number.isNaN(Date.parse(String(f[d])))) problems.push(`${d} is not a date`);
      }
      return problems;
    },
    (request) => {
      const list = request.json.Findings as Record<string, unknown>[];
      for (const f of list) findings.set(`${String(f.ProductArn)}|${String(f.Id)}`, f);
      return { status: 200, body: JSON.stringify({ FailedCount: 0, SuccessCount: list.length, FailedFindings: [] }) };
    },
  );
  return Object.assign(r, { findings });
}
