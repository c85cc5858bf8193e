import { createHash } from 'node:crypto';
import { hashRefreshToken, newRefreshToken } from './refresh-token';

describe(newRefreshToken.name, () => {
  it('should make 256 random bits as 43 characters of base64url', () => {
    const sut = newRefreshToken();

    expect(sut).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(sut, 'base64url')).toHaveLength(32);
  });

  it('should never make the same token twice', () => {
    const tokens = Array.from({ length: 1000 }, () => newRefreshToken());

    expect(new Set(tokens).size).toBe(1000);
  });
});

describe(hashRefreshToken.name, () => {
  it('should give the SHA-256 of the token in lower-case hex, the same every time', () => {
    const token = newRefreshToken();

    const sut = hashRefreshToken(token);

    expect(sut).toMatch(/^[0-9a-f]{64}$/);
    expect(sut).toBe(createHash('sha256').update(token).digest('hex'));
    expect(hashRefreshToken(token)).toBe(sut);
  });

  it('should give different tokens different hashes', () => {
    expect(hashRefreshToken(newRefreshToken())).not.toBe(hashRefreshToken(newRefreshToken()));
  });
});
