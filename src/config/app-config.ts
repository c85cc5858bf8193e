import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { envSchema, type Env } from './config.schema';
import { StartupError } from './startup-error';

export type DatabaseDriverName = 'pglite' | 'postgres' | 'supabase';

/** The typed, nested configuration the whole server reads. Built once from the environment. */
export interface AppConfig {
  port: number;
  env: 'development' | 'production' | 'test';
  logLevel: Env['LOG_LEVEL'];
  dataDir: string;
  /**
   * `callTimeoutMs`: the longest one database call may take before it fails (a dead server never hangs a caller).
   * `connectTimeoutMs`: how long a start waits for a database server that is not reachable yet before it gives up.
   * `groupLanes`: on a Postgres server, how many commit groups of sends run at once, on rooms no other holds.
   */
  database: {
    driver: DatabaseDriverName;
    url?: string;
    callTimeoutMs: number;
    connectTimeoutMs: number;
    groupLanes: number;
  };
  supabase: { url?: string; anonKey?: string; serviceRoleKey?: string; jwtSecret?: string };
  auth: {
    mode: 'local' | 'supabase';
    localJwtSecret: string;
    localJwtTtlSeconds: number;
    /** How long a local refresh token lives unused: each use gives a new one that lives this long again. */
    localRefreshTtlSeconds: number;
    /** How long before a socket's token expires it is told `session:expiring` (at once when the token lives less). */
    sessionExpiringNoticeSeconds: number;
  };
  ai: {
    apiKey?: string;
    baseUrl?: string;
    model: string;
    /** The models a room may choose (OPENAI_MODELS; the default model alone when unset). */
    models: string[];
    contextTokens: number;
    maxOutputTokens: number;
    maxAttempts: number;
    firstTokenTimeoutMs: number;
    stallTimeoutMs: number;
    totalTimeoutMs: number;
    /** How long a reply's owner instance may go without renewing its claim before another takes the room over. */
    leaseMs: number;
    /** How often an instance looks for reply jobs nobody has claimed (a wake-up comes sooner when one is queued). */
    pollMs: number;
    /** Replies generated at once on one instance, and per user (across rooms); a room has one at a time. */
    maxConcurrent: number;
    maxConcurrentPerUser: number;
  };
  /** Checks of message text with the provider's moderation endpoint (MODERATION=openai). */
  moderation: ModerationConfig;
  /** editWindowSeconds: how long after sending an author may edit a message (the database caps it at a day). */
  messages: { maxLength: number; editWindowSeconds: number };
  rates: {
    httpPerMinute: number;
    authPerMinute: number;
    sendPer10s: number;
    typingPer10s: number;
    /** Read-pointer moves per user (room:read and PUT /api/rooms/:id/read). */
    readPer10s: number;
    /** Reactions added or removed per user. */
    reactPer10s: number;
    aiPerMinute: number;
    /** Every socket event of a user (all their sockets), and of one socket, per 10 s: the flood budget. */
    eventsPer10s: number;
    socketEventsPer10s: number;
    /** Refusals for flooding after which a socket is disconnected. */
    floodDisconnectAfter: number;
    /** Socket handshakes per IP per minute, counted before authentication. */
    handshakesPerMinute: number;
  };
  /** Sockets one user may hold at once, across instances. */
  maxSocketsPerUser: number;
  /**
   * Socket.IO's heartbeat: the server pings every `pingIntervalMs` and drops a connection that has not answered
   * within `pingTimeoutMs` (the client, one that has not been pinged for both together).
   */
  socket: { pingIntervalMs: number; pingTimeoutMs: number };
  redisUrl?: string;
  /** Several instances (REDIS_URL): how they keep track of each other and of a room's message order. */
  cluster: {
    /** How often an instance renews its presence in Redis. */
    heartbeatMs: number;
    /** An instance not heard from for this long is gone: its sockets' presence and typing end. */
    instanceTtlMs: number;
    /** How long a new message waits for its predecessor before that one is read from the database. */
    orderWaitMs: number;
  };
  /** Push notifications to members who are away, through the Expo push service (PROTOCOL.md §8). */
  push: PushConfig;
  corsOrigins: string[] | '*';
  /** Express's `trust proxy`: which proxies' X-Forwarded-For to believe for the caller's IP (per-IP limits). */
  trustProxy: boolean | number | string;
  /**
   * On SIGTERM, how long readiness answers 503 while everything is still served, before anything is refused
   * (for load balancers without a preStop delay to take the instance out).
   */
  shutdownDrainMs: number;
  /** After the drain delay: the time sockets, replies in flight, HTTP connections, Redis and the database have. */
  shutdownTimeoutMs: number;
  /** Automatic backups (export files) every `intervalMs` (none when undefined) into `dir`, the newest `keep` kept. */
  backup: { intervalMs?: number; dir: string; keep: number };
}

