import { SERVICE_ACTOR, userActor } from '../../src/modules/persistence/database.port';
import { SERVER_GROUP_COMMIT } from '../../src/modules/persistence/drivers/pg.database';
import { openPostgresDriver } from '../support/persistence-drivers';
import { openOncePerFile, persistenceContract, rawRlsContract } from './persistence-contract';
import { refreshTokensContract, refreshTokensRlsContract } from './refresh-tokens-contract';

// A fresh database on the real PostgreSQL server of the test run, opened once for the file.
const driver = openOncePerFile(openPostgresDriver);

persistenceContract('postgres', driver);
rawRlsContract('postgres', driver);
refreshTokensContract('postgres', driver);
refreshTokensRlsContract('postgres', driver);

describe('postgres: group commit as the server runs it (SERVER_GROUP_COMMIT)', () => {
  // A database of its own: the observer below is the driver's only one.
  const own = openOncePerFile(openPostgresDriver);

  /** `count` rooms of 5 members each (members of no other room), made by their first member. */
  async function busyRooms(count: number): Promise<{ id: string; members: string[] }[]> {
    const db = own.current.db;
    const rooms: { id: string; members: string[] }[] = [];
    for (let r = 0; r < count; r++) {
      const users: { id: string; username: string }[] = [];
      for (let i = 0; i < 5; i++) {
        const [p] = await db.call<{ id: string; username: string }>(SERVICE_ACTOR, 'local_register', {
          p_username: `burst_${r}_${i}_${Date.now().toString(36)}`,
          p_display_name: `Burst ${i}`,
          p_password_hash: 'not-a-hash',
        });
        users.push(p);
      }
      const [room] = await db.call<{ id: string }>(userActor(users[0].id), 'create_room', {
        p_name: `burst ${r}`,
        p_visibility: 'private',
        p_ai_mode: 'off',
        p_ai_system_prompt: null,
        p_ai_model: null,
      });
      for (const u of users.slice(1)) {
        await db.call(userActor(users[0].id), 'add_member', { p_room_id: room.id, p_username: u.username });
      }
      rooms.push({ id: room.id, members: users.map((u) => u.id) });
    }
    return rooms;
  }

  /** Each group's span from now on, from its calls' duration as they are told, once per group (the group is told first). */
  function groupSpans(): [number, number][] {
    const spans: [number, number][] = [];
    let groupJustEnded = false;
    own.current.db.observe(
      (fn, durationMs) => {
        if (fn === 'post_message' && groupJustEnded) {
          groupJustEnded = false;
          const end = performance.now();
          spans.push([end - durationMs, end]);
        }
      },
      () => {
        groupJustEnded = true;
      },
    );
    return spans;
  }

  /** Sends `count` messages at once, the i-th into `rooms[i % rooms.length]`; their rows in the order they were sent. */
  function burst(rooms: { id: string; members: string[] }[], count: number) {
    return Promise.all(
      Array.from({ length: count }, (_, i) => {
        const room = rooms[i % rooms.length];
        return own.current.db
          .callGrouped<{ seq: number; chatroom_id: string }>(userActor(room.members[i % 5]), 'post_message', {
            p_room_id: room.id,
            p_content: `burst ${i}`,
            p_client_id: `burst-${i}`,
          })
          .then(([row]) => row);
      }),
    );
  }

  /** Groups that began before the one before them ended (0.5 ms for the timers' rounding). */
  function overlapping(spans: [number, number][]): [number, number][] {
    const sorted = [...spans].sort((a, b) => a[0] - b[0]);
    return sorted.slice(1).filter(([start], i) => start < sorted[i][1] - 0.5);
  }

  it("should run one group at a time for a room, so that a burst into it does not queue groups on the room's row lock", async () => {
    const [room] = await busyRooms(1);
    const spans = groupSpans();

    // 250 sends at once: groups of at most 50 (SERVER_GROUP_COMMIT), so several; at least 3 with groups of up to 100.
    const rows = await burst([room], 250);

    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(spans.length).toBeGreaterThanOrEqual(3);
    expect(overlapping(spans)).toEqual([]);
  });

  it("should run groups of different rooms at once, each room's sends stored in the order they were sent", async () => {
    const rooms = await busyRooms(4);
    const spans = groupSpans();

    const rows = await burst(rooms, 400);

    // Each room's 100 sends got its seqs 1..100 in the order they were sent.
    for (const [r, room] of rooms.entries()) {
      const mine = rows.filter((_, i) => i % rooms.length === r);
      expect(mine.map((row) => row.chatroom_id)).toEqual(mine.map(() => room.id));
      expect(mine.map((row) => row.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    }
    // Two lanes (SERVER_GROUP_COMMIT.maxInFlight) ran side by side: groups overlapped.
    expect(SERVER_GROUP_COMMIT.maxInFlight).toBeGreaterThan(1);
    expect(overlapping(spans).length).toBeGreaterThan(0);
  });
});
