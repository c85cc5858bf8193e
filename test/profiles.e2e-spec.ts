import { randomUUID } from 'node:crypto';
import { expectProblem, HttpClient, signUp, type TestUser } from './support/http-client';
import { useTestApp } from './support/test-app';
import { UUID } from './support/chat-api';

describe('profiles', () => {
  const t = useTestApp();

  async function readMe(user: TestUser): Promise<any> {
    const res = await user.http.get('/api/profiles/me');
    expect(res.status).toBe(200);
    return res.body;
  }

  /** A user whose profile has a known display name and avatar, so a change of either shows. */
  async function userWithAvatar(prefix: string): Promise<{ user: TestUser; profile: any }> {
    const user = await signUp(t.url, prefix, 'Before Name');
    const res = await user.http.patch('/api/profiles/me', { avatarUrl: 'https://cdn.example.com/before.png' });
    expect(res.status).toBe(200);
    const profile = await readMe(user);
    expect(profile).toMatchObject({ displayName: 'Before Name', avatarUrl: 'https://cdn.example.com/before.png' });
    return { user, profile };
  }

  describe('GET /api/profiles/me', () => {
    it('should answer 200 with the caller’s profile and nothing else', async () => {
      const user = await signUp(t.url, 'me', 'Ada');

      const res = await user.http.get('/api/profiles/me');

      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(Object.keys(res.body).sort()).toEqual(['avatarUrl', 'createdAt', 'displayName', 'id', 'username']);
      expect(res.body).toEqual({
        id: user.id,
        username: user.username,
        displayName: 'Ada',
        avatarUrl: null,
        createdAt: expect.any(String),
      });
      expect(new Date(res.body.createdAt).toISOString()).toBe(res.body.createdAt);
      expect(Date.now() - Date.parse(res.body.createdAt)).toBeLessThan(5 * 60_000);
      expect(res.body.id).toMatch(UUID);
    });

    it('should answer each caller with their own profile', async () => {
      const a = await signUp(t.url, 'mea');
      const b = await signUp(t.url, 'meb');

      expect((await readMe(a)).id).toBe(a.id);
      expect((await readMe(b)).id).toBe(b.id);
    });

    it('should answer 401 UNAUTHENTICATED without a token', async () => {
      expectProblem(await new HttpClient(t.url).get('/api/profiles/me'), 401, 'UNAUTHENTICATED');
    });
  });

  describe('PATCH /api/profiles/me', () => {
    it('should change the displayName and leave the other fields as they were', async () => {
      const { user, profile } = await userWithAvatar('dn');

      const res = await user.http.patch('/api/profiles/me', { displayName: 'After Name' });

      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ...profile, displayName: 'After Name' });
      expect(await readMe(user)).toEqual({ ...profile, displayName: 'After Name' });
    });

    it.each([
      ['unicode', 'Zoë 🚀 李'],
      ['markup', '<script>alert(1)</script>'],
      ['SQL-ish', "Robert'); drop table profiles;--"],
      ['wildcards', '%_%'],
      ['of 64 characters', 'd'.repeat(64)],
    ])('should store a displayName %s as given', async (_, displayName) => {
      const user = await signUp(t.url, 'dnv');

      const res = await user.http.patch('/api/profiles/me', { displayName });

      expect(res.status).toBe(200);
      expect(res.body.displayName).toBe(displayName);
      expect((await readMe(user)).displayName).toBe(displayName);
    });

    it.each([
      ['an https URL with query and fragment', 'https://cdn.example.com/a/b.png?size=64#x'],
      ['an http URL', 'http://example.com/avatar.jpg'],
      ['a URL of 2048 characters', `https://example.com/${'a'.repeat(2048 - 'https://example.com/'.length)}`],
    ])('should set avatarUrl to %s and leave the displayName as it was', async (_, avatarUrl) => {
      const user = await signUp(t.url, 'av', 'Keep Me');
      const before = await readMe(user);

      const res = await user.http.patch('/api/profiles/me', { avatarUrl });

      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ...before, avatarUrl });
      expect(await readMe(user)).toEqual({ ...before, avatarUrl });
    });

    it('should clear avatarUrl with null and leave the displayName as it was', async () => {
      const { user, profile } = await userWithAvatar('clr');

      const res = await user.http.patch('/api/profiles/me', { avatarUrl: null });

      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ...profile, avatarUrl: null });
      expect(await readMe(user)).toEqual({ ...profile, avatarUrl: null });
    });

    it('should change both fields when both are sent', async () => {
      const { user, profile } = await userWithAvatar('both');

      const res = await user.http.patch('/api/profiles/me', {
        displayName: 'New',
        avatarUrl: 'https://cdn.example.com/new.png',
      });

      const expected = { ...profile, displayName: 'New', avatarUrl: 'https://cdn.example.com/new.png' };
      expect(res.status).toBe(200);
      expect(res.body).toEqual(expected);
      expect(await readMe(user)).toEqual(expected);
    });

    it('should change nothing for an empty object', async () => {
      const { user, profile } = await userWithAvatar('empty');

      const res = await user.http.patch('/api/profiles/me', {});

      expect(res.status).toBe(200);
      expect(res.body).toEqual(profile);
      expect(await readMe(user)).toEqual(profile);
    });

    it('should not let a caller change their id, username or createdAt', async () => {
      const { user, profile } = await userWithAvatar('fixed');

      const res = await user.http.patch('/api/profiles/me', {
        id: randomUUID(),
        username: 'admin',
        createdAt: '2000-01-01T00:00:00.000Z',
      });

      expect(res.status).toBe(200);
      expect(res.body).toEqual(profile);
      expect(await readMe(user)).toEqual(profile);
    });

    it('should change only the caller’s own profile', async () => {
      const { user: other, profile: otherBefore } = await userWithAvatar('other');
      const caller = await signUp(t.url, 'caller');

      expect((await caller.http.patch('/api/profiles/me', { displayName: 'Caller' })).status).toBe(200);

      expect(await readMe(other)).toEqual(otherBefore);
    });

    const invalid: [string, Record<string, unknown>, string][] = [
      ['a javascript: avatarUrl', { avatarUrl: 'javascript:alert(document.cookie)' }, 'avatarUrl'],
      ['a data: avatarUrl', { avatarUrl: 'data:image/png;base64,iVBORw0KGgo=' }, 'avatarUrl'],
      ['an ftp: avatarUrl', { avatarUrl: 'ftp://example.com/a.png' }, 'avatarUrl'],
      ['an avatarUrl that is not a URL', { avatarUrl: 'not a url' }, 'avatarUrl'],
      ['an avatarUrl without a scheme', { avatarUrl: 'example.com/a.png' }, 'avatarUrl'],
      ['an avatarUrl of markup', { avatarUrl: '<script>alert(1)</script>' }, 'avatarUrl'],
      ['an empty avatarUrl', { avatarUrl: '' }, 'avatarUrl'],
      [
        'an avatarUrl of 2049 characters',
        { avatarUrl: `https://example.com/${'a'.repeat(2049 - 'https://example.com/'.length)}` },
        'avatarUrl',
      ],
      ['a number as avatarUrl', { avatarUrl: 42 }, 'avatarUrl'],
      ['an array as avatarUrl', { avatarUrl: ['https://example.com/a.png'] }, 'avatarUrl'],
      ['an object as avatarUrl', { avatarUrl: { href: 'https://example.com/a.png' } }, 'avatarUrl'],
      ['a blank displayName', { displayName: '   ' }, 'displayName'],
      ['an empty displayName', { displayName: '' }, 'displayName'],
      ['a displayName of 65 characters', { displayName: 'd'.repeat(65) }, 'displayName'],
      ['a number as displayName', { displayName: 42 }, 'displayName'],
      ['null as displayName', { displayName: null }, 'displayName'],
      ['an array as displayName', { displayName: ['New'] }, 'displayName'],
      ['an object as displayName', { displayName: { text: 'New' } }, 'displayName'],
      ['a displayName with a NUL character', { displayName: 'New\u0000Name' }, 'displayName'],
      ['an avatarUrl with a NUL character', { avatarUrl: 'https://example.com/a\u0000.png' }, 'avatarUrl'],
      ['a valid displayName with an invalid avatarUrl', { displayName: 'Changed', avatarUrl: 'nope' }, 'avatarUrl'],
      [
        'a valid avatarUrl with an invalid displayName',
        { displayName: ' ', avatarUrl: 'https://cdn.example.com/changed.png' },
        'displayName',
      ],
    ];

    it.each(invalid)('should answer 400 VALIDATION_FAILED for %s and change nothing', async (_, body, field) => {
      const { user, profile } = await userWithAvatar('bad');

      const problem = expectProblem(await user.http.patch('/api/profiles/me', body), 400, 'VALIDATION_FAILED');

      expect(await readMe(user)).toEqual(profile);
      expect(problem.details).toEqual(expect.arrayContaining([{ field, message: expect.any(String) }]));
      expect(problem.details.every((d: { field: string }) => d.field === field)).toBe(true);
    });

    it.each([
      ['a JSON array', '[]'],
      ['JSON null', 'null'],
      ['a JSON string', '"New"'],
      ['malformed JSON', '{"displayName": '],
    ])('should answer 400 VALIDATION_FAILED for a body that is %s and change nothing', async (_, body) => {
      const { user, profile } = await userWithAvatar('body');

      expectProblem(await user.http.patch('/api/profiles/me', body), 400, 'VALIDATION_FAILED');

      expect(await readMe(user)).toEqual(profile);
    });

    it('should answer 401 UNAUTHENTICATED without a token and change nothing', async () => {
      const { user, profile } = await userWithAvatar('anon');

      expectProblem(
        await new HttpClient(t.url).patch('/api/profiles/me', { displayName: 'Hijacked' }),
        401,
        'UNAUTHENTICATED',
      );

      expect(await readMe(user)).toEqual(profile);
    });
  });

  describe('GET /api/profiles/:id', () => {
    it('should answer 200 with another user’s current profile for any signed-in caller', async () => {
      const { user: owner, profile } = await userWithAvatar('owner');
      const stranger = await signUp(t.url, 'stranger');

      const res = await stranger.http.get(`/api/profiles/${owner.id}`);

      expect(res.status).toBe(200);
      expect(res.body).toEqual(profile);
    });

    it('should show a change of the profile to others', async () => {
      const owner = await signUp(t.url, 'chg');
      const viewer = await signUp(t.url, 'view');
      expect((await owner.http.patch('/api/profiles/me', { displayName: 'Renamed' })).status).toBe(200);

      const res = await viewer.http.get(`/api/profiles/${owner.id}`);

      expect(res.status).toBe(200);
      expect(res.body).toEqual(await readMe(owner));
      expect(res.body.displayName).toBe('Renamed');
    });

    it('should answer the caller’s own profile by id', async () => {
      const user = await signUp(t.url, 'self');

      const res = await user.http.get(`/api/profiles/${user.id}`);

      expect(res.status).toBe(200);
      expect(res.body).toEqual(await readMe(user));
    });

    it('should answer 404 NOT_FOUND for an unknown UUID', async () => {
      const user = await signUp(t.url, 'unk');

      const problem = expectProblem(await user.http.get(`/api/profiles/${randomUUID()}`), 404, 'NOT_FOUND');

      expect(problem.details).toBeUndefined();
    });

    it.each([
      ['a word', 'abc'],
      ['a number', '123'],
      ['a UUID without dashes', randomUUID().replace(/-/g, '')],
      ['a UUID with an extra character', `${randomUUID()}0`],
      ['a UUID that is too short', randomUUID().slice(0, 35)],
      ['an SQL-ish string', encodeURIComponent("1' or '1'='1")],
      ['a % wildcard', '%25'],
      ['an _ wildcard', '_'],
      ['markup', encodeURIComponent('<script>x</script>')],
      ['unicode', encodeURIComponent('ñ😀')],
    ])('should answer 404 NOT_FOUND for an id that is %s', async (_, id) => {
      const user = await signUp(t.url, 'bad');

      expectProblem(await user.http.get(`/api/profiles/${id}`), 404, 'NOT_FOUND');
    });

    it('should answer 401 UNAUTHENTICATED without a token, even for an existing profile', async () => {
      const user = await signUp(t.url, 'hidden');

      expectProblem(await new HttpClient(t.url).get(`/api/profiles/${user.id}`), 401, 'UNAUTHENTICATED');
    });
  });
});
