import { createHash, randomBytes } from 'node:crypto';

/** 256 random bits. */
const REFRESH_TOKEN_BYTES = 32;

/** A new opaque refresh token: 256 random bits, base64url (43 characters). */
export function newRefreshToken(): string {
  return randomBytes(REFRESH_TOKEN_BYTES).toString('base64url');
}

/**
 * What the database keeps of a refresh token: its SHA-256, lower-case hex. A slow hash would add nothing: the token
 * is 256 random bits, not a password someone chose.
 */
export function hashRefreshToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
