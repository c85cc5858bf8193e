/**
 * What the SDK takes from its host, typed here because its build has neither DOM nor Node types: timers and
 * `crypto.getRandomValues` exist in React Native (Hermes), browsers and Node alike.
 */
interface Host {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  crypto?: { getRandomValues(array: Uint8Array): Uint8Array };
  fetch(
    url: string,
    init: { method: string; headers: Record<string, string>; body?: string },
  ): Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;
}

const host = globalThis as unknown as Host;

export type TimerHandle = unknown;

export const timers = {
  set: (callback: () => void, ms: number): TimerHandle => host.setTimeout(callback, ms),
  clear: (handle: TimerHandle): void => host.clearTimeout(handle),
};

/** The host's `fetch` (React Native, browsers, Node 18+). */
export const httpFetch: Host['fetch'] = (url, init) => host.fetch(url, init);

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A fresh clientId (22 random characters of the contract's `A-Z a-z 0-9`), unique per message. */
export function newClientId(): string {
  const bytes = new Uint8Array(22);
  if (host.crypto?.getRandomValues) {
    host.crypto.getRandomValues(bytes);
  } else {
    for (let i = 0; i < bytes.length; i++) {
      bytes[i] = Math.floor(Math.random() * 256);
    }
  }
  let id = '';
  for (const byte of bytes) {
    id += ALPHABET[byte % ALPHABET.length];
  }
  return id;
}

/** The `sub` of a JWT (the caller's profile id), read without verifying; undefined when it is not a JWT. */
export function subjectOf(token: string): string | undefined {
  const part = token.split('.')[1];
  if (!part) {
    return undefined;
  }
  try {
    const payload = JSON.parse(decodeBase64Url(part)) as { sub?: unknown };
    return typeof payload.sub === 'string' ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function decodeBase64Url(text: string): string {
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of text.replace(/=+$/, '')) {
    const value = B64.indexOf(char === '+' ? '-' : char === '/' ? '_' : char);
    if (value < 0) {
      throw new Error('not base64url');
    }
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
    }
  }
  // UTF-8 → string (a JWT payload is JSON in UTF-8).
  return decodeURIComponent(bytes.map((b) => `%${b.toString(16).padStart(2, '0')}`).join(''));
}
