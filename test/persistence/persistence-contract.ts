/**
 * The persistence contract: what every driver of the `Database` port must do, tested through `db.call(...)` only,
 * so a driver without raw SQL (Supabase through supabase-js) runs the same suite. `rawRlsContract` proves the
 * row-level security beneath the functions and needs the driver's raw SQL access.
 *
 * A spec file opens its driver once (`openOncePerFile`) and registers the contracts against it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { SERVICE_ACTOR, userActor, type Database } from '../../src/modules/persistence/database.port';

/** One opened driver under test. */
export interface PersistenceDriver {
  db: Database;
  close(): Promise<void>;
}

export interface RawResult {
  rows: any[];
  rowCount: number;
}

export type RawQuery = (sql: string, values?: unknown[]) => Promise<RawResult>;

/** The SQLSTATE a statement fails with, or its row count (the RLS specs' one look at a raw statement). */
export function sqlOutcome(q: RawQuery, sql: string, values: unknown[]): Promise<number | string | undefined> {
  return q(sql, values).then(
    (r) => r.rowCount,
    (error: { code?: string }) => error.code,
  );
}

/** The driver's own SQL access, for the tests beneath the functions. */
export interface RawSql {
  /** As the database owner: row-level security does not apply. */
  admin: RawQuery;
  /**
   * `work` runs in one transaction as role `authenticated` with `request.jwt.claims` `{ sub: userId }`; the
   * transaction is always rolled back. A refused statement does not end it.
   */
  asUser<T>(userId: string, work: (query: RawQuery) => Promise<T>): Promise<T>;
}

export interface RawSqlDriver extends PersistenceDriver {
  raw: RawSql;
}

export interface DriverHandle<D extends PersistenceDriver> {
  readonly current: D;
}

/** Opens the driver in beforeAll and closes it in afterAll of the calling file (or describe). */
export function openOncePerFile<D extends PersistenceDriver>(open: () => Promise<D>): DriverHandle<D> {
  let driver: D | undefined;
  beforeAll(async () => {
    driver = await open();
  });
  afterAll(async () => {
    await driver?.close();
  });
  return {
    get current(): D {
      if (!driver) {
        throw new Error('the driver did not open (see the beforeAll error)');
      }
      return driver;
    },
  };
}

interface Profile {
  id: string;
  username: string;
  display_name: string;
  avatar_url: string | null;
  created_at: string;
  updated_at: string;
}

interface Room {
  id: string;
  name: string;
  visibility: 'private' | 'public';
  owner_id: string;
  ai_mode: string;
  ai_system_prompt: string | null;
  ai_model: string | null;
  last_seq: number;
  last_activity_at: Date;
  created_at: string;
  updated_at: string;
  my_role: 'owner' | 'member' | null;
}

interface Message {
  id: string;
  chatroom_id: string;
  seq: number;
  role: string;
  sender_id: string | null;
  content: string;
  status: string;
  client_id: string | null;
  created_at: string;
}

interface Posted extends Message {
  duplicate: boolean;
}

interface Member {
  profile_id: string;
  username: string;
  role: 'owner' | 'member';
}

interface Page {
  afterSeq?: number | null;
  beforeSeq?: number | null;
  limit?: number | null;
}

const uniqueName = (prefix: string): string => `${prefix}_${randomBytes(6).toString('hex')}`;

/**
 * The SQLSTATE of a refused call: on the error itself (a pg or PostgREST error), or on its cause when the
 * driver wraps it in the app's own exception.
 */
function sqlStateOf(error: unknown): string | undefined {
  const { code, cause } = (error ?? {}) as { code?: unknown; cause?: { code?: unknown } };
  if (typeof cause?.code === 'string') {
    return cause.code;
  }
  return typeof code === 'string' ? code : undefined;
}

async function failureOf(promise: Promise<unknown>): Promise<{ sqlState?: string; message?: string }> {
  try {
    await promise;
  } catch (error) {
    return { sqlState: sqlStateOf(error), message: (error as Error).message };
  }
  return {};
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  expect(await failureOf(promise)).toEqual({ sqlState: code, message: expect.any(String) });
}

/** Test data made through the port, as the service or as users. */
function fixtures(db: Database) {
  const as = (user: Profile) => userActor(user.id);
  const f = {
    async register(prefix = 'u', displayName?: string): Promise<Profile> {
      const username = uniqueName(prefix);
      const rows = await db.call<Profile>(SERVICE_ACTOR, 'local_register', {
        p_username: username,
        p_display_name: displayName ?? `Name of ${username}`,
        p_password_hash: `hash-of-${username}`,
      });
      expect(rows).toHaveLength(1);
      return rows[0];
    },
    async createRoom(owner: Profile, visibility: 'private' | 'public' = 'private'): Promise<Room> {
      const rows = await db.call<Room>(as(owner), 'create_room', {
        p_name: uniqueName(`${visibility} room`),
        p_visibility: visibility,
        p_ai_mode: 'off',
        p_ai_system_prompt: null,
        p_ai_model: null,
      });
      expect(rows).toHaveLength(1);
      return rows[0];
    },
    /** A send as the server makes it (`callGrouped`: group-committed with concurrent sends), or as a call alone. */
    async post(
      user: Profile,
      roomId: string,
      content: string | null,
      clientId: string | null = null,
      via: 'callGrouped' | 'call' = 'callGrouped',
    ): Promise<Posted> {
      const args = { p_room_id: roomId, p_content: content, p_client_id: clientId };
      const rows =
        via === 'call'
          ? await db.call<Posted>(as(user), 'post_message', args)
          : await db.callGrouped<Posted>(as(user), 'post_message', args);
      expect(rows).toHaveLength(1);
      return rows[0];
    },
    messages(user: Profile, roomId: string, page: Page = {}): Promise<Message[]> {
      return db.call<Message>(as(user), 'list_messages', {
        p_room_id: roomId,
        p_after_seq: page.afterSeq ?? null,
        p_before_seq: page.beforeSeq ?? null,
        p_limit: page.limit === undefined ? 100 : page.limit,
      });
    },
    async room(user: Profile, roomId: string): Promise<Room> {
      const rows = await db.call<Room>(as(user), 'get_room', { p_room_id: roomId });
      expect(rows).toHaveLength(1);
      return rows[0];
    },
    members(user: Profile, roomId: string): Promise<Member[]> {
      return db.call<Member>(as(user), 'list_members', { p_room_id: roomId });
    },
    async addMember(owner: Profile, roomId: string, member: Profile): Promise<void> {
      await db.call(as(owner), 'add_member', { p_room_id: roomId, p_username: member.username });
    },
    async join(user: Profile, roomId: string): Promise<Room> {
      const rows = await db.call<Room>(as(user), 'join_room', { p_room_id: roomId });
      expect(rows).toHaveLength(1);
      return rows[0];
    },
    async profile(reader: Profile, id: string): Promise<Profile> {
      const rows = await db.call<Profile>(as(reader), 'get_profile', { p_profile_id: id });
      expect(rows).toHaveLength(1);
      return rows[0];
    },
    async signIn(username: string) {
      return db.call<Profile & { password_hash: string }>(SERVICE_ACTOR, 'local_sign_in', { p_username: username });
    },
    /** Everything the owner sees of a room: to compare before and after a refused call. */
    async snapshot(owner: Profile, roomId: string) {
      return {
        room: await f.room(owner, roomId),
        messages: await f.messages(owner, roomId),
        members: await f.members(owner, roomId),
      };
    },
    /** An owner with a room holding one message, and a second user who is not in it. */
    async roomWithStranger(visibility: 'private' | 'public') {
      const owner = await f.register('owner');
      const stranger = await f.register('stranger');
      const room = await f.createRoom(owner, visibility);
      await f.post(owner, room.id, 'hello from the owner', 'owner-1');
      return { owner, stranger, room, before: await f.snapshot(owner, room.id) };
    },
  };
  return f;
}

