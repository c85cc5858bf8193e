import { SignJWT, UnsecuredJWT } from 'jose';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type AppConfig } from '../../config/app-config';
import { InvalidTokenError, TokenService } from './token.service';

const ISSUER = 'chat-backend';
const AUDIENCE = 'authenticated';

const tempDirs: string[] = [];

function makeSecret(): string {
  return `${randomUUID()}-${randomUUID()}`;
}

function makeConfig(secret = 'x'.repeat(40)): AppConfig {
  const dataDir = mkdtempSync(join(tmpdir(), 'token-service-'));
  tempDirs.push(dataDir);
  return loadConfig({ LOCAL_JWT_SECRET: secret, DATA_DIR: dataDir });
}

function makeSut(secret?: string): TokenService {
  return new TokenService(makeConfig(secret));
}

/** Signs a token with our own hand, to build the ones the service must refuse. */
function signWith(
  secret: string,
  claims: { sub?: string; iss?: string; aud?: string; expInSeconds?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ role: 'authenticated' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(now + (claims.expInSeconds ?? 3600))
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? AUDIENCE);
  if (claims.sub !== undefined) {
    jwt.setSubject(claims.sub);
  }
  return jwt.sign(new TextEncoder().encode(secret));
}

function decodePayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

afterEach(() => {
  for (const dir of tempDirs.splice(0)) {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe(TokenService.name, () => {
  it('should verify a token it issued and return the profile id, claims and expiry', async () => {
    const sut = makeSut();
    const profileId = randomUUID();
    const before = Date.now();

    const token = await sut.issue(profileId);
    const user = await sut.verify(token);

    expect(user.id).toBe(profileId);
    expect(user.claims).toMatchObject({ sub: profileId, iss: ISSUER, aud: AUDIENCE, role: 'authenticated' });
    const expected = before + sut.ttlSeconds * 1000;
    expect(user.expiresAt).toBeGreaterThanOrEqual(expected - 2000);
    expect(user.expiresAt).toBeLessThanOrEqual(expected + 2000);
  });

  it('should use LOCAL_JWT_TTL_SECONDS as the default lifetime', () => {
    const sut = makeSut();

    expect(sut.ttlSeconds).toBe(86_400);
  });

  it('should honour an explicit lifetime', async () => {
    const sut = makeSut();
    const before = Date.now();

    const user = await sut.verify(await sut.issue(randomUUID(), 120));

    expect(user.expiresAt).toBeGreaterThanOrEqual(before + 118_000);
    expect(user.expiresAt).toBeLessThanOrEqual(before + 122_000);
  });

  it('should issue an HS256 JWT', async () => {
    const sut = makeSut();

    const token = await sut.issue(randomUUID());

    const header = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8'));
    expect(header.alg).toBe('HS256');
  });

  it('should refuse an expired token', async () => {
    const sut = makeSut();
    const token = await sut.issue(randomUUID(), -10);

    await expect(sut.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('should refuse a token signed with another secret', async () => {
    const sut = makeSut(makeSecret());
    const other = makeSut(makeSecret());
    const token = await other.issue(randomUUID());

    await expect(sut.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('should refuse a token whose payload was tampered with', async () => {
    const sut = makeSut();
    const token = await sut.issue(randomUUID());
    const [header, , signature] = token.split('.');
    const payload = { ...decodePayload(token), sub: randomUUID() };
    const tampered = [header, Buffer.from(JSON.stringify(payload)).toString('base64url'), signature].join('.');

    await expect(sut.verify(tampered)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('should refuse an unsigned token (alg none)', async () => {
    const sut = makeSut();
    const unsigned = new UnsecuredJWT({ role: 'authenticated' })
      .setSubject(randomUUID())
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('1h')
      .encode();

    await expect(sut.verify(unsigned)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('should refuse a token from another issuer', async () => {
    const secret = makeSecret();
    const sut = makeSut(secret);
    const token = await signWith(secret, { sub: randomUUID(), iss: 'someone-else' });

    await expect(sut.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('should refuse a token for another audience', async () => {
    const secret = makeSecret();
    const sut = makeSut(secret);
    const token = await signWith(secret, { sub: randomUUID(), aud: 'anon' });

    await expect(sut.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it('should accept a well-formed token signed by hand with the same secret', async () => {
    const secret = makeSecret();
    const sut = makeSut(secret);
    const profileId = randomUUID();

    const user = await sut.verify(await signWith(secret, { sub: profileId }));

    expect(user.id).toBe(profileId);
  });

  it.each(['not-a-uuid', '', '12345678-1234-1234-1234-1234567890'])(
    'should refuse a token whose subject is %p',
    async (sub) => {
      const secret = makeSecret();
      const sut = makeSut(secret);
      const token = await signWith(secret, { sub });

      await expect(sut.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);
    },
  );

  it('should refuse a token without a subject', async () => {
    const secret = makeSecret();
    const sut = makeSut(secret);
    const token = await signWith(secret);

    await expect(sut.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it.each(['garbage', '', 'a.b.c', 'eyJhbGciOiJIUzI1NiJ9..', 'Bearer x.y.z'])(
    'should refuse the garbage string %p',
    async (garbage) => {
      const sut = makeSut();

      await expect(sut.verify(garbage)).rejects.toBeInstanceOf(InvalidTokenError);
    },
  );
});
