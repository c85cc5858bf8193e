import { Injectable } from '@nestjs/common';
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const PARAMS = { N: 16384, r: 8, p: 1, keyLength: 64 } as const;

function derive(password: string, salt: Buffer, N: number, r: number, p: number, keyLength: number): Promise<Buffer> {
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r * 2 };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, keyLength, options, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

interface ParsedHash {
  salt: Buffer;
  key: Buffer;
}

/** Only hashes this class writes are accepted: its parameters, a 16-byte salt and a 64-byte key. */
function parse(stored: string | undefined): ParsedHash | undefined {
  const [scheme, n, r, p, salt, key, ...rest] = (stored ?? '').split('$');
  const expected = ['scrypt', String(PARAMS.N), String(PARAMS.r), String(PARAMS.p)];
  if (rest.length > 0 || [scheme, n, r, p].some((part, i) => part !== expected[i]) || !salt || !key) {
    return undefined;
  }
  const parsed = { salt: Buffer.from(salt, 'base64'), key: Buffer.from(key, 'base64') };
  return parsed.salt.length === 16 && parsed.key.length === PARAMS.keyLength ? parsed : undefined;
}

/** Slow salted password hashes with node's scrypt, stored as `scrypt$N$r$p$salt$hash`. */
@Injectable()
export class PasswordHasher {
  /** A hash of a random password: verifying against it costs what a real check costs. */
  private readonly decoy = this.hash(randomBytes(16).toString('hex'));

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await derive(password, salt, PARAMS.N, PARAMS.r, PARAMS.p, PARAMS.keyLength);
    return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64'), key.toString('base64')].join('$');
  }

  /** Checks a password; a missing or malformed hash costs the same work (against the decoy), then false. */
  async verify(password: string, stored: string | undefined): Promise<boolean> {
    const parsed = parse(stored);
    const decoy = parse(await this.decoy);
    if (!decoy) {
      throw new Error('the decoy hash does not parse');
    }
    const { salt, key } = parsed ?? decoy;
    const actual = await derive(password, salt, PARAMS.N, PARAMS.r, PARAMS.p, PARAMS.keyLength);
    return parsed !== undefined && timingSafeEqual(actual, key);
  }
}
