import { z } from 'zod';

/** A whole number within bounds; any other value is refused with the range (never "received NaN"). */
const int = (min: number, max: number) => {
  const error = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
};
const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();
const optionalUrl = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .pipe(z.url().optional())
  .optional();
const POSTGRES_URL = 'must be a postgres:// or postgresql:// URL';
const optionalPostgresUrl = optionalString.pipe(
  z
    .url({ protocol: /^postgres(ql)?$/i, error: POSTGRES_URL })
    .regex(/^postgres(ql)?:\/\//i, POSTGRES_URL)
    .optional(),
);

/** DATABASE_GROUP_LANES's default, the server driver's own (SERVER_GROUP_COMMIT): one commit group at a time. */
export const DEFAULT_DATABASE_GROUP_LANES = 1;
/** DATABASE_CALL_TIMEOUT_MS's default, which the drivers also take when they are not told otherwise (tests). */
export const DEFAULT_DATABASE_CALL_TIMEOUT_MS = 15_000;

/** Every environment variable the server reads, with its default. DESIGN.md §4 is the table. */
const variables = z.object({
  PORT: int(0, 65535).default(3000),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  DATABASE_URL: optionalPostgresUrl,
  ALLOW_EMBEDDED_DATABASE: z.enum(['true', 'false'], { error: 'must be true or false' }).default('false'),
  DATABASE_CALL_TIMEOUT_MS: int(100, 600_000).default(DEFAULT_DATABASE_CALL_TIMEOUT_MS),
  DATABASE_CONNECT_TIMEOUT_MS: int(1000, 3_600_000).default(60_000),
  DATABASE_GROUP_LANES: int(1, 8).default(DEFAULT_DATABASE_GROUP_LANES),
  SUPABASE_URL: optionalUrl,
  EXPO_PUBLIC_SUPABASE_URL: optionalUrl,
  SUPABASE_ANON_KEY: optionalString,
  EXPO_PUBLIC_SUPABASE_ANON_KEY: optionalString,
  SUPABASE_SERVICE_ROLE_KEY: optionalString,
  SUPABASE_JWT_SECRET: optionalString,
  LOCAL_JWT_SECRET: optionalString.pipe(z.string().min(32, 'must be at least 32 characters').optional()),
  LOCAL_JWT_TTL_SECONDS: int(60, 31_536_000).default(86_400),
  LOCAL_REFRESH_TTL_SECONDS: int(300, 31_536_000).default(2_592_000),
  SESSION_EXPIRING_NOTICE_SECONDS: int(1, 86_400).default(300),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalUrl,
  OPENAI_MODEL: z.string().trim().min(1).default('gpt-4o-mini'),
  OPENAI_MODELS: optionalString,
  AI_CONTEXT_TOKENS: int(256, 1_000_000).default(6000),
  AI_MAX_OUTPUT_TOKENS: int(16, 100_000).default(1000),
  AI_MAX_ATTEMPTS: int(1, 10).default(3),
  AI_FIRST_TOKEN_TIMEOUT_MS: int(100, 600_000).default(30_000),
  AI_STALL_TIMEOUT_MS: int(100, 600_000).default(20_000),
  AI_TOTAL_TIMEOUT_MS: int(1000, 3_600_000).default(180_000),
  MODERATION: z.enum(['off', 'openai'], { error: 'must be off or openai' }).default('off'),
  MODERATION_MODE: z.enum(['post', 'pre'], { error: 'must be post or pre' }).default('post'),
  MODERATION_FAIL_OPEN: z.enum(['true', 'false'], { error: 'must be true or false' }).default('true'),
  MODERATION_MODEL: z.string().trim().min(1).default('omni-moderation-latest'),
  MODERATION_TIMEOUT_MS: int(100, 120_000).default(5000),
  MODERATION_RETRY_MS: int(1000, 3_600_000).default(15_000),
  MESSAGE_MAX_LENGTH: int(1, 100_000).default(4000),
  MESSAGE_EDIT_WINDOW_SECONDS: int(0, 86_400).default(900),
  RATE_HTTP_PER_MINUTE: int(1, 1_000_000).default(600),
  RATE_AUTH_PER_MINUTE: int(1, 1_000_000).default(10),
  RATE_SEND_PER_10S: int(1, 1_000_000).default(20),
  RATE_TYPING_PER_10S: int(1, 1_000_000).default(30),
  RATE_READ_PER_10S: int(1, 1_000_000).default(50),
  RATE_REACT_PER_10S: int(1, 1_000_000).default(30),
  RATE_AI_PER_MINUTE: int(1, 1_000_000).default(20),
  RATE_EVENTS_PER_10S: int(1, 1_000_000).default(500),
  RATE_SOCKET_EVENTS_PER_10S: int(1, 1_000_000).default(300),
  FLOOD_DISCONNECT_AFTER: int(1, 1_000_000).default(50),
  RATE_HANDSHAKES_PER_MINUTE: int(1, 1_000_000).default(120),
  MAX_SOCKETS_PER_USER: int(1, 100_000).default(20),
  SOCKET_PING_INTERVAL_MS: int(1000, 600_000).default(25_000),
  SOCKET_PING_TIMEOUT_MS: int(1000, 600_000).default(30_000),
  AI_MAX_CONCURRENT: int(1, 10_000).default(32),
  AI_MAX_CONCURRENT_PER_USER: int(1, 10_000).default(4),
  REDIS_URL: optionalUrl.refine(
    (v) => v === undefined || /^rediss?:\/\//.test(v),
    'must be a redis:// or rediss:// URL',
  ),
  CLUSTER_HEARTBEAT_MS: int(100, 60_000).default(2000),
  CLUSTER_INSTANCE_TTL_MS: int(500, 600_000).default(10_000),
  ORDER_WAIT_MS: int(10, 10_000).default(250),
  AI_LEASE_MS: int(500, 600_000).default(15_000),
  AI_POLL_MS: int(100, 60_000).default(2000),
  PUSH_ENABLED: z.enum(['true', 'false'], { error: 'must be true or false' }).default('true'),
  PUSH_DELAY_MS: int(0, 600_000).default(10_000),
  PUSH_PREVIEW: z.enum(['true', 'false'], { error: 'must be true or false' }).default('true'),
  PUSH_ROOM_INTERVAL_MS: int(1000, 3_600_000).default(30_000),
  PUSH_MAX_PER_MINUTE: int(1, 1000).default(10),
  PUSH_MAX_ATTEMPTS: int(1, 10).default(3),
  PUSH_RETRY_BASE_MS: int(10, 60_000).default(1000),
  PUSH_TIMEOUT_MS: int(100, 120_000).default(10_000),
  PUSH_RECEIPT_DELAY_MS: int(100, 86_400_000).default(900_000),
  PUSH_EXPO_URL: optionalUrl,
  EXPO_ACCESS_TOKEN: optionalString,
  CORS_ORIGINS: optionalString,
  TRUST_PROXY: optionalString,
  SHUTDOWN_DRAIN_MS: int(0, 120_000).default(0),
  SHUTDOWN_TIMEOUT_MS: int(1000, 120_000).default(10_000),
  BACKUP_INTERVAL: optionalString.pipe(
    z
      .string()
      .regex(/^(off|0|[1-9]\d*[smhd]?)$/, 'must be a duration such as 30m, 6h or 1d (a bare number is seconds), or off')
      .optional(),
  ),
  BACKUP_DIR: optionalString,
  BACKUP_KEEP: int(1, 10_000).default(7),
});

/** A variable set to the empty string (`PORT=` in a .env file) counts as unset: it takes its default. */
export const envSchema = z.preprocess(
  (env) =>
    Object.fromEntries(
      Object.entries(env as Record<string, unknown>).filter(
        ([, value]) => !(typeof value === 'string' && value.trim() === ''),
      ),
    ),
  variables,
);

export type Env = z.infer<typeof variables>;
