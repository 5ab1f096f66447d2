/**
 * Ingest routes: which mapping (`source`) and which tenant the events of a place get, by configuration (never by
 * what the events say about themselves). A place is what a channel is fed from, as one string:
 * `bucket/key` for S3 objects, the stream name for Kinesis, the log group for CloudWatch Logs,
 * `source/detail-type` for EventBridge. The longest matching prefix wins; a place no route matches gets the
 * default tenant and mapping detection.
 *
 * The routes travel as JSON in the INGEST_ROUTES environment variable (the CDK construct writes it):
 *   [{ "prefix": "my-trail-bucket/AWSLogs/", "source": "aws-cloudtrail", "tenant": "acme" }]
 */
import { StixflowError } from '../errors.js';

export interface IngestRoute {
  /** Prefix of the place (see above); "" matches everything. */
  prefix: string;
  /** Mapping of every event there; detection when absent. */
  source?: string;
  /** Tenant of every event there; the default tenant when absent. */
  tenant?: string;
}

export interface RouteChoice {
  tenant: string;
  source: string | undefined;
  /** The prefix that matched, when one did. */
  prefix: string | undefined;
}

export class RouteConfigError extends StixflowError {
  constructor(problems: string[]) {
    super('ingest-routes', `invalid ingest routes:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Tenants are key material in the state table: printable, bounded, never empty (as functions/config.ts checks). */
export function isValidTenant(tenant: string): boolean {
  // eslint-disable-next-line no-control-regex
  return tenant.length > 0 && tenant.length <= 256 && !/[\u0000-\u001f\u007f]/.test(tenant);
}

/**
 * Reads routes from JSON text (or undefined: no routes). `knownSource` says whether a mapping name exists; every
 * problem is reported at once.
 */
export function parseRoutes(text: string | undefined, knownSource: (name: string) => boolean): IngestRoute[] {
  if (text === undefined || text.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RouteConfigError(['INGEST_ROUTES is not valid JSON']);
  }
  if (!Array.isArray(value)) throw new RouteConfigError(['INGEST_ROUTES must be a JSON array of routes']);
  const problems: string[] = [];
  const routes: IngestRoute[] = [];
  const seen = new Set<string>();
  value.forEach((entry: unknown, i) => {
    const at = `route ${i}`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      problems.push(`${at} must be an object`);
      return;
    }
    const { prefix, source, tenant, ...rest } = entry as Record<string, unknown>;
    for (const key of Object.keys(rest)) problems.push(`${at} has an unknown field "${key}"`);
    if (typeof prefix !== 'string') problems.push(`${at} needs a "prefix" string`);
    else if (seen.has(prefix)) problems.push(`${at} repeats the prefix ${JSON.stringify(prefix)}`);
    if (source !== undefined && (typeof source !== 'string' || !knownSource(source)))
      problems.push(`${at} names the source ${JSON.stringify(source)}, which is no mapping`);
    if (tenant !== undefined && (typeof tenant !== 'string' || !isValidTenant(tenant)))
      problems.push(`${at} has an invalid tenant (1-256 printable characters)`);
    if (typeof prefix === 'string') {
      seen.add(prefix);
      routes.push({
        prefix,
        ...(typeof source === 'string' ? { source } : {}),
        ...(typeof tenant === 'string' ? { tenant } : {}),
      });
    }
  });
  if (problems.length > 0) throw new RouteConfigError(problems);
  // Longest prefix first: the first match is the most specific.
  return routes.sort((a, b) => b.prefix.length - a.prefix.length);
}

export function chooseRoute(routes: readonly IngestRoute[], place: string, defaultTenant: string): RouteChoice {
  const route = routes.find((r) => place.startsWith(r.prefix));
  return { tenant: route?.tenant ?? defaultTenant, source: route?.source, prefix: route?.prefix };
}
