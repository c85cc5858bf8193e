/**
 * A PostgREST stand-in, FOR TESTS ONLY. It emulates exactly one endpoint of a Supabase project,
 * `POST /rest/v1/rpc/:fn` (what supabase-js `.rpc()` calls), plus the project's JWKS at
 * `GET /auth/v1/.well-known/jwks.json` when a fake Supabase Auth is composed in (`auth`), so that one
 * origin is the app's `SUPABASE_URL`. Tables, filters, GET/HEAD rpc, bulk calls, embedding and every
 * other PostgREST feature are NOT emulated; anything else answers 404.
 *
 * What it does for an rpc call, as PostgREST 12 behind Supabase's gateway does:
 * - requires an `apikey` header that is one of the project's keys (the gateway's check);
 * - verifies `Authorization: Bearer <jwt>` (the apikey when there is none) with `jose`: HS256 with the
 *   project's JWT secret, or an asymmetric key of the JWKS; a bad or expired token → 401 PGRST301/PGRST303;
 * - finds the function in `public` by its name and the body's keys (none → 404 PGRST202), then in one
 *   transaction: `set_config('role', <claims.role>)`, `set_config('request.jwt.claims', <claims>)`, and calls
 *   it with named arguments typed by `json_to_record` over the body, as PostgREST does (so a value of the
 *   wrong type fails in Postgres with 22P02, and a JSON string stays a JSON string for a jsonb argument);
 * - answers with the JSON Postgres renders (`json_agg`): an array for a set-returning function, the value
 *   for a scalar one, `204 No Content` for `void` (PostgREST ≥ 12); errors in PostgREST's shape
 *   `{ code, message, details, hint }` with its status mapping.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
  type JSONWebKeySet,
  type JWTPayload,
} from 'jose';
import { Pool, type PoolClient } from 'pg';

/** The part of a fake Supabase Auth (./supabase-auth.ts) the stand-in composes with. */
export interface ComposableAuth {
  /** Where the key server listens; the stand-in forwards the JWKS request there. */
  readonly url: string;
  jwks(): JSONWebKeySet;
  /** Called once the stand-in listens, so the tokens minted from then on carry `<stand-in url>/auth/v1` as issuer. */
  setIssuerBase(url: string): void;
}

export interface PostgrestStandInOptions {
  /** The database the functions run in (migrated beforehand). The stand-in connects as that URL's user. */
  databaseUrl: string;
  /** The project's JWT secret: signs anonKey/serviceRoleKey and verifies HS256 tokens. */
  jwtSecret: string;
  /** Public keys the asymmetric tokens are verified against (a set, or a function giving the current one). */
  jwks?: JSONWebKeySet | (() => JSONWebKeySet);
  /** A fake Supabase Auth: its keys are trusted and its JWKS is served on this origin. */
  auth?: ComposableAuth;
}

/** One rpc request as the stand-in saw it. */
export interface RecordedCall {
  fn: string;
  /** The role the call ran as (from the verified token), undefined when it was refused before that. */
  role?: string;
  /** The token's `sub`. */
  sub?: string;
  /** The `apikey` header. */
  apikey?: string;
  status: number;
}

export interface PostgrestStandIn {
  /** `http://127.0.0.1:<port>`: the app's SUPABASE_URL. */
  readonly url: string;
  /** HS256, role `anon`, signed with the JWT secret (like a project's legacy anon key). */
  readonly anonKey: string;
  /** HS256, role `service_role`, signed with the JWT secret. */
  readonly serviceRoleKey: string;
  /** How many rpc requests arrived. */
  readonly requests: number;
  /** Every rpc request, in order of arrival. */
  readonly calls: readonly RecordedCall[];
  close(): Promise<void>;
}

interface PgError {
  code?: string;
  message?: string;
  detail?: string;
  hint?: string;
}

