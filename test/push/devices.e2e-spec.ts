import { postMessage } from '../support/chat-api';
import { startFakeExpo, type FakeExpo } from '../support/fake-expo';
import { expectProblem, HttpClient, signUp, uniqueUsername, type TestUser } from '../support/http-client';
import { eventually } from '../support/eventually';
import { deviceTokens, newPushToken, pushCount, registerDevice } from '../support/push-helpers';
import { addToRoom, createRoom } from '../support/rooms-helpers';
import { useTestApp } from '../support/test-app';

const DELAY_MS = 100;

describe('Devices (POST/GET/DELETE /api/devices), with PUSH_ENABLED=false', () => {
  let fake: FakeExpo;
  beforeAll(async () => {
    fake = await startFakeExpo();
  });
  afterAll(() => fake.close());
  const t = useTestApp(() => ({ PUSH_ENABLED: 'false', PUSH_EXPO_URL: fake.url, PUSH_DELAY_MS: String(DELAY_MS) }));

  /** A local account with its session's refresh token. */
  async function signUpWithSession(): Promise<TestUser & { refreshToken: string }> {
    const username = uniqueUsername('dev');
    const password = `pw-${username}`;
    const res = await new HttpClient(t.url).post('/api/auth/register', { username, password });
    expect(res.status).toBe(201);
    const token = res.body.accessToken as string;
    return {
      id: res.body.profile.id,
      username,
      password,
      token,
      http: new HttpClient(t.url, token),
      refreshToken: res.body.refreshToken,
    };
  }

  it('should register a device, answer it, and refresh it when registered again', async () => {
    const user = await signUp(t.url, 'dev');
    const token = newPushToken();

    const first = await user.http.post('/api/devices', { platform: 'ios', token, locale: 'pt-BR' });
    const again = await user.http.post('/api/devices', { platform: 'android', token });

    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      token,
      platform: 'ios',
      locale: 'pt-BR',
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(again.body).toMatchObject({ token, platform: 'android', locale: null, createdAt: first.body.createdAt });
    const list = await user.http.get('/api/devices');
    expect(list.body).toEqual({ devices: [again.body] });
  });

  const hostile = [
    ['no token', { platform: 'ios' }, 'token'],
    ['a token that is a number', { platform: 'ios', token: 42 }, 'token'],
    ['a token that is an object', { platform: 'ios', token: { $gt: '' } }, 'token'],
    ['a token that is null', { platform: 'ios', token: null }, 'token'],
    ['a token that is not an Expo push token', { platform: 'ios', token: 'fcm:abc123' }, 'token'],
    ['an oversized token', { platform: 'ios', token: `ExponentPushToken[${'a'.repeat(5000)}]` }, 'token'],
    ['SQL in a token', { platform: 'ios', token: "ExponentPushToken[x]'; drop table push_devices; --" }, 'token'],
    ['markup in a token', { platform: 'ios', token: 'ExponentPushToken[<script>alert(1)</script>]' }, 'token'],
    ['a NUL in a token', { platform: 'ios', token: 'ExponentPushToken[ab\u0000cd]' }, 'token'],
    ['no platform', { token: 'ExponentPushToken[abc]' }, 'platform'],
    ['an unknown platform', { platform: 'windows', token: 'ExponentPushToken[abc]' }, 'platform'],
    ['a platform array', { platform: ['ios'], token: 'ExponentPushToken[abc]' }, 'platform'],
    [
      'a locale that is no language tag',
      { platform: 'ios', token: 'ExponentPushToken[abc]', locale: 'en_US!' },
      'locale',
    ],
    [
      'an oversized locale',
      { platform: 'ios', token: 'ExponentPushToken[abc]', locale: `en-${'a'.repeat(100)}` },
      'locale',
    ],
    ['a locale that is a number', { platform: 'ios', token: 'ExponentPushToken[abc]', locale: 7 }, 'locale'],
  ] as const;

  it.each(hostile)('should refuse %s with VALIDATION_FAILED on the field', async (_, body, field) => {
    const user = await signUp(t.url, 'dev');

    const res = await user.http.post('/api/devices', body);

    const problem = expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(problem.details).toEqual(expect.arrayContaining([expect.objectContaining({ field })]));
    expect(await deviceTokens(user)).toEqual([]);
  });

  it('should refuse a body that is not an object, and a caller without a token', async () => {
    const user = await signUp(t.url, 'dev');

    expectProblem(await user.http.post('/api/devices', '"ExponentPushToken[abc]"'), 400, 'VALIDATION_FAILED');
    expectProblem(
      await new HttpClient(t.url).post('/api/devices', { platform: 'ios', token: newPushToken() }),
      401,
      'UNAUTHENTICATED',
    );
  });

  it('should move a token to the account that registers it last', async () => {
    const first = await signUp(t.url, 'dev');
    const second = await signUp(t.url, 'dev');
    const token = await registerDevice(first);

    await registerDevice(second, 'android', token);

    expect(await deviceTokens(first)).toEqual([]);
    expect(await deviceTokens(second)).toEqual([token]);
  });

  it('should unregister only the caller’s own device, and answer 204 for one that is not theirs', async () => {
    const owner = await signUp(t.url, 'dev');
    const stranger = await signUp(t.url, 'dev');
    const token = await registerDevice(owner);
    const path = `/api/devices/${encodeURIComponent(token)}`;

    expect((await stranger.http.delete(path)).status).toBe(204);
    expect(await deviceTokens(owner)).toEqual([token]);
    expect((await owner.http.delete(path)).status).toBe(204);
    expect(await deviceTokens(owner)).toEqual([]);
    expect((await owner.http.delete(path)).status).toBe(204);
    expectProblem(await owner.http.delete('/api/devices/not-a-push-token'), 404, 'NOT_FOUND');
  });

  it('should remove the device of a session on logout with its deviceToken, and no one else’s', async () => {
    const user = await signUpWithSession();
    const other = await signUp(t.url, 'dev');
    const mine = await registerDevice(user);
    const kept = await registerDevice(user, 'android');
    const theirs = await registerDevice(other);
    const anon = new HttpClient(t.url);

    expect((await anon.post('/api/auth/logout', { refreshToken: user.refreshToken, deviceToken: theirs })).status).toBe(
      204,
    );
    expect(await deviceTokens(other)).toEqual([theirs]);

    const again = await signUpWithSession();
    const token = await registerDevice(again);
    expect((await anon.post('/api/auth/logout', { refreshToken: again.refreshToken, deviceToken: token })).status).toBe(
      204,
    );
    expect(await again.http.get('/api/devices')).toMatchObject({ status: 200, body: { devices: [] } });
    expect(await deviceTokens(user)).toEqual(expect.arrayContaining([mine, kept]));
  });

  it('should send no push with PUSH_ENABLED=false', async () => {
    const sender = await signUp(t.url, 'snd');
    const away = await signUp(t.url, 'away');
    const elsewhere = await signUp(t.url, 'elsewhere');
    await registerDevice(away);
    await registerDevice(elsewhere);
    const room = await createRoom(sender, { name: 'Quiet' });
    await addToRoom(sender, room.id, away);
    await addToRoom(sender, room.id, elsewhere);
    await t.sockets.open(elsewhere);
    const before = await pushCount(t.urls, 'disabled');

    await postMessage(sender, room.id, 'nobody is told');

    // The push decision for the message is over once it is counted as disabled: nothing is left to send it later.
    await eventually(
      async () => (await pushCount(t.urls, 'disabled')) === before + 1,
      'the message counted as disabled',
    );
    expect(fake.sendRequests).toEqual([]);
  });
});
