/**
 * A fake Supabase Auth, FOR TESTS ONLY: the key server of a project (`GET /auth/v1/.well-known/jwks.json`
 * with its current ES256 public keys) and a minter of Supabase-shaped access tokens signed with them. It
 * does not sign anyone in; tests mint the tokens Supabase Auth would hand a client.
 *
 * In a real project the JWKS lives on the same origin as the API (`<SUPABASE_URL>/auth/v1/...`): compose
 * it with the PostgREST stand-in (`startPostgrestStandIn({ auth })`), which serves this JWKS on its own
 * origin and sets the issuer base to its url, so one url is the app's SUPABASE_URL.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
} from 'jose';

export interface MintOptions {
  /** Default: a fresh UUID. */
  sub?: string;
  email?: string;
  userMetadata?: Record<string, unknown>;
  /** Seconds from now; negative for a token that has already expired. Default 3600. */
  expiresInSeconds?: number;
  /** Default: the project's issuer, `<issuer base>/auth/v1`. */
  issuer?: string;
  /** Default: `authenticated`. */
  audience?: string;
  /** Sign with the listed key of that kid; a kid the JWKS does not list signs with a key it never publishes. */
  kid?: string;
  alg?: 'ES256';
  /** Claims set last, over everything above (e.g. `{ role: 'service_role' }`). */
  claims?: Record<string, unknown>;
}

export interface SupabaseAuth {
  /** `http://127.0.0.1:<port>`, where the key server listens. */
  readonly url: string;
  /** `<issuer base>/auth/v1`; the base is `url` until `setIssuerBase`. */
  readonly issuer: string;
  /** How many times the JWKS was fetched. */
  readonly jwksRequests: number;
  /** `performance.now()` of the last JWKS fetch. */
  readonly lastJwksRequestAt: number | undefined;
  /** The kid new tokens are signed with. */
  readonly currentKid: string;
  setIssuerBase(url: string): void;
  mintToken(options?: MintOptions): Promise<string>;
  /** Adds a new key, used for new tokens from now on; the old ones stay listed. Returns the new kid. */
  rotate(): Promise<string>;
  /** The JWKS as served: every listed public key. */
  jwks(): JSONWebKeySet;
  close(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

const JWKS_PATH = '/auth/v1/.well-known/jwks.json';

async function newKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig', key_ops: ['verify'] };
  return { kid, privateKey, publicJwk };
}

const newKid = () => randomUUID();

/** The claims of a Supabase Auth access token for a signed-in user. */
export function supabaseClaims(issuer: string, options: MintOptions = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  const expiresIn = options.expiresInSeconds ?? 3600;
  return {
    iss: options.issuer ?? issuer,
    sub: options.sub ?? randomUUID(),
    aud: options.audience ?? 'authenticated',
    exp: now + expiresIn,
    iat: Math.min(now, now + expiresIn - 60),
    email: options.email ?? '',
    phone: '',
    app_metadata: { provider: 'email', providers: ['email'] },
    user_metadata: options.userMetadata ?? {},
    role: 'authenticated',
    aal: 'aal1',
    amr: [{ method: 'password', timestamp: now }],
    session_id: randomUUID(),
    is_anonymous: false,
    ...options.claims,
  };
}

/** An HS256 token signed with `secret` (a project's legacy JWT secret, or an attacker's guess). */
export function signHs256(
  secret: string | Uint8Array,
  claims: JWTPayload,
  header: Record<string, unknown> = {},
): Promise<string> {
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  return new SignJWT(claims).setProtectedHeader({ ...header, alg: 'HS256', typ: 'JWT' }).sign(key);
}

/** An unsigned `alg: none` token with the given claims. */
export function unsignedToken(claims: JWTPayload, header: Record<string, unknown> = {}): string {
  const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${segment({ ...header, alg: 'none', typ: 'JWT' })}.${segment(claims)}.`;
}

/** A random legacy JWT secret (Supabase's are at least 32 characters). */
export function newJwtSecret(): string {
  return randomBytes(32).toString('base64url');
}

export async function startSupabaseAuth(options: { issuerBase?: string } = {}): Promise<SupabaseAuth> {
  const listed: SigningKey[] = [await newKey(newKid())];
  const unlisted = new Map<string, SigningKey>();
  let jwksRequests = 0;
  let lastJwksRequestAt: number | undefined;
  let issuerBase = options.issuerBase;

  const jwks = (): JSONWebKeySet => ({ keys: listed.map((k) => ({ ...k.publicJwk })) });

  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === JWKS_PATH) {
      jwksRequests += 1;
      lastJwksRequestAt = performance.now();
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=600' });
      res.end(JSON.stringify(jwks()));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ code: 404, error_code: 'not_found', msg: 'Not found' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = () => `${(issuerBase ?? url).replace(/\/+$/, '')}/auth/v1`;

  async function keyFor(kid: string | undefined): Promise<SigningKey> {
    if (kid === undefined) {
      return listed[listed.length - 1];
    }
    const key = listed.find((k) => k.kid === kid) ?? unlisted.get(kid);
    if (key) {
      return key;
    }
    const made = await newKey(kid);
    unlisted.set(kid, made);
    return made;
  }

  return {
    url,
    get issuer() {
      return issuer();
    },
    get jwksRequests() {
      return jwksRequests;
    },
    get lastJwksRequestAt() {
      return lastJwksRequestAt;
    },
    get currentKid() {
      return listed[listed.length - 1].kid;
    },
    setIssuerBase(base: string) {
      issuerBase = base;
    },
    async mintToken(mint: MintOptions = {}) {
      const key = await keyFor(mint.kid);
      return new SignJWT(supabaseClaims(issuer(), mint))
        .setProtectedHeader({ alg: mint.alg ?? 'ES256', kid: key.kid, typ: 'JWT' })
        .sign(key.privateKey);
    },
    async rotate() {
      const key = await newKey(newKid());
      listed.push(key);
      return key.kid;
    },
    jwks,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
