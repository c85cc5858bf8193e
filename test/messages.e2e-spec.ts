import { randomUUID } from 'node:crypto';
import { expectProblem, HttpClient, signUp, type HttpResult, type TestUser } from './support/http-client';
import {
  addMembers,
  createRoom,
  range,
  readAll,
  readPage,
  sendMany,
  sendMessage,
  seqs,
  snapshot,
} from './support/messages-helpers';
import { startTestApp, useTestApp, type TestApp } from './support/test-app';
import { expectUserMessage } from './support/chat-api';

/** A 400 VALIDATION_FAILED whose details name `field` (and only fields the test expects). */
function expectValidation(res: HttpResult, field: string): void {
  const body = expectProblem(res, 400, 'VALIDATION_FAILED');
  expect(body.details).toEqual(expect.arrayContaining([{ field, message: expect.any(String) }]));
  expect(body.details.map((d: any) => d.field)).toEqual(body.details.map(() => field));
}

describe('Messages', () => {
  const t = useTestApp();

  /** An owner with a private AI-off room that already holds one message, so "unchanged" means something. */
  async function roomWithOneMessage(): Promise<{ owner: TestUser; room: any; first: any }> {
    const owner = await signUp(t.url, 'msg');
    const room = await createRoom(owner);
    const res = await sendMessage(owner, room.id, { content: 'first', clientId: 'first-1' });
    expect(res.status).toBe(201);
    return { owner, room, first: res.body.message };
  }

  describe('POST /api/rooms/:id/messages', () => {
    it('should store a message and answer 201 with the message and duplicate false', async () => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);

      const res = await sendMessage(owner, room.id, { content: 'hello there', clientId: 'c-1_A' });

      expect(res.status).toBe(201);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body).toEqual({ message: expect.any(Object), duplicate: false });
      expectUserMessage(res.body.message, {
        roomId: room.id,
        senderId: owner.id,
        content: 'hello there',
        clientId: 'c-1_A',
        seq: 1,
      });
      expect(await readAll(owner, room.id)).toEqual([res.body.message]);
    });

    it('should store clientId null when none is sent', async () => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);

      const res = await sendMessage(owner, room.id, { content: 'no client id' });

      expect(res.status).toBe(201);
      expect(res.body.duplicate).toBe(false);
      expectUserMessage(res.body.message, {
        roomId: room.id,
        senderId: owner.id,
        content: 'no client id',
        clientId: null,
        seq: 1,
      });
      expect(await readAll(owner, room.id)).toEqual([res.body.message]);
    });

    it('should store two messages without clientId as two messages even with the same content', async () => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);

      const a = await sendMessage(owner, room.id, { content: 'same' });
      const b = await sendMessage(owner, room.id, { content: 'same' });

      expect([a.status, b.status]).toEqual([201, 201]);
      expect(b.body.message.id).not.toBe(a.body.message.id);
      expect(seqs(await readAll(owner, room.id))).toEqual([1, 2]);
    });

    it('should answer 200 with the stored message and duplicate true for a repeated clientId, storing nothing', async () => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);
      const first = await sendMessage(owner, room.id, { content: 'original', clientId: 'retry-me' });
      expect(first.status).toBe(201);

      const again = await sendMessage(owner, room.id, { content: 'original', clientId: 'retry-me' });
      const changed = await sendMessage(owner, room.id, { content: 'something else', clientId: 'retry-me' });

      for (const res of [again, changed]) {
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ message: first.body.message, duplicate: true });
      }
      expect(await readAll(owner, room.id)).toEqual([first.body.message]);
      expect((await owner.http.get(`/api/rooms/${room.id}`)).body.lastSeq).toBe(1);
    });

    it('should keep seq gapless after a duplicate', async () => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);
      await sendMessage(owner, room.id, { content: 'one', clientId: 'dup' });
      await sendMessage(owner, room.id, { content: 'one again', clientId: 'dup' });

      const next = await sendMessage(owner, room.id, { content: 'two', clientId: 'other' });

      expect(next.status).toBe(201);
      expect(next.body.message.seq).toBe(2);
      expect(seqs(await readAll(owner, room.id))).toEqual([1, 2]);
    });

    it('should store a new message for the same clientId from another sender', async () => {
      const owner = await signUp(t.url, 'msg');
      const member = await signUp(t.url, 'msg');
      const room = await createRoom(owner);
      await addMembers(owner, room.id, [member]);
      const mine = await sendMessage(owner, room.id, { content: 'from owner', clientId: 'shared-id' });

      const theirs = await sendMessage(member, room.id, { content: 'from member', clientId: 'shared-id' });

      expect(theirs.status).toBe(201);
      expect(theirs.body.duplicate).toBe(false);
      expectUserMessage(theirs.body.message, {
        roomId: room.id,
        senderId: member.id,
        content: 'from member',
        clientId: 'shared-id',
        seq: 2,
      });
      expect(await readAll(owner, room.id)).toEqual([mine.body.message, theirs.body.message]);
    });

    it('should store a new message for the same clientId in another room', async () => {
      const owner = await signUp(t.url, 'msg');
      const roomA = await createRoom(owner);
      const roomB = await createRoom(owner);
      const inA = await sendMessage(owner, roomA.id, { content: 'in A', clientId: 'same-everywhere' });

      const inB = await sendMessage(owner, roomB.id, { content: 'in B', clientId: 'same-everywhere' });

      expect(inB.status).toBe(201);
      expect(inB.body.duplicate).toBe(false);
      expectUserMessage(inB.body.message, {
        roomId: roomB.id,
        senderId: owner.id,
        content: 'in B',
        clientId: 'same-everywhere',
        seq: 1,
      });
      expect(inB.body.message.id).not.toBe(inA.body.message.id);
      expect(await readAll(owner, roomA.id)).toEqual([inA.body.message]);
      expect(await readAll(owner, roomB.id)).toEqual([inB.body.message]);
    });

    it('should number messages from 1 up by 1 per room, with the room lastSeq following', async () => {
      const owner = await signUp(t.url, 'msg');
      const member = await signUp(t.url, 'msg');
      const room = await createRoom(owner);
      const other = await createRoom(owner);
      await addMembers(owner, room.id, [member]);
      expect((await owner.http.get(`/api/rooms/${room.id}`)).body.lastSeq).toBe(0);

      const seen: number[] = [];
      for (const [i, sender] of [owner, member, owner, member, owner].entries()) {
        const res = await sendMessage(sender, room.id, { content: `n${i}` });
        expect(res.status).toBe(201);
        seen.push(res.body.message.seq);
        expect((await owner.http.get(`/api/rooms/${room.id}`)).body.lastSeq).toBe(i + 1);
        expect((await member.http.get(`/api/rooms/${room.id}`)).body.lastSeq).toBe(i + 1);
      }
      const inOther = await sendMessage(owner, other.id, { content: 'elsewhere' });

      expect(seen).toEqual([1, 2, 3, 4, 5]);
      expect(inOther.body.message.seq).toBe(1);
      expect((await owner.http.get(`/api/rooms/${other.id}`)).body.lastSeq).toBe(1);
      expect(seqs(await readAll(member, room.id))).toEqual([1, 2, 3, 4, 5]);
    });

    it('should refuse a caller without a token with 401 and store nothing', async () => {
      const { owner, room, first } = await roomWithOneMessage();

      const res = await new HttpClient(t.url).post(`/api/rooms/${room.id}/messages`, { content: 'anonymous' });

      expectProblem(res, 401, 'UNAUTHENTICATED');
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 1, messages: [first] });
    });
  });

  describe('POST /api/rooms/:id/messages content rules', () => {
    it.each([
      ['leading and trailing spaces', '   hi   ', 'hi'],
      ['tabs and newlines around', '\n\t hello world \r\n\t', 'hello world'],
      ['inner whitespace kept', '  a  b\n\nc\t d  ', 'a  b\n\nc\t d'],
      ['unicode spaces (String.prototype.trim)', '\u00a0\u3000\u2028 wide \u2029\ufeff', 'wide'],
    ])('should trim the content (%s)', async (_name, sent, stored) => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);

      const res = await sendMessage(owner, room.id, { content: sent });

      expect(res.status).toBe(201);
      expect(res.body.message.content).toBe(stored);
      expect((await readAll(owner, room.id)).map((m) => m.content)).toEqual([stored]);
    });

    it.each([
      ['empty', ''],
      ['one space', ' '],
      ['only whitespace', ' \t\n\r  \n'],
      ['only unicode spaces', '\u00a0\u3000\u2003'],
    ])('should reject %s content with 400 on content and store nothing', async (_name, content) => {
      const { owner, room, first } = await roomWithOneMessage();

      const res = await sendMessage(owner, room.id, { content, clientId: 'blank-1' });

      expectValidation(res, 'content');
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 1, messages: [first] });
    });

    it('should accept content of exactly 4000 characters', async () => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);
      const content = 'x'.repeat(3999) + 'y';

      const res = await sendMessage(owner, room.id, { content });

      expect(res.status).toBe(201);
      expect(res.body.message.content).toBe(content);
      expect((await readAll(owner, room.id))[0].content).toBe(content);
    });

    it('should check the length after trimming (4000 characters padded with spaces is OK)', async () => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);
      const content = 'z'.repeat(4000);

      const res = await sendMessage(owner, room.id, { content: `   ${content}\n\n  ` });

      expect(res.status).toBe(201);
      expect(res.body.message.content).toBe(content);
    });

    it('should accept 4000 UTF-16 code units of emoji pairs', async () => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);
      const content = '😀'.repeat(2000);
      expect(content.length).toBe(4000);

      const res = await sendMessage(owner, room.id, { content });

      expect(res.status).toBe(201);
      expect(res.body.message.content).toBe(content);
      expect((await readAll(owner, room.id))[0].content).toBe(content);
    });

    it.each([
      ['4001 ASCII characters', 'a'.repeat(4001)],
      ['4002 UTF-16 code units of emoji pairs', '😀'.repeat(2001)],
      ['4001 characters of which the last is an emoji half', `${'a'.repeat(3999)}😀`],
      ['10000 characters', 'b'.repeat(10_000)],
    ])('should reject %s with 400 on content and store nothing', async (_name, content) => {
      const { owner, room, first } = await roomWithOneMessage();

      const res = await sendMessage(owner, room.id, { content });

      expectValidation(res, 'content');
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 1, messages: [first] });
    });

    it('should reject a body over the size limit with 413 and store nothing', async () => {
      const { owner, room, first } = await roomWithOneMessage();

      const res = await sendMessage(owner, room.id, { content: 'c'.repeat(200_000) });

      expectProblem(res, 413, 'PAYLOAD_TOO_LARGE');
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 1, messages: [first] });
    });

    it.each([
      ['a number', { content: 42 }],
      ['zero', { content: 0 }],
      ['a boolean', { content: true }],
      ['null', { content: null }],
      ['an array', { content: ['hello'] }],
      ['an object', { content: { text: 'hello' } }],
      ['missing', {}],
      ['missing (clientId only)', { clientId: 'only-client' }],
    ])('should reject content that is %s with 400 on content and store nothing', async (_name, body) => {
      const { owner, room, first } = await roomWithOneMessage();

      const res = await sendMessage(owner, room.id, body);

      expectValidation(res, 'content');
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 1, messages: [first] });
    });

    it.each([
      ['a JSON array', '[]'],
      ['a JSON string', '"hello"'],
      ['malformed JSON', '{"content": "hi"'],
    ])('should reject a body that is %s with 400 and store nothing', async (_name, raw) => {
      const { owner, room, first } = await roomWithOneMessage();

      const res = await sendMessage(owner, room.id, raw);

      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 1, messages: [first] });
    });

    it.each([
      ['1 character', 'a'],
      ['64 characters', 'A'.repeat(32) + '0_-z'.repeat(8)],
      ['every allowed kind', 'AZaz09-_'],
      ['a UUID', randomUUID()],
    ])('should accept a clientId of %s', async (_name, clientId) => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);

      const res = await sendMessage(owner, room.id, { content: 'ok', clientId });

      expect(res.status).toBe(201);
      expect(res.body.message.clientId).toBe(clientId);
      expect((await readAll(owner, room.id))[0].clientId).toBe(clientId);
    });

    it.each([
      ['65 characters', 'a'.repeat(65)],
      ['an empty string', ''],
      ['with a space', 'abc def'],
      ['with é', 'café'],
      ['with a dot', 'a.b'],
      ['with a slash', 'a/b'],
      ['SQL-ish', "x'; drop table messages; --"],
      ['a LIKE wildcard', 'abc%'],
      ['an emoji', 'id😀'],
      ['a number', 42],
      ['a boolean', true],
      ['an array', ['abc']],
      ['an object', { id: 'abc' }],
    ])('should reject a clientId that is %s with 400 on clientId and store nothing', async (_name, clientId) => {
      const { owner, room, first } = await roomWithOneMessage();

      const res = await sendMessage(owner, room.id, { content: 'valid content', clientId });

      expectValidation(res, 'clientId');
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 1, messages: [first] });
    });

    it.each([
      ['a script tag', '<script>alert("x")</script>'],
      ['SQL', "'); drop table messages; --"],
      ['SQL with quotes and comments', "1' OR '1'='1' /* */ ; select pg_sleep(1); --"],
      ['LIKE wildcards and backslashes', '100% _match_ \\ \\\\ %_%'],
      ['HTML entities', '&lt;b&gt; &amp; &#x27; <img src=x onerror=alert(1)>'],
      ['JSON-ish text', '{"content": null, "__proto__": {"x": 1}}'],
      ['CJK and accents', '日本語のテキスト, ñandú, Ελληνικά, café'],
      ['combining marks', 'Z\u0351\u0352a\u0300\u0301l\u0336g\u0337o'],
      ['emoji with ZWJ and skin tones', '👩‍👩‍👧‍👦 👍🏽 🏳️‍🌈'],
      ['RTL marks and overrides', 'abc\u200fdef\u202egnp.exe\u202c \u200e\u061c'],
      ['zero-width characters inside', 'a\u200bb\u200cc\u200dd\u2060e'],
      ['Arabic and Hebrew', 'مرحبا بالعالم שלום עולם'],
      ['astral plane characters', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈 🜁'],
      ['control characters other than NUL', 'bell\u0007 esc\u001b[31m del\u007f'],
    ])('should store hostile content (%s) exactly and return it as sent', async (_name, content) => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);

      const res = await sendMessage(owner, room.id, { content, clientId: 'hostile' });

      expect(res.status).toBe(201);
      expect(res.body.message.content).toBe(content);
      const [stored] = await readAll(owner, room.id);
      expect(stored.content).toBe(content);
      expect(Buffer.from(stored.content, 'utf8').equals(Buffer.from(content, 'utf8'))).toBe(true);
    });

    it('should reject content with a NUL character (which Postgres text cannot hold) as 400 on content', async () => {
      const { owner, room, first } = await roomWithOneMessage();

      const res = await sendMessage(owner, room.id, { content: 'before\u0000after' });

      expectValidation(res, 'content');
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 1, messages: [first] });
    });

    it('should ignore unknown body fields (role, senderId, seq cannot be forged)', async () => {
      const owner = await signUp(t.url, 'msg');
      const other = await signUp(t.url, 'msg');
      const room = await createRoom(owner);

      const res = await sendMessage(owner, room.id, {
        content: 'forged?',
        role: 'assistant',
        senderId: other.id,
        seq: 99,
        status: 'failed',
        replyToId: randomUUID(),
      });

      expect([200, 201, 400]).toContain(res.status);
      const stored = await readAll(owner, room.id);
      if (res.status === 400) {
        expectProblem(res, 400, 'VALIDATION_FAILED');
        expect(stored).toEqual([]);
      } else {
        expectUserMessage(res.body.message, {
          roomId: room.id,
          senderId: owner.id,
          content: 'forged?',
          clientId: null,
          seq: 1,
        });
        expect(stored).toEqual([res.body.message]);
      }
    });
  });

  describe('Membership of /api/rooms/:id/messages', () => {
    it('should answer 404 to a stranger of a private room, for send and read, and store nothing', async () => {
      const { owner, room, first } = await roomWithOneMessage();
      const stranger = await signUp(t.url, 'msg');

      const send = await sendMessage(stranger, room.id, { content: 'let me in', clientId: 'x1' });
      const read = await readPage(stranger, room.id);

      expectProblem(send, 404, 'NOT_FOUND');
      expectProblem(read, 404, 'NOT_FOUND');
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 1, messages: [first] });
    });

    it('should answer a stranger of a private room exactly as for a room that does not exist', async () => {
      const { room } = await roomWithOneMessage();
      const stranger = await signUp(t.url, 'msg');

      const existing = await sendMessage(stranger, room.id, { content: 'hi' });
      const missing = await sendMessage(stranger, randomUUID(), { content: 'hi' });

      const a = expectProblem(existing, 404, 'NOT_FOUND');
      const b = expectProblem(missing, 404, 'NOT_FOUND');
      expect({ ...a, requestId: undefined }).toEqual({ ...b, requestId: undefined });
    });

    it('should answer 404 to a stranger of a public room for send and read until they join', async () => {
      const owner = await signUp(t.url, 'msg');
      const stranger = await signUp(t.url, 'msg');
      const room = await createRoom(owner, 'public');
      const first = (await sendMessage(owner, room.id, { content: 'welcome' })).body.message;

      expect((await stranger.http.get(`/api/rooms/${room.id}`)).status).toBe(200);
      const send = await sendMessage(stranger, room.id, { content: 'drive-by', clientId: 'early' });
      const read = await readPage(stranger, room.id);

      expectProblem(send, 404, 'NOT_FOUND');
      expectProblem(read, 404, 'NOT_FOUND');
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 1, messages: [first] });

      expect((await stranger.http.post(`/api/rooms/${room.id}/join`)).status).toBe(200);
      const joinedSend = await sendMessage(stranger, room.id, { content: 'now a member', clientId: 'early' });
      const joinedRead = await readPage(stranger, room.id);

      expect(joinedSend.status).toBe(201);
      expect(joinedSend.body.duplicate).toBe(false);
      expectUserMessage(joinedSend.body.message, {
        roomId: room.id,
        senderId: stranger.id,
        content: 'now a member',
        clientId: 'early',
        seq: 2,
      });
      expect(joinedRead.status).toBe(200);
      expect(joinedRead.body).toEqual({ messages: [first, joinedSend.body.message], hasMore: false });
    });

    it('should answer 404 to a member who left, for send and read', async () => {
      const owner = await signUp(t.url, 'msg');
      const member = await signUp(t.url, 'msg');
      const room = await createRoom(owner);
      await addMembers(owner, room.id, [member]);
      const said = (await sendMessage(member, room.id, { content: 'bye soon' })).body.message;
      expect((await member.http.post(`/api/rooms/${room.id}/leave`)).status).toBe(204);

      const send = await sendMessage(member, room.id, { content: 'still here?' });
      const read = await readPage(member, room.id);

      expectProblem(send, 404, 'NOT_FOUND');
      expectProblem(read, 404, 'NOT_FOUND');
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 1, messages: [said] });
    });

    it.each([
      ['a word', 'not-a-uuid'],
      ['a number', '123'],
      ['SQL', "1'%20or%20'1'%3D'1"],
      ['a UUID with a trailing character', `${randomUUID()}x`],
      ['a UUID without dashes', randomUUID().replace(/-/g, '')],
      ['percent and underscore', '%25_%25'],
    ])('should answer 404 for a room id that is %s, for send and read', async (_name, id) => {
      const user = await signUp(t.url, 'msg');

      const send = await sendMessage(user, id, { content: 'hello' });
      const read = await readPage(user, id);

      expectProblem(send, 404, 'NOT_FOUND');
      expectProblem(read, 404, 'NOT_FOUND');
    });

    it('should answer 404 for a room that does not exist, for send and read', async () => {
      const user = await signUp(t.url, 'msg');
      const id = randomUUID();

      const send = await sendMessage(user, id, { content: 'hello', clientId: 'ghost' });
      const read = await readPage(user, id);

      expectProblem(send, 404, 'NOT_FOUND');
      expectProblem(read, 404, 'NOT_FOUND');
    });

    it('should answer 404 for a room that was deleted, for send and read', async () => {
      const { owner, room } = await roomWithOneMessage();
      expect((await owner.http.delete(`/api/rooms/${room.id}`)).status).toBe(204);

      const send = await sendMessage(owner, room.id, { content: 'hello?' });
      const read = await readPage(owner, room.id);

      expectProblem(send, 404, 'NOT_FOUND');
      expectProblem(read, 404, 'NOT_FOUND');
    });
  });

  describe('GET /api/rooms/:id/messages', () => {
    it('should answer an empty room with no messages and hasMore false', async () => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);

      for (const query of ['', 'limit=1', 'afterSeq=0', 'beforeSeq=1', 'afterSeq=5&limit=100']) {
        const res = await readPage(owner, room.id, query);
        expect({ query, status: res.status, body: res.body }).toEqual({
          query,
          status: 200,
          body: { messages: [], hasMore: false },
        });
      }
    });

    it('should return the newest page by default and page back with beforeSeq', async () => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);
      const sent = await sendMany(owner, room.id, 120);
      expect([...sent.keys()].sort((a, b) => a - b)).toEqual(range(1, 120));
      const expectPage = (res: HttpResult, from: number, to: number, hasMore: boolean) => {
        expect(res.status).toBe(200);
        expect(seqs(res.body.messages)).toEqual(range(from, to));
        expect(res.body.hasMore).toBe(hasMore);
        expect(res.body.messages).toEqual(range(from, to).map((seq) => sent.get(seq)));
      };

      expectPage(await readPage(owner, room.id), 71, 120, true);
      expectPage(await readPage(owner, room.id, 'beforeSeq=71&limit=50'), 21, 70, true);
      expectPage(await readPage(owner, room.id, 'beforeSeq=21'), 1, 20, false);
      expectPage(await readPage(owner, room.id, 'beforeSeq=21&limit=20'), 1, 20, false);
      expectPage(await readPage(owner, room.id, 'beforeSeq=22&limit=20'), 2, 21, true);
      expectPage(await readPage(owner, room.id, 'limit=1'), 120, 120, true);
      expectPage(await readPage(owner, room.id, 'limit=100'), 21, 120, true);
      expectPage(await readPage(owner, room.id, 'beforeSeq=121&limit=100'), 21, 120, true);
      expectPage(await readPage(owner, room.id, 'beforeSeq=1000'), 71, 120, true);
      expectPage(await readPage(owner, room.id, 'beforeSeq=2'), 1, 1, false);
      const below1 = await readPage(owner, room.id, 'beforeSeq=1');
      expect(below1.status).toBe(200);
      expect(below1.body).toEqual({ messages: [], hasMore: false });
    });

    it('should page forward with afterSeq, oldest page first', async () => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);
      const sent = await sendMany(owner, room.id, 120);
      const expectPage = (res: HttpResult, from: number, to: number, hasMore: boolean) => {
        expect(res.status).toBe(200);
        expect(seqs(res.body.messages)).toEqual(range(from, to));
        expect(res.body.hasMore).toBe(hasMore);
        expect(res.body.messages).toEqual(range(from, to).map((seq) => sent.get(seq)));
      };

      expectPage(await readPage(owner, room.id, 'afterSeq=0&limit=50'), 1, 50, true);
      expectPage(await readPage(owner, room.id, 'afterSeq=0'), 1, 50, true);
      expectPage(await readPage(owner, room.id, 'afterSeq=50&limit=50'), 51, 100, true);
      expectPage(await readPage(owner, room.id, 'afterSeq=100'), 101, 120, false);
      expectPage(await readPage(owner, room.id, 'afterSeq=100&limit=20'), 101, 120, false);
      expectPage(await readPage(owner, room.id, 'afterSeq=99&limit=20'), 100, 119, true);
      expectPage(await readPage(owner, room.id, 'afterSeq=119'), 120, 120, false);
      expectPage(await readPage(owner, room.id, 'afterSeq=20&limit=100'), 21, 120, false);
      for (const afterSeq of [120, 121, 5000]) {
        const res = await readPage(owner, room.id, `afterSeq=${afterSeq}`);
        expect({ afterSeq, status: res.status, body: res.body }).toEqual({
          afterSeq,
          status: 200,
          body: { messages: [], hasMore: false },
        });
      }
    });

    it('should show every member the same messages', async () => {
      const owner = await signUp(t.url, 'msg');
      const member = await signUp(t.url, 'msg');
      const room = await createRoom(owner);
      await addMembers(owner, room.id, [member]);
      await sendMessage(owner, room.id, { content: 'from owner' });
      await sendMessage(member, room.id, { content: 'from member', clientId: 'm-1' });

      const asOwner = await readPage(owner, room.id);
      const asMember = await readPage(member, room.id);

      expect(asOwner.status).toBe(200);
      expect(asMember.body).toEqual(asOwner.body);
      expect(asOwner.body.messages.map((m: any) => [m.seq, m.senderId, m.content, m.clientId])).toEqual([
        [1, owner.id, 'from owner', null],
        [2, member.id, 'from member', 'm-1'],
      ]);
    });

    it.each([
      ['limit', 'limit=0'],
      ['limit', 'limit=101'],
      ['limit', 'limit=1.5'],
      ['limit', 'limit=abc'],
      ['limit', 'limit=-1'],
      ['limit', 'limit=1e9'],
      ['limit', 'limit=10abc'],
      ['afterSeq', 'afterSeq=-1'],
      ['afterSeq', 'afterSeq=1.5'],
      ['afterSeq', 'afterSeq=abc'],
      ['afterSeq', "afterSeq=1'%20or%20'1'%3D'1"],
      ['beforeSeq', 'beforeSeq=-1'],
      ['beforeSeq', 'beforeSeq=1.5'],
      ['beforeSeq', 'beforeSeq=abc'],
      ['beforeSeq', 'beforeSeq=%25'],
    ])('should reject an invalid %s (%s) with 400 on that field', async (field, query) => {
      const { owner, room, first } = await roomWithOneMessage();

      const res = await readPage(owner, room.id, query);

      expectValidation(res, field);
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 1, messages: [first] });
    });

    it('should refuse a caller without a token with 401', async () => {
      const { room } = await roomWithOneMessage();

      const res = await new HttpClient(t.url).get(`/api/rooms/${room.id}/messages`);

      expectProblem(res, 401, 'UNAUTHENTICATED');
    });
  });

  describe('Concurrent sends', () => {
    it('should give 100 concurrent sends from 5 members the seqs 1..100 exactly once each', async () => {
      const owner = await signUp(t.url, 'msg');
      const others = await Promise.all([1, 2, 3, 4].map(() => signUp(t.url, 'msg')));
      const room = await createRoom(owner);
      await addMembers(owner, room.id, others);
      const senders = [owner, ...others];

      const results = await Promise.all(
        senders.flatMap((sender, s) =>
          range(1, 20).map((i) => sendMessage(sender, room.id, { content: `s${s}-${i}`, clientId: `s${s}-${i}` })),
        ),
      );

      expect(results.map((r) => r.status)).toEqual(results.map(() => 201));
      expect(results.every((r) => r.body.duplicate === false)).toBe(true);
      expect(seqs(results.map((r) => r.body.message)).sort((a, b) => a - b)).toEqual(range(1, 100));
      const first = await readPage(owner, room.id, 'afterSeq=0&limit=50');
      const second = await readPage(owner, room.id, 'afterSeq=50&limit=50');
      expect([first.status, first.body.hasMore, second.status, second.body.hasMore]).toEqual([200, true, 200, false]);
      const stored = [...first.body.messages, ...second.body.messages];
      expect(seqs(stored)).toEqual(range(1, 100));
      expect(new Set(stored.map((m) => m.id)).size).toBe(100);
      expect(stored.map((m) => m.content).sort()).toEqual(
        senders.flatMap((_, s) => range(1, 20).map((i) => `s${s}-${i}`)).sort(),
      );
      for (const [s, sender] of senders.entries()) {
        const theirs = stored.filter((m) => m.senderId === sender.id);
        expect(theirs.map((m) => m.content).sort()).toEqual(
          range(1, 20)
            .map((i) => `s${s}-${i}`)
            .sort(),
        );
      }
      const bySeq = new Map(results.map((r) => [r.body.message.seq, r.body.message]));
      expect(stored).toEqual(stored.map((m) => bySeq.get(m.seq)));
      expect((await owner.http.get(`/api/rooms/${room.id}`)).body.lastSeq).toBe(100);
    });

    it('should store one message for 10 concurrent sends with the same clientId', async () => {
      const owner = await signUp(t.url, 'msg');
      const room = await createRoom(owner);

      const results = await Promise.all(
        range(1, 10).map((i) => sendMessage(owner, room.id, { content: `attempt ${i}`, clientId: 'one-shot' })),
      );

      const created = results.filter((r) => r.status === 201);
      const duplicates = results.filter((r) => r.status === 200);
      expect([created.length, duplicates.length]).toEqual([1, 9]);
      expect(created[0].body.duplicate).toBe(false);
      expect(duplicates.every((r) => r.body.duplicate === true)).toBe(true);
      const message = created[0].body.message;
      expect(results.map((r) => r.body.message)).toEqual(results.map(() => message));
      expectUserMessage(message, {
        roomId: room.id,
        senderId: owner.id,
        content: message.content,
        clientId: 'one-shot',
        seq: 1,
      });
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 1, messages: [message] });

      const next = await sendMessage(owner, room.id, { content: 'after the race' });
      expect(next.status).toBe(201);
      expect(next.body.message.seq).toBe(2);
    });
  });

  describe('Send rate limit and MESSAGE_MAX_LENGTH (RATE_SEND_PER_10S=3, MESSAGE_MAX_LENGTH=10)', () => {
    let limited: TestApp;

    beforeAll(async () => {
      limited = await startTestApp({ RATE_SEND_PER_10S: '3', MESSAGE_MAX_LENGTH: '10' });
    });

    afterAll(async () => {
      await limited?.close();
    });

    it('should refuse the 4th send within 10 s with 429 and store nothing of it', async () => {
      const owner = await signUp(limited.url, 'rate');
      const room = await createRoom(owner);
      const accepted = [];
      for (const i of [1, 2, 3]) {
        const res = await sendMessage(owner, room.id, { content: `ok ${i}` });
        expect(res.status).toBe(201);
        accepted.push(res.body.message);
      }

      const fourth = await sendMessage(owner, room.id, { content: 'too many', clientId: 'fourth' });

      const body = expectProblem(fourth, 429, 'RATE_LIMITED');
      expect(body.retryAfterMs).toEqual(expect.any(Number));
      expect(body.retryAfterMs).toBeGreaterThan(0);
      expect(body.retryAfterMs).toBeLessThanOrEqual(10_000);
      expect(fourth.headers.get('retry-after')).toBe(String(Math.ceil(body.retryAfterMs / 1000)));
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 3, messages: accepted });
    });

    it('should let another user in the same room send while one is limited', async () => {
      const owner = await signUp(limited.url, 'rate');
      const member = await signUp(limited.url, 'rate');
      const room = await createRoom(owner);
      await addMembers(owner, room.id, [member]);
      for (const i of [1, 2, 3]) {
        expect((await sendMessage(owner, room.id, { content: `owner ${i}` })).status).toBe(201);
      }
      expectProblem(await sendMessage(owner, room.id, { content: 'owner 4' }), 429, 'RATE_LIMITED');

      const res = await sendMessage(member, room.id, { content: 'member 1' });

      expect(res.status).toBe(201);
      expectUserMessage(res.body.message, {
        roomId: room.id,
        senderId: member.id,
        content: 'member 1',
        clientId: null,
        seq: 4,
      });
      const stored = await readAll(owner, room.id);
      expect(stored.map((m) => m.content)).toEqual(['owner 1', 'owner 2', 'owner 3', 'member 1']);
    });

    it('should limit concurrent sends too: 6 at once give exactly 3 stored', async () => {
      const owner = await signUp(limited.url, 'rate');
      const room = await createRoom(owner);

      const results = await Promise.all(range(1, 6).map((i) => sendMessage(owner, room.id, { content: `burst ${i}` })));

      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([201, 201, 201, 429, 429, 429]);
      for (const res of results.filter((r) => r.status === 429)) {
        expectProblem(res, 429, 'RATE_LIMITED');
      }
      const stored = await snapshot(owner, room.id);
      expect(stored.lastSeq).toBe(3);
      expect(seqs(stored.messages)).toEqual([1, 2, 3]);
      expect(stored.messages.map((m) => m.content).sort()).toEqual(
        results
          .filter((r) => r.status === 201)
          .map((r) => r.body.message.content)
          .sort(),
      );
    });

    it('should accept content of exactly MESSAGE_MAX_LENGTH (10) characters', async () => {
      const owner = await signUp(limited.url, 'len');
      const room = await createRoom(owner);

      const ten = await sendMessage(owner, room.id, { content: '0123456789' });
      const padded = await sendMessage(owner, room.id, { content: '  abcdefghij  ' });
      const emoji = await sendMessage(owner, room.id, { content: '😀'.repeat(5) });

      expect([ten.status, padded.status, emoji.status]).toEqual([201, 201, 201]);
      expect((await readAll(owner, room.id)).map((m) => m.content)).toEqual(['0123456789', 'abcdefghij', '😀😀😀😀😀']);
    });

    it.each([
      ['11 characters', '0123456789a'],
      ['11 UTF-16 code units', `${'a'.repeat(9)}😀`],
      ['6 emoji (12 code units)', '😀'.repeat(6)],
      ['what the default limit allows', 'x'.repeat(4000)],
    ])('should reject %s over MESSAGE_MAX_LENGTH=10 with 400 on content', async (_name, content) => {
      const owner = await signUp(limited.url, 'len');
      const room = await createRoom(owner);
      const first = (await sendMessage(owner, room.id, { content: 'short' })).body.message;

      const res = await sendMessage(owner, room.id, { content });

      expectValidation(res, 'content');
      expect(await snapshot(owner, room.id)).toEqual({ lastSeq: 1, messages: [first] });
    });
  });
});
