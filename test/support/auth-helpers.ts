import { randomBytes, randomInt } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { SignJWT, type JWTPayload } from 'jose';
import { HttpClient, uniqueUsername, type HttpResult, type TestUser } from './http-client';

/** The issuer and audience of the server's own local-mode tokens. */
export const LOCAL_ISSUER = 'chat-backend';
export const LOCAL_AUDIENCE = 'authenticated';

/** A fresh password that passes the rules (8–256 chars). */
export function newPassword(): string {
  return `pw-${randomBytes(8).toString('hex')}`;
}

/** Signs an HS256 token the way a client (or an attacker holding `secret`) could; claims are given in full. */
export function signToken(secret: string, claims: JWTPayload): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret));
}

/** Standard claims of a valid local token for `sub`, living `ttlSeconds` from now (negative: already expired). */
export function localClaims(sub: string, ttlSeconds = 3600): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    sub,
    role: 'authenticated',
    iss: LOCAL_ISSUER,
    aud: LOCAL_AUDIENCE,
    iat: Math.min(now, now + ttlSeconds - 60),
    exp: now + ttlSeconds,
  };
}

export function base64UrlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeSegment(segment: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
}

/**
 * A loopback source address other than 127.0.0.1 (Linux routes all of 127.0.0.0/8 to lo), so one test
 * can act as its own client IP for the per-IP limits.
 */
export function freshLoopbackAddress(): string {
  return `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(2, 255)}`;
}

/** One JSON request sent from the given local (source) address, answered like HttpClient does. */
export function requestFrom(
  baseUrl: string,
  localAddress: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  const url = new URL(path, baseUrl);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method,
        localAddress,
        headers: {
          ...(payload !== undefined
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) }
            : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) {
              responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
            }
          }
          const parsed: unknown =
            text && /json/.test(responseHeaders.get('content-type') ?? '') ? JSON.parse(text) : text;
          resolve({ status: res.statusCode ?? 0, headers: responseHeaders, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Registers a fresh user with the request coming from `localAddress`; returns a client signed in as them. */
export async function signUpFrom(baseUrl: string, localAddress: string, prefix = 'u'): Promise<TestUser> {
  const username = uniqueUsername(prefix);
  const password = newPassword();
  const res = await requestFrom(baseUrl, localAddress, 'POST', '/api/auth/register', { username, password });
  if (res.status !== 201) {
    throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  const token = res.body.accessToken as string;
  return { id: res.body.profile.id, username, password, token, http: new HttpClient(baseUrl, token) };
}