/** A bad or missing variable: `Invalid configuration: <VARIABLE>: <what is wrong>`. */
export class ConfigError extends StartupError {
  override readonly name = 'ConfigError';
}

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Reads `.env` of the working directory into the environment when there is one (variables already set win). */
export function loadDotEnv(file = '.env'): void {
  if (existsSync(file)) {
    process.loadEnvFile(file);
  }
}

/** Validates the environment and yields the config; a bad value throws one line naming the variable. */
export function loadConfig(source: Record<string, string | undefined> = process.env): AppConfig {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = issue.path.join('.') || 'environment';
    throw new ConfigError(`Invalid configuration: ${variable}: ${issue.message}`);
  }
  const env = parsed.data;
  const dataDir = resolve(env.DATA_DIR);
  const supabaseUrl = env.SUPABASE_URL ?? env.EXPO_PUBLIC_SUPABASE_URL;
  const supabaseKey = env.SUPABASE_SERVICE_ROLE_KEY ?? env.SUPABASE_ANON_KEY ?? env.EXPO_PUBLIC_SUPABASE_ANON_KEY;
  const supabase = Boolean(supabaseUrl && supabaseKey);
  // DATABASE_URL wins over Supabase for persistence: an explicit server is the operator's choice
  // (e.g. the Supabase project's own Postgres, reached directly). Identity follows Supabase whenever
  // a project is configured.
  const driver: DatabaseDriverName = env.DATABASE_URL ? 'postgres' : supabase ? 'supabase' : 'pglite';
  if (supabase && driver === 'supabase' && !env.SUPABASE_SERVICE_ROLE_KEY) {
    throw new ConfigError(
      'Invalid configuration: SUPABASE_SERVICE_ROLE_KEY: required with SUPABASE_URL (the server writes assistant replies as the service)',
    );
  }
  if (env.REDIS_URL && driver === 'pglite') {
    throw new ConfigError(
      'Invalid configuration: REDIS_URL: several instances need a shared database: set DATABASE_URL or SUPABASE_URL (the embedded database cannot be shared)',
    );
  }
  if (env.REDIS_URL && !supabase && !env.LOCAL_JWT_SECRET) {
    throw new ConfigError(
      'Invalid configuration: LOCAL_JWT_SECRET: required with REDIS_URL (every instance must sign and check tokens with the same key)',
    );
  }
  if (env.NODE_ENV === 'production' && driver === 'pglite' && env.ALLOW_EMBEDDED_DATABASE !== 'true') {
    throw new ConfigError(
      'Invalid configuration: DATABASE_URL: required when NODE_ENV=production (an embedded database per instance would split the data; for a single-node deployment set ALLOW_EMBEDDED_DATABASE=true)',
    );
  }
  const backupIntervalMs = parseDuration(env.BACKUP_INTERVAL);
  if (backupIntervalMs !== undefined && driver === 'supabase') {
    throw new ConfigError(
      "Invalid configuration: BACKUP_INTERVAL: Supabase keeps its own backups (the API cannot read every table); set DATABASE_URL to the project's Postgres to export it",
    );
  }
  if (env.MODERATION === 'openai' && !env.OPENAI_API_KEY) {
    throw new ConfigError(
      "Invalid configuration: OPENAI_API_KEY: required with MODERATION=openai (messages are checked with the provider's moderation endpoint)",
    );
  }
  if (env.NODE_ENV === 'production' && !supabase && !env.LOCAL_JWT_SECRET) {
    throw new ConfigError('Invalid configuration: LOCAL_JWT_SECRET: required when NODE_ENV=production');
  }
  return {
    port: env.PORT,
    env: env.NODE_ENV,
    logLevel: env.LOG_LEVEL,
    dataDir,
    database: {
      driver,
      url: env.DATABASE_URL,
      callTimeoutMs: env.DATABASE_CALL_TIMEOUT_MS,
      connectTimeoutMs: env.DATABASE_CONNECT_TIMEOUT_MS,
      groupLanes: env.DATABASE_GROUP_LANES,
    },
    supabase: {
      url: supabaseUrl,
      anonKey: env.SUPABASE_ANON_KEY ?? env.EXPO_PUBLIC_SUPABASE_ANON_KEY,
      serviceRoleKey: env.SUPABASE_SERVICE_ROLE_KEY,
      jwtSecret: env.SUPABASE_JWT_SECRET,
    },
    auth: {
      mode: supabase ? 'supabase' : 'local',
      localJwtSecret: env.LOCAL_JWT_SECRET ?? (supabase ? '' : readOrCreateLocalSecret(dataDir)),
      localJwtTtlSeconds: env.LOCAL_JWT_TTL_SECONDS,
      localRefreshTtlSeconds: env.LOCAL_REFRESH_TTL_SECONDS,
      sessionExpiringNoticeSeconds: env.SESSION_EXPIRING_NOTICE_SECONDS,
    },
    ai: {
      apiKey: env.OPENAI_API_KEY,
      baseUrl: env.OPENAI_BASE_URL,
      model: env.OPENAI_MODEL,
      models: parseModels(env.OPENAI_MODELS, env.OPENAI_MODEL),
      contextTokens: env.AI_CONTEXT_TOKENS,
      maxOutputTokens: env.AI_MAX_OUTPUT_TOKENS,
      maxAttempts: env.AI_MAX_ATTEMPTS,
      firstTokenTimeoutMs: env.AI_FIRST_TOKEN_TIMEOUT_MS,
      stallTimeoutMs: env.AI_STALL_TIMEOUT_MS,
      totalTimeoutMs: env.AI_TOTAL_TIMEOUT_MS,
      leaseMs: env.AI_LEASE_MS,
      pollMs: env.AI_POLL_MS,
      maxConcurrent: env.AI_MAX_CONCURRENT,
      maxConcurrentPerUser: env.AI_MAX_CONCURRENT_PER_USER,
    },
    moderation: {
      enabled: env.MODERATION === 'openai',
      mode: env.MODERATION_MODE,
      failOpen: env.MODERATION_FAIL_OPEN === 'true',
      model: env.MODERATION_MODEL,
      timeoutMs: env.MODERATION_TIMEOUT_MS,
      retryMs: env.MODERATION_RETRY_MS,
    },
    messages: { maxLength: env.MESSAGE_MAX_LENGTH, editWindowSeconds: env.MESSAGE_EDIT_WINDOW_SECONDS },
    rates: {
      httpPerMinute: env.RATE_HTTP_PER_MINUTE,
      authPerMinute: env.RATE_AUTH_PER_MINUTE,
      sendPer10s: env.RATE_SEND_PER_10S,
      typingPer10s: env.RATE_TYPING_PER_10S,
      readPer10s: env.RATE_READ_PER_10S,
      reactPer10s: env.RATE_REACT_PER_10S,
      aiPerMinute: env.RATE_AI_PER_MINUTE,
      eventsPer10s: env.RATE_EVENTS_PER_10S,
      socketEventsPer10s: env.RATE_SOCKET_EVENTS_PER_10S,
      floodDisconnectAfter: env.FLOOD_DISCONNECT_AFTER,
      handshakesPerMinute: env.RATE_HANDSHAKES_PER_MINUTE,
    },
    maxSocketsPerUser: env.MAX_SOCKETS_PER_USER,
    socket: { pingIntervalMs: env.SOCKET_PING_INTERVAL_MS, pingTimeoutMs: env.SOCKET_PING_TIMEOUT_MS },
    redisUrl: env.REDIS_URL,
    cluster: {
      heartbeatMs: env.CLUSTER_HEARTBEAT_MS,
      instanceTtlMs: Math.max(env.CLUSTER_INSTANCE_TTL_MS, env.CLUSTER_HEARTBEAT_MS * 2),
      orderWaitMs: env.ORDER_WAIT_MS,
    },
    push: {
      enabled: env.PUSH_ENABLED === 'true',
      delayMs: env.PUSH_DELAY_MS,
      preview: env.PUSH_PREVIEW === 'true',
      roomIntervalMs: env.PUSH_ROOM_INTERVAL_MS,
      maxPerMinute: env.PUSH_MAX_PER_MINUTE,
      maxAttempts: env.PUSH_MAX_ATTEMPTS,
      retryBaseMs: env.PUSH_RETRY_BASE_MS,
      timeoutMs: env.PUSH_TIMEOUT_MS,
      receiptDelayMs: env.PUSH_RECEIPT_DELAY_MS,
      expoUrl: env.PUSH_EXPO_URL,
      accessToken: env.EXPO_ACCESS_TOKEN,
    },
    corsOrigins: parseOrigins(env.CORS_ORIGINS, env.NODE_ENV),
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    shutdownDrainMs: env.SHUTDOWN_DRAIN_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    backup: {
      intervalMs: backupIntervalMs,
      dir: resolve(env.BACKUP_DIR ?? join(dataDir, 'backups')),
      keep: env.BACKUP_KEEP,
    },
  };
}

