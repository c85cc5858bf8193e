/**
 * Helpers of the push suites (test/push/): devices registered through the API, the app's push counters read from
 * /metrics, and an Expo push token per device.
 */
import { randomBytes } from 'node:crypto';
import type { TestUser } from './http-client';
import { metricSum } from './metrics';

/** A fresh Expo push token, as an app gets one from getExpoPushTokenAsync. */
export function newPushToken(): string {
  return `ExponentPushToken[${randomBytes(11).toString('base64url')}]`;
}

/** Registers a new device of `user` (POST /api/devices), failing loudly unless it is registered; returns its token. */
export async function registerDevice(user: TestUser, platform = 'ios', token = newPushToken()): Promise<string> {
  const res = await user.http.post('/api/devices', { platform, token });
  if (res.status !== 201) {
    throw new Error(`register device failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return token;
}

/** The tokens of `user`'s devices (GET /api/devices). */
export async function deviceTokens(user: TestUser): Promise<string[]> {
  const res = await user.http.get('/api/devices');
  if (res.status !== 200) {
    throw new Error(`list devices failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return (res.body.devices as { token: string }[]).map((device) => device.token);
}

/** `chat_push_notifications_total{outcome}` of the app's instances at `urls`, added up (0 before the first). */
export function pushCount(urls: readonly string[], outcome: string): Promise<number> {
  return metricSum(urls, 'chat_push_notifications_total', `outcome="${outcome}"`);
}
