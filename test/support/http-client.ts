import { randomBytes } from 'node:crypto';
import { minterFor } from './test-backend';

export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * How long a request may wait for its answer: below jest's test timeout, so a request the server never answers fails
 * its test naming the request, not as a timeout of the whole test.
 */
const HTTP_ANSWER_MS = 45_000;

/** A small JSON client over fetch, for driving the API the way any client would. */
export class HttpClient {
  constructor(
    readonly baseUrl: string,
    readonly token?: string,
  ) {}

  as(token: string | undefined): HttpClient {
    return new HttpClient(this.baseUrl, token);
  }

  get<T = any>(path: string, headers: Record<string, string> = {}): Promise<HttpResult<T>> {
    return this.request<T>('GET', path, undefined, headers);
  }

  post<T = any>(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult<T>> {
    return this.request<T>('POST', path, body, headers);
  }

  patch<T = any>(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult<T>> {
    return this.request<T>('PATCH', path, body, headers);
  }

  delete<T = any>(path: string, headers: Record<string, string> = {}): Promise<HttpResult<T>> {
    return this.request<T>('DELETE', path, undefined, headers);
  }

  /** `body` is sent as JSON unless it is a string, which is sent as it is (for malformed bodies). */
  async request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<HttpResult<T>> {
    const signal = AbortSignal.timeout(HTTP_ANSWER_MS);
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        signal,
      });
      text = await res.text();
    } catch (error) {
      if (signal.aborted) {
        throw new Error(`${method} ${this.baseUrl}${path}: no answer within ${HTTP_ANSWER_MS / 1000} s`);
      }
      throw error;
    }
    let parsed: unknown = text;
    if (text && /json/.test(res.headers.get('content-type') ?? '')) {
      parsed = JSON.parse(text);
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  }
}

export interface TestUser {
  id: string;
  username: string;
  password: string;
  token: string;
  http: HttpClient;
}

/** A fresh unique username (3–32 of a-z 0-9 _). */
export function uniqueUsername(prefix = 'u'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`.slice(0, 32);
}

/** The same local account signed in again on `baseUrl` (another start of the server, on the same data). */
export async function signIn(baseUrl: string, user: TestUser): Promise<TestUser> {
  const login = await new HttpClient(baseUrl).post('/api/auth/login', {
    username: user.username,
    password: user.password,
  });
  if (login.status !== 200) {
    throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
  }
  const token = login.body.accessToken as string;
  return { ...user, token, http: new HttpClient(baseUrl, token) };
}

/** Registers a new user through the API and returns a client signed in as them. */
export async function signUp(baseUrl: string, prefix = 'u', displayName?: string): Promise<TestUser> {
  const username = uniqueUsername(prefix);
  const mint = minterFor(baseUrl);
  if (mint) {
    // Supabase mode: the user signs in with Supabase Auth; the server creates the profile on first sight.
    const token = await mint(username, displayName);
    const http = new HttpClient(baseUrl, token);
    const me = await http.get('/api/profiles/me');
    if (me.status !== 200) {
      throw new Error(`first sight failed: ${me.status} ${JSON.stringify(me.body)}`);
    }
    return { id: me.body.id, username: me.body.username, password: '', token, http };
  }
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const res = await new HttpClient(baseUrl).post('/api/auth/register', { username, password, displayName });
  if (res.status !== 201) {
    throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  const token = res.body.accessToken as string;
  return { id: res.body.profile.id, username, password, token, http: new HttpClient(baseUrl, token) };
}

/** Asserts the RFC 9457 problem shape of PROTOCOL.md §2 and returns the body. */
export function expectProblem(res: HttpResult, status: number, code: string): any {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code });
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, title: expect.any(String), detail: expect.any(String) });
  expect(res.body.requestId).toBe(res.headers.get('x-request-id'));
  expect(res.body.requestId).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  return res.body;
}