/** `30m`, `6h`, `1d`, `90` (seconds); `off` or `0`: none. */
function parseDuration(value: string | undefined): number | undefined {
  const match = /^(\d+)([smhd]?)$/.exec(value ?? '');
  if (!match || match[1] === '0') {
    return undefined;
  }
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit * 1000;
}

/** `false`, a hop count, or Express's names and addresses (`loopback`, `10.0.0.0/8`, ...). */
function parseTrustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined || value === 'false') {
    return false;
  }
  if (value === 'true') {
    // Express would then take the left-most X-Forwarded-For address, which any client writes itself.
    throw new ConfigError(
      'Invalid configuration: TRUST_PROXY: true lets any client choose its IP through X-Forwarded-For (and escape per-IP limits); set the number of proxies in front (1) or their addresses (loopback, 10.0.0.0/8)',
    );
  }
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** OPENAI_MODELS, comma-separated; the default model is always allowed. */
function parseModels(value: string | undefined, defaultModel: string): string[] {
  const listed = (value ?? '')
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m.length > 0);
  return [...new Set([defaultModel, ...listed])];
}

function parseOrigins(value: string | undefined, nodeEnv: Env['NODE_ENV']): string[] | '*' {
  if (value === undefined) {
    return nodeEnv === 'production' ? [] : '*';
  }
  if (value === '*') {
    return '*';
  }
  return value
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o.length > 0);
}

