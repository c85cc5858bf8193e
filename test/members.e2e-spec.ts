/**
 * Room members over HTTP (PROTOCOL.md §3 "Rooms"): list, add by username, remove.
 */
import { expectProblem, HttpClient, signUp, type TestUser } from './support/http-client';
import {
  createRoom,
  expectMemberShape,
  expectSameNotFound,
  expectValidation,
  getRoom,
  joinRoom,
  memberRoles,
  members,
  messageContents,
  myRoomIds,
  NON_UUID_IDS,
  sendMessage,
  UNKNOWN_ID,
} from './support/rooms-helpers';
import { useTestApp } from './support/test-app';

describe('room members', () => {
  const testApp = useTestApp();

  const user = (prefix = 'm', displayName?: string) => signUp(testApp.url, prefix, displayName);

  const addMember = (owner: TestUser, roomId: string, username: unknown) =>
    owner.http.post(`/api/rooms/${roomId}/members`, { username });

  async function add(owner: TestUser, roomId: string, member: TestUser): Promise<any> {
    const res = await addMember(owner, roomId, member.username);
    expect(res.status).toBe(201);
    return res.body;
  }

  describe('GET /api/rooms/:id/members', () => {
    it('should list the owner of a new room as its only member, with their profile', async () => {
      const owner = await user('m', 'Olive Owner');
      const room = await createRoom(owner, { name: 'just me' });

      const res = await owner.http.get(`/api/rooms/${room.id}/members`);

      expect(res.status).toBe(200);
      expect(Object.keys(res.body)).toEqual(['members']);
      expect(res.body.members).toHaveLength(1);
      const [entry] = res.body.members;
      expectMemberShape(entry);
      const me = await owner.http.get('/api/profiles/me');
      expect(entry).toEqual({ profile: me.body, role: 'owner', joinedAt: expect.any(String) });
      expect(entry.profile).toMatchObject({ id: owner.id, username: owner.username, displayName: 'Olive Owner' });
      expect(Date.parse(entry.joinedAt)).toBeGreaterThanOrEqual(Date.parse(room.createdAt) - 1_000);
    });

    it('should list added and joined members with their roles, the same for every member', async () => {
      const owner = await user();
      const added = await user();
      const joiner = await user();
      const room = await createRoom(owner, { name: 'crowd', visibility: 'public' });
      await add(owner, room.id, added);
      await joinRoom(joiner, room.id);

      const asOwner = await members(owner, room.id);
      const asAdded = await members(added, room.id);
      const asJoiner = await members(joiner, room.id);

      asOwner.forEach(expectMemberShape);
      expect(Object.fromEntries(asOwner.map((m) => [m.profile.id, m.role]))).toEqual({
        [owner.id]: 'owner',
        [added.id]: 'member',
        [joiner.id]: 'member',
      });
      expect(asAdded).toEqual(asOwner);
      expect(asJoiner).toEqual(asOwner);
    });

    it('should answer 404 NOT_FOUND to a stranger of a public room until they join', async () => {
      const owner = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'public', visibility: 'public' });

      expectProblem(await stranger.http.get(`/api/rooms/${room.id}/members`), 404, 'NOT_FOUND');

      await joinRoom(stranger, room.id);
      expect(await memberRoles(stranger, room.id)).toEqual({ [owner.id]: 'owner', [stranger.id]: 'member' });
    });

    it('should answer a stranger of a private room exactly like a room that does not exist', async () => {
      const owner = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'private' });

      const hidden = await stranger.http.get(`/api/rooms/${room.id}/members`);
      const missing = await stranger.http.get(`/api/rooms/${UNKNOWN_ID}/members`);
      const garbage = await stranger.http.get('/api/rooms/not-a-uuid/members');

      expectSameNotFound(hidden, missing, garbage);
      expect(JSON.stringify(hidden.body)).not.toContain(owner.username);
    });

    it.each(NON_UUID_IDS)('should answer 404 NOT_FOUND for the non-UUID room id %s', async (id) => {
      const caller = await user();

      expectProblem(await caller.http.get(`/api/rooms/${encodeURIComponent(id)}/members`), 404, 'NOT_FOUND');
    });

    it('should answer 401 without a token', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'x', visibility: 'public' });

      expectProblem(await new HttpClient(testApp.url).get(`/api/rooms/${room.id}/members`), 401, 'UNAUTHENTICATED');
    });
  });

  describe('POST /api/rooms/:id/members', () => {
    it('should add a user by username as a member and answer 201 with the entry', async () => {
      const owner = await user();
      const friend = await user('m', 'Fran Friend');
      const room = await createRoom(owner, { name: 'private club' });

      const res = await addMember(owner, room.id, friend.username);

      expect(res.status).toBe(201);
      expectMemberShape(res.body);
      const profile = await owner.http.get(`/api/profiles/${friend.id}`);
      expect(res.body).toEqual({ profile: profile.body, role: 'member', joinedAt: expect.any(String) });
      expect(res.body.profile).toMatchObject({ id: friend.id, username: friend.username, displayName: 'Fran Friend' });
      const list = await members(owner, room.id);
      expect(list.find((m) => m.profile.id === friend.id)).toEqual(res.body);
    });

    it('should let the added member see the private room and read and send messages', async () => {
      const owner = await user();
      const friend = await user();
      const room = await createRoom(owner, { name: 'inner circle' });
      await sendMessage(owner, room.id, 'before you came');

      await add(owner, room.id, friend);

      expect(await myRoomIds(friend)).toEqual([room.id]);
      expect(await getRoom(friend, room.id)).toEqual({ ...(await getRoom(owner, room.id)), myRole: 'member' });
      expect(await messageContents(friend, room.id)).toEqual(['before you came']);
      await sendMessage(friend, room.id, 'thanks for the invite');
      expect(await messageContents(owner, room.id)).toEqual(['before you came', 'thanks for the invite']);
    });

    it('should answer 404 NOT_FOUND for an unknown username and add nobody', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'x' });

      expectProblem(await addMember(owner, room.id, 'nobody_with_this_name_zz'), 404, 'NOT_FOUND');
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
    });

    it('should answer 409 CONFLICT when the user is already a member, and change nothing', async () => {
      const owner = await user();
      const friend = await user();
      const room = await createRoom(owner, { name: 'x' });
      const first = await add(owner, room.id, friend);

      expectProblem(await addMember(owner, room.id, friend.username), 409, 'CONFLICT');

      const list = await members(owner, room.id);
      expect(list).toHaveLength(2);
      expect(list.find((m) => m.profile.id === friend.id)).toEqual(first);
    });

    it('should answer 409 CONFLICT when the owner adds themselves, and keep them the owner', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'x' });

      expectProblem(await addMember(owner, room.id, owner.username), 409, 'CONFLICT');
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
    });

    it('should answer 409 CONFLICT for someone who joined the public room themselves', async () => {
      const owner = await user();
      const joiner = await user();
      const room = await createRoom(owner, { name: 'x', visibility: 'public' });
      await joinRoom(joiner, room.id);

      expectProblem(await addMember(owner, room.id, joiner.username), 409, 'CONFLICT');
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner', [joiner.id]: 'member' });
    });

    it.each<[string, Record<string, unknown>]>([
      ['missing', {}],
      ['empty', { username: '' }],
      ['uppercase', { username: 'UPPER_CASE' }],
      ['too short', { username: 'ab' }],
      ['33 characters', { username: 'a'.repeat(33) }],
      ['a number', { username: 12345 }],
      ['null', { username: null }],
      ['an array', { username: ['abc'] }],
      ['an object', { username: { name: 'abc' } }],
      ['SQL-ish', { username: "x' OR '1'='1" }],
      ['markup', { username: '<script>' }],
      ['a LIKE wildcard', { username: 'a%' }],
      ['unicode', { username: 'jürgen' }],
      ['padded with spaces', { username: ' abc ' }],
    ])('should answer 400 on field username when it is %s, and add nobody', async (_case, body) => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'x' });

      expectValidation(await owner.http.post(`/api/rooms/${room.id}/members`, body), 'username');
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
    });

    it('should answer 400 for a body that is not a JSON object, and add nobody', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'x' });

      for (const raw of ['{"username": ', '[]', 'null', '"abc"']) {
        expectProblem(await owner.http.post(`/api/rooms/${room.id}/members`, raw), 400, 'VALIDATION_FAILED');
      }
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
    });

    it('should answer 403 FORBIDDEN to a member who is not the owner, and add nobody', async () => {
      const owner = await user();
      const member = await user();
      const outsider = await user();
      const room = await createRoom(owner, { name: 'x' });
      await add(owner, room.id, member);

      expectProblem(await addMember(member, room.id, outsider.username), 403, 'FORBIDDEN');

      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner', [member.id]: 'member' });
      expect(await myRoomIds(outsider)).toEqual([]);
    });

    it('should answer 404 NOT_FOUND to a stranger of a public room, and add nobody', async () => {
      const owner = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'x', visibility: 'public' });

      expectProblem(await addMember(stranger, room.id, stranger.username), 404, 'NOT_FOUND');
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
    });

    it('should answer a stranger of a private room exactly like a room that does not exist, and add nobody', async () => {
      const owner = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'x' });

      const hidden = await addMember(stranger, room.id, stranger.username);
      const missing = await addMember(stranger, UNKNOWN_ID, stranger.username);
      const garbage = await addMember(stranger, 'not-a-uuid', stranger.username);

      expectSameNotFound(hidden, missing, garbage);
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
      expect(await myRoomIds(stranger)).toEqual([]);
    });

    it('should answer 401 without a token and add nobody', async () => {
      const owner = await user();
      const friend = await user();
      const room = await createRoom(owner, { name: 'x' });

      expectProblem(
        await new HttpClient(testApp.url).post(`/api/rooms/${room.id}/members`, { username: friend.username }),
        401,
        'UNAUTHENTICATED',
      );
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
    });
  });

  describe('DELETE /api/rooms/:id/members/:profileId', () => {
    const removeMember = (caller: TestUser, roomId: string, profileId: string) =>
      caller.http.delete(`/api/rooms/${roomId}/members/${profileId}`);

    it('should let the owner remove a member, who then cannot see the private room', async () => {
      const owner = await user();
      const member = await user();
      const room = await createRoom(owner, { name: 'tight' });
      await add(owner, room.id, member);
      await sendMessage(member, room.id, 'my message stays');

      const res = await removeMember(owner, room.id, member.id);

      expect(res.status).toBe(204);
      expect(res.body).toBe('');
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
      expectProblem(await member.http.get(`/api/rooms/${room.id}`), 404, 'NOT_FOUND');
      expectProblem(await member.http.get(`/api/rooms/${room.id}/messages`), 404, 'NOT_FOUND');
      expectProblem(await member.http.get(`/api/rooms/${room.id}/members`), 404, 'NOT_FOUND');
      expectProblem(await member.http.post(`/api/rooms/${room.id}/messages`, { content: 'x' }), 404, 'NOT_FOUND');
      expect(await myRoomIds(member)).toEqual([]);
      expect(await messageContents(owner, room.id)).toEqual(['my message stays']);
    });

    it('should let the owner add a removed member back', async () => {
      const owner = await user();
      const member = await user();
      const room = await createRoom(owner, { name: 'again' });
      await add(owner, room.id, member);
      expect((await removeMember(owner, room.id, member.id)).status).toBe(204);

      await add(owner, room.id, member);

      expect(await myRoomIds(member)).toEqual([room.id]);
    });

    it('should let a member remove themselves', async () => {
      const owner = await user();
      const member = await user();
      const room = await createRoom(owner, { name: 'exit' });
      await add(owner, room.id, member);

      expect((await removeMember(member, room.id, member.id)).status).toBe(204);

      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
      expectProblem(await member.http.get(`/api/rooms/${room.id}`), 404, 'NOT_FOUND');
      expect(await myRoomIds(member)).toEqual([]);
    });

    it('should answer 403 FORBIDDEN to a member removing another member, and remove nobody', async () => {
      const owner = await user();
      const a = await user();
      const b = await user();
      const room = await createRoom(owner, { name: 'x', visibility: 'public' });
      await add(owner, room.id, a);
      await add(owner, room.id, b);

      expectProblem(await removeMember(a, room.id, b.id), 403, 'FORBIDDEN');

      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner', [a.id]: 'member', [b.id]: 'member' });
    });

    it('should answer 403 FORBIDDEN to anyone removing the owner, and keep the owner', async () => {
      const owner = await user();
      const member = await user();
      const room = await createRoom(owner, { name: 'x' });
      await add(owner, room.id, member);

      expectProblem(await removeMember(owner, room.id, owner.id), 403, 'FORBIDDEN');
      expectProblem(await removeMember(member, room.id, owner.id), 403, 'FORBIDDEN');

      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner', [member.id]: 'member' });
      expect(await myRoomIds(owner)).toEqual([room.id]);
    });

    it('should answer 404 NOT_FOUND to the owner removing a non-member or an unknown profile, and change nothing', async () => {
      const owner = await user();
      const member = await user();
      const outsider = await user();
      const room = await createRoom(owner, { name: 'x' });
      await add(owner, room.id, member);

      expectProblem(await removeMember(owner, room.id, outsider.id), 404, 'NOT_FOUND');
      expectProblem(await removeMember(owner, room.id, UNKNOWN_ID), 404, 'NOT_FOUND');

      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner', [member.id]: 'member' });
    });

    it('should answer 404 NOT_FOUND when the member was already removed', async () => {
      const owner = await user();
      const member = await user();
      const room = await createRoom(owner, { name: 'x' });
      await add(owner, room.id, member);
      expect((await removeMember(owner, room.id, member.id)).status).toBe(204);

      expectProblem(await removeMember(owner, room.id, member.id), 404, 'NOT_FOUND');
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
    });

    it.each(NON_UUID_IDS)(
      'should answer 404 NOT_FOUND for the non-UUID profile id %s, and change nothing',
      async (id) => {
        const owner = await user();
        const member = await user();
        const room = await createRoom(owner, { name: 'x' });
        await add(owner, room.id, member);

        expectProblem(await removeMember(owner, room.id, encodeURIComponent(id)), 404, 'NOT_FOUND');
        expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner', [member.id]: 'member' });
      },
    );

    it('should answer 404 NOT_FOUND to a stranger of a public room, and remove nobody', async () => {
      const owner = await user();
      const member = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'x', visibility: 'public' });
      await add(owner, room.id, member);

      expectProblem(await removeMember(stranger, room.id, member.id), 404, 'NOT_FOUND');
      expectProblem(await removeMember(stranger, room.id, stranger.id), 404, 'NOT_FOUND');
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner', [member.id]: 'member' });
    });

    it('should answer a stranger of a private room exactly like a room that does not exist', async () => {
      const owner = await user();
      const member = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'x' });
      await add(owner, room.id, member);

      const hidden = await removeMember(stranger, room.id, member.id);
      const missing = await removeMember(stranger, UNKNOWN_ID, member.id);
      const garbage = await removeMember(stranger, 'not-a-uuid', member.id);

      expectSameNotFound(hidden, missing, garbage);
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner', [member.id]: 'member' });
    });

    it('should answer 401 without a token and remove nobody', async () => {
      const owner = await user();
      const member = await user();
      const room = await createRoom(owner, { name: 'x' });
      await add(owner, room.id, member);

      expectProblem(
        await new HttpClient(testApp.url).delete(`/api/rooms/${room.id}/members/${member.id}`),
        401,
        'UNAUTHENTICATED',
      );
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner', [member.id]: 'member' });
    });
  });
});