type RoomCall = [
  fn: string,
  args: (ctx: { roomId: string; owner: Profile; other: Profile }) => Record<string, unknown>,
];

const roomId = ({ roomId: id }: { roomId: string }) => ({ p_room_id: id });

/** Every room call, with arguments that would change something if it were allowed. */
const ROOM_CALLS: Record<string, RoomCall> = {
  get_room: ['get_room', roomId],
  list_messages: [
    'list_messages',
    (c) => ({ p_room_id: c.roomId, p_after_seq: null, p_before_seq: null, p_limit: 50 }),
  ],
  post_message: ['post_message', (c) => ({ p_room_id: c.roomId, p_content: 'intruder', p_client_id: 'intruder-1' })],
  list_members: ['list_members', roomId],
  update_room: [
    'update_room',
    (c) => ({ p_room_id: c.roomId, p_patch: { name: 'taken over', visibility: 'public', ai_mode: 'always' } }),
  ],
  delete_room: ['delete_room', roomId],
  add_member: ['add_member', (c) => ({ p_room_id: c.roomId, p_username: c.other.username })],
  join_room: ['join_room', roomId],
  leave_room: ['leave_room', roomId],
  remove_member: ['remove_member', (c) => ({ p_room_id: c.roomId, p_profile_id: c.owner.id })],
};