/** Outside production the local signing key is generated once and kept beside the embedded data. */
function readOrCreateLocalSecret(dataDir: string): string {
  const file = join(dataDir, 'local-jwt-secret');
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) {
      return existing;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw error;
    }
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

export interface PushConfig {
  /** PUSH_ENABLED=false: nothing is sent (devices are still registered). */
  enabled: boolean;
  /** How long a message may stay unread by a member whose sockets are connected but not in its room. */
  delayMs: number;
  /** Whether a push shows the message's first characters (false: "New message" only). */
  preview: boolean;
  /** At most one push per member and room per this interval; the messages in between are folded into the next. */
  roomIntervalMs: number;
  /** At most this many pushes per member per minute, all rooms together; the rest are folded likewise. */
  maxPerMinute: number;
  /** Tries of one request to the push service (5xx, 429, network errors), backing off from `retryBaseMs`. */
  maxAttempts: number;
  retryBaseMs: number;
  /** The longest one request to the push service may take. */
  timeoutMs: number;
  /** How long after a send its receipts are asked for (Expo has them within about 15 minutes). */
  receiptDelayMs: number;
  /** The push service's origin: Expo's (https://exp.host) unless set (a relay, or a fake one in tests). */
  expoUrl?: string;
  /** Expo's access token, when the project requires one ("enhanced security for push notifications"). */
  accessToken?: string;
}

export interface ModerationConfig {
  /** MODERATION=openai: every message is checked through the AI provider's key and base URL (OPENAI_*). */
  enabled: boolean;
  /** `post`: a message is checked after it is delivered; `pre`: before anyone sees it. */
  mode: Env['MODERATION_MODE'];
  /** When a check cannot be made (error, timeout): true lets the message through, false holds it for a retry. */
  failOpen: boolean;
  /** The provider's moderation model. */
  model: string;
  /** The longest one check may take before it counts as unavailable. */
  timeoutMs: number;
  /** How often messages whose check failed (failOpen=false) are checked again. */
  retryMs: number;
}
