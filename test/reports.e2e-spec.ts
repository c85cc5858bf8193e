/**
 * Reports (issue 18 item 1, PROTOCOL.md §3 "Reports"): a member reports a message once; the room's owner lists and
 * resolves its room's reports; nobody learns who reported but the reporter.
 */
import { addMembers, postMessage } from './support/chat-api';
import { expectProblem, signUp, type TestUser } from './support/http-client';
import { createRoom, NON_UUID_IDS, UNKNOWN_ID } from './support/rooms-helpers';
import { useTestApp } from './support/test-app';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('reports', () => {
  const t = useTestApp();

  const report = (user: TestUser, messageId: string, body: unknown) =>
    user.http.post(`/api/messages/${messageId}/report`, body);
  const list = (user: TestUser, roomId: string, query = '') => user.http.get(`/api/rooms/${roomId}/reports${query}`);
  const setStatus = (user: TestUser, roomId: string, reportId: string, body: unknown) =>
    user.http.patch(`/api/rooms/${roomId}/reports/${reportId}`, body);

  /** An owner's room with an author and two more members, and a message of the author's. */
  async function reportedRoom() {
    const [owner, author, first, second, stranger] = await Promise.all(
      ['rp_own', 'rp_aut', 'rp_one', 'rp_two', 'rp_str'].map((prefix) => signUp(t.url, prefix)),
    );
    const room = await createRoom(owner, { name: 'reported', visibility: 'private' });
    await addMembers(owner, room.id, author, first, second);
    const message = await postMessage(author, room.id, 'something rude');
    return { owner, author, first, second, stranger, room, message };
  }

  it('should take one report per person and message, and show the owner each with the message, never who', async () => {
    const { owner, author, first, second, room, message } = await reportedRoom();

    const made = await report(first, message.id, { reason: '  Insults  ' });
    expect(made.status).toBe(201);
    expect(made.body).toEqual({
      report: {
        id: expect.any(String),
        roomId: room.id,
        messageId: message.id,
        reason: 'Insults',
        status: 'open',
        createdAt: expect.stringMatching(ISO_UTC),
        updatedAt: expect.stringMatching(ISO_UTC),
      },
    });
    // Again, with another reason: the first report, unchanged.
    const again = await report(first, message.id, { reason: 'Spam' });
    expect([again.status, again.body]).toEqual([200, made.body]);
    expect((await report(second, message.id, { reason: 'Harassment' })).status).toBe(201);

    const seen = await list(owner, room.id);
    expect(seen.status).toBe(200);
    expect(seen.body.hasMore).toBe(false);
    expect(seen.body.reports.map((r: any) => [r.reason, r.reports, r.message.id, r.message.content])).toEqual([
      ['Harassment', 2, message.id, 'something rude'],
      ['Insults', 2, message.id, 'something rude'],
    ]);
    expect(Object.keys(seen.body.reports[0]).sort()).toEqual(
      ['createdAt', 'id', 'message', 'messageId', 'reason', 'reports', 'roomId', 'status', 'updatedAt'].sort(),
    );
    const text = JSON.stringify(seen.body);
    expect(text).not.toContain(first.id);
    expect(text).not.toContain(second.id);
    expect(text).not.toContain(first.username);

    // The reported author (a member, not the owner) gets nothing of it.
    expectProblem(await list(author, room.id), 403, 'FORBIDDEN');
    expectProblem(await list(first, room.id), 403, 'FORBIDDEN');
  });

  it('should let the owner resolve, dismiss and reopen, filter by status and page by before', async () => {
    const { owner, author, first, room } = await reportedRoom();
    const messages = [
      await postMessage(author, room.id, 'm1'),
      await postMessage(author, room.id, 'm2'),
      await postMessage(author, room.id, 'm3'),
    ];
    const ids: string[] = [];
    for (const m of messages) {
      ids.push((await report(first, m.id, { reason: `about ${m.content}` })).body.report.id);
    }

    const resolved = await setStatus(owner, room.id, ids[0], { status: 'resolved' });
    expect(resolved.status).toBe(200);
    expect(resolved.body.report).toMatchObject({ id: ids[0], status: 'resolved' });
    expect((await setStatus(owner, room.id, ids[1], { status: 'dismissed' })).body.report.status).toBe('dismissed');

    const reasons = async (query: string) => (await list(owner, room.id, query)).body.reports.map((r: any) => r.reason);
    expect(await reasons('')).toEqual(['about m3']);
    expect(await reasons('?status=resolved')).toEqual(['about m1']);
    expect(await reasons('?status=all')).toEqual(['about m3', 'about m2', 'about m1']);
    const page = await list(owner, room.id, '?status=all&limit=2');
    expect([page.body.hasMore, page.body.reports.length]).toEqual([true, 2]);
    const rest = await list(owner, room.id, `?status=all&limit=2&before=${page.body.reports[1].id}`);
    expect([rest.body.hasMore, rest.body.reports.map((r: any) => r.reason)]).toEqual([false, ['about m1']]);

    expect((await setStatus(owner, room.id, ids[0], { status: 'open' })).body.report.status).toBe('open');
    expect(await reasons('')).toEqual(['about m3', 'about m1']);
    // The reporter cannot change it, nor can the author; a deleted message shows as its tombstone.
    expectProblem(await setStatus(first, room.id, ids[0], { status: 'dismissed' }), 403, 'FORBIDDEN');
    expectProblem(await setStatus(author, room.id, ids[0], { status: 'dismissed' }), 403, 'FORBIDDEN');
    expect((await author.http.delete(`/api/rooms/${room.id}/messages/${messages[2].id}`)).status).toBe(200);
    const after = (await list(owner, room.id)).body.reports[0];
    expect(after.message).toMatchObject({ id: messages[2].id, content: '', deletedBy: author.id });
  });

  it('should refuse bad input, strangers, one’s own and deleted messages, and change nothing', async () => {
    const { owner, author, first, stranger, room, message } = await reportedRoom();
    const other = await createRoom(owner, { name: 'other', visibility: 'public' });
    const own = await postMessage(first, room.id, 'mine');
    const reportId = (await report(first, message.id, { reason: 'first' })).body.report.id;

    for (const body of [{}, { reason: 42 }, { reason: '   ' }, { reason: 'x'.repeat(1001) }, { reason: null }]) {
      const problem = expectProblem(await report(owner, message.id, body), 400, 'VALIDATION_FAILED');
      expect(problem.details.map((d: any) => d.field)).toEqual(problem.details.map(() => 'reason'));
    }
    expectProblem(await report(stranger, message.id, { reason: 'nosy' }), 404, 'NOT_FOUND');
    expectProblem(await report(first, UNKNOWN_ID, { reason: 'nothing' }), 404, 'NOT_FOUND');
    for (const id of NON_UUID_IDS) {
      expectProblem(await report(first, encodeURIComponent(id), { reason: 'bad id' }), 404, 'NOT_FOUND');
    }
    expectProblem(await report(first, own.id, { reason: 'myself' }), 409, 'CONFLICT');
    expect((await author.http.delete(`/api/rooms/${room.id}/messages/${message.id}`)).status).toBe(200);
    expectProblem(await report(owner, message.id, { reason: 'too late' }), 409, 'CONFLICT');

    expectProblem(await list(stranger, room.id), 404, 'NOT_FOUND');
    expectProblem(await list(owner, room.id, '?status=maybe'), 400, 'VALIDATION_FAILED');
    expectProblem(await list(owner, room.id, '?limit=0'), 400, 'VALIDATION_FAILED');
    expectProblem(await list(owner, room.id, '?before=nope'), 400, 'VALIDATION_FAILED');
    expectProblem(await list(owner, room.id, `?before=${UNKNOWN_ID}`), 400, 'VALIDATION_FAILED');
    expectProblem(await setStatus(owner, room.id, reportId, { status: 'gone' }), 400, 'VALIDATION_FAILED');
    expectProblem(await setStatus(owner, room.id, reportId, {}), 400, 'VALIDATION_FAILED');
    expectProblem(await setStatus(owner, room.id, UNKNOWN_ID, { status: 'resolved' }), 404, 'NOT_FOUND');
    expectProblem(await setStatus(owner, other.id, reportId, { status: 'resolved' }), 404, 'NOT_FOUND');
    expectProblem(await setStatus(stranger, room.id, reportId, { status: 'resolved' }), 404, 'NOT_FOUND');

    const left = (await list(owner, room.id, '?status=all')).body.reports;
    expect(left.map((r: any) => [r.id, r.reason, r.status])).toEqual([[reportId, 'first', 'open']]);
  });

  it('should keep a hostile reason as it was written', async () => {
    const { owner, first, room, message } = await reportedRoom();
    const reason = `'); drop table public.message_reports; -- <script>alert(1)</script> 🧨`;
    expect((await report(first, message.id, { reason })).status).toBe(201);
    expect((await list(owner, room.id)).body.reports[0].reason).toBe(reason);
  });
});
