/**
 * Blocks and withheld messages beneath the API (issue 18, PROTOCOL.md §3 "Blocks" and "Moderation"): `blocks` under
 * row-level security — each sees and writes only the rows they are the blocker of —, a withheld message's text kept
 * out of `messages` and readable in `withheld_contents` by its author and the room's owner only, written by nobody
 * as a user, the blocked person refused when they add the blocker to a room even by a direct insert, and
 * `list_messages` reading the blocked person's messages as placeholders. Raw SQL as the users (role `authenticated`
 * with their claims, as PostgREST runs a Supabase client's calls) on a fresh migrated database of the test
 * PostgreSQL server.
 */
import { SERVICE_ACTOR, userActor } from '../../src/modules/persistence/database.port';
import { openPostgresDriver } from '../support/persistence-drivers';
import { rawFixtures } from '../support/raw-fixtures';
import { openOncePerFile, sqlOutcome as outcome } from './persistence-contract';

describe('blocks and withheld messages beneath the API (row-level security, raw SQL)', () => {
  const driver = openOncePerFile(openPostgresDriver);
  const f = rawFixtures(() => driver.current.db);

  const block = (blockerId: string, blockedId: string) =>
    driver.current.db.call(userActor(blockerId), 'block_profile', { p_profile_id: blockedId, p_blocked: true });

  /** Posts as `senderId` and answers the stored message's id. */
  async function post(senderId: string, roomId: string, content: string): Promise<string> {
    const [row] = await driver.current.db.call<{ id: string }>(userActor(senderId), 'post_message', {
      p_room_id: roomId,
      p_content: content,
      p_client_id: null,
    });
    return row.id;
  }

  /** An owner's room with an author and a member, and a message of the author's that moderation flagged. */
  async function flagged() {
    const [owner, author, member] = [await f.user(), await f.user(), await f.user()];
    const roomId = await f.room(owner.id);
    await f.add(owner.id, roomId, author.username);
    await f.add(owner.id, roomId, member.username);
    const content = 'FLAGME a secret insult';
    const messageId = await post(author.id, roomId, content);
    const [verdict] = await driver.current.db.call<{ changed: boolean }>(SERVICE_ACTOR, 'moderation_verdict', {
      p_message_id: messageId,
      p_checked: content,
      p_verdict: 'flagged',
      p_categories: ['harassment'],
    });
    expect(verdict.changed).toBe(true);
    return { owner, author, member, roomId, messageId, content };
  }

  it("should show each their own blocks only, and let nobody write or remove a block in another's name", async () => {
    const [blocker, blocked, stranger] = [await f.user(), await f.user(), await f.user()];
    await block(blocker.id, blocked.id);

    const seen = async (userId: string) =>
      driver.current.raw.asUser(userId, async (q) => ({
        visible: (await q('select blocker_id, blocked_id from public.blocks')).rows,
        deleted: await outcome(q, 'delete from public.blocks where blocker_id = $1', [blocker.id]),
        updated: await outcome(q, 'update public.blocks set blocked_id = $2 where blocker_id = $1', [
          blocker.id,
          stranger.id,
        ]),
      }));

    // The blocked person cannot tell, a stranger neither; nobody removes the blocker's row.
    expect(await seen(blocked.id)).toEqual({ visible: [], deleted: 0, updated: '42501' });
    expect(await seen(stranger.id)).toEqual({ visible: [], deleted: 0, updated: '42501' });
    expect(await seen(blocker.id)).toEqual({
      visible: [{ blocker_id: blocker.id, blocked_id: blocked.id }],
      deleted: 1,
      updated: '42501',
    });

    const insert = 'insert into public.blocks (blocker_id, blocked_id) values ($1, $2)';
    const written = await driver.current.raw.asUser(stranger.id, async (q) => ({
      // In the blocker's name (to make them block someone), or the blocked person's: refused.
      spoofed: await outcome(q, insert, [blocker.id, stranger.id]),
      reversed: await outcome(q, insert, [blocked.id, blocker.id]),
      own: await outcome(q, insert, [stranger.id, blocker.id]),
      self: await outcome(q, insert, [stranger.id, stranger.id]),
    }));
    expect(written).toEqual({ spoofed: '42501', reversed: '42501', own: 1, self: '23514' });

    const { rows } = await driver.current.raw.admin(
      'select blocker_id, blocked_id from public.blocks where $1 in (blocker_id, blocked_id) order by blocker_id',
      [blocker.id],
    );
    expect(rows).toEqual([{ blocker_id: blocker.id, blocked_id: blocked.id }]);
  });

  it("should keep a flagged message's text out of messages, readable by its author and the room's owner only", async () => {
    const { owner, author, member, roomId, messageId, content } = await flagged();

    const seen = async (userId: string) =>
      driver.current.raw.asUser(userId, async (q) => ({
        row: (await q('select content, withheld from public.messages where id = $1', [messageId])).rows,
        anywhere: (
          await q('select count(*)::int as n from public.messages where chatroom_id = $1 and content like $2', [
            roomId,
            '%FLAGME%',
          ])
        ).rows[0].n,
        kept: (await q('select content, categories from public.withheld_contents where message_id = $1', [messageId]))
          .rows,
      }));

    const row = [{ content: '', withheld: 'flagged' }];
    expect(await seen(member.id)).toEqual({ row, anywhere: 0, kept: [] });
    const kept = [{ content, categories: ['harassment'] }];
    expect(await seen(author.id)).toEqual({ row, anywhere: 0, kept });
    expect(await seen(owner.id)).toEqual({ row, anywhere: 0, kept });
  });

  it('should let nobody write withheld_contents as a user, not even the author or the owner', async () => {
    const { owner, author, member, roomId, messageId } = await flagged();
    const otherId = await post(member.id, roomId, 'an ordinary word');

    const writes = async (userId: string) =>
      driver.current.raw.asUser(userId, async (q) => ({
        inserted: await outcome(
          q,
          'insert into public.withheld_contents (message_id, chatroom_id, sender_id, content) values ($1, $2, $3, $4)',
          [otherId, roomId, member.id, 'hidden by hand'],
        ),
        updated: await outcome(q, "update public.withheld_contents set content = 'rewritten' where message_id = $1", [
          messageId,
        ]),
        deleted: await outcome(q, 'delete from public.withheld_contents where message_id = $1', [messageId]),
        // Nor through the function a withheld send keeps its text with: not over a kept text, not for a message
        // that is not withheld.
        keptOver: await outcome(q, "select chat_private.keep_withheld($1, 'forged', '[]')", [messageId]),
        keptNew: await outcome(q, "select chat_private.keep_withheld($1, 'planted', '[]')", [otherId]),
      }));

    const refused = { inserted: '42501', updated: '42501', deleted: '42501', keptOver: 'CH403', keptNew: 'CH403' };
    for (const user of [owner, author, member]) {
      expect(await writes(user.id)).toEqual(refused);
    }
    const { rows } = await driver.current.raw.admin(
      'select message_id, content from public.withheld_contents where chatroom_id = $1',
      [roomId],
    );
    expect(rows).toEqual([{ message_id: messageId, content: 'FLAGME a secret insult' }]);
  });

  it('should refuse the blocked person adding the blocker to their room by a direct insert, and let them add others', async () => {
    const [blocker, blocked, other] = [await f.user(), await f.user(), await f.user()];
    await block(blocker.id, blocked.id);
    const roomId = await f.room(blocked.id);

    const insert = "insert into public.chatroom_members (chatroom_id, profile_id, role) values ($1, $2, 'member')";
    const added = await driver.current.raw.asUser(blocked.id, async (q) => ({
      blocker: await outcome(q, insert, [roomId, blocker.id]),
      other: await outcome(q, insert, [roomId, other.id]),
      members: (
        await q('select profile_id, role from public.chatroom_members where chatroom_id = $1 order by role', [roomId])
      ).rows,
    }));

    expect(added).toEqual({
      blocker: 'CH403',
      other: 1,
      members: expect.arrayContaining([
        { profile_id: blocked.id, role: 'owner' },
        { profile_id: other.id, role: 'member' },
      ]),
    });
    expect(added.members).toHaveLength(2);
    // The other way round stays open: the blocker may still add the person they blocked.
    const blockersRoom = await f.room(blocker.id);
    expect(await driver.current.raw.asUser(blocker.id, (q) => outcome(q, insert, [blockersRoom, blocked.id]))).toBe(1);
  });

  it("should read the blocked person's messages to the blocker as placeholders in list_messages, with every seq", async () => {
    const [owner, blocked, bystander] = [await f.user(), await f.user(), await f.user()];
    const roomId = await f.room(owner.id);
    await f.add(owner.id, roomId, blocked.username);
    await f.add(owner.id, roomId, bystander.username);
    await post(blocked.id, roomId, 'first from the blocked');
    await post(owner.id, roomId, 'the owner answers');
    await post(blocked.id, roomId, 'second from the blocked');
    await block(owner.id, blocked.id);

    const pages = async (userId: string) =>
      driver.current.raw.asUser(userId, async (q) => {
        const list = async (afterSeq: number | null) =>
          (
            await q(
              'select seq::int, sender_id, content, withheld from public.list_messages($1, $2, null, 50) order by seq',
              [roomId, afterSeq],
            )
          ).rows;
        // Both ways of paging: the latest page, and forwards from a seq.
        return { latest: await list(null), forwards: await list(0) };
      });

    const asBlocker = await pages(owner.id);
    const placeholders = [
      { seq: 1, sender_id: blocked.id, content: '', withheld: 'blocked' },
      { seq: 2, sender_id: owner.id, content: 'the owner answers', withheld: null },
      { seq: 3, sender_id: blocked.id, content: '', withheld: 'blocked' },
    ];
    expect(asBlocker).toEqual({ latest: placeholders, forwards: placeholders });

    const asBystander = await pages(bystander.id);
    const real = [
      { seq: 1, sender_id: blocked.id, content: 'first from the blocked', withheld: null },
      { seq: 2, sender_id: owner.id, content: 'the owner answers', withheld: null },
      { seq: 3, sender_id: blocked.id, content: 'second from the blocked', withheld: null },
    ];
    expect(asBystander).toEqual({ latest: real, forwards: real });
    // The blocked person reads their own messages as they are.
    expect((await pages(blocked.id)).latest).toEqual(real);
  });
});