/** A PostgREST error answer. */
class RestError extends Error {
  constructor(
    readonly status: number,
    readonly body: { code: string | null; message: string; details: string | null; hint: string | null },
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

interface FunctionInfo {
  /** Input argument names with their SQL types, in declaration order. */
  args: { name: string; type: string }[];
  /** How many trailing input arguments have defaults. */
  defaults: number;
  returnsSet: boolean;
  returnsVoid: boolean;
  /** Returns a row type (a single object for a non-set function). */
  returnsRow: boolean;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const RPC_PATH = /^\/rest\/v1\/rpc\/([^/?#]+)\/?$/;
const JWKS_PATH = '/auth/v1/.well-known/jwks.json';
const ROLES = new Set(['anon', 'authenticated', 'service_role']);
const ASYMMETRIC = ['ES256', 'ES384', 'RS256', 'RS384', 'RS512', 'PS256', 'EdDSA'];

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

export async function startPostgrestStandIn(options: PostgrestStandInOptions): Promise<PostgrestStandIn> {
  const secret = new TextEncoder().encode(options.jwtSecret);
  const currentJwks = (): JSONWebKeySet | undefined => {
    if (options.auth) {
      return options.auth.jwks();
    }
    return typeof options.jwks === 'function' ? options.jwks() : options.jwks;
  };
  // Every connection renders timestamps in UTC, like a Supabase database.
  const pool = new Pool({ connectionString: options.databaseUrl, max: 10, options: '-c TimeZone=UTC' });
  pool.on('error', () => undefined);
  const functions = new Map<string, Promise<FunctionInfo[]>>();
  const calls: RecordedCall[] = [];
  let requests = 0;

  const issueKey = (role: string) =>
    new SignJWT({ role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer('supabase-demo')
      .setIssuedAt()
      .setExpirationTime('10y')
      .sign(secret);
  const anonKey = await issueKey('anon');
  const serviceRoleKey = await issueKey('service_role');
  const apiKeys = new Set([anonKey, serviceRoleKey]);

  async function verify(token: string): Promise<JWTPayload> {
    try {
      const { alg } = decodeProtectedHeader(token);
      if (alg === 'HS256') {
        return (await jwtVerify(token, secret, { algorithms: ['HS256'] })).payload;
      }
      const jwks = currentJwks();
      if (!jwks) {
        throw new joseErrors.JWSSignatureVerificationFailed('no asymmetric keys configured');
      }
      return (await jwtVerify(token, createLocalJWKSet(jwks), { algorithms: ASYMMETRIC })).payload;
    } catch (error) {
      const expired = error instanceof joseErrors.JWTExpired;
      const message = expired ? 'JWT expired' : 'JWT could not be verified';
      throw new RestError(
        401,
        { code: expired ? 'PGRST303' : 'PGRST301', message, details: null, hint: null },
        { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${message}"` },
      );
    }
  }

  function lookUp(client: PoolClient, fn: string): Promise<FunctionInfo[]> {
    let found = functions.get(fn);
    if (!found) {
      found = client
        .query<{
          arg_names: string[] | null;
          arg_modes: string[] | null;
          arg_types: string[];
          defaults: number;
          returns_set: boolean;
          returns_void: boolean;
          returns_row: boolean;
        }>(
          `select p.proargnames as arg_names, p.proargmodes::text[] as arg_modes,
                  array(select pg_catalog.format_type(t, null) from unnest(p.proargtypes) with ordinality u(t, i) order by i) as arg_types,
                  p.pronargdefaults::int as defaults, p.proretset as returns_set,
                  p.prorettype = 'void'::regtype as returns_void,
                  (t.typtype = 'c' or t.oid = 'record'::regtype) as returns_row
             from pg_catalog.pg_proc p
             join pg_catalog.pg_namespace n on n.oid = p.pronamespace
             join pg_catalog.pg_type t on t.oid = p.prorettype
            where n.nspname = 'public' and p.proname = $1 and p.prokind = 'f'`,
          [fn],
        )
        .then((result) =>
          result.rows.map((row) => {
            const names = row.arg_names ?? [];
            // proargnames/proargmodes cover OUT (and TABLE) arguments too; proargtypes only the inputs.
            const inputNames = row.arg_modes
              ? names.filter((_name, i) => ['i', 'b', 'v'].includes(row.arg_modes![i]))
              : names;
            return {
              args: row.arg_types.map((type, i) => ({ name: inputNames[i] ?? '', type })),
              defaults: row.defaults,
              returnsSet: row.returns_set,
              returnsVoid: row.returns_void,
              returnsRow: row.returns_row,
            };
          }),
        );
      found.catch(() => functions.delete(fn));
      functions.set(fn, found);
    }
    return found;
  }

  /** The overload whose arguments the body names: every key an argument, every argument without a default given. */
  function choose(fn: string, candidates: FunctionInfo[], keys: string[]): FunctionInfo {
    const matching = candidates.filter((info) => {
      const names = info.args.map((a) => a.name);
      const required = names.slice(0, names.length - info.defaults);
      return keys.every((k) => names.includes(k)) && required.every((name) => keys.includes(name));
    });
    if (matching.length === 1) {
      return matching[0];
    }
    const signature = `public.${fn}(${[...keys].sort().join(', ')})`;
    if (matching.length > 1) {
      throw new RestError(300, {
        code: 'PGRST203',
        message: `Could not choose the best candidate function between several for ${signature}`,
        details: null,
        hint: 'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
      });
    }
    throw new RestError(404, {
      code: 'PGRST202',
      message: `Could not find the function ${signature} in the schema cache`,
      details: `Searched for the function public.${fn} with parameters ${[...keys].sort().join(', ') || '(none)'} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
      hint: null,
    });
  }

  function callSql(fn: string, info: FunctionInfo, keys: string[]): string {
    const given = info.args.filter((a) => keys.includes(a.name));
    const call = `public.${quoteIdent(fn)}(${given
      .map((a) => `${quoteIdent(a.name)} := (select ${quoteIdent(a.name)} from pgrst_args)`)
      .join(', ')})`;
    const args = given.length
      ? `with pgrst_args as (select * from pg_catalog.json_to_record($1::json) as _(${given
          .map((a) => `${quoteIdent(a.name)} ${a.type}`)
          .join(', ')})) `
      : '';
    if (info.returnsVoid) {
      return `${args}select ${call} as pgrst_void`;
    }
    if (info.returnsSet) {
      return `${args}select coalesce(pg_catalog.json_agg(_t), '[]')::text as body from (select pgrst_call.* from ${call} pgrst_call) _t`;
    }
    if (info.returnsRow) {
      return `${args}select coalesce(pg_catalog.json_agg(_t) -> 0, 'null')::text as body from (select pgrst_call.* from ${call} pgrst_call) _t`;
    }
    return `${args}select coalesce(pg_catalog.to_json(pgrst_scalar)::text, 'null') as body from ${call} pgrst_scalar`;
  }

  async function run(
    req: IncomingMessage,
    fn: string,
    body: Record<string, unknown>,
    claims: JWTPayload,
    role: string,
  ): Promise<{ status: number; body?: string }> {
    const client = await pool.connect();
    let broken = false;
    try {
      const keys = Object.keys(body);
      const info = choose(fn, await lookUp(client, fn), keys);
      await client.query('begin');
      try {
        await client.query(
          `select set_config('role', $1, true), set_config('request.jwt.claims', $2, true),
                  set_config('request.method', $3, true), set_config('request.path', $4, true),
                  set_config('request.headers', $5, true), set_config('search_path', '"public", "extensions"', true)`,
          [role, JSON.stringify(claims), req.method ?? 'POST', `/rpc/${fn}`, JSON.stringify(req.headers)],
        );
        const result = await client.query<{ body: string }>(
          callSql(fn, info, keys),
          keys.length ? [JSON.stringify(body)] : [],
        );
        await client.query('commit');
        return info.returnsVoid ? { status: 204 } : { status: 200, body: result.rows[0].body };
      } catch (error) {
        await client.query('rollback').catch(() => {
          broken = true;
        });
        throw error;
      }
    } finally {
      client.release(broken);
    }
  }

  async function handleRpc(
    req: IncomingMessage,
    fn: string,
    call: RecordedCall,
  ): Promise<{ status: number; body?: string }> {
    if (req.method !== 'POST') {
      throw new RestError(405, {
        code: 'PGRST117',
        message: `Unsupported HTTP method: ${req.method}`,
        details: null,
        hint: null,
      });
    }
    const apikey = req.headers.apikey;
    call.apikey = typeof apikey === 'string' ? apikey : undefined;
    if (typeof apikey !== 'string' || apikey === '') {
      throw new RestError(401, {
        code: null,
        message: 'No API key found in request',
        details: null,
        hint: 'No `apikey` request header or url param was found.',
      });
    }
    if (!apiKeys.has(apikey)) {
      throw new RestError(401, {
        code: null,
        message: 'Invalid API key',
        details: null,
        hint: 'Double check your Supabase `anon` or `service_role` API key.',
      });
    }
    const authorization = req.headers.authorization;
    const bearer = authorization === undefined ? apikey : /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1];
    if (!bearer) {
      throw new RestError(
        401,
        {
          code: 'PGRST301',
          message: 'Expected the Authorization header to be "Bearer <token>"',
          details: null,
          hint: null,
        },
        { 'WWW-Authenticate': 'Bearer' },
      );
    }
    const claims = await verify(bearer);
    const role = typeof claims.role === 'string' ? claims.role : 'anon';
    call.role = role;
    call.sub = typeof claims.sub === 'string' ? claims.sub : undefined;
    if (!ROLES.has(role)) {
      throw new RestError(403, {
        code: '42501',
        message: `permission denied to set role "${role}"`,
        details: null,
        hint: null,
      });
    }
    const profile = req.headers['content-profile'];
    if (profile !== undefined && profile !== 'public') {
      throw new RestError(406, {
        code: 'PGRST106',
        message: 'Invalid schema: ' + String(profile),
        details: null,
        hint: 'Only the following schemas are exposed: public',
      });
    }
    const raw = await readBody(req);
    let body: unknown = {};
    if (raw.trim() !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        throw new RestError(400, { code: 'PGRST102', message: 'Empty or invalid json', details: null, hint: null });
      }
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new RestError(400, {
        code: 'PGRST102',
        message: 'The request body must be a JSON object of named arguments (bulk calls are not emulated)',
        details: null,
        hint: null,
      });
    }
    for (const key of Object.keys(body)) {
      if (!IDENTIFIER.test(key)) {
        throw new RestError(404, {
          code: 'PGRST202',
          message: `Could not find the function public.${fn} with an argument named ${JSON.stringify(key)} in the schema cache`,
          details: null,
          hint: null,
        });
      }
    }
    try {
      return await run(req, fn, body as Record<string, unknown>, claims, role);
    } catch (error) {
      if (error instanceof RestError) {
        throw error;
      }
      const pg = error as PgError;
      if (typeof pg.code !== 'string') {
        throw error;
      }
      throw new RestError(statusOf(pg.code, role), {
        code: pg.code,
        message: pg.message ?? '',
        details: pg.detail ?? null,
        hint: pg.hint ?? null,
      });
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === JWKS_PATH && options.auth && req.method === 'GET') {
      // The project's JWKS lives on the same origin as its API: forward to the key server.
      const upstream = await fetch(`${options.auth.url}${JWKS_PATH}`);
      send(res, upstream.status, await upstream.text(), { 'Content-Type': 'application/json' });
      return;
    }
    const rpc = RPC_PATH.exec(path);
    if (!rpc) {
      send(
        res,
        404,
        JSON.stringify({
          code: 'PGRST125',
          message: 'Invalid path specified in request URL',
          details: null,
          hint: null,
        }),
      );
      return;
    }
    requests += 1;
    const call: RecordedCall = { fn: decodeURIComponent(rpc[1]), status: 0 };
    calls.push(call);
    try {
      if (!IDENTIFIER.test(call.fn)) {
        throw new RestError(404, {
          code: 'PGRST202',
          message: `Could not find the function public.${call.fn} in the schema cache`,
          details: null,
          hint: null,
        });
      }
      const result = await handleRpc(req, call.fn, call);
      call.status = result.status;
      send(res, result.status, result.body);
    } catch (error) {
      const failure =
        error instanceof RestError
          ? error
          : new RestError(500, { code: null, message: (error as Error).message, details: null, hint: null });
      call.status = failure.status;
      send(res, failure.status, JSON.stringify(failure.body), failure.headers);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        send(res, 500, JSON.stringify({ code: null, message: String(error), details: null, hint: null }));
      } else {
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  options.auth?.setIssuerBase(url);

  return {
    url,
    anonKey,
    serviceRoleKey,
    get requests() {
      return requests;
    },
    calls,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}

/** PostgREST's mapping of a SQLSTATE onto an HTTP status. */
function statusOf(code: string, role: string): number {
  const exact: Record<string, number> = {
    '23503': 409,
    '23505': 409,
    '25006': 405,
    P0001: 400,
    '42883': 404,
    '42P01': 404,
    '42P17': 500,
  };
  if (code in exact) {
    return exact[code];
  }
  if (code === '42501') {
    return role === 'anon' ? 401 : 403;
  }
  if (/^PT\d{3}$/.test(code)) {
    return Number(code.slice(2));
  }
  const byClass: Record<string, number> = {
    '08': 503,
    '09': 500,
    '0L': 403,
    '0P': 403,
    '25': 500,
    '28': 403,
    '2D': 500,
    '38': 500,
    '39': 500,
    '3B': 500,
    '40': 500,
    '53': 503,
    '54': 413,
    '55': 500,
    '57': 500,
    '58': 500,
    F0: 500,
    HV: 500,
    P0: 500,
    XX: 500,
  };
  return byClass[code.slice(0, 2)] ?? 400;
}

function send(res: ServerResponse, status: number, body?: string, headers: Record<string, string> = {}): void {
  const contentType = body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8' };
  res.writeHead(status, { ...contentType, ...headers, 'X-Request-Id': randomUUID() });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
