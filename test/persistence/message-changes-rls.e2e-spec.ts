/**
 * Reactions and deletes beneath the API (issue 17, PROTOCOL.md §3): `message_reactions` under row-level security —
 * members see a room's reactions, each adds and removes only their own, strangers see and write nothing, no one
 * updates a row — and a deleted message's text gone from the database itself, not only from the API's answers.
 * Raw SQL as the users (role `authenticated` with their claims, as PostgREST runs a Supabase client's calls) on a
 * fresh migrated database of the test PostgreSQL server.
 */
import { userActor } from '../../src/modules/persistence/database.port';
import { openPostgresDriver } from '../support/persistence-drivers';
import { rawFixtures } from '../support/raw-fixtures';
import { openOncePerFile, sqlOutcome as outcome } from './persistence-contract';

describe('message_reactions and deletes beneath the API (row-level security, raw SQL)', () => {
  const driver = openOncePerFile(openPostgresDriver);
  const f = rawFixtures(() => driver.current.db);

  /** An owner's room with a member, one message of the owner's, and the member's 👍 on it. */
  async function reacted() {
    const [owner, member, stranger] = [await f.user(), await f.user(), await f.user()];
    const roomId = await f.room(owner.id);
    await f.add(owner.id, roomId, member.username);
    await f.post(owner.id, roomId, 1);
    const { rows } = await driver.current.raw.admin('select id from public.messages where chatroom_id = $1', [roomId]);
    const messageId = rows[0].id as string;
    await driver.current.db.call(userActor(member.id), 'add_reaction', {
      p_room_id: roomId,
      p_message_id: messageId,
      p_emoji: '👍',
    });
    return { owner, member, stranger, roomId, messageId };
  }

  it("should show a room's reactions to its members only, and let nobody take or change another's", async () => {
    const { owner, member, stranger, messageId } = await reacted();

    const seen = async (userId: string) =>
      driver.current.raw.asUser(userId, async (q) => ({
        visible: (await q('select profile_id, emoji from public.message_reactions where message_id = $1', [messageId]))
          .rows,
        deleted: await outcome(q, 'delete from public.message_reactions where message_id = $1', [messageId]),
        updated: await outcome(q, "update public.message_reactions set emoji = '🎉' where message_id = $1", [
          messageId,
        ]),
      }));

    expect(await seen(stranger.id)).toEqual({ visible: [], deleted: 0, updated: '42501' });
    expect(await seen(owner.id)).toEqual({
      visible: [{ profile_id: member.id, emoji: '👍' }],
      deleted: 0,
      updated: '42501',
    });
  });

  it("should refuse a stranger's reaction and make a member's direct one their own, counted on the message", async () => {
    const { owner, member, stranger, messageId } = await reacted();

    const strangers = await driver.current.raw.asUser(stranger.id, (q) =>
      outcome(q, "insert into public.message_reactions (message_id, emoji) values ($1, '🎉')", [messageId]),
    );
    // A member names someone else: the row is still theirs (the trigger sets the writer), or refused outright.
    const posing = await driver.current.raw.asUser(owner.id, (q) =>
      outcome(q, "insert into public.message_reactions (message_id, emoji, profile_id) values ($1, '🎉', $2)", [
        messageId,
        member.id,
      ]),
    );
    // Written directly (as a Supabase client may), inside the writer's transaction: theirs, and counted on the message.
    const direct = await driver.current.raw.asUser(owner.id, async (q) => ({
      inserted: await outcome(q, "insert into public.message_reactions (message_id, emoji) values ($1, '🎉')", [
        messageId,
      ]),
      counts: (await q('select reactions from public.messages where id = $1', [messageId])).rows[0].reactions,
      rows: (
        await q('select profile_id, emoji from public.message_reactions where message_id = $1 order by emoji', [
          messageId,
        ])
      ).rows,
    }));

    expect(strangers).toBe('CH404');
    expect(posing).toBe('42501');
    expect(direct).toEqual({
      inserted: 1,
      counts: { '👍': 1, '🎉': 1 },
      rows: expect.arrayContaining([
        { profile_id: member.id, emoji: '👍' },
        { profile_id: owner.id, emoji: '🎉' },
      ]),
    });
  });

  it("should leave no trace of a deleted message's text or reactions in its row or the reactions table", async () => {
    const { owner, roomId } = await reacted();
    await driver.current.db.call(userActor(owner.id), 'post_message', {
      p_room_id: roomId,
      p_content: 'a secret said by mistake',
      p_client_id: null,
    });
    const { rows: posted } = await driver.current.raw.admin(
      "select id from public.messages where chatroom_id = $1 and content like '%secret%'",
      [roomId],
    );
    const secretId = posted[0].id as string;
    await driver.current.db.call(userActor(owner.id), 'add_reaction', {
      p_room_id: roomId,
      p_message_id: secretId,
      p_emoji: '😂',
    });

    await driver.current.db.call(userActor(owner.id), 'delete_message', { p_room_id: roomId, p_message_id: secretId });

    const { rows } = await driver.current.raw.admin(
      `select m.content, m.reactions, m.deleted_at is not null as deleted, m.deleted_by,
              (select count(*)::int from public.message_reactions r where r.message_id = m.id) as reaction_rows,
              (select count(*)::int from public.messages x where x.content like '%secret%') as anywhere
       from public.messages m where m.id = $1`,
      [secretId],
    );
    expect(rows).toEqual([
      { content: '', reactions: {}, deleted: true, deleted_by: owner.id, reaction_rows: 0, anywhere: 0 },
    ]);
  });
  it('should show a report to its reporter only, and let nobody write one but through report_message', async () => {
    const { owner, member, stranger, roomId, messageId } = await reacted();
    const [made] = await driver.current.db.call<{ created: boolean; report: { id: string } }>(
      userActor(member.id),
      'report_message',
      { p_message_id: messageId, p_reason: 'rude' },
    );
    expect(made.created).toBe(true);

    const seen = async (userId: string) =>
      driver.current.raw.asUser(userId, async (q) => ({
        visible: (await q('select reporter_id, reason from public.message_reports where chatroom_id = $1', [roomId]))
          .rows,
        inserted: await outcome(
          q,
          'insert into public.message_reports (message_id, chatroom_id, reporter_id, reason) values ($1, $2, $3, $4)',
          [messageId, roomId, userId, 'direct'],
        ),
        updated: await outcome(q, "update public.message_reports set status = 'resolved' where chatroom_id = $1", [
          roomId,
        ]),
        deleted: await outcome(q, 'delete from public.message_reports where chatroom_id = $1', [roomId]),
      }));

    // The owner (the reported author here) and a stranger see no row; the reporter sees theirs; nobody writes.
    const none = { visible: [], inserted: '42501', updated: '42501', deleted: '42501' };
    expect(await seen(owner.id)).toEqual(none);
    expect(await seen(stranger.id)).toEqual(none);
    expect(await seen(member.id)).toEqual({ ...none, visible: [{ reporter_id: member.id, reason: 'rude' }] });
  });
});
