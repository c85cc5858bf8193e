import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './app-config';

const SECRET_FILE = 'local-jwt-secret';

const tempDirs: string[] = [];

function makeDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), `app-config-${randomUUID()}-`));
  tempDirs.push(dir);
  return dir;
}

/** An environment that never touches ./data: a fresh DATA_DIR per call, plus the given variables. */
function makeEnv(vars: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { DATA_DIR: makeDataDir(), ...vars };
}

function makeSecret(): string {
  return `secret-${randomUUID()}-${randomUUID()}`;
}

function configErrorOf(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      return error;
    }
    throw error;
  }
  throw new Error('loadConfig did not throw');
}

afterEach(() => {
  for (const dir of tempDirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe(loadConfig.name, () => {
  describe('defaults', () => {
    it('should use the documented defaults when nothing is set', () => {
      const sut = loadConfig(makeEnv());

      expect(sut.port).toBe(3000);
      expect(sut.env).toBe('development');
      expect(sut.logLevel).toBe('info');
      expect(sut.database).toEqual({
        driver: 'pglite',
        url: undefined,
        callTimeoutMs: 15_000,
        connectTimeoutMs: 60_000,
        groupLanes: 1,
      });
      expect(sut.messages.maxLength).toBe(4000);
      expect(sut.messages.editWindowSeconds).toBe(900);
      expect(sut.rates).toEqual({
        httpPerMinute: 600,
        authPerMinute: 10,
        sendPer10s: 20,
        typingPer10s: 30,
        readPer10s: 50,
        reactPer10s: 30,
        aiPerMinute: 20,
        eventsPer10s: 500,
        socketEventsPer10s: 300,
        floodDisconnectAfter: 50,
        handshakesPerMinute: 120,
      });
      expect(sut.maxSocketsPerUser).toBe(20);
      expect(sut.ai.models).toEqual(['gpt-4o-mini']);
      expect(sut.auth.localJwtTtlSeconds).toBe(86_400);
      expect(sut.auth.localRefreshTtlSeconds).toBe(2_592_000);
      expect(sut.auth.sessionExpiringNoticeSeconds).toBe(300);
      expect(sut.socket).toEqual({ pingIntervalMs: 25_000, pingTimeoutMs: 30_000 });
    });

    it('should allow every origin in development when CORS_ORIGINS is unset', () => {
      const sut = loadConfig(makeEnv());

      expect(sut.corsOrigins).toBe('*');
    });

    it('should allow no origin in production when CORS_ORIGINS is unset', () => {
      const sut = loadConfig(
        makeEnv({ NODE_ENV: 'production', ALLOW_EMBEDDED_DATABASE: 'true', LOCAL_JWT_SECRET: makeSecret() }),
      );

      expect(sut.corsOrigins).toEqual([]);
    });

    it('should parse a comma list of origins and trim each one', () => {
      const sut = loadConfig(makeEnv({ CORS_ORIGINS: ' https://a.example.com ,https://b.example.com,  , ' }));

      expect(sut.corsOrigins).toEqual(['https://a.example.com', 'https://b.example.com']);
    });

    it('should read numbers given as strings', () => {
      const sut = loadConfig(makeEnv({ PORT: '8080', MESSAGE_MAX_LENGTH: '123', RATE_SEND_PER_10S: '7' }));

      expect(sut.port).toBe(8080);
      expect(sut.messages.maxLength).toBe(123);
      expect(sut.rates.sendPer10s).toBe(7);
    });
  });

  describe('bad values', () => {
    it.each([
      ['PORT', 'abc'],
      ['PORT', '70000'],
      ['LOG_LEVEL', 'loud'],
      ['LOCAL_JWT_SECRET', 'too-short'],
      ['RATE_SEND_PER_10S', '0'],
      ['DATABASE_URL', 'not a url'],
      ['NODE_ENV', 'staging'],
    ])('should throw a one-line ConfigError naming %s when it is %p', (variable, value) => {
      const error = configErrorOf(makeEnv({ [variable]: value }));

      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message.startsWith(`Invalid configuration: ${variable}: `)).toBe(true);
      expect(error.message.length).toBeGreaterThan(`Invalid configuration: ${variable}: `.length);
      expect(error.message).not.toContain('\n');
    });

    it.each([['abc'], ['1.5'], ['70000'], ['-1']])('should say what PORT takes when it is %p', (value) => {
      const error = configErrorOf(makeEnv({ PORT: value }));

      expect(error.message).toBe('Invalid configuration: PORT: must be a whole number from 0 to 65535');
    });

    it('should give the range of any whole-number variable', () => {
      const error = configErrorOf(makeEnv({ DATABASE_CONNECT_TIMEOUT_MS: 'soon' }));

      expect(error.message).toBe(
        'Invalid configuration: DATABASE_CONNECT_TIMEOUT_MS: must be a whole number from 1000 to 3600000',
      );
    });

    it.each([['mysql://chat:hunter2@db.internal/chat'], ['http://example.com'], ['not a url'], ['postgres:chat']])(
      'should refuse DATABASE_URL %p, which is no postgres URL, without repeating it',
      (value) => {
        const error = configErrorOf(makeEnv({ DATABASE_URL: value }));

        expect(error.message).toBe('Invalid configuration: DATABASE_URL: must be a postgres:// or postgresql:// URL');
      },
    );

    it('should require LOCAL_JWT_SECRET in production', () => {
      const error = configErrorOf(makeEnv({ NODE_ENV: 'production', ALLOW_EMBEDDED_DATABASE: 'true' }));

      expect(error.message.startsWith('Invalid configuration: LOCAL_JWT_SECRET: ')).toBe(true);
      expect(error.message).not.toContain('\n');
    });

    it('should refuse the embedded database in production unless it is allowed', () => {
      const error = configErrorOf(makeEnv({ NODE_ENV: 'production', LOCAL_JWT_SECRET: makeSecret() }));

      expect(error.message).toMatch(
        /^Invalid configuration: DATABASE_URL: required when NODE_ENV=production \(.*ALLOW_EMBEDDED_DATABASE=true\)$/,
      );
    });

    it('should take a server database in production without ALLOW_EMBEDDED_DATABASE', () => {
      const sut = loadConfig(
        makeEnv({
          NODE_ENV: 'production',
          LOCAL_JWT_SECRET: makeSecret(),
          DATABASE_URL: 'postgres://db.internal/chat',
        }),
      );

      expect(sut.database.driver).toBe('postgres');
    });

    it('should refuse an ALLOW_EMBEDDED_DATABASE that is not true or false', () => {
      const error = configErrorOf(makeEnv({ ALLOW_EMBEDDED_DATABASE: 'yes' }));

      expect(error.message).toBe('Invalid configuration: ALLOW_EMBEDDED_DATABASE: must be true or false');
    });

    it('should start in production when LOCAL_JWT_SECRET is set', () => {
      const secret = makeSecret();

      const sut = loadConfig(
        makeEnv({ NODE_ENV: 'production', ALLOW_EMBEDDED_DATABASE: 'true', LOCAL_JWT_SECRET: secret }),
      );

      expect(sut.env).toBe('production');
      expect(sut.auth.localJwtSecret).toBe(secret);
    });
  });

  describe('database driver', () => {
    it('should use postgres when DATABASE_URL is set', () => {
      const url = `postgres://user:pw@127.0.0.1:5432/${randomUUID()}`;

      const sut = loadConfig(makeEnv({ DATABASE_URL: url }));

      expect(sut.database).toEqual({
        driver: 'postgres',
        url,
        callTimeoutMs: 15_000,
        connectTimeoutMs: 60_000,
        groupLanes: 1,
      });
    });

    it.each([
      ['SUPABASE_URL', 'SUPABASE_ANON_KEY'],
      ['SUPABASE_URL', 'SUPABASE_SERVICE_ROLE_KEY'],
      ['EXPO_PUBLIC_SUPABASE_URL', 'EXPO_PUBLIC_SUPABASE_ANON_KEY'],
      ['EXPO_PUBLIC_SUPABASE_URL', 'SUPABASE_ANON_KEY'],
    ])('should use supabase when %s and %s are set without DATABASE_URL', (urlVar, keyVar) => {
      const url = `https://${randomUUID()}.supabase.co`;

      const sut = loadConfig(
        makeEnv({
          [urlVar]: url,
          [keyVar]: `key-${randomUUID()}`,
          SUPABASE_SERVICE_ROLE_KEY: `service-${randomUUID()}`,
        }),
      );

      expect(sut.database.driver).toBe('supabase');
      expect(sut.supabase.url).toBe(url);
      expect(sut.auth.mode).toBe('supabase');
    });

    it('should refuse the supabase driver without SUPABASE_SERVICE_ROLE_KEY, naming it', () => {
      expect(() =>
        loadConfig(
          makeEnv({
            EXPO_PUBLIC_SUPABASE_URL: `https://${randomUUID()}.supabase.co`,
            EXPO_PUBLIC_SUPABASE_ANON_KEY: `key-${randomUUID()}`,
          }),
        ),
      ).toThrow(/^Invalid configuration: SUPABASE_SERVICE_ROLE_KEY: /);
    });

    it.each([
      ['postgresql://chat:pw@db.internal:6543/chat?sslmode=require'],
      ['postgresql:///chat?host=/var/run/postgresql'],
    ])('should take %p', (url) => {
      const sut = loadConfig(makeEnv({ DATABASE_URL: url }));

      expect(sut.database.url).toBe(url);
    });

    it('should take the wait for a database server from DATABASE_CONNECT_TIMEOUT_MS', () => {
      const sut = loadConfig(
        makeEnv({ DATABASE_URL: 'postgres://127.0.0.1/chat', DATABASE_CONNECT_TIMEOUT_MS: '5000' }),
      );

      expect(sut.database.connectTimeoutMs).toBe(5000);
    });

    it('should run one commit group at a time on a server by default, DATABASE_GROUP_LANES if set', () => {
      const url = 'postgres://127.0.0.1/chat';

      expect(loadConfig(makeEnv({ DATABASE_URL: url })).database.groupLanes).toBe(1);
      expect(loadConfig(makeEnv({ DATABASE_URL: url, DATABASE_GROUP_LANES: '3' })).database.groupLanes).toBe(3);
    });

    it.each(['0', '9', 'two', '1.5'])('should refuse DATABASE_GROUP_LANES=%p', (lanes) => {
      const error = configErrorOf(makeEnv({ DATABASE_URL: 'postgres://127.0.0.1/chat', DATABASE_GROUP_LANES: lanes }));

      expect(error?.message).toBe('Invalid configuration: DATABASE_GROUP_LANES: must be a whole number from 1 to 8');
    });

    it('should keep local sign-in with DATABASE_URL and no Supabase project', () => {
      const sut = loadConfig(makeEnv({ DATABASE_URL: `postgres://127.0.0.1:5432/${randomUUID()}` }));

      expect(sut.auth.mode).toBe('local');
    });

    it('should not use supabase with a URL but no key', () => {
      const sut = loadConfig(makeEnv({ SUPABASE_URL: `https://${randomUUID()}.supabase.co` }));

      expect(sut.database.driver).toBe('pglite');
    });

    it('should prefer postgres when both DATABASE_URL and Supabase are set', () => {
      const sut = loadConfig(
        makeEnv({
          DATABASE_URL: `postgres://user:pw@127.0.0.1:5432/${randomUUID()}`,
          SUPABASE_URL: `https://${randomUUID()}.supabase.co`,
          SUPABASE_ANON_KEY: `key-${randomUUID()}`,
        }),
      );

      expect(sut.database.driver).toBe('postgres');
    });
  });

  describe('empty strings', () => {
    it('should treat empty database and Supabase variables as unset', () => {
      const sut = loadConfig(
        makeEnv({
          DATABASE_URL: '',
          SUPABASE_URL: '',
          EXPO_PUBLIC_SUPABASE_URL: '',
          SUPABASE_ANON_KEY: '',
          EXPO_PUBLIC_SUPABASE_ANON_KEY: '',
          SUPABASE_SERVICE_ROLE_KEY: '',
        }),
      );

      expect(sut.database).toEqual({
        driver: 'pglite',
        url: undefined,
        callTimeoutMs: 15_000,
        connectTimeoutMs: 60_000,
        groupLanes: 1,
      });
      expect(sut.supabase.url).toBeUndefined();
      expect(sut.supabase.anonKey).toBeUndefined();
    });

    it('should treat an empty DATABASE_URL as unset next to Supabase settings', () => {
      const sut = loadConfig(
        makeEnv({
          DATABASE_URL: '',
          SUPABASE_URL: `https://${randomUUID()}.supabase.co`,
          SUPABASE_ANON_KEY: `key-${randomUUID()}`,
          SUPABASE_SERVICE_ROLE_KEY: `service-${randomUUID()}`,
        }),
      );

      expect(sut.database.driver).toBe('supabase');
    });

    it('should treat an empty LOCAL_JWT_SECRET as unset and generate one', () => {
      const env = makeEnv({ LOCAL_JWT_SECRET: '' });

      const sut = loadConfig(env);

      expect(sut.auth.localJwtSecret.length).toBeGreaterThanOrEqual(32);
      expect(existsSync(join(env.DATA_DIR!, SECRET_FILE))).toBe(true);
    });

    it('should treat an empty LOCAL_JWT_SECRET as missing in production', () => {
      const error = configErrorOf(
        makeEnv({ NODE_ENV: 'production', ALLOW_EMBEDDED_DATABASE: 'true', LOCAL_JWT_SECRET: '' }),
      );

      expect(error.message.startsWith('Invalid configuration: LOCAL_JWT_SECRET: ')).toBe(true);
    });

    it('should treat an empty CORS_ORIGINS as unset', () => {
      expect(loadConfig(makeEnv({ CORS_ORIGINS: '' })).corsOrigins).toBe('*');
      expect(
        loadConfig(
          makeEnv({
            CORS_ORIGINS: '',
            NODE_ENV: 'production',
            ALLOW_EMBEDDED_DATABASE: 'true',
            LOCAL_JWT_SECRET: makeSecret(),
          }),
        ).corsOrigins,
      ).toEqual([]);
    });

    it.each([
      ['PORT', (c: ReturnType<typeof loadConfig>) => c.port, 3000],
      ['NODE_ENV', (c: ReturnType<typeof loadConfig>) => c.env, 'development'],
      ['LOG_LEVEL', (c: ReturnType<typeof loadConfig>) => c.logLevel, 'info'],
      ['MESSAGE_MAX_LENGTH', (c: ReturnType<typeof loadConfig>) => c.messages.maxLength, 4000],
      ['RATE_SEND_PER_10S', (c: ReturnType<typeof loadConfig>) => c.rates.sendPer10s, 20],
      ['LOCAL_REFRESH_TTL_SECONDS', (c: ReturnType<typeof loadConfig>) => c.auth.localRefreshTtlSeconds, 2_592_000],
      [
        'SESSION_EXPIRING_NOTICE_SECONDS',
        (c: ReturnType<typeof loadConfig>) => c.auth.sessionExpiringNoticeSeconds,
        300,
      ],
      ['SOCKET_PING_INTERVAL_MS', (c: ReturnType<typeof loadConfig>) => c.socket.pingIntervalMs, 25_000],
      ['SOCKET_PING_TIMEOUT_MS', (c: ReturnType<typeof loadConfig>) => c.socket.pingTimeoutMs, 30_000],
    ])('should treat an empty %s as unset and use its default', (variable, read, expected) => {
      const sut = loadConfig(makeEnv({ [variable]: '' }));

      expect(read(sut)).toBe(expected);
    });
  });

  describe('local signing secret', () => {
    it('should generate a secret into DATA_DIR with file mode 0600', () => {
      const env = makeEnv();

      const sut = loadConfig(env);

      const file = join(env.DATA_DIR!, SECRET_FILE);
      expect(sut.auth.localJwtSecret.length).toBeGreaterThanOrEqual(32);
      expect(existsSync(file)).toBe(true);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    });

    it('should return the same secret on a second load with the same DATA_DIR', () => {
      const env = makeEnv();

      const first = loadConfig(env).auth.localJwtSecret;
      const second = loadConfig(env).auth.localJwtSecret;

      expect(second).toBe(first);
    });

    it('should generate different secrets for different DATA_DIRs', () => {
      const first = loadConfig(makeEnv()).auth.localJwtSecret;
      const second = loadConfig(makeEnv()).auth.localJwtSecret;

      expect(second).not.toBe(first);
    });

    it('should create DATA_DIR when it does not exist yet', () => {
      const dataDir = join(makeDataDir(), 'nested', randomUUID());

      const sut = loadConfig({ DATA_DIR: dataDir });

      expect(sut.dataDir).toBe(dataDir);
      expect(existsSync(join(dataDir, SECRET_FILE))).toBe(true);
    });

    it('should use LOCAL_JWT_SECRET when set and write no file', () => {
      const env = makeEnv({ LOCAL_JWT_SECRET: makeSecret() });

      const sut = loadConfig(env);

      expect(sut.auth.localJwtSecret).toBe(env.LOCAL_JWT_SECRET);
      expect(readdirSync(env.DATA_DIR!)).toEqual([]);
    });
  });

  describe('sessions and the socket heartbeat', () => {
    it('should read the refresh token lifetime, the expiry notice and the ping timings', () => {
      const sut = loadConfig(
        makeEnv({
          LOCAL_REFRESH_TTL_SECONDS: '3600',
          SESSION_EXPIRING_NOTICE_SECONDS: '60',
          SOCKET_PING_INTERVAL_MS: '10000',
          SOCKET_PING_TIMEOUT_MS: '45000',
        }),
      );

      expect(sut.auth.localRefreshTtlSeconds).toBe(3600);
      expect(sut.auth.sessionExpiringNoticeSeconds).toBe(60);
      expect(sut.socket).toEqual({ pingIntervalMs: 10_000, pingTimeoutMs: 45_000 });
    });

    it.each([
      ['LOCAL_REFRESH_TTL_SECONDS', '299', 'must be a whole number from 300 to 31536000'],
      ['LOCAL_REFRESH_TTL_SECONDS', '31536001', 'must be a whole number from 300 to 31536000'],
      ['LOCAL_REFRESH_TTL_SECONDS', '30d', 'must be a whole number from 300 to 31536000'],
      ['SESSION_EXPIRING_NOTICE_SECONDS', '0', 'must be a whole number from 1 to 86400'],
      ['SESSION_EXPIRING_NOTICE_SECONDS', '2.5', 'must be a whole number from 1 to 86400'],
      ['SOCKET_PING_INTERVAL_MS', '999', 'must be a whole number from 1000 to 600000'],
      ['SOCKET_PING_INTERVAL_MS', '600001', 'must be a whole number from 1000 to 600000'],
      ['SOCKET_PING_TIMEOUT_MS', '-1', 'must be a whole number from 1000 to 600000'],
      ['SOCKET_PING_TIMEOUT_MS', 'often', 'must be a whole number from 1000 to 600000'],
    ])('should refuse %s=%p naming its range', (variable, value, range) => {
      const error = configErrorOf(makeEnv({ [variable]: value }));

      expect(error.message).toBe(`Invalid configuration: ${variable}: ${range}`);
    });
  });

  describe('TRUST_PROXY', () => {
    it('should refuse true, which lets any client choose its IP', () => {
      const error = configErrorOf(makeEnv({ TRUST_PROXY: 'true' }));

      expect(error.message).toMatch(/^Invalid configuration: TRUST_PROXY: true lets any client choose its IP/);
    });

    it.each([
      [undefined, false],
      ['false', false],
      ['1', 1],
      ['loopback, 10.0.0.0/8', 'loopback, 10.0.0.0/8'],
    ])('should read %s as %s', (value, expected) => {
      const sut = loadConfig(makeEnv(value === undefined ? {} : { TRUST_PROXY: value }));

      expect(sut.trustProxy).toEqual(expected);
    });
  });

  describe('REDIS_URL (several instances)', () => {
    const DATABASE_URL = 'postgres://chat@127.0.0.1:5432/chat';

    it('should refuse the embedded database, which cannot be shared', () => {
      const error = configErrorOf(makeEnv({ REDIS_URL: 'redis://127.0.0.1:6379', LOCAL_JWT_SECRET: makeSecret() }));

      expect(error.message).toMatch(
        /^Invalid configuration: REDIS_URL: .*DATABASE_URL.*embedded database cannot be shared/,
      );
      expect(error.message).not.toContain('\n');
    });

    it('should refuse local mode without LOCAL_JWT_SECRET (each instance would make its own key)', () => {
      const error = configErrorOf(makeEnv({ REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL }));

      expect(error.message).toMatch(/^Invalid configuration: LOCAL_JWT_SECRET: required with REDIS_URL/);
    });

    it('should refuse a URL that is not redis:// or rediss://', () => {
      const error = configErrorOf(makeEnv({ REDIS_URL: 'http://127.0.0.1:6379', DATABASE_URL }));

      expect(error.message).toMatch(/^Invalid configuration: REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/);
    });

    it('should take a shared database and key, with the cluster timings', () => {
      const sut = loadConfig(
        makeEnv({
          REDIS_URL: 'rediss://redis.internal:6380',
          DATABASE_URL,
          LOCAL_JWT_SECRET: makeSecret(),
          CLUSTER_HEARTBEAT_MS: '500',
          CLUSTER_INSTANCE_TTL_MS: '3000',
          ORDER_WAIT_MS: '50',
        }),
      );

      expect(sut.redisUrl).toBe('rediss://redis.internal:6380');
      expect(sut.cluster).toEqual({ heartbeatMs: 500, instanceTtlMs: 3000, orderWaitMs: 50 });
    });

    it('should keep an instance alive for at least two heartbeats', () => {
      const sut = loadConfig(makeEnv({ CLUSTER_HEARTBEAT_MS: '2000', CLUSTER_INSTANCE_TTL_MS: '1000' }));

      expect(sut.cluster.instanceTtlMs).toBe(4000);
    });
  });

  describe('moderation', () => {
    it('should leave moderation off, checking after delivery and failing open, when nothing is set', () => {
      const sut = loadConfig(makeEnv());

      expect(sut.moderation).toEqual({
        enabled: false,
        mode: 'post',
        failOpen: true,
        model: 'omni-moderation-latest',
        timeoutMs: 5000,
        retryMs: 15_000,
      });
    });

    it('should read every moderation variable', () => {
      const sut = loadConfig(
        makeEnv({
          MODERATION: 'openai',
          OPENAI_API_KEY: `key-${randomUUID()}`,
          MODERATION_MODE: 'pre',
          MODERATION_FAIL_OPEN: 'false',
          MODERATION_MODEL: 'text-moderation-stable',
          MODERATION_TIMEOUT_MS: '800',
          MODERATION_RETRY_MS: '60000',
        }),
      );

      expect(sut.moderation).toEqual({
        enabled: true,
        mode: 'pre',
        failOpen: false,
        model: 'text-moderation-stable',
        timeoutMs: 800,
        retryMs: 60_000,
      });
    });

    it('should refuse MODERATION=openai without OPENAI_API_KEY, naming the key', () => {
      const error = configErrorOf(makeEnv({ MODERATION: 'openai', OPENAI_API_KEY: '' }));

      expect(error.message).toBe(
        "Invalid configuration: OPENAI_API_KEY: required with MODERATION=openai (messages are checked with the provider's moderation endpoint)",
      );
    });

    it.each([
      ['MODERATION', 'on', 'must be off or openai'],
      ['MODERATION', 'OpenAI', 'must be off or openai'],
      ['MODERATION_MODE', 'before', 'must be post or pre'],
      ['MODERATION_FAIL_OPEN', 'yes', 'must be true or false'],
      ['MODERATION_TIMEOUT_MS', '99', 'must be a whole number from 100 to 120000'],
      ['MODERATION_TIMEOUT_MS', '5s', 'must be a whole number from 100 to 120000'],
      ['MODERATION_RETRY_MS', '999', 'must be a whole number from 1000 to 3600000'],
      ['MODERATION_RETRY_MS', '1.5', 'must be a whole number from 1000 to 3600000'],
    ])('should refuse %s=%p naming what it takes', (variable, value, expected) => {
      const error = configErrorOf(makeEnv({ [variable]: value }));

      expect(error.message).toBe(`Invalid configuration: ${variable}: ${expected}`);
    });

    it.each([
      ['MODERATION', (c: ReturnType<typeof loadConfig>) => c.moderation.enabled, false],
      ['MODERATION_MODE', (c: ReturnType<typeof loadConfig>) => c.moderation.mode, 'post'],
      ['MODERATION_FAIL_OPEN', (c: ReturnType<typeof loadConfig>) => c.moderation.failOpen, true],
      ['MODERATION_MODEL', (c: ReturnType<typeof loadConfig>) => c.moderation.model, 'omni-moderation-latest'],
    ])('should treat an empty %s as unset and use its default', (variable, read, expected) => {
      const sut = loadConfig(makeEnv({ [variable]: ' ' }));

      expect(read(sut)).toBe(expected);
    });
  });

  describe('backups', () => {
    it('should leave automatic backups off, into DATA_DIR/backups, keeping 7, when nothing is set', () => {
      const env = makeEnv();

      const sut = loadConfig(env);

      expect(sut.backup).toEqual({ intervalMs: undefined, dir: join(env.DATA_DIR ?? '', 'backups'), keep: 7 });
    });

    it.each([
      ['90', 90_000],
      ['30m', 1_800_000],
      ['6h', 21_600_000],
      ['1d', 86_400_000],
      ['off', undefined],
      ['0', undefined],
    ])('should read BACKUP_INTERVAL=%s', (value, intervalMs) => {
      expect(loadConfig(makeEnv({ BACKUP_INTERVAL: value })).backup.intervalMs).toBe(intervalMs);
    });

    it('should refuse a BACKUP_INTERVAL that is not a duration, naming it', () => {
      expect(configErrorOf(makeEnv({ BACKUP_INTERVAL: '6 hours' })).message).toMatch(
        /^Invalid configuration: BACKUP_INTERVAL: must be a duration such as 30m/,
      );
    });

    it('should refuse BACKUP_INTERVAL in Supabase mode (the API cannot read every table)', () => {
      const env = makeEnv({
        BACKUP_INTERVAL: '1h',
        SUPABASE_URL: `https://${randomUUID()}.supabase.co`,
        SUPABASE_ANON_KEY: 'anon',
        SUPABASE_SERVICE_ROLE_KEY: 'service',
      });

      expect(configErrorOf(env).message).toMatch(/^Invalid configuration: BACKUP_INTERVAL: /);
    });
  });
});
