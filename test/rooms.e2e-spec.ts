/**
 * Rooms over HTTP (PROTOCOL.md §3 "Rooms"): create, list mine, list public, read, change, delete, join, leave.
 * Members have their own file (members.e2e-spec.ts).
 */
import { expectProblem, HttpClient, signUp, type TestUser } from './support/http-client';
import {
  addToRoom,
  createRoom,
  expectIso,
  expectRoomShape,
  expectSameNotFound,
  expectValidation,
  getRoom,
  joinRoom,
  memberRoles,
  members,
  messageContents,
  myRoomIds,
  myRooms,
  NON_UUID_IDS,
  sendMessage,
  uniqueTag,
  UNKNOWN_ID,
} from './support/rooms-helpers';
import { useTestApp } from './support/test-app';

describe('rooms', () => {
  /** The models rooms below choose: a room may name only one the operator allows (OPENAI_MODELS). */
  const testApp = useTestApp({
    OPENAI_MODELS: ['openai/gpt-4.1-mini', 'm'.repeat(100), 'model-a', 'model-b', 'custom-model', 'keep-model'].join(
      ',',
    ),
  });

  const user = (prefix = 'r') => signUp(testApp.url, prefix);

  /** Public rooms matching q, as `caller` sees them (asserting 200). */
  async function publicRooms(caller: TestUser, query = ''): Promise<any[]> {
    const res = await caller.http.get(`/api/rooms/public${query}`);
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body.rooms)).toBe(true);
    return res.body.rooms;
  }

  const q = (text: string, extra = '') => `?q=${encodeURIComponent(text)}${extra}`;

  describe('POST /api/rooms', () => {
    it('should create a private room with the default settings, owned by the caller', async () => {
      const owner = await user();
      const before = Date.now();

      const res = await owner.http.post('/api/rooms', { name: 'Book club' });

      expect(res.status).toBe(201);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const room = res.body;
      expectRoomShape(room);
      expect(room).toMatchObject({
        name: 'Book club',
        visibility: 'private',
        ownerId: owner.id,
        ai: { mode: 'always', systemPrompt: null, model: testApp.config.ai.model, available: false },
        lastSeq: 0,
        myRole: 'owner',
      });
      expect(room.ai.model).toEqual(expect.stringMatching(/\S/));
      expect(Date.parse(room.createdAt)).toBeGreaterThanOrEqual(before - 5_000);
      expect(Date.parse(room.updatedAt)).toBeGreaterThanOrEqual(Date.parse(room.createdAt));
      expect(await getRoom(owner, room.id)).toEqual(room);
      expect(await myRooms(owner)).toEqual([room]);
    });

    it('should make the creator the only member, as owner', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'Solo' });

      const list = await members(owner, room.id);

      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({ profile: { id: owner.id, username: owner.username }, role: 'owner' });
    });

    it('should trim the name', async () => {
      const owner = await user();

      const room = await createRoom(owner, { name: '  \t Trimmed room \n ' });

      expect(room.name).toBe('Trimmed room');
      expect((await getRoom(owner, room.id)).name).toBe('Trimmed room');
    });

    it('should keep the visibility and AI settings it is given', async () => {
      const owner = await user();

      const room = await createRoom(owner, {
        name: 'Configured',
        visibility: 'public',
        ai: { mode: 'mention', systemPrompt: 'You are terse.', model: 'openai/gpt-4.1-mini' },
      });

      expect(room).toMatchObject({
        visibility: 'public',
        ai: { mode: 'mention', systemPrompt: 'You are terse.', model: 'openai/gpt-4.1-mini', available: false },
      });
      expect(await getRoom(owner, room.id)).toEqual(room);
    });

    it.each(['off', 'mention', 'always'])('should accept ai.mode %s', async (mode) => {
      const owner = await user();

      const room = await createRoom(owner, { name: `mode ${mode}`, ai: { mode } });

      expect(room.ai).toMatchObject({ mode, systemPrompt: null, model: testApp.config.ai.model });
    });

    it('should accept the boundary lengths: a 1- and a 100-character name, a 4000-character prompt, a 100-character model', async () => {
      const owner = await user();

      const short = await createRoom(owner, { name: 'x' });
      const long = await createRoom(owner, {
        name: 'n'.repeat(100),
        ai: { systemPrompt: 'p'.repeat(4000), model: 'm'.repeat(100) },
      });

      expect(short.name).toBe('x');
      expect(long.name).toBe('n'.repeat(100));
      expect(long.ai.systemPrompt).toBe('p'.repeat(4000));
      expect(long.ai.model).toBe('m'.repeat(100));
    });

    it.each([
      ['SQL-ish', "Robert'); DROP TABLE chatrooms; --"],
      ['markup', '<script>alert("x")</script>'],
      ['wildcards', '100% _real_ \\ room'],
      ['unicode', 'Café ☕ 日本語 Ümlaut 👋🏽'],
    ])('should store a %s name exactly as sent', async (_kind, name) => {
      const owner = await user();

      const room = await createRoom(owner, { name, ai: { systemPrompt: name } });

      expect(room.name).toBe(name);
      expect(room.ai.systemPrompt).toBe(name);
      expect((await getRoom(owner, room.id)).name).toBe(name);
    });

    it('should ignore fields the client may not set (id, ownerId, lastSeq, myRole, timestamps)', async () => {
      const owner = await user();
      const other = await user();

      const res = await owner.http.post('/api/rooms', {
        name: 'Mine',
        id: UNKNOWN_ID,
        ownerId: other.id,
        lastSeq: 41,
        myRole: 'member',
        createdAt: '2000-01-01T00:00:00.000Z',
        ai: { available: true },
      });

      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ ownerId: owner.id, lastSeq: 0, myRole: 'owner', ai: { available: false } });
      expect(res.body.id).not.toBe(UNKNOWN_ID);
      expect(res.body.createdAt).not.toBe('2000-01-01T00:00:00.000Z');
      expect(await myRoomIds(other)).toEqual([]);
      expectSameNotFound(await other.http.get(`/api/rooms/${UNKNOWN_ID}`));
    });

    it.each<[string, Record<string, unknown>, string]>([
      ['name missing', {}, 'name'],
      ['name empty', { name: '' }, 'name'],
      ['name blank', { name: '   \t ' }, 'name'],
      ['name 101 characters', { name: 'n'.repeat(101) }, 'name'],
      ['name a number', { name: 42 }, 'name'],
      ['name null', { name: null }, 'name'],
      ['name an array', { name: ['a'] }, 'name'],
      ['name an object', { name: { first: 'a' } }, 'name'],
      ['name with a NUL character', { name: 'a\u0000b' }, 'name'],
      ['visibility bogus', { name: 'ok', visibility: 'secret' }, 'visibility'],
      ['visibility in another case', { name: 'ok', visibility: 'PUBLIC' }, 'visibility'],
      ['visibility a number', { name: 'ok', visibility: 1 }, 'visibility'],
      ['ai a string', { name: 'ok', ai: 'always' }, 'ai'],
      ['ai a number', { name: 'ok', ai: 1 }, 'ai'],
      ['ai an array', { name: 'ok', ai: [{ mode: 'off' }] }, 'ai'],
      ['ai.mode bogus', { name: 'ok', ai: { mode: 'sometimes' } }, 'ai.mode'],
      ['ai.mode a number', { name: 'ok', ai: { mode: 1 } }, 'ai.mode'],
      ['ai.systemPrompt 4001 characters', { name: 'ok', ai: { systemPrompt: 'p'.repeat(4001) } }, 'ai.systemPrompt'],
      ['ai.systemPrompt a number', { name: 'ok', ai: { systemPrompt: 7 } }, 'ai.systemPrompt'],
      ['ai.systemPrompt an object', { name: 'ok', ai: { systemPrompt: { text: 'x' } } }, 'ai.systemPrompt'],
      ['ai.systemPrompt with a NUL character', { name: 'ok', ai: { systemPrompt: 'a\u0000b' } }, 'ai.systemPrompt'],
      ['ai.model with spaces', { name: 'ok', ai: { model: 'gpt 4' } }, 'ai.model'],
      ['ai.model 101 characters', { name: 'ok', ai: { model: 'm'.repeat(101) } }, 'ai.model'],
      ['ai.model a number', { name: 'ok', ai: { model: 4 } }, 'ai.model'],
      ['ai.model SQL-ish', { name: 'ok', ai: { model: "x'; drop table chatrooms; --" } }, 'ai.model'],
    ])('should answer 400 and create nothing when %s', async (_case, body, field) => {
      const owner = await user();

      const res = await owner.http.post('/api/rooms', body);

      expectValidation(res, field);
      expect(await myRoomIds(owner)).toEqual([]);
    });

    it('should name every invalid field at once', async () => {
      const owner = await user();

      const res = await owner.http.post('/api/rooms', { name: '', visibility: 'x', ai: { mode: 'y' } });

      const body = expectValidation(res, 'name');
      expect(body.details.map((d: any) => d.field)).toEqual(expect.arrayContaining(['visibility', 'ai.mode']));
      expect(await myRoomIds(owner)).toEqual([]);
    });

    it.each([
      ['malformed JSON', '{"name": "x"'],
      ['a JSON array', '[{"name": "x"}]'],
      ['JSON null', 'null'],
      ['a JSON string', '"x"'],
      ['a JSON number', '42'],
    ])('should answer 400 VALIDATION_FAILED and create nothing for %s', async (_case, raw) => {
      const owner = await user();

      const res = await owner.http.post('/api/rooms', raw);

      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(await myRoomIds(owner)).toEqual([]);
    });

    it('should answer 401 without a valid token and create nothing', async () => {
      const owner = await user();
      const anonymous = new HttpClient(testApp.url);

      expectProblem(await anonymous.post('/api/rooms', { name: 'x' }), 401, 'UNAUTHENTICATED');
      expectProblem(await anonymous.as('not.a.jwt').post('/api/rooms', { name: 'x' }), 401, 'UNAUTHENTICATED');
      expect(await myRoomIds(owner)).toEqual([]);
    });
  });

  describe('GET /api/rooms', () => {
    it('should answer an empty list for a new user', async () => {
      const newcomer = await user();

      const res = await newcomer.http.get('/api/rooms');

      expect(res.status).toBe(200);
      expect(res.body).toEqual({ rooms: [] });
    });

    it('should list exactly the rooms the caller owns, joined or was added to, with their role', async () => {
      const me = await user();
      const alice = await user();
      const bob = await user();
      const owned = await createRoom(me, { name: 'owned' });
      const joined = await createRoom(alice, { name: 'joined', visibility: 'public' });
      const added = await createRoom(bob, { name: 'added' });
      await createRoom(alice, { name: 'public, not joined', visibility: 'public' });
      await createRoom(bob, { name: 'private, not mine' });
      await joinRoom(me, joined.id);
      expect((await bob.http.post(`/api/rooms/${added.id}/members`, { username: me.username })).status).toBe(201);

      const rooms = await myRooms(me);

      rooms.forEach(expectRoomShape);
      expect(rooms.map((r) => [r.id, r.myRole]).sort()).toEqual(
        [
          [owned.id, 'owner'],
          [joined.id, 'member'],
          [added.id, 'member'],
        ].sort(),
      );
    });

    it('should put the most recently active room first (newest message, else creation)', async () => {
      const me = await user();
      const first = await createRoom(me, { name: 'first' });
      const second = await createRoom(me, { name: 'second' });
      const third = await createRoom(me, { name: 'third' });
      expect(await myRoomIds(me)).toEqual([third.id, second.id, first.id]);

      await sendMessage(me, first.id, 'wake up');

      const rooms = await myRooms(me);
      expect(rooms.map((r) => r.id)).toEqual([first.id, third.id, second.id]);
      expect(rooms[0].lastSeq).toBe(1);
      expect(rooms[1].lastSeq).toBe(0);
    });

    it("should order by another member's message too", async () => {
      const me = await user();
      const friend = await user();
      const shared = await createRoom(friend, { name: 'shared' });
      await addToRoom(friend, shared.id, me);
      const mine = await createRoom(me, { name: 'mine, newer' });
      expect(await myRoomIds(me)).toEqual([mine.id, shared.id]);

      await sendMessage(friend, shared.id, 'hello');

      expect(await myRoomIds(me)).toEqual([shared.id, mine.id]);
    });

    it('should answer 401 without a token', async () => {
      expectProblem(await new HttpClient(testApp.url).get('/api/rooms'), 401, 'UNAUTHENTICATED');
    });
  });

  describe('GET /api/rooms/public', () => {
    it('should list only public rooms, with myRole null for a stranger and owner for the owner', async () => {
      const owner = await user();
      const stranger = await user();
      const tag = uniqueTag();
      const open = await createRoom(owner, { name: `${tag} open`, visibility: 'public' });
      await createRoom(owner, { name: `${tag} closed` });

      const seenByStranger = await publicRooms(stranger, q(tag));
      const seenByOwner = await publicRooms(owner, q(tag));

      expect(seenByStranger).toHaveLength(1);
      expectRoomShape(seenByStranger[0]);
      expect(seenByStranger[0]).toEqual({
        ...open,
        myRole: null,
        lastRev: null,
        lastReadSeq: null,
        unread: null,
        muted: null,
      });
      expect(seenByOwner).toEqual([open]);
    });

    it('should list every public room without q, most recently created first, and no private one', async () => {
      const owner = await user();
      const older = await createRoom(owner, { name: 'older public', visibility: 'public' });
      const newer = await createRoom(owner, { name: 'newer public', visibility: 'public' });
      const hidden = await createRoom(owner, { name: 'hidden' });

      const rooms = await publicRooms(owner);

      expect(rooms.length).toBeGreaterThanOrEqual(2);
      expect(rooms.every((r) => r.visibility === 'public')).toBe(true);
      expect(rooms.map((r) => r.id)).not.toContain(hidden.id);
      expect(rooms.slice(0, 2).map((r) => r.id)).toEqual([newer.id, older.id]);
      expect(await publicRooms(owner, '?q=')).toEqual(rooms);
    });

    it('should put the most recently active public room first', async () => {
      const owner = await user();
      const tag = uniqueTag();
      const a = await createRoom(owner, { name: `${tag} a`, visibility: 'public' });
      const b = await createRoom(owner, { name: `${tag} b`, visibility: 'public' });
      expect((await publicRooms(owner, q(tag))).map((r) => r.id)).toEqual([b.id, a.id]);

      await sendMessage(owner, a.id, 'bump');

      const rooms = await publicRooms(owner, q(tag));
      expect(rooms.map((r) => r.id)).toEqual([a.id, b.id]);
      expect(rooms[0].lastSeq).toBe(1);
    });

    it('should match q anywhere in the name, in any case', async () => {
      const owner = await user();
      const tag = uniqueTag();
      const room = await createRoom(owner, { name: `The ${tag} Lounge`, visibility: 'public' });
      await createRoom(owner, { name: `The ${tag} Kitchen`, visibility: 'public' });

      for (const text of [`${tag} lounge`, `${tag.toUpperCase()} LOUNGE`, `HE ${tag} LoUnGe`]) {
        expect((await publicRooms(owner, q(text))).map((r) => r.id)).toEqual([room.id]);
      }
    });

    it('should match non-ASCII letters in any case', async () => {
      const owner = await user();
      const tag = uniqueTag();
      const room = await createRoom(owner, { name: `${tag} Ärger über Ölpreise`, visibility: 'public' });

      expect((await publicRooms(owner, q(`${tag} ärger ÜBER`))).map((r) => r.id)).toEqual([room.id]);
      expect((await publicRooms(owner, q(`${tag} ÄRGER`))).map((r) => r.id)).toEqual([room.id]);
    });

    it('should treat % and _ in q as plain characters, not wildcards', async () => {
      const owner = await user();
      const tag = uniqueTag();
      const percent = await createRoom(owner, { name: `${tag} 100% real`, visibility: 'public' });
      await createRoom(owner, { name: `${tag} 100 real`, visibility: 'public' });
      const underscore = await createRoom(owner, { name: `${tag} a_b`, visibility: 'public' });
      await createRoom(owner, { name: `${tag} axb`, visibility: 'public' });

      expect((await publicRooms(owner, q(`${tag} 100%`))).map((r) => r.id)).toEqual([percent.id]);
      expect((await publicRooms(owner, q(`${tag} a_b`))).map((r) => r.id)).toEqual([underscore.id]);
      expect((await publicRooms(owner, q(`${tag}%`))).map((r) => r.id)).toEqual([]);
      expect((await publicRooms(owner, q(`${tag}_`))).map((r) => r.id)).toEqual([]);

      const anyPercent = await publicRooms(owner, q('%', '&limit=100'));
      expect(anyPercent.every((r) => r.name.includes('%'))).toBe(true);
      expect(anyPercent.map((r) => r.id)).toContain(percent.id);
      const anyUnderscore = await publicRooms(owner, q('_', '&limit=100'));
      expect(anyUnderscore.every((r) => r.name.includes('_'))).toBe(true);
      expect(anyUnderscore.map((r) => r.id)).toContain(underscore.id);
    });

    it('should treat backslashes, quotes and markup in q as plain text', async () => {
      const owner = await user();
      const tag = uniqueTag();
      const slash = await createRoom(owner, { name: `${tag} back\\slash`, visibility: 'public' });
      const quote = await createRoom(owner, { name: `${tag} it's "quoted"`, visibility: 'public' });
      const markup = await createRoom(owner, { name: `${tag} <b>bold</b>`, visibility: 'public' });

      expect((await publicRooms(owner, q(`${tag} back\\s`))).map((r) => r.id)).toEqual([slash.id]);
      expect((await publicRooms(owner, q(`${tag} it's "q`))).map((r) => r.id)).toEqual([quote.id]);
      expect((await publicRooms(owner, q(`${tag} <b>`))).map((r) => r.id)).toEqual([markup.id]);
      expect(await publicRooms(owner, q(`${tag}' OR '1'='1`))).toEqual([]);
      expect(await publicRooms(owner, q(`${tag}\\`))).toEqual([]);
    });

    it('should answer the newest `limit` rooms, from 1 to 100', async () => {
      const owner = await user();
      const tag = uniqueTag();
      const rooms = [];
      for (let i = 0; i < 3; i++) {
        rooms.push(await createRoom(owner, { name: `${tag} ${i}`, visibility: 'public' }));
      }

      expect((await publicRooms(owner, q(tag, '&limit=2'))).map((r) => r.id)).toEqual([rooms[2].id, rooms[1].id]);
      expect((await publicRooms(owner, q(tag, '&limit=1'))).map((r) => r.id)).toEqual([rooms[2].id]);
      expect(await publicRooms(owner, q(tag, '&limit=100'))).toHaveLength(3);
    });

    it('should answer at most 50 rooms without a limit', async () => {
      const owner = await user();
      const tag = uniqueTag();
      for (let i = 0; i < 51; i++) {
        await createRoom(owner, { name: `${tag} ${i}`, visibility: 'public' });
      }

      const rooms = await publicRooms(owner, q(tag));

      expect(rooms).toHaveLength(50);
      expect(rooms.map((r) => r.name)).not.toContain(`${tag} 0`);
      expect(await publicRooms(owner, q(tag, '&limit=51'))).toHaveLength(51);
    });

    it.each(['0', '101', '1.5', 'abc', '-1', '', '1e400', '10abc', '1&limit=2'])(
      'should answer 400 VALIDATION_FAILED on field limit for limit=%s',
      async (limit) => {
        const caller = await user();

        const res = await caller.http.get(`/api/rooms/public?limit=${limit}`);

        expectValidation(res, 'limit');
      },
    );

    it('should answer 400 VALIDATION_FAILED on field q when q is given twice', async () => {
      const caller = await user();

      expectValidation(await caller.http.get('/api/rooms/public?q=a&q=b'), 'q');
    });

    it('should answer 400 VALIDATION_FAILED on field q when q holds a NUL character', async () => {
      const caller = await user();

      expectValidation(await caller.http.get('/api/rooms/public?q=a%00b'), 'q');
    });

    it('should answer 401 without a token', async () => {
      expectProblem(await new HttpClient(testApp.url).get('/api/rooms/public'), 401, 'UNAUTHENTICATED');
    });
  });

  describe('GET /api/rooms/:id', () => {
    it('should show the room to its owner and to a member, each with their role', async () => {
      const owner = await user();
      const member = await user();
      const room = await createRoom(owner, { name: 'members only' });
      await owner.http.post(`/api/rooms/${room.id}/members`, { username: member.username });

      const asOwner = await owner.http.get(`/api/rooms/${room.id}`);
      const asMember = await member.http.get(`/api/rooms/${room.id}`);

      expect(asOwner.status).toBe(200);
      expect(asOwner.body).toEqual(room);
      expect(asMember.status).toBe(200);
      expect(asMember.body).toEqual({ ...room, myRole: 'member' });
    });

    it('should show a public room to a signed-in stranger with myRole null', async () => {
      const owner = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'open house', visibility: 'public' });

      const res = await stranger.http.get(`/api/rooms/${room.id}`);

      expect(res.status).toBe(200);
      expectRoomShape(res.body);
      expect(res.body).toEqual({ ...room, myRole: null, lastRev: null, lastReadSeq: null, unread: null, muted: null });
    });

    it('should show the current lastSeq', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'counting' });
      await sendMessage(owner, room.id, 'one');
      await sendMessage(owner, room.id, 'two');

      expect((await getRoom(owner, room.id)).lastSeq).toBe(2);
    });

    it('should answer a private room to a stranger exactly like a room that does not exist', async () => {
      const owner = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'secret' });

      const hidden = await stranger.http.get(`/api/rooms/${room.id}`);
      const missing = await stranger.http.get(`/api/rooms/${UNKNOWN_ID}`);
      const garbage = await stranger.http.get('/api/rooms/not-a-uuid');

      expectSameNotFound(hidden, missing, garbage);
      expect(JSON.stringify(hidden.body)).not.toContain('secret');
      expect(await getRoom(owner, room.id)).toEqual(room);
    });

    it.each(NON_UUID_IDS)('should answer 404 NOT_FOUND for the non-UUID id %s', async (id) => {
      const caller = await user();

      expectProblem(await caller.http.get(`/api/rooms/${encodeURIComponent(id)}`), 404, 'NOT_FOUND');
    });

    it('should answer 401 without a token, even for a public room', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'public', visibility: 'public' });

      expectProblem(await new HttpClient(testApp.url).get(`/api/rooms/${room.id}`), 401, 'UNAUTHENTICATED');
    });
  });

  describe('PATCH /api/rooms/:id', () => {
    it('should change only the fields sent, move updatedAt and keep the rest', async () => {
      const owner = await user();
      const room = await createRoom(owner, {
        name: 'before',
        ai: { mode: 'mention', systemPrompt: 'Be kind.', model: 'model-a' },
      });
      await getRoom(owner, room.id);

      const res = await owner.http.patch(`/api/rooms/${room.id}`, { name: '  after  ' });

      expect(res.status).toBe(200);
      expectRoomShape(res.body);
      expect(res.body).toEqual({ ...room, name: 'after', updatedAt: res.body.updatedAt });
      expectIso(res.body.updatedAt);
      expect(Date.parse(res.body.updatedAt)).toBeGreaterThan(Date.parse(room.updatedAt));
      expect(await getRoom(owner, room.id)).toEqual(res.body);
    });

    it('should keep the system prompt and model when only ai.mode is sent', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'ai', ai: { systemPrompt: 'Answer in French.', model: 'model-b' } });

      const res = await owner.http.patch(`/api/rooms/${room.id}`, { ai: { mode: 'off' } });

      expect(res.status).toBe(200);
      expect(res.body.ai).toEqual({
        mode: 'off',
        systemPrompt: 'Answer in French.',
        model: 'model-b',
        available: false,
      });
      expect(res.body).toMatchObject({ name: 'ai', visibility: 'private' });
      expect((await getRoom(owner, room.id)).ai).toEqual(res.body.ai);
    });

    it('should keep ai.mode when only the system prompt is sent, and clear the prompt with null', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'prompt', ai: { mode: 'mention' } });

      const set = await owner.http.patch(`/api/rooms/${room.id}`, { ai: { systemPrompt: 'Be brief.' } });
      expect(set.status).toBe(200);
      expect(set.body.ai).toMatchObject({ mode: 'mention', systemPrompt: 'Be brief.' });

      const cleared = await owner.http.patch(`/api/rooms/${room.id}`, { ai: { systemPrompt: null } });
      expect(cleared.status).toBe(200);
      expect(cleared.body.ai).toMatchObject({ mode: 'mention', systemPrompt: null });
      expect((await getRoom(owner, room.id)).ai.systemPrompt).toBeNull();
    });

    it('should go back to the server default model when ai.model is null', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'model', ai: { model: 'custom-model' } });
      expect(room.ai.model).toBe('custom-model');

      const res = await owner.http.patch(`/api/rooms/${room.id}`, { ai: { model: null } });

      expect(res.status).toBe(200);
      expect(res.body.ai.model).toBe(testApp.config.ai.model);
      expect((await getRoom(owner, room.id)).ai.model).toBe(testApp.config.ai.model);
    });

    it('should refuse a model the operator does not allow, on create and on update, naming the allowed ones', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'allowed', ai: { model: 'model-a' } });

      const created = await owner.http.post('/api/rooms', { name: 'pricey', ai: { model: 'o1-pro' } });
      const patched = await owner.http.patch(`/api/rooms/${room.id}`, { ai: { model: 'o1-pro' } });

      for (const res of [created, patched]) {
        const body = expectValidation(res, 'ai.model');
        expect(JSON.stringify(body.details)).toContain('model-b');
      }
      expect((await getRoom(owner, room.id)).ai.model).toBe('model-a');
      expect(await myRooms(owner)).toHaveLength(1);
    });

    it('should change nothing but updatedAt for an empty body', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'still', visibility: 'public', ai: { mode: 'off' } });

      const res = await owner.http.patch(`/api/rooms/${room.id}`, {});

      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ...room, updatedAt: res.body.updatedAt });
    });

    it('should show a room to strangers once it is made public, and hide it again when made private', async () => {
      const owner = await user();
      const stranger = await user();
      const tag = uniqueTag();
      const room = await createRoom(owner, { name: `${tag} flip` });

      const opened = await owner.http.patch(`/api/rooms/${room.id}`, { visibility: 'public' });
      expect(opened.status).toBe(200);
      expect(opened.body.visibility).toBe('public');
      expect((await stranger.http.get(`/api/rooms/${room.id}`)).status).toBe(200);
      expect((await publicRooms(stranger, q(tag))).map((r) => r.id)).toEqual([room.id]);

      const closed = await owner.http.patch(`/api/rooms/${room.id}`, { visibility: 'private' });
      expect(closed.status).toBe(200);
      expectProblem(await stranger.http.get(`/api/rooms/${room.id}`), 404, 'NOT_FOUND');
      expect(await publicRooms(stranger, q(tag))).toEqual([]);
    });

    it('should ignore fields the client may not set (ownerId, lastSeq, id)', async () => {
      const owner = await user();
      const other = await user();
      const room = await createRoom(owner, { name: 'guarded' });

      const res = await owner.http.patch(`/api/rooms/${room.id}`, {
        ownerId: other.id,
        lastSeq: 99,
        id: UNKNOWN_ID,
        myRole: 'member',
      });

      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: room.id, ownerId: owner.id, lastSeq: 0, myRole: 'owner' });
      expect(await getRoom(owner, room.id)).toMatchObject({ ownerId: owner.id, lastSeq: 0 });
      expect(await myRoomIds(other)).toEqual([]);
    });

    it('should answer 403 FORBIDDEN to a member who is not the owner, and change nothing', async () => {
      const owner = await user();
      const member = await user();
      const room = await createRoom(owner, { name: 'owned' });
      await owner.http.post(`/api/rooms/${room.id}/members`, { username: member.username });

      const res = await member.http.patch(`/api/rooms/${room.id}`, { name: 'hijacked', ai: { mode: 'off' } });

      expectProblem(res, 403, 'FORBIDDEN');
      expect(await getRoom(owner, room.id)).toEqual(room);
    });

    it('should answer 403 FORBIDDEN to a stranger of a public room, and change nothing', async () => {
      const owner = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'open', visibility: 'public' });

      expectProblem(await stranger.http.patch(`/api/rooms/${room.id}`, { name: 'mine now' }), 403, 'FORBIDDEN');
      expect(await getRoom(owner, room.id)).toEqual(room);
    });

    it('should answer a stranger of a private room exactly like a room that does not exist, and change nothing', async () => {
      const owner = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'hidden' });

      const hidden = await stranger.http.patch(`/api/rooms/${room.id}`, { name: 'found you' });
      const missing = await stranger.http.patch(`/api/rooms/${UNKNOWN_ID}`, { name: 'found you' });
      const garbage = await stranger.http.patch('/api/rooms/not-a-uuid', { name: 'found you' });

      expectSameNotFound(hidden, missing, garbage);
      expect(await getRoom(owner, room.id)).toEqual(room);
    });

    it.each<[string, Record<string, unknown>, string]>([
      ['name empty', { name: '' }, 'name'],
      ['name blank', { name: '  ' }, 'name'],
      ['name 101 characters', { name: 'n'.repeat(101) }, 'name'],
      ['name a number', { name: 5 }, 'name'],
      ['name null', { name: null }, 'name'],
      ['name with a NUL character', { name: 'x\u0000y' }, 'name'],
      ['visibility bogus', { visibility: 'hidden' }, 'visibility'],
      ['visibility null', { visibility: null }, 'visibility'],
      ['ai a string', { ai: 'off' }, 'ai'],
      ['ai an array', { ai: [] }, 'ai'],
      ['ai.mode bogus', { ai: { mode: 'loud' } }, 'ai.mode'],
      ['ai.mode null', { ai: { mode: null } }, 'ai.mode'],
      ['ai.systemPrompt 4001 characters', { ai: { systemPrompt: 'p'.repeat(4001) } }, 'ai.systemPrompt'],
      ['ai.systemPrompt a number', { ai: { systemPrompt: 1 } }, 'ai.systemPrompt'],
      ['ai.model with spaces', { ai: { model: 'a b' } }, 'ai.model'],
      ['ai.model 101 characters', { ai: { model: 'm'.repeat(101) } }, 'ai.model'],
      ['ai.model empty', { ai: { model: '' } }, 'ai.model'],
    ])('should answer 400 and change nothing when %s', async (_case, body, field) => {
      const owner = await user();
      const room = await createRoom(owner, {
        name: 'stable',
        visibility: 'public',
        ai: { mode: 'mention', systemPrompt: 'keep me', model: 'keep-model' },
      });

      const res = await owner.http.patch(`/api/rooms/${room.id}`, body);

      expectValidation(res, field);
      expect(await getRoom(owner, room.id)).toEqual(room);
    });

    it('should change nothing when one of several fields is invalid', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'atomic' });

      const res = await owner.http.patch(`/api/rooms/${room.id}`, { name: 'renamed', ai: { mode: 'bogus' } });

      expectValidation(res, 'ai.mode');
      expect(await getRoom(owner, room.id)).toEqual(room);
    });

    it('should answer 401 without a token and change nothing', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'safe' });

      expectProblem(
        await new HttpClient(testApp.url).patch(`/api/rooms/${room.id}`, { name: 'x' }),
        401,
        'UNAUTHENTICATED',
      );
      expect(await getRoom(owner, room.id)).toEqual(room);
    });
  });

  describe('DELETE /api/rooms/:id', () => {
    it('should delete the room and its messages for everyone', async () => {
      const owner = await user();
      const member = await user();
      const tag = uniqueTag();
      const room = await createRoom(owner, { name: `${tag} doomed`, visibility: 'public' });
      await addToRoom(owner, room.id, member);
      await sendMessage(owner, room.id, 'last words');

      const res = await owner.http.delete(`/api/rooms/${room.id}`);

      expect(res.status).toBe(204);
      expect(res.body).toBe('');
      for (const caller of [owner, member]) {
        expectProblem(await caller.http.get(`/api/rooms/${room.id}`), 404, 'NOT_FOUND');
        expectProblem(await caller.http.get(`/api/rooms/${room.id}/messages`), 404, 'NOT_FOUND');
        expectProblem(await caller.http.get(`/api/rooms/${room.id}/members`), 404, 'NOT_FOUND');
        expect(await myRoomIds(caller)).toEqual([]);
      }
      expect(await publicRooms(member, q(tag))).toEqual([]);
      expectProblem(await member.http.post(`/api/rooms/${room.id}/join`), 404, 'NOT_FOUND');
      expectProblem(await owner.http.delete(`/api/rooms/${room.id}`), 404, 'NOT_FOUND');
      expectProblem(await owner.http.patch(`/api/rooms/${room.id}`, { name: 'revived' }), 404, 'NOT_FOUND');
    });

    it('should leave the owner’s other rooms alone', async () => {
      const owner = await user();
      const keep = await createRoom(owner, { name: 'keep' });
      const drop = await createRoom(owner, { name: 'drop' });
      await sendMessage(owner, keep.id, 'still here');

      expect((await owner.http.delete(`/api/rooms/${drop.id}`)).status).toBe(204);

      expect(await myRoomIds(owner)).toEqual([keep.id]);
      expect(await messageContents(owner, keep.id)).toEqual(['still here']);
    });

    it('should answer 403 FORBIDDEN to a member who is not the owner, and keep the room and its messages', async () => {
      const owner = await user();
      const member = await user();
      const room = await createRoom(owner, { name: 'sturdy' });
      await owner.http.post(`/api/rooms/${room.id}/members`, { username: member.username });
      await sendMessage(owner, room.id, 'keep me');

      expectProblem(await member.http.delete(`/api/rooms/${room.id}`), 403, 'FORBIDDEN');

      expect(await getRoom(owner, room.id)).toMatchObject({ id: room.id, lastSeq: 1 });
      expect(await messageContents(owner, room.id)).toEqual(['keep me']);
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner', [member.id]: 'member' });
    });

    it('should answer 403 FORBIDDEN to a stranger of a public room, and keep it', async () => {
      const owner = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'public', visibility: 'public' });

      expectProblem(await stranger.http.delete(`/api/rooms/${room.id}`), 403, 'FORBIDDEN');
      expect(await getRoom(owner, room.id)).toEqual(room);
    });

    it('should answer a stranger of a private room exactly like a room that does not exist, and keep it', async () => {
      const owner = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'private' });

      const hidden = await stranger.http.delete(`/api/rooms/${room.id}`);
      const missing = await stranger.http.delete(`/api/rooms/${UNKNOWN_ID}`);
      const garbage = await stranger.http.delete('/api/rooms/not-a-uuid');

      expectSameNotFound(hidden, missing, garbage);
      expect(await getRoom(owner, room.id)).toEqual(room);
    });

    it('should answer 401 without a token and keep the room', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'kept' });

      expectProblem(await new HttpClient(testApp.url).delete(`/api/rooms/${room.id}`), 401, 'UNAUTHENTICATED');
      expect(await getRoom(owner, room.id)).toEqual(room);
    });
  });

  describe('POST /api/rooms/:id/join', () => {
    it('should make a stranger a member of a public room, with its messages readable', async () => {
      const owner = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'lobby', visibility: 'public' });
      await sendMessage(owner, room.id, 'welcome');
      expectProblem(await stranger.http.get(`/api/rooms/${room.id}/messages`), 404, 'NOT_FOUND');

      const res = await stranger.http.post(`/api/rooms/${room.id}/join`);

      expect(res.status).toBe(200);
      expectRoomShape(res.body);
      expect(res.body).toMatchObject({ id: room.id, name: 'lobby', ownerId: owner.id, lastSeq: 1, myRole: 'member' });
      expect(await getRoom(stranger, room.id)).toMatchObject({ myRole: 'member' });
      expect(await myRoomIds(stranger)).toEqual([room.id]);
      expect(await messageContents(stranger, room.id)).toEqual(['welcome']);
      await sendMessage(stranger, room.id, 'hi all');
      expect(await messageContents(owner, room.id)).toEqual(['welcome', 'hi all']);
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner', [stranger.id]: 'member' });
    });

    it('should be fine to join twice, leaving one membership', async () => {
      const owner = await user();
      const joiner = await user();
      const room = await createRoom(owner, { name: 'twice', visibility: 'public' });

      const first = await joiner.http.post(`/api/rooms/${room.id}/join`);
      const second = await joiner.http.post(`/api/rooms/${room.id}/join`);

      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      expect(second.body).toEqual(first.body);
      const list = await members(owner, room.id);
      expect(list.filter((m) => m.profile.id === joiner.id)).toHaveLength(1);
      expect(list).toHaveLength(2);
      expect(await myRoomIds(joiner)).toEqual([room.id]);
    });

    it('should keep the owner the owner when they join their own room', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'home', visibility: 'public' });

      const res = await owner.http.post(`/api/rooms/${room.id}/join`);

      expect(res.status).toBe(200);
      expect(res.body.myRole).toBe('owner');
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
    });

    it('should answer a private room exactly like a room that does not exist, and join nothing', async () => {
      const owner = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'invite only' });

      const hidden = await stranger.http.post(`/api/rooms/${room.id}/join`);
      const missing = await stranger.http.post(`/api/rooms/${UNKNOWN_ID}/join`);
      const garbage = await stranger.http.post('/api/rooms/not-a-uuid/join');

      expectSameNotFound(hidden, missing, garbage);
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
      expect(await myRoomIds(stranger)).toEqual([]);
      expectProblem(await stranger.http.get(`/api/rooms/${room.id}`), 404, 'NOT_FOUND');
    });

    it('should answer 401 without a token and join nothing', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'door', visibility: 'public' });

      expectProblem(await new HttpClient(testApp.url).post(`/api/rooms/${room.id}/join`), 401, 'UNAUTHENTICATED');
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
    });
  });

  describe('POST /api/rooms/:id/leave', () => {
    it('should take a member out of a public room: gone from their list, messages hidden, room still readable', async () => {
      const owner = await user();
      const member = await user();
      const room = await createRoom(owner, { name: 'drop in', visibility: 'public' });
      await addToRoom(owner, room.id, member);
      await sendMessage(member, room.id, 'bye soon');

      const res = await member.http.post(`/api/rooms/${room.id}/leave`);

      expect(res.status).toBe(204);
      expect(res.body).toBe('');
      expect(await myRoomIds(member)).toEqual([]);
      expectProblem(await member.http.get(`/api/rooms/${room.id}/messages`), 404, 'NOT_FOUND');
      expectProblem(await member.http.get(`/api/rooms/${room.id}/members`), 404, 'NOT_FOUND');
      expectProblem(await member.http.post(`/api/rooms/${room.id}/messages`, { content: 'x' }), 404, 'NOT_FOUND');
      expect(await getRoom(member, room.id)).toMatchObject({ id: room.id, myRole: null });
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
      expect(await messageContents(owner, room.id)).toEqual(['bye soon']);
    });

    it('should hide a private room from a member who left it', async () => {
      const owner = await user();
      const member = await user();
      const room = await createRoom(owner, { name: 'private club' });
      await owner.http.post(`/api/rooms/${room.id}/members`, { username: member.username });

      expect((await member.http.post(`/api/rooms/${room.id}/leave`)).status).toBe(204);

      expectProblem(await member.http.get(`/api/rooms/${room.id}`), 404, 'NOT_FOUND');
      expectProblem(await member.http.get(`/api/rooms/${room.id}/messages`), 404, 'NOT_FOUND');
      expect(await myRoomIds(member)).toEqual([]);
      expectProblem(await member.http.post(`/api/rooms/${room.id}/leave`), 404, 'NOT_FOUND');
    });

    it('should answer 403 FORBIDDEN to the owner and keep them the owner', async () => {
      const owner = await user();
      const room = await createRoom(owner, { name: 'captain', visibility: 'public' });

      expectProblem(await owner.http.post(`/api/rooms/${room.id}/leave`), 403, 'FORBIDDEN');

      expect(await myRoomIds(owner)).toEqual([room.id]);
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
    });

    it('should answer 404 NOT_FOUND to a non-member of a public room, and change nothing', async () => {
      const owner = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'not yours', visibility: 'public' });

      expectProblem(await stranger.http.post(`/api/rooms/${room.id}/leave`), 404, 'NOT_FOUND');
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
    });

    it('should answer a stranger of a private room exactly like a room that does not exist', async () => {
      const owner = await user();
      const stranger = await user();
      const room = await createRoom(owner, { name: 'private' });

      const hidden = await stranger.http.post(`/api/rooms/${room.id}/leave`);
      const missing = await stranger.http.post(`/api/rooms/${UNKNOWN_ID}/leave`);
      const garbage = await stranger.http.post('/api/rooms/not-a-uuid/leave');

      expectSameNotFound(hidden, missing, garbage);
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner' });
    });

    it('should answer 401 without a token and keep the membership', async () => {
      const owner = await user();
      const member = await user();
      const room = await createRoom(owner, { name: 'stay', visibility: 'public' });
      await addToRoom(owner, room.id, member);

      expectProblem(await new HttpClient(testApp.url).post(`/api/rooms/${room.id}/leave`), 401, 'UNAUTHENTICATED');
      expect(await memberRoles(owner, room.id)).toEqual({ [owner.id]: 'owner', [member.id]: 'member' });
    });
  });
});
