/**
 * The console's only way out: HTTP calls to the stixflow API on the page's own origin, each carrying the
 * bearer token the user gave once (kept in sessionStorage: gone when the tab closes).
 */

const TOKEN_KEY = 'stixflow.console.token';

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}
export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** A refused or failed call: its status, the API's message and its diagnostics, if any. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}

/** Called when the API answers 401: the token is wrong or expired. */
let onUnauthorised: () => void = () => undefined;
export function whenUnauthorised(handler: () => void): void {
  onUnauthorised = handler;
}

export interface Reply<T> {
  status: number;
  body: T;
}

/** One call; answers every status (the caller decides), but a 401 also sends the user back to the login. */
export async function call<T = Record<string, unknown>>(
  method: string,
  path: string,
  body?: unknown,
): Promise<Reply<T>> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = storedToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let parsed: unknown = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { error: `the API answered ${response.status} with a body that is not JSON` };
  }
  if (response.status === 401) {
    forgetToken();
    onUnauthorised();
  }
  return { status: response.status, body: parsed as T };
}

/** A call that must succeed (2xx): throws an ApiError naming the status and the API's message otherwise. */
export async function request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
  const reply = await call<T>(method, path, body);
  if (reply.status < 200 || reply.status >= 300) {
    const b = reply.body as Record<string, unknown>;
    const message = [b.error, b.message].filter((x) => typeof x === 'string').join(': ') || 'request failed';
    throw new ApiError(reply.status, `${method} ${path}: ${reply.status} ${message}`, b);
  }
  return reply.body;
}

export const get = <T>(path: string): Promise<T> => request<T>('GET', path);

/** `/rules/<id>` with the id encoded. */
export const rulePath = (id: string): string => `/rules/${encodeURIComponent(id)}`;
export const alertPath = (id: string): string => `/alerts/${encodeURIComponent(id)}`;

/** A query string from the parameters that have a value. */
export function query(parameters: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) if (value) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}