/** Registers the contract's describe blocks against the driver of the calling spec file. */
export function persistenceContract(name: string, driver: DriverHandle<PersistenceDriver>): void {
  const db = () => driver.current.db;
  const f = () => fixtures(db());

  describe(`persistence contract (${name})`, () => {
    describe('profiles: local_register, local_sign_in', () => {
      it('should register a profile and return it, and sign it in with its password hash as the service', async () => {
        const username = uniqueName('reg');
        const rows = await db().call<Profile>(SERVICE_ACTOR, 'local_register', {
          p_username: username,
          p_display_name: 'Ada Lovelace',
          p_password_hash: 'argon2-hash',
        });
        expect(rows).toEqual([expect.objectContaining({ username, display_name: 'Ada Lovelace', avatar_url: null })]);
        expect(rows[0].id).toMatch(/^[0-9a-f-]{36}$/);
        // Timestamps come back as the contract's ISO text (UTC, milliseconds) from every driver.
        expect(rows[0].created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        expect(rows[0]).not.toHaveProperty('password_hash');

        expect(await f().signIn(username)).toEqual([
          expect.objectContaining({
            id: rows[0].id,
            username,
            display_name: 'Ada Lovelace',
            password_hash: 'argon2-hash',
          }),
        ]);
      });

      it('should sign in nobody for an unknown username', async () => {
        expect(await f().signIn(uniqueName('nobody'))).toEqual([]);
      });

      it('should refuse local_register to a signed-in user (42501) and store nothing', async () => {
        const user = await f().register();
        const username = uniqueName('sneaky');
        await expectCode(
          db().call(userActor(user.id), 'local_register', {
            p_username: username,
            p_display_name: 'Sneaky',
            p_password_hash: 'x',
          }),
          '42501',
        );
        expect(await f().signIn(username)).toEqual([]);
      });

      it('should refuse local_sign_in to a signed-in user (42501), so no password hash leaks', async () => {
        const user = await f().register();
        const victim = await f().register();
        await expectCode(db().call(userActor(user.id), 'local_sign_in', { p_username: victim.username }), '42501');
        await expectCode(db().call(userActor(user.id), 'local_sign_in', { p_username: user.username }), '42501');
      });

      it('should refuse a duplicate username (23505) and keep the first profile as it was', async () => {
        const first = await f().register('dup', 'First');
        await expectCode(
          db().call(SERVICE_ACTOR, 'local_register', {
            p_username: first.username,
            p_display_name: 'Second',
            p_password_hash: 'second-hash',
          }),
          '23505',
        );
        expect(await f().signIn(first.username)).toEqual([
          expect.objectContaining({ id: first.id, display_name: 'First', password_hash: `hash-of-${first.username}` }),
        ]);
      });

      it.each([
        ['too short', 'ab'],
        ['too long', 'a'.repeat(33)],
        ['upper case', 'Upper_Case'],
        ['SQL-ish', "x'); drop table public.profiles; --"],
        ['markup', '<script>alert(1)</script>'],
        ['wildcards', 'a%_b'],
        ['unicode', 'ünïcödé'],
        ['a space', 'with space'],
      ])('should refuse a username that is %s (23514) and store nothing', async (_label, username) => {
        await expectCode(
          db().call(SERVICE_ACTOR, 'local_register', {
            p_username: username,
            p_display_name: 'X',
            p_password_hash: 'h',
          }),
          '23514',
        );
        expect(await f().signIn(username)).toEqual([]);
        // the table is still there and working
        await f().register();
      });

      it.each([
        ['empty', '', '23514'],
        ['65 characters', 'd'.repeat(65), '23514'],
        ['null', null, '23502'],
      ])('should refuse a display name that is %s and store nothing', async (_label, displayName, code) => {
        const username = uniqueName('dn');
        await expectCode(
          db().call(SERVICE_ACTOR, 'local_register', {
            p_username: username,
            p_display_name: displayName,
            p_password_hash: 'h',
          }),
          code,
        );
        expect(await f().signIn(username)).toEqual([]);
      });

      it('should refuse a null username (23502)', async () => {
        await expectCode(
          db().call(SERVICE_ACTOR, 'local_register', { p_username: null, p_display_name: 'X', p_password_hash: 'h' }),
          '23502',
        );
      });
    });

    describe('profiles: get_profile', () => {
      it('should give any signed-in user any profile', async () => {
        const alice = await f().register('alice', 'Alice');
        const bob = await f().register('bob');
        const seen = await f().profile(bob, alice.id);
        expect(seen).toEqual(alice);
      });

      it('should answer CH404 for an unknown profile id', async () => {
        const user = await f().register();
        await expectCode(db().call(userActor(user.id), 'get_profile', { p_profile_id: randomUUID() }), 'CH404');
      });

      it.each([
        ['not a uuid', 'not-a-uuid'],
        ['SQL-ish', "' or 1=1 --"],
        ['a number', 42],
      ])('should refuse a profile id that is %s (22P02)', async (_label, id) => {
        const user = await f().register();
        await expectCode(db().call(userActor(user.id), 'get_profile', { p_profile_id: id }), '22P02');
      });

      it('should answer CH401 to a call without a signed-in user (the service)', async () => {
        const user = await f().register();
        await expectCode(db().call(SERVICE_ACTOR, 'get_profile', { p_profile_id: user.id }), 'CH401');
      });
    });

    describe('profiles: update_my_profile', () => {
      const update = (user: Profile, patch: unknown) =>
        db().call<Profile>(userActor(user.id), 'update_my_profile', { p_patch: patch });

      it('should change only the fields in the patch', async () => {
        const user = await f().register('patch', 'Before');

        const [renamed] = await update(user, { display_name: 'After' });
        expect(renamed).toMatchObject({
          id: user.id,
          username: user.username,
          display_name: 'After',
          avatar_url: null,
        });

        const [withAvatar] = await update(user, { avatar_url: 'https://example.com/a.png' });
        expect(withAvatar).toMatchObject({ display_name: 'After', avatar_url: 'https://example.com/a.png' });

        const [untouched] = await update(user, {});
        expect(untouched).toMatchObject({ display_name: 'After', avatar_url: 'https://example.com/a.png' });

        const [cleared] = await update(user, { avatar_url: null });
        expect(cleared).toMatchObject({ display_name: 'After', avatar_url: null });

        expect(await f().profile(user, user.id)).toMatchObject({
          id: user.id,
          username: user.username,
          display_name: 'After',
          avatar_url: null,
          created_at: user.created_at,
        });
      });

      it('should ignore fields that are not patchable (username, id, created_at)', async () => {
        const user = await f().register('fixed');
        const [row] = await update(user, {
          username: uniqueName('hijack'),
          id: randomUUID(),
          created_at: '2000-01-01T00:00:00Z',
        });
        expect(row).toMatchObject({ id: user.id, username: user.username, created_at: user.created_at });
        expect(await f().profile(user, user.id)).toMatchObject({ id: user.id, username: user.username });
      });

      it('should store hostile and unicode text verbatim', async () => {
        const user = await f().register();
        for (const displayName of ['<script>alert(1)</script>', "Robert'); drop table profiles;--", '名前 😀 %_']) {
          const [row] = await update(user, { display_name: displayName });
          expect(row.display_name).toBe(displayName);
          expect((await f().profile(user, user.id)).display_name).toBe(displayName);
        }
      });

      it.each([
        ['a null display name', { display_name: null }, '23502'],
        ['an empty display name', { display_name: '' }, '23514'],
        ['a 65-character display name', { display_name: 'x'.repeat(65) }, '23514'],
        ['a 2049-character avatar url', { avatar_url: `https://e.com/${'a'.repeat(2035)}` }, '23514'],
      ])('should refuse %s and change nothing', async (_label, patch, code) => {
        const user = await f().register('bad', 'Kept');
        await update(user, { avatar_url: 'https://example.com/kept.png' });
        const before = await f().profile(user, user.id);
        await expectCode(update(user, patch), code);
        expect(await f().profile(user, user.id)).toEqual(before);
      });

      it('should not let a user update another user profile, even naming its id', async () => {
        const alice = await f().register('alice', 'Alice');
        const mallory = await f().register('mallory', 'Mallory');
        const before = await f().profile(alice, alice.id);

        const rows = await update(mallory, { id: alice.id, display_name: 'Pwned' });
        expect(rows).toEqual([expect.objectContaining({ id: mallory.id, display_name: 'Pwned' })]);
        await expectCode(
          db().call(userActor(mallory.id), 'update_my_profile', {
            p_profile_id: alice.id,
            p_patch: { display_name: 'X' },
          }),
          '42883',
        );

        expect(await f().profile(mallory, alice.id)).toEqual(before);
      });

      it('should answer CH401 to the service, which has no profile', async () => {
        await expectCode(db().call(SERVICE_ACTOR, 'update_my_profile', { p_patch: { display_name: 'x' } }), 'CH401');
      });
    });

    describe('authorization: a stranger and a private room', () => {
      it.each(Object.keys(ROOM_CALLS))(
        "should answer %s on another user's private room with CH404 and change nothing",
        async (call) => {
          const { owner, stranger, room, before } = await f().roomWithStranger('private');
          const [fn, args] = ROOM_CALLS[call];
          await expectCode(
            db().call(userActor(stranger.id), fn, args({ roomId: room.id, owner, other: stranger })),
            'CH404',
          );
          expect(await f().snapshot(owner, room.id)).toEqual(before);
        },
      );

      it('should answer a hidden room exactly like a room that does not exist', async () => {
        const { stranger, room } = await f().roomWithStranger('private');
        const errorOf = (id: string) => failureOf(db().call(userActor(stranger.id), 'get_room', { p_room_id: id }));
        const hidden = await errorOf(room.id);
        expect(hidden.sqlState).toBe('CH404');
        expect(hidden).toEqual(await errorOf(randomUUID()));
      });

      it("should not list another user's private room in list_my_rooms or list_public_rooms", async () => {
        const { stranger, room } = await f().roomWithStranger('private');
        const mine = await db().call<Room>(userActor(stranger.id), 'list_my_rooms', {});
        expect(mine.map((r) => r.id)).not.toContain(room.id);
        const found = await db().call<Room>(userActor(stranger.id), 'list_public_rooms', {
          p_query: room.name,
          p_limit: 100,
        });
        expect(found).toEqual([]);
      });
    });

    describe('authorization: a stranger and a public room', () => {
      it('should show a public room to a stranger with my_role null', async () => {
        const { owner, stranger, room } = await f().roomWithStranger('public');
        expect(await f().room(stranger, room.id)).toMatchObject({
          id: room.id,
          name: room.name,
          visibility: 'public',
          owner_id: owner.id,
          last_seq: 1,
          my_role: null,
        });
      });

      it.each(['list_messages', 'post_message', 'list_members', 'add_member', 'leave_room'])(
        'should answer %s with CH404 before joining, and change nothing',
        async (call) => {
          const { owner, stranger, room, before } = await f().roomWithStranger('public');
          const [fn, args] = ROOM_CALLS[call];
          await expectCode(
            db().call(userActor(stranger.id), fn, args({ roomId: room.id, owner, other: stranger })),
            'CH404',
          );
          expect(await f().snapshot(owner, room.id)).toEqual(before);
        },
      );

      it.each(['update_room', 'delete_room'])(
        'should refuse %s to a stranger (CH403 or CH404) and change nothing',
        async (call) => {
          const { owner, stranger, room, before } = await f().roomWithStranger('public');
          const [fn, args] = ROOM_CALLS[call];
          const { sqlState } = await failureOf(
            db().call(userActor(stranger.id), fn, args({ roomId: room.id, owner, other: stranger })),
          );
          expect(sqlState).toMatch(/^CH40[34]$/);
          expect(await f().snapshot(owner, room.id)).toEqual(before);
        },
      );

      it('should let a stranger read and post after join_room, and show them as a member', async () => {
        const { owner, stranger, room } = await f().roomWithStranger('public');

        const joined = await f().join(stranger, room.id);
        expect(joined).toMatchObject({ id: room.id, my_role: 'member' });
        expect(await f().join(stranger, room.id)).toMatchObject({ id: room.id, my_role: 'member' });

        expect(await f().messages(stranger, room.id)).toEqual([
          expect.objectContaining({ seq: 1, sender_id: owner.id, content: 'hello from the owner' }),
        ]);
        const posted = await f().post(stranger, room.id, 'hi, I joined');
        expect(posted).toMatchObject({ seq: 2, sender_id: stranger.id, role: 'user', duplicate: false });

        const members = await f().members(stranger, room.id);
        expect(members.map((m) => [m.profile_id, m.role]).sort()).toEqual(
          [
            [owner.id, 'owner'],
            [stranger.id, 'member'],
          ].sort(),
        );
        expect((await f().messages(owner, room.id)).map((m) => [m.seq, m.content])).toEqual([
          [1, 'hello from the owner'],
          [2, 'hi, I joined'],
        ]);
        expect(await f().room(owner, room.id)).toMatchObject({ last_seq: 2, my_role: 'owner' });
      });

      it('should lose access after leave_room', async () => {
        const { owner, stranger, room } = await f().roomWithStranger('public');
        await f().addMember(owner, room.id, stranger);
        expect(await f().room(stranger, room.id)).toMatchObject({ my_role: 'member' });
        await db().call(userActor(stranger.id), 'leave_room', { p_room_id: room.id });
        await expectCode(f().messages(stranger, room.id), 'CH404');
        expect((await f().members(owner, room.id)).map((m) => m.profile_id)).toEqual([owner.id]);
      });
    });

    describe('authorization: a member who is not the owner', () => {
      const memberSetup = async () => {
        const owner = await f().register('owner');
        const member = await f().register('member');
        const outsider = await f().register('outsider');
        const room = await f().createRoom(owner, 'private');
        await f().addMember(owner, room.id, member);
        await f().post(owner, room.id, 'owner speaks', 'o-1');
        await f().post(member, room.id, 'member speaks', 'm-1');
        return { owner, member, outsider, room, before: await f().snapshot(owner, room.id) };
      };

      it.each(['update_room', 'delete_room', 'add_member', 'remove_member'])(
        'should answer %s by a member with CH403 and change nothing',
        async (call) => {
          const { owner, member, outsider, room, before } = await memberSetup();
          const [fn, args] = ROOM_CALLS[call];
          await expectCode(
            db().call(userActor(member.id), fn, args({ roomId: room.id, owner, other: outsider })),
            'CH403',
          );
          expect(await f().snapshot(owner, room.id)).toEqual(before);
        },
      );

      it('should answer a member removing another member with CH403 and change nothing', async () => {
        const { owner, member, outsider, room } = await memberSetup();
        await f().addMember(owner, room.id, outsider);
        const before = await f().snapshot(owner, room.id);
        await expectCode(
          db().call(userActor(member.id), 'remove_member', { p_room_id: room.id, p_profile_id: outsider.id }),
          'CH403',
        );
        expect(await f().snapshot(owner, room.id)).toEqual(before);
      });

      it('should answer leave_room by the owner with CH403 and keep the owner in the room', async () => {
        const { owner, room, before } = await memberSetup();
        await expectCode(db().call(userActor(owner.id), 'leave_room', { p_room_id: room.id }), 'CH403');
        await expectCode(
          db().call(userActor(owner.id), 'remove_member', { p_room_id: room.id, p_profile_id: owner.id }),
          'CH403',
        );
        expect(await f().snapshot(owner, room.id)).toEqual(before);
      });

      it('should let the owner update the room and add members, with my_role owner', async () => {
        const { owner, member, outsider, room } = await memberSetup();
        const [updated] = await db().call<Room>(userActor(owner.id), 'update_room', {
          p_room_id: room.id,
          p_patch: { name: 'renamed' },
        });
        expect(updated).toMatchObject({
          id: room.id,
          name: 'renamed',
          visibility: 'private',
          ai_mode: 'off',
          my_role: 'owner',
        });
        expect(await f().room(member, room.id)).toMatchObject({ name: 'renamed', my_role: 'member' });

        await f().addMember(owner, room.id, outsider);
        expect(await f().room(outsider, room.id)).toMatchObject({ my_role: 'member', last_seq: 2 });
      });

      it('should answer adding a member twice with CH409 and an unknown username with CH404, changing nothing', async () => {
        const { owner, member, room, before } = await memberSetup();
        await expectCode(
          db().call(userActor(owner.id), 'add_member', { p_room_id: room.id, p_username: member.username }),
          'CH409',
        );
        await expectCode(
          db().call(userActor(owner.id), 'add_member', { p_room_id: room.id, p_username: uniqueName('ghost') }),
          'CH404',
        );
        expect(await f().snapshot(owner, room.id)).toEqual(before);
      });
    });

    describe.each([
      ['group-committed (callGrouped)', 'callGrouped'],
      ['alone (call)', 'call'],
    ] as const)('sends %s', (_label, via) => {
      const post = (user: Profile, roomId: string, content: string | null, clientId: string | null = null) =>
        f().post(user, roomId, content, clientId, via);

      describe('post_message: gapless seq', () => {
        it('should number 100 concurrent sends by 5 members exactly 1..100', async () => {
          const owner = await f().register('owner');
          const room = await f().createRoom(owner);
          const others = await Promise.all([1, 2, 3, 4].map(() => f().register('m')));
          for (const member of others) {
            await f().addMember(owner, room.id, member);
          }
          const senders = [owner, ...others];

          const results = await Promise.all(
            senders.flatMap((sender, s) =>
              Array.from({ length: 20 }, (_, i) => post(sender, room.id, `sender ${s} message ${i}`)),
            ),
          );

          const seqs = results.map((r) => r.seq).sort((a, b) => a - b);
          expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
          expect(results.every((r) => !r.duplicate)).toBe(true);

          const stored = await f().messages(owner, room.id, { afterSeq: 0, limit: 100 });
          expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
          for (const sender of senders) {
            expect(stored.filter((m) => m.sender_id === sender.id)).toHaveLength(20);
          }
          // each result is the row stored under its seq
          const bySeq = new Map(stored.map((m) => [m.seq, m]));
          for (const r of results) {
            expect(bySeq.get(r.seq)).toMatchObject({ id: r.id, sender_id: r.sender_id, content: r.content });
          }
          expect(await f().room(owner, room.id)).toMatchObject({ last_seq: 100 });
        });

        it('should leave no gap after a refused send', async () => {
          const owner = await f().register('owner');
          const room = await f().createRoom(owner);
          await post(owner, room.id, 'one');
          await expectCode(post(owner, room.id, 'x'.repeat(200_001)), '23514');
          await expectCode(post(owner, room.id, 'bad client id', 'not valid!'), '23514');
          await expectCode(post(owner, room.id, 'long client id', 'c'.repeat(65)), '23514');
          await expectCode(post(owner, room.id, null), '23502');
          expect(await f().room(owner, room.id)).toMatchObject({ last_seq: 1 });
          expect(await post(owner, room.id, 'two')).toMatchObject({ seq: 2 });
          expect((await f().messages(owner, room.id)).map((m) => [m.seq, m.content])).toEqual([
            [1, 'one'],
            [2, 'two'],
          ]);
        });

        it('should store hostile and unicode content verbatim', async () => {
          const owner = await f().register('owner');
          const room = await f().createRoom(owner);
          const contents = ['<script>alert(1)</script>', "'); delete from public.messages; --", '% _ \\ 😀 ünï', ''];
          for (const content of contents) {
            await post(owner, room.id, content);
          }
          expect((await f().messages(owner, room.id)).map((m) => m.content)).toEqual(contents);
        });

        it('should answer with the stored row, every column as a read gives it', async () => {
          const owner = await f().register('owner');
          const room = await f().createRoom(owner);

          const posted = await post(owner, room.id, 'a "quoted" \\ line\nand 😀', 'client-1');

          const [stored] = await f().messages(owner, room.id);
          const asRead = Object.fromEntries(
            Object.keys(posted).flatMap((key) => (key in stored ? [[key, stored[key as keyof Message]]] : [])),
          );
          expect(Object.keys(asRead)).toEqual(
            expect.arrayContaining(['id', 'seq', 'content', 'created_at', 'updated_at', 'rev']),
          );
          expect(posted).toMatchObject(asRead);
          expect(posted).toMatchObject({ seq: 1, duplicate: false, content: 'a "quoted" \\ line\nand 😀' });
          expect(posted.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
          expect(await post(owner, room.id, 'again', 'client-1')).toMatchObject({ ...asRead, duplicate: true });
        });
      });

      describe('post_message: idempotent resend', () => {
        it('should return the stored message with duplicate true on a resend, storing it once', async () => {
          const owner = await f().register('owner');
          const room = await f().createRoom(owner);
          const first = await post(owner, room.id, 'once', 'client-1');
          expect(first).toMatchObject({ seq: 1, client_id: 'client-1', duplicate: false });

          const again = await post(owner, room.id, 'once, edited on resend', 'client-1');
          expect(again).toMatchObject({
            id: first.id,
            seq: 1,
            content: 'once',
            client_id: 'client-1',
            duplicate: true,
          });

          expect(await f().messages(owner, room.id)).toEqual([expect.objectContaining({ id: first.id, seq: 1 })]);
          expect(await f().room(owner, room.id)).toMatchObject({ last_seq: 1 });
        });

        it('should store one row for 10 concurrent sends with one client id', async () => {
          const owner = await f().register('owner');
          const room = await f().createRoom(owner);
          const results = await Promise.all(
            Array.from({ length: 10 }, () => post(owner, room.id, 'racing', 'same-client-id')),
          );
          const stored = await f().messages(owner, room.id);
          expect(stored).toHaveLength(1);
          expect(new Set(results.map((r) => r.id))).toEqual(new Set([stored[0].id]));
          expect(results.every((r) => r.seq === 1)).toBe(true);
          expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
          expect(await f().room(owner, room.id)).toMatchObject({ last_seq: 1 });
          expect(await post(owner, room.id, 'next')).toMatchObject({ seq: 2 });
        });

        it('should treat the same client id by another sender, or in another room, as a new message', async () => {
          const owner = await f().register('owner');
          const member = await f().register('member');
          const room = await f().createRoom(owner);
          const otherRoom = await f().createRoom(owner);
          await f().addMember(owner, room.id, member);

          const a = await post(owner, room.id, 'from owner', 'shared');
          const b = await post(member, room.id, 'from member', 'shared');
          const c = await post(owner, otherRoom.id, 'other room', 'shared');

          expect(b).toMatchObject({ seq: 2, sender_id: member.id, duplicate: false });
          expect(c).toMatchObject({ seq: 1, chatroom_id: otherRoom.id, duplicate: false });
          expect(new Set([a.id, b.id, c.id]).size).toBe(3);
          expect((await f().messages(owner, room.id)).map((m) => m.content)).toEqual(['from owner', 'from member']);
          expect((await f().messages(owner, otherRoom.id)).map((m) => m.content)).toEqual(['other room']);
        });

        it('should never make messages without a client id duplicates of each other', async () => {
          const owner = await f().register('owner');
          const room = await f().createRoom(owner);
          const a = await post(owner, room.id, 'same text');
          const b = await post(owner, room.id, 'same text');
          expect([a.duplicate, b.duplicate]).toEqual([false, false]);
          expect([a.seq, b.seq]).toEqual([1, 2]);
        });
      });

      it('should answer each of concurrent sends into several rooms with its own message', async () => {
        const owner = await f().register('owner');
        const rooms = [await f().createRoom(owner), await f().createRoom(owner), await f().createRoom(owner)];
        const sends = Array.from({ length: 12 }, (_, i) => ({ room: rooms[(i * 7) % 3], content: `send ${i}` }));

        const results = await Promise.all(sends.map(({ room, content }) => post(owner, room.id, content)));

        results.forEach((result, i) => {
          expect(result).toMatchObject({ chatroom_id: sends[i].room.id, content: sends[i].content, duplicate: false });
        });
        for (const room of rooms) {
          const mine = results.filter((r) => r.chatroom_id === room.id).map((r) => r.seq);
          expect(mine.sort((a, b) => a - b)).toEqual([1, 2, 3, 4]);
        }
      });

      it('should fail a bad send alone among concurrent good ones, storing the good ones gapless', async () => {
        const { owner, stranger, room } = await f().roomWithStranger('private');
        const outcomes = await Promise.allSettled([
          post(owner, room.id, 'good 1'),
          post(owner, room.id, 'x'.repeat(200_001)),
          post(stranger, room.id, 'intruder'),
          post(owner, room.id, 'good 2', 'not valid!'),
          post(owner, room.id, 'good 3'),
          post(owner, room.id, null),
          post(owner, room.id, 'good 4'),
        ]);
        expect(outcomes.map((o) => o.status)).toEqual([
          'fulfilled',
          'rejected',
          'rejected',
          'rejected',
          'fulfilled',
          'rejected',
          'fulfilled',
        ]);
        const codes = outcomes.map((o) => (o.status === 'rejected' ? sqlStateOf(o.reason) : 'ok'));
        expect(codes).toEqual(['ok', '23514', 'CH404', '23514', 'ok', '23502', 'ok']);
        const stored = await f().messages(owner, room.id);
        // the room's first message (from roomWithStranger), then the three good sends in order
        expect(stored.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
        // a connection pool may commit concurrent sends in any order; each is stored once
        expect(
          stored
            .slice(1)
            .map((m) => m.content)
            .sort(),
        ).toEqual(['good 1', 'good 3', 'good 4']);
        expect(await f().room(owner, room.id)).toMatchObject({ last_seq: 4 });
      });
    });

    describe('list_messages: paging', () => {
      const seqs = (rows: Message[]) => rows.map((m) => m.seq);
      const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

      const roomWith30 = async () => {
        const owner = await f().register('owner');
        const room = await f().createRoom(owner);
        for (let i = 1; i <= 30; i++) {
          await f().post(owner, room.id, `message ${i}`);
        }
        return { owner, room };
      };

      it('should page 30 messages by afterSeq, beforeSeq or neither, ascending, up to limit + 1 rows', async () => {
        const { owner, room } = await roomWith30();
        const page = (p: Page) => f().messages(owner, room.id, p);

        expect(seqs(await page({ limit: 10 }))).toEqual(range(20, 30));
        expect(seqs(await page({ afterSeq: 0, limit: 10 }))).toEqual(range(1, 11));
        expect(seqs(await page({ afterSeq: 11, limit: 10 }))).toEqual(range(12, 22));
        expect(seqs(await page({ afterSeq: 25, limit: 10 }))).toEqual(range(26, 30));
        expect(seqs(await page({ afterSeq: 30, limit: 10 }))).toEqual([]);
        expect(seqs(await page({ beforeSeq: 21, limit: 5 }))).toEqual(range(15, 20));
        expect(seqs(await page({ beforeSeq: 11, limit: 10 }))).toEqual(range(1, 10));
        expect(seqs(await page({ beforeSeq: 1, limit: 10 }))).toEqual([]);
        expect(seqs(await page({ afterSeq: 5, beforeSeq: 10, limit: 10 }))).toEqual(range(6, 9));
        expect((await page({ afterSeq: 0, limit: 3 })).map((m) => m.content)).toEqual([
          'message 1',
          'message 2',
          'message 3',
          'message 4',
        ]);
      });

      it('should default the limit to 50 and clamp it to 1..100', async () => {
        const { owner, room } = await roomWith30();
        const page = (p: Page) => f().messages(owner, room.id, p);
        expect(seqs(await page({ limit: null }))).toEqual(range(1, 30));
        expect(seqs(await page({ limit: 0 }))).toEqual([29, 30]);
        expect(seqs(await page({ limit: -5, afterSeq: 0 }))).toEqual([1, 2]);
        expect(seqs(await page({ limit: 1000 }))).toEqual(range(1, 30));
      });

      it('should refuse a limit or seq of the wrong type (22P02) ', async () => {
        const owner = await f().register('owner');
        const room = await f().createRoom(owner);
        await expectCode(
          db().call(userActor(owner.id), 'list_messages', {
            p_room_id: room.id,
            p_after_seq: 'abc',
            p_before_seq: null,
            p_limit: 10,
          }),
          '22P02',
        );
        await expectCode(
          db().call(userActor(owner.id), 'list_messages', {
            p_room_id: room.id,
            p_after_seq: null,
            p_before_seq: null,
            p_limit: '10; drop table public.messages',
          }),
          '22P02',
        );
      });
    });

    describe('delete_room', () => {
      it('should remove the room with its messages and memberships', async () => {
        const owner = await f().register('owner');
        const member = await f().register('member');
        const room = await f().createRoom(owner);
        const keep = await f().createRoom(owner);
        await f().addMember(owner, room.id, member);
        await f().post(owner, room.id, 'one');
        await f().post(member, room.id, 'two');
        await f().post(owner, keep.id, 'kept');

        await db().call(userActor(owner.id), 'delete_room', { p_room_id: room.id });

        await expectCode(db().call(userActor(owner.id), 'get_room', { p_room_id: room.id }), 'CH404');
        await expectCode(f().messages(owner, room.id), 'CH404');
        await expectCode(f().messages(member, room.id), 'CH404');
        await expectCode(f().post(member, room.id, 'into the void'), 'CH404');
        const mine = await db().call<Room>(userActor(member.id), 'list_my_rooms', {});
        expect(mine.map((r) => r.id)).not.toContain(room.id);
        expect((await f().messages(owner, keep.id)).map((m) => m.content)).toEqual(['kept']);
      });
    });
  });
}

/**
 * Row-level security beneath the functions, with the driver's raw SQL: a user who goes around the functions
 * (as a Supabase client could, through PostgREST) still sees and changes only what the policies allow.
 */
export function rawRlsContract(name: string, driver: DriverHandle<RawSqlDriver>): void {
  const db = () => driver.current.db;
  const raw = () => driver.current.raw;
  const f = () => fixtures(db());

  const count = async (sql: string, values: unknown[]) => Number((await raw().admin(sql, values)).rows[0].count);
  const messageCount = (roomId: string) =>
    count('select count(*) from public.messages where chatroom_id = $1', [roomId]);

  describe(`row-level security (${name}, raw SQL)`, () => {
    it("should show a stranger none of a private room's rows, and its members all of them", async () => {
      const { owner, stranger, room } = await f().roomWithStranger('private');
      await f().post(owner, room.id, 'second');
      expect(await messageCount(room.id)).toBe(2);

      const seen = (userId: string) =>
        raw().asUser(userId, async (q) => ({
          messages: (await q('select * from public.messages where chatroom_id = $1', [room.id])).rowCount,
          rooms: (await q('select * from public.chatrooms where id = $1', [room.id])).rowCount,
          members: (await q('select * from public.chatroom_members where chatroom_id = $1', [room.id])).rowCount,
        }));
      expect(await seen(stranger.id)).toEqual({ messages: 0, rooms: 0, members: 0 });
      expect(await seen(owner.id)).toEqual({ messages: 2, rooms: 1, members: 1 });
    });

    it('should show a stranger a public room but none of its messages or members', async () => {
      const { stranger, room } = await f().roomWithStranger('public');
      const seen = await raw().asUser(stranger.id, async (q) => ({
        messages: (await q('select * from public.messages where chatroom_id = $1', [room.id])).rowCount,
        rooms: (await q('select * from public.chatrooms where id = $1', [room.id])).rowCount,
        members: (await q('select * from public.chatroom_members where chatroom_id = $1', [room.id])).rowCount,
      }));
      expect(seen).toEqual({ messages: 0, rooms: 1, members: 0 });
    });

    it("should refuse a stranger's insert into a private room (42501) and store nothing", async () => {
      const { owner, stranger, room, before } = await f().roomWithStranger('private');
      await raw().asUser(stranger.id, async (q) => {
        await expectCode(
          q(
            `insert into public.messages (chatroom_id, seq, role, sender_id, content) values ($1, 2, 'user', $2, 'intruder')`,
            [room.id, stranger.id],
          ),
          '42501',
        );
      });
      expect(await messageCount(room.id)).toBe(1);
      expect(await f().snapshot(owner, room.id)).toEqual(before);
    });

    it('should refuse a member inserting as another sender, as no sender, or as the assistant (42501)', async () => {
      const owner = await f().register('owner');
      const member = await f().register('member');
      const room = await f().createRoom(owner);
      await f().addMember(owner, room.id, member);
      const insert = `insert into public.messages (chatroom_id, seq, role, sender_id, content) values ($1, $2, $3, $4, 'forged')`;
      await raw().asUser(member.id, async (q) => {
        await expectCode(q(insert, [room.id, 1, 'user', owner.id]), '42501');
        await expectCode(q(insert, [room.id, 2, 'user', null]), '42501');
        await expectCode(q(insert, [room.id, 3, 'assistant', member.id]), '42501');
        await expectCode(q(insert, [room.id, 4, 'system', null]), '42501');
      });
      expect(await messageCount(room.id)).toBe(0);
    });

    it.each([
      [
        'a member inserts the next seq directly',
        `insert into public.messages (chatroom_id, seq, role, sender_id, content) values ($1, 3, 'user', $2, 'forged')`,
      ],
      [
        'a member inserts a far seq directly',
        `insert into public.messages (chatroom_id, seq, role, sender_id, content) values ($1, 9, 'user', $2, 'forged')`,
      ],
      ['the owner resets last_seq', `update public.chatrooms set last_seq = 0 where id = $1 and $2::uuid is not null`],
    ])('should keep seq gapless and post_message working when %s', async (_label, sql) => {
      const owner = await f().register('owner');
      const member = await f().register('member');
      const room = await f().createRoom(owner);
      await f().addMember(owner, room.id, member);
      await f().post(owner, room.id, 'one');
      await f().post(member, room.id, 'two');
      const actor = sql.includes('chatrooms') ? owner : member;

      const after = await raw().asUser(actor.id, async (q) => {
        await q(sql, [room.id, actor.id]).catch(() => undefined); // refused or not: what follows must hold
        const posted = await q(`select * from public.post_message($1, 'after the direct write', null)`, [room.id]);
        const seqs = await q('select seq from public.messages where chatroom_id = $1 order by seq', [room.id]);
        const [counter] = (await q('select last_seq from public.chatrooms where id = $1', [room.id])).rows;
        return { posted: posted.rows, seqs: seqs.rows.map((r) => Number(r.seq)), lastSeq: Number(counter.last_seq) };
      });

      expect(after.posted).toEqual([expect.objectContaining({ content: 'after the direct write', duplicate: false })]);
      expect(after.seqs).toEqual(Array.from({ length: after.seqs.length }, (_, i) => i + 1));
      expect(after.lastSeq).toBe(after.seqs.length);
    });

    it('should refuse anyone, even the owner, changing or deleting messages (42501)', async () => {
      const owner = await f().register('owner');
      const room = await f().createRoom(owner);
      const message = await f().post(owner, room.id, 'original');
      await raw().asUser(owner.id, async (q) => {
        await expectCode(q(`update public.messages set content = 'edited' where id = $1`, [message.id]), '42501');
        await expectCode(q('delete from public.messages where id = $1', [message.id]), '42501');
      });
      expect(await f().messages(owner, room.id)).toEqual([
        expect.objectContaining({ id: message.id, content: 'original' }),
      ]);
    });

    it("should not let a stranger or a member update or delete another user's rooms", async () => {
      const owner = await f().register('owner');
      const other = await f().register('other');
      const hidden = await f().createRoom(owner, 'private');
      const open = await f().createRoom(owner, 'public');
      const shared = await f().createRoom(owner, 'private');
      await f().addMember(owner, shared.id, other);
      const ids = [hidden.id, open.id, shared.id];
      const before = await raw().admin('select * from public.chatrooms where id = any($1) order by id', [ids]);

      const changed = await raw().asUser(other.id, async (q) => ({
        // Ownership and counters are not columns a client may write at all.
        takeover: await q(`update public.chatrooms set owner_id = $2, last_seq = 0 where id = any($1)`, [
          ids,
          other.id,
        ]).then(
          () => 'allowed',
          (error: { code?: string }) => error.code,
        ),
        updated: (await q(`update public.chatrooms set name = 'taken' where id = any($1)`, [ids])).rowCount,
        deleted: (await q('delete from public.chatrooms where id = any($1)', [ids])).rowCount,
      }));

      expect(changed).toEqual({ takeover: '42501', updated: 0, deleted: 0 });
      expect((await raw().admin('select * from public.chatrooms where id = any($1) order by id', [ids])).rows).toEqual(
        before.rows,
      );
    });

    it('should refuse making oneself a member of a private room, an owner, or adding someone else (42501)', async () => {
      const owner = await f().register('owner');
      const intruder = await f().register('intruder');
      const friend = await f().register('friend');
      const hidden = await f().createRoom(owner, 'private');
      const open = await f().createRoom(owner, 'public');
      const insert = 'insert into public.chatroom_members (chatroom_id, profile_id, role) values ($1, $2, $3)';
      await raw().asUser(intruder.id, async (q) => {
        await expectCode(q(insert, [hidden.id, intruder.id, 'member']), '42501');
        await expectCode(q(insert, [open.id, intruder.id, 'owner']), '42501');
        await expectCode(q(insert, [open.id, friend.id, 'member']), '42501');
      });
      expect(
        await count('select count(*) from public.chatroom_members where chatroom_id = any($1)', [[hidden.id, open.id]]),
      ).toBe(2);
    });

    it("should not let a user update another's profile or read password hashes", async () => {
      const alice = await f().register('alice', 'Alice');
      const mallory = await f().register('mallory');
      const result = await raw().asUser(mallory.id, async (q) => {
        const updated = (await q(`update public.profiles set display_name = 'Pwned' where id = $1`, [alice.id]))
          .rowCount;
        await expectCode(q('select * from chat_private.local_credentials'), '42501');
        return updated;
      });
      expect(result).toBe(0);
      expect(await f().profile(alice, alice.id)).toMatchObject({ display_name: 'Alice' });
    });

    it('should group-commit concurrent sends: fewer transactions than sends, every send stored once', async () => {
      const groups: number[] = [];
      db().observe(
        () => undefined,
        (_fn, size) => groups.push(size),
      );
      const owner = await f().register('owner');
      const room = await f().createRoom(owner);
      const posted = await Promise.all(Array.from({ length: 50 }, (_, i) => f().post(owner, room.id, `m${i}`)));

      expect(groups.reduce((a, b) => a + b, 0)).toBe(50);
      expect(groups.length).toBeLessThan(50);
      expect(posted.map((p) => p.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(await messageCount(room.id)).toBe(50);
    });

    it('should fail a grouped send holding a NUL character alone (CH400), storing its neighbours', async () => {
      const owner = await f().register('owner');
      const room = await f().createRoom(owner);
      const outcomes = await Promise.allSettled([
        f().post(owner, room.id, 'before'),
        f().post(owner, room.id, 'with \u0000 inside'),
        f().post(owner, room.id, 'after'),
      ]);
      expect(outcomes.map((o) => (o.status === 'rejected' ? sqlStateOf(o.reason) : 'ok'))).toEqual([
        'ok',
        'CH400',
        'ok',
      ]);
      expect((await f().messages(owner, room.id)).map((m) => m.content).sort()).toEqual(['after', 'before']);
    });

    it('should store half a surrogate pair as U+FFFD, as a call alone does, and fail none of its group', async () => {
      const owner = await f().register('owner');
      const room = await f().createRoom(owner);
      const outcomes = await Promise.allSettled([
        f().post(owner, room.id, 'first'),
        f().post(owner, room.id, 'half \ud800 a pair'),
        f().post(owner, room.id, 'last'),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      expect((await f().messages(owner, room.id)).map((m) => m.content).sort()).toEqual([
        'first',
        'half \ufffd a pair',
        'last',
      ]);
    });

    it('should fail alone a grouped send whose claims hold a NUL (a user-set claim), storing its neighbours', async () => {
      const owner = await f().register('owner');
      const room = await f().createRoom(owner);
      const send = (claims: Record<string, unknown> | undefined, content: string) =>
        db().callGrouped(userActor(owner.id, claims), 'post_message', {
          p_room_id: room.id,
          p_content: content,
          p_client_id: null,
        });
      const outcomes = await Promise.allSettled([
        send(undefined, 'before'),
        send({ user_metadata: { name: 'nul \u0000 inside' } }, 'poisoned'),
        send({ user_metadata: { 'key \u0000': 'x' } }, 'poisoned key'),
        send(undefined, 'after'),
      ]);
      expect(outcomes.map((o) => (o.status === 'rejected' ? sqlStateOf(o.reason) : 'ok'))).toEqual([
        'ok',
        'CH400',
        'CH400',
        'ok',
      ]);
      expect((await f().messages(owner, room.id)).map((m) => m.content).sort()).toEqual(['after', 'before']);
    });

    it('should give the caller its own identity back after a group, even inside a larger transaction', async () => {
      const owner = await f().register('owner');
      const room = await f().createRoom(owner);
      const items = JSON.stringify([
        {
          claims: { sub: owner.id, role: 'authenticated' },
          sub: owner.id,
          args: { p_room_id: room.id, p_content: 'grouped', p_client_id: null },
        },
      ]);
      const { rows } = await raw().admin(
        `with g as materialized (select count(*) as n from chat_private.post_message_group($1::jsonb))
         select g.n, current_user as role_after, session_user as session,
                coalesce(current_setting('request.jwt.claim.sub', true), '') as sub_after
         from g`,
        [items],
      );
      expect(rows[0]).toEqual({ n: 1, role_after: rows[0].session, session: expect.any(String), sub_after: '' });
      expect(rows[0].role_after).not.toBe('authenticated');
    });

    it('should not let an API role call the group function, which takes any identity it is given', async () => {
      const { owner, stranger, room } = await f().roomWithStranger('private');
      const items = JSON.stringify([
        {
          claims: { sub: owner.id, role: 'authenticated' },
          sub: owner.id,
          args: { p_room_id: room.id, p_content: 'forged' },
        },
      ]);
      await raw().asUser(stranger.id, async (q) => {
        await expectCode(q('select * from chat_private.post_message_group($1::jsonb)', [items]), '42501');
      });
      expect(await messageCount(room.id)).toBe(1);
    });

    it('should say with each send a group stores whether another member who has not muted the room has a push device', async () => {
      const owner = await f().register('owner');
      const member = await f().register('member');
      const room = await f().createRoom(owner);
      await f().addMember(owner, room.id, member);
      const candidates = async (sender: Profile, content: string, clientId: string | null = null) =>
        ((await f().post(sender, room.id, content, clientId)) as Posted & { push_candidates?: boolean | null })
          .push_candidates;
      const addDevice = (user: Profile) =>
        db().call(userActor(user.id), 'register_push_device', {
          p_token: `ExponentPushToken[${randomUUID()}]`,
          p_platform: 'ios',
          p_locale: null,
        });
      const mute = (user: Profile, muted: boolean) =>
        db().call(userActor(user.id), 'set_room_muted', { p_room_id: room.id, p_muted: muted });

      expect(await candidates(owner, 'nobody has a device')).toBe(false);
      await addDevice(owner);
      expect(await candidates(owner, 'only the sender has one')).toBe(false);
      expect(await candidates(member, 'the other member has one')).toBe(true);
      await addDevice(member);
      await mute(member, true);
      expect(await candidates(owner, 'the member with one muted the room')).toBe(false);
      await mute(member, false);
      expect(await candidates(owner, 'and unmuted it', 'once')).toBe(true);
      // A repeat stores nothing, so it says nothing; nor does the function a user may call (through PostgREST).
      expect(await candidates(owner, 'and unmuted it', 'once')).toBeNull();
      const alone = await f().post(owner, room.id, 'a call alone', null, 'call');
      expect(alone).not.toHaveProperty('push_candidates');
    });

    it('should leave no messages or memberships of a deleted room behind', async () => {
      const owner = await f().register('owner');
      const member = await f().register('member');
      const room = await f().createRoom(owner);
      await f().addMember(owner, room.id, member);
      await f().post(owner, room.id, 'one');
      await f().post(member, room.id, 'two');
      expect(await messageCount(room.id)).toBe(2);

      await db().call(userActor(owner.id), 'delete_room', { p_room_id: room.id });

      expect(await messageCount(room.id)).toBe(0);
      expect(await count('select count(*) from public.chatroom_members where chatroom_id = $1', [room.id])).toBe(0);
      expect(await count('select count(*) from public.chatrooms where id = $1', [room.id])).toBe(0);
    });
  });
}
