/**
 * The console function: serves the detection console's page and its two assets on the HTTP API.
 *
 *   GET /                       the page (index.html)
 *   GET /console/{asset}        index.html, console.js, console.css
 *
 * These routes are public (a browser cannot send a bearer token when it loads a page): they hold no data, only
 * the page's code. Every data call the page makes carries the user's bearer token and is authorised by the API
 * as any other call. The assets are built at synth (src/console/build.ts) and shipped beside index.mjs; they are
 * read once per container. No AWS SDK, no table, no queue: the role may only write its logs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

const ASSET_NAMES = ['index.html', 'console.js', 'console.css'] as const;
const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

export interface ServedAsset {
  name: string;
  contentType: string;
  body: string;
}

/**
 * Headers of every console response: the page may load only its own script and style and call only its own
 * origin (no inline script, no framing), and the browser must not guess content types.
 */
export const CONSOLE_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** The response for a GET of `path`: the page at / and /console/, an asset by name, else 404. */
export function consoleResponse(
  assets: readonly ServedAsset[],
  method: string,
  path: string,
): APIGatewayProxyStructuredResultV2 {
  if (method !== 'GET' && method !== 'HEAD')
    return { statusCode: 405, headers: { ...CONSOLE_HEADERS, allow: 'GET, HEAD' }, body: '' };
  const name =
    path === '/' || path === '/console' || path === '/console/'
      ? 'index.html'
      : /^\/console\/([\w.-]+)$/.exec(path)?.[1];
  const asset = assets.find((a) => a.name === name);
  if (!asset)
    return {
      statusCode: 404,
      headers: { ...CONSOLE_HEADERS, 'content-type': 'text/plain; charset=utf-8' },
      body: 'not found: the console serves /, /console/index.html, /console/console.js and /console/console.css',
    };
  return {
    statusCode: 200,
    headers: {
      ...CONSOLE_HEADERS,
      'content-type': asset.contentType,
      // The page is small and changes with each deployment: always revalidated.
      'cache-control': 'no-cache',
    },
    body: method === 'HEAD' ? '' : asset.body,
  };
}

/** Reads the built assets from `dir`. */
export function readConsoleAssets(dir: string): ServedAsset[] {
  return ASSET_NAMES.map((name) => ({
    name,
    contentType: CONTENT_TYPES[name.split('.').pop() as string] as string,
    body: readFileSync(join(dir, name), 'utf8'),
  }));
}

let assets: ServedAsset[] | undefined;

export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  // CONSOLE_ASSETS_DIR: set by the stack (infra/parts/console.ts), relative to the bundle's root.
  assets ??= readConsoleAssets(
    join(process.env.LAMBDA_TASK_ROOT ?? process.cwd(), process.env.CONSOLE_ASSETS_DIR ?? 'console'),
  );
  return consoleResponse(assets, event.requestContext.http.method.toUpperCase(), event.rawPath);
}
